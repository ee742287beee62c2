//! The token endpoint and what an API or a client does with a token afterwards: introspection
//! and revocation.

mod client_auth;
mod cors;
mod grants;
pub mod introspection;
mod keys;
mod revocation;
