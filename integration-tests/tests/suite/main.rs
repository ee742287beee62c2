//! The integration suite: one binary (linking is the slow part on small machines), real servers
//! over HTTP, real databases (SQLite always, PostgreSQL when IDP_TEST_POSTGRES_URL is set).
//!
//! # Where a test goes
//!
//! By the feature it exercises, not by how the bug was found. A test function taking a `Db` is
//! listed in its file's `on_both_backends!` (it runs as `name::sqlite` and `name::postgres`).
//!
//! | Feature | File |
//! |---|---|
//! | `/authorize`: request checks, redirect URIs, PKCE, `prompt`/`max_age`/`id_token_hint`, sign-ins started per address | `authorize` |
//! | Discovery document and JWKS | `discovery` |
//! | The whole flow with a Rust relying-party library | `oidc` |
//! | Sign-in password step: CSRF, enumeration, one user per spelling | `sign_in/password` |
//! | Sign-in second factor: the code step, enrollment, a user disabled mid-sign-in | `sign_in/mfa` |
//! | The authenticator app's view (QR code, oathtool), idle timeout on an MFA account | `sign_in/authenticator` |
//! | Relinking after a help-desk disconnect | `sign_in/mfa_reset` |
//! | Lockouts, throttles, parallel guesses, the client address they are keyed on | `sign_in/lockouts` |
//! | Registration from an invitation | `passwords/registration` |
//! | Forgot and reset, the reset mail | `passwords/reset` |
//! | A signed-in user's password change | `passwords/change` |
//! | `/token`: code grant, PKCE verifier, refresh | `token/grants` |
//! | `/token`: client authentication and its lock | `token/client_auth` |
//! | Signing keys and algorithms of tokens | `token/keys` |
//! | CORS on `/token` and `/userinfo` | `token/cors` |
//! | Introspection, revocation | `token/introspection`, `token/revocation` |
//! | Idle expiry of sessions | `sessions/expiry` |
//! | Logout and `/end_session` | `sessions/logout` |
//! | Back-channel logout delivery (outbox, retries, lanes, leases) | `sessions/backchannel_delivery` |
//! | What else ends or refuses a session (MFA turned on, operator reset) | `sessions/ending` |
//! | `/account`, the user's own page | `account_page` |
//! | Admin API: tickets, access, privacy, users, OpenAPI | `admin_api/{help_desk,access,privacy,users,openapi}` |
//! | Console: access, tickets, audit export, real browser | `console/{access,tickets,audit_export,browser}` |
//! | `idp-server import`: lines, output, account scope | `import/{lines,output,scope}` |
//! | Pages: branding, languages, security headers, hostile input | `pages/{branding,languages,security_headers,hostile_input}` |
//! | CLI commands, signals, reload, replicas, metrics, failure behaviour | `operations/{cli,process,client_reload,replicas,metrics,resilience}` |
//! | Clients nobody here wrote (openid-client, Authlib, Chromium) | `independent_clients` |
//!
//! Helpers, not tests: `harness` (servers, the browser, the CLI), `rp` (the demo app's calls),
//! `apps` (other apps, per-client calls, logout tokens), `mail` (the outbox's mails), `recorder`
//! (an app's back-channel endpoint). A feature's own helpers live in its folder's `mod.rs`.

mod account_page;
mod admin_api;
mod apps;
mod authorize;
mod console;
mod discovery;
mod harness;
mod import;
mod independent_clients;
mod mail;
mod oidc;
mod operations;
mod pages;
mod passwords;
mod recorder;
mod rp;
mod sessions;
mod sign_in;
mod token;
