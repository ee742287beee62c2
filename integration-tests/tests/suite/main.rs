//! The integration suite: one binary (linking is the slow part on small machines), real servers
//! over HTTP, real databases (SQLite always, PostgreSQL when IDP_TEST_POSTGRES_URL is set).

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
