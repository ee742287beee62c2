//! The token endpoint and what an API or a client does with a token afterwards: the grants
//! (`grants`), client authentication (`client_auth`), signing keys (`keys`), CORS (`cors`),
//! introspection and revocation (`introspection`, `revocation`).

mod client_auth;
mod cors;
mod grants;
pub mod introspection;
mod keys;
mod revocation;
