//! The integration suite: one binary (linking is the slow part on small machines), real servers
//! over HTTP, real databases (SQLite always, PostgreSQL when IDP_TEST_POSTGRES_URL is set).

mod account_page;
mod admin_api;
mod admin_privacy;
mod admin_users;
mod attacks;
mod authenticator;
mod backchannel_delivery;
mod branding;
mod cli;
mod client_reload;
mod console;
mod console_audit;
mod console_browser;
mod edges;
mod hardening;
mod harness;
mod hostile;
mod import;
mod import_output;
mod import_scope;
mod independent_clients;
mod languages;
mod lifecycle;
mod lockouts;
mod metrics_listener;
mod mfa_reset;
mod oidc;
pub mod process;
mod protections;
mod recorder;
mod replicas;
mod resilience;
mod rp;
mod session_end;
mod token_endpoint;
mod token_state;
