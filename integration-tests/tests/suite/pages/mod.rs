//! The hosted pages as a browser meets them: branding, languages, and hostile input on every
//! page and endpoint.

mod branding;
mod hostile_input;
mod languages;
mod security_headers;
