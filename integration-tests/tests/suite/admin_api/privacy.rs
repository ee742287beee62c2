//! What the admin API says and records about people: a limited client learns nothing of other
//! companies' users (a colliding create is a generic conflict), every read of personal data and
//! every refused call is an audit event with the caller and its address, and `user.updated` says
//! which fields changed.

use serde_json::{json, Value};

use crate::admin_api::{admin_token, call, server, sha256, HELPDESK_SECRET, READER_SECRET};
use crate::harness::*;
use crate::on_both_backends;
use crate::rp::seed;

fn writer() -> String {
    format!(
        r#"
[[clients]]
client_id = "writer"
name = "Other's desk"
secret_sha256 = "{}"
grant_types = ["client_credentials"]
scopes = ["admin:read", "admin:users"]
admin_accounts = ["other"]
"#,
        sha256(READER_SECRET)
    )
}

/// The audit events of `action` so far, newest first.
fn events(server: &TestServer, action: &str) -> Vec<Value> {
    let helpdesk = admin_token(server, "helpdesk", HELPDESK_SECRET);
    let page = call(
        server,
        "GET",
        "/admin/v1/audit?limit=200",
        Some(&helpdesk),
        None,
        None,
    );
    assert_eq!(page.status, 200, "{:?}", page.body);
    page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == action && e["actor"] == "client:writer")
        .cloned()
        .collect()
}

fn the_admin_api_tells_and_records_only_what_it_should(db: Db) {
    let server = server(db, &writer());
    seed(&server, "acme", "ann@example.com", false);
    seed(&server, "other", "bo@example.com", false);
    let t = admin_token(&server, "writer", READER_SECRET);
    let t = Some(t.as_str());
    let bo = server.rt.idp.user_by_email("bo@example.com").unwrap();
    let ann = server.rt.idp.user_by_email("ann@example.com").unwrap();

    // A create that collides with another company's user: a generic conflict.
    let clash = call(
        &server,
        "POST",
        "/admin/v1/users",
        t,
        Some(json!({"account": "other", "email": "ANN@example.com", "name": "Someone"})),
        None,
    );
    assert_eq!(clash.status, 409, "{:?}", clash.body);
    let detail = clash.body["detail"].as_str().unwrap();
    assert!(
        !detail.contains("ann@example.com") && !detail.contains("other details"),
        "{detail}"
    );
    // Within its own account it may know more.
    let own = call(
        &server,
        "POST",
        "/admin/v1/users",
        t,
        Some(json!({"account": "other", "email": "bo@example.com", "name": "Not Bo"})),
        None,
    );
    assert_eq!(own.status, 409);
    assert!(own.body["detail"]
        .as_str()
        .unwrap()
        .contains("bo@example.com"));

    // Reads of personal data are audit events, with the caller's address.
    for path in [
        "/admin/v1/users".to_string(),
        format!("/admin/v1/users/{}", bo.id),
        format!("/admin/v1/users/{}/sessions", bo.id),
        "/admin/v1/audit?account=other".to_string(),
    ] {
        let res = call(&server, "GET", &path, t, None, None);
        assert_eq!(res.status, 200, "{path}: {:?}", res.body);
    }
    let reads = events(&server, "admin.read");
    assert_eq!(reads.len(), 4, "{reads:#?}");
    assert!(reads.iter().all(|e| e["ip"] == "127.0.0.1"), "{reads:#?}");
    assert!(reads
        .iter()
        .any(|e| e["detail"].as_str().unwrap().contains("/sessions")));

    // Refused calls are audit events too: another company's user, a scope it lacks.
    let foreign = call(
        &server,
        "GET",
        &format!("/admin/v1/users/{}", ann.id),
        t,
        None,
        None,
    );
    assert_eq!(foreign.status, 404);
    let scope = call(
        &server,
        "DELETE",
        &format!("/admin/v1/users/{}/sessions", bo.id),
        t,
        None,
        None,
    );
    assert_eq!(scope.status, 403);
    let refused = events(&server, "admin.refused");
    assert_eq!(refused.len(), 4, "the two conflicts too: {refused:#?}");
    assert!(refused.iter().any(|e| e["detail"]
        .as_str()
        .unwrap()
        .starts_with("POST /admin/v1/users 409")));
    assert!(refused.iter().all(|e| e["ip"] == "127.0.0.1"));

    // user.updated says which fields changed (and every change carries the address).
    let patched = call(
        &server,
        "PATCH",
        &format!("/admin/v1/users/{}", bo.id),
        t,
        Some(json!({"name": "Bo Diaz"})),
        None,
    );
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    let updated = events(&server, "user.updated");
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0]["detail"], "fields=name");
    assert_eq!(updated[0]["ip"], "127.0.0.1");
}

on_both_backends!(the_admin_api_tells_and_records_only_what_it_should);

/// Roles through the admin API: a client limited to some accounts may make an `account-admin`
/// in them, never a `support` user (who would act on every account); each change is audited.
fn a_limited_client_cannot_mint_the_help_desk(db: Db) {
    let server = server(db, &writer());
    seed(&server, "other", "bo@example.com", false);
    let bo = server.rt.idp.user_by_email("bo@example.com").unwrap();
    let t = admin_token(&server, "writer", READER_SECRET);
    let t = Some(t.as_str());
    let path = |role: &str| format!("/admin/v1/users/{}/roles/{role}", bo.id);
    let refused = call(&server, "PUT", &path("support"), t, None, None);
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert!(server
        .rt
        .idp
        .user_by_id(&bo.id)
        .unwrap()
        .unwrap()
        .roles
        .list()
        .is_empty());
    let granted = call(&server, "PUT", &path("account-admin"), t, None, None);
    assert_eq!(granted.status, 200, "{:?}", granted.body);
    assert_eq!(granted.body["roles"], json!(["account-admin"]));
    let helpdesk = admin_token(&server, "helpdesk", HELPDESK_SECRET);
    let support = call(
        &server,
        "PUT",
        &path("support"),
        Some(&helpdesk),
        None,
        None,
    );
    assert_eq!(support.status, 200, "{:?}", support.body);
    assert_eq!(support.body["roles"], json!(["account-admin", "support"]));
    let back = call(
        &server,
        "DELETE",
        &path("support"),
        Some(&helpdesk),
        None,
        None,
    );
    assert_eq!(back.body["roles"], json!(["account-admin"]));
    let bad = call(&server, "PUT", &path("root"), Some(&helpdesk), None, None);
    assert_eq!(bad.status, 400);
    assert_eq!(
        events(&server, "user.role_granted").len(),
        1,
        "the writer's grant"
    );
}

on_both_backends!(a_limited_client_cannot_mint_the_help_desk);
