//! HTTP: the OIDC endpoints and the hosted pages. Handlers stay thin: parse the request, call the
//! core on the blocking pool (database and argon2 never run on the async workers), render.

pub mod account;
pub mod admin;
pub mod app_return;
pub mod authorize;
pub mod branding;
pub mod browser;
pub mod client_addr;
mod client_call;
pub mod console;
pub mod csrf;
mod deadline;
mod documents;
pub mod error;
pub mod forms;
pub mod introspection;
pub mod lifecycle;
pub mod locale;
pub mod logout;
pub mod pages;
pub mod params;
pub mod render;
mod routes;
pub mod signed_in;
pub mod signin;
mod state;
pub mod text;
pub mod token;
pub mod userinfo;

pub use documents::{build_metrics_server, discovery_document};
pub use error::AppError;
pub use routes::{app, build_server, configure};
pub use state::{blocking, blocking_try, AppState};
