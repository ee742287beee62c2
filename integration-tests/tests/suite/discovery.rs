//! What a relying party reads before anything else: the discovery document and the JWKS, complete
//! and answering `HEAD` as `GET`.

use serde_json::Value;

use crate::harness::*;
use crate::on_both_backends;
use crate::rp::*;

fn discovery_and_jwks_are_complete(db: Db) {
    let server = TestServer::start(db);
    let doc: Value = http()
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(doc["issuer"], server.base.as_str());
    for key in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
    ] {
        assert!(
            doc[key].as_str().unwrap().starts_with(&server.base),
            "{key}"
        );
    }
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert!(doc["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .contains(&"RS256".into()));
    assert_eq!(doc["backchannel_logout_supported"], true);
    // Only what is there: /userinfo answers plain JSON (no signed answer to advertise), and
    // the issuer's root is the sign-in page, not documentation for developers.
    for absent in [
        "userinfo_signing_alg_values_supported",
        "service_documentation",
    ] {
        assert!(doc.get(absent).is_none(), "{absent} advertised");
    }
    let jwks: Value = http()
        .get(server.url("/jwks"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert!(keys
        .iter()
        .any(|k| k["alg"] == "RS256" && k["kid"].is_string() && k["use"] == "sig"));
    for k in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(
                k.get(private).is_none(),
                "private key material {private} published"
            );
        }
    }
    // Keys persist across restarts (same database).
    let kids: Vec<String> = keys
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    let again = idp_server::keys::Keyring::load_or_create(&server.rt.idp, 360).unwrap();
    let jwks2: Value = serde_json::from_slice(&again.jwks_bytes()).unwrap();
    let kids2: Vec<String> = jwks2["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kids, kids2);
}

/// RFC 9110 9.3.2: HEAD answers as GET does, without the body, for what caches and monitors ask
/// about.
#[test]
fn discovery_jwks_and_health_answer_head() {
    let server = TestServer::start(Db::Sqlite);
    for path in [
        "/.well-known/openid-configuration",
        "/jwks",
        "/healthz",
        "/static/style.css",
    ] {
        let get = http().get(server.url(path)).send().unwrap();
        let head = http().head(server.url(path)).send().unwrap();
        assert_eq!(head.status(), 200, "{path}");
        assert_eq!(
            header(&head, "content-type"),
            header(&get, "content-type"),
            "{path}"
        );
        assert!(head.bytes().unwrap().is_empty(), "{path}: no body");
    }
}

on_both_backends!(discovery_and_jwks_are_complete);
