//! The token endpoint and what an API or a client does with a token afterwards: introspection
//! and revocation.

pub mod introspection;
