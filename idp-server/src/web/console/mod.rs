//! The web console (`/console`): the help desk (`support`) and each company's administrators
//! (`account-admin`) find accounts and users, read the audit log, and handle the product's
//! tickets, each a confirmed, CSRF-checked POST with a required reason. It signs in through
//! `/authorize` as the built-in app `console` (`session`); what each role may see and do is the
//! domain's rule (`idp_core::policy`), asked through `idp_core::console`.

mod actions;
mod csv;
mod pages;
mod refusal;
mod session;
mod show;
mod views;

use actix_web::http::header;
use actix_web::{web, HttpResponse};

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(include_str!("../../../static/console.css"))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/console.css", web::get().to(stylesheet))
        .route("/console", web::get().to(views::home))
        .route("/console/", web::get().to(views::home))
        .route("/console/callback", web::get().to(session::callback))
        .route("/console/signout", web::post().to(session::sign_out))
        .route("/console/search", web::get().to(views::search))
        .route("/console/audit", web::get().to(views::audit))
        .route("/console/audit.csv", web::get().to(views::audit_csv))
        .route("/console/accounts/{slug}", web::get().to(views::account))
        .route(
            "/console/accounts/{slug}/{action}",
            web::get().to(actions::account_confirm),
        )
        .route(
            "/console/accounts/{slug}/{action}",
            web::post().to(actions::account_act),
        )
        .route("/console/users/{id}", web::get().to(views::user))
        .route(
            "/console/users/{id}/{action}",
            web::get().to(actions::user_confirm),
        )
        .route(
            "/console/users/{id}/{action}",
            web::post().to(actions::user_act),
        );
}
