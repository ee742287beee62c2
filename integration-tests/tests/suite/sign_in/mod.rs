//! Signing in on the hosted pages: the second factor (`authenticator`, `mfa_reset`) and the
//! lockouts.

mod authenticator;
mod lockouts;
mod mfa;
mod mfa_reset;
mod password;
