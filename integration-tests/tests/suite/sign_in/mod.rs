//! Signing in on the hosted pages: the password step (`password`), the second factor (`mfa`,
//! the authenticator app's view in `authenticator`, relinking after a disconnect in
//! `mfa_reset`), and the lockouts and throttles (`lockouts`).

mod authenticator;
mod lockouts;
mod mfa;
mod mfa_reset;
mod password;
