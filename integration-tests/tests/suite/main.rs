//! The integration suite: one binary (linking is the slow part on small machines), real servers
//! over HTTP, real databases (SQLite always, PostgreSQL when IDP_TEST_POSTGRES_URL is set).

mod account_page;
mod admin_api;
mod apps;
mod attacks;
mod console;
mod edges;
mod hardening;
mod harness;
mod import;
mod independent_clients;
mod lifecycle;
mod mail;
mod oidc;
mod operations;
mod pages;
mod protections;
mod recorder;
mod rp;
mod session_end;
mod sessions;
mod sign_in;
mod token;
mod token_endpoint;
