//! The integration suite: one binary (linking is the slow part on small machines), real servers
//! over HTTP, real databases (SQLite always, PostgreSQL when IDP_TEST_POSTGRES_URL is set).

mod admin_api;
mod admin_users;
mod attacks;
mod authenticator;
mod branding;
mod cli;
mod console;
mod console_audit;
mod console_browser;
mod edges;
mod hardening;
mod harness;
mod hostile;
mod import;
mod independent_clients;
mod languages;
mod lifecycle;
mod oidc;
mod process;
mod protections;
mod recorder;
mod replicas;
mod resilience;
mod rp;
mod session_end;
mod token_endpoint;
mod token_state;
