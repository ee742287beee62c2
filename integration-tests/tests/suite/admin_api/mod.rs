//! The admin API (`/admin/v1`): the help desk's tickets (`help_desk`), who may call it
//! (`access`), what it says and records about people (`privacy`), users and accounts (`users`),
//! the OpenAPI document checked by Schemathesis (`openapi`). The admin clients and the calls they
//! share are here.

use serde_json::Value;

use crate::harness::*;
use crate::rp::http;

mod access;
mod help_desk;
mod openapi;
mod privacy;
mod users;

pub const HELPDESK_SECRET: &str = "helpdesk-secret-0123456789abcdef0123456789";
pub const READER_SECRET: &str = "reader-secret-0123456789abcdef0123456789ab";

pub fn sha256(s: &str) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(s.as_bytes()))
}

/// Two admin clients: `helpdesk` with every scope, `reader` reading the `other` account only.
pub fn admin_clients() -> String {
    format!(
        r#"
[[clients]]
client_id = "helpdesk"
name = "Help desk"
secret_sha256 = "{}"
grant_types = ["client_credentials"]
scopes = ["admin:read", "admin:accounts", "admin:users", "admin:mfa", "admin:sessions"]

[[clients]]
client_id = "reader"
name = "Reporting"
secret_sha256 = "{}"
grant_types = ["client_credentials"]
scopes = ["admin:read"]
admin_accounts = ["other"]
"#,
        sha256(HELPDESK_SECRET),
        sha256(READER_SECRET)
    )
}

pub fn server(db: Db, extra: &str) -> TestServer {
    TestServer::start_with(
        db,
        Options {
            extra_toml: format!("{}{extra}", admin_clients()),
            ..Options::default()
        },
    )
}

/// The client credentials grant: (status, body).
pub fn token_response(
    server: &TestServer,
    client: &str,
    secret: &str,
    scope: Option<&str>,
) -> (u16, Value) {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    let res = http()
        .post(server.url("/token"))
        .basic_auth(client, Some(secret))
        .form(&form)
        .send()
        .unwrap();
    (res.status().as_u16(), res.json().unwrap_or(Value::Null))
}

pub fn admin_token(server: &TestServer, client: &str, secret: &str) -> String {
    let (status, body) = token_response(server, client, secret, None);
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub content_type: String,
    pub headers: openidconnect::reqwest::header::HeaderMap,
}

/// One admin call, with `X-Actor` when given.
pub fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    actor: Option<&str>,
) -> Answer {
    let method = openidconnect::reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = http().request(method, server.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(a) = actor {
        // As bytes: a note in UTF-8 ("José") is not a visible-ASCII string.
        let value = openidconnect::reqwest::header::HeaderValue::from_bytes(a.as_bytes()).unwrap();
        req = req.header("X-Actor", value);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let content_type = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = res.text().unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        body,
        content_type,
        headers,
    }
}

pub fn problem_type(a: &Answer) -> &str {
    assert_eq!(a.content_type, "application/problem+json", "{:?}", a.body);
    assert_eq!(a.body["status"].as_u64(), Some(u64::from(a.status)));
    a.body["type"].as_str().unwrap()
}
