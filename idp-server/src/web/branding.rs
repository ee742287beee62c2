//! `/branding/<digest>.<ext>`: the logos and accent stylesheets of the configuration (`[ui]` and
//! the clients' `ui`), under names made of their digest, so a browser may keep them for a year;
//! a new logo is a new name. An SVG opened directly runs nothing: the answer's own policy
//! sandboxes it.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::state::AppState;
use crate::config::Asset;

/// The asset at this path, as the configuration holds it now (a reload's new clients included).
fn find(state: &AppState, path: &str) -> Option<Asset> {
    let clients = state.config.clients.all();
    let found = std::iter::once(&state.config.brand)
        .chain(clients.iter().map(|c| &c.brand))
        .flat_map(|b| [b.logo.as_ref(), b.theme.as_ref()])
        .flatten()
        .find(|a| a.href == path)
        .cloned();
    found
}

pub async fn asset(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match find(&state, req.path()) {
        Some(a) => HttpResponse::Ok()
            .content_type(a.content_type)
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; sandbox",
            ))
            .body(a.bytes.as_ref().clone()),
        None => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("not found\n"),
    }
}
