//! `/metrics`: requests and outcomes counted, no personal data, labels a caller cannot multiply,
//! and a listener of its own (`[server] metrics_listen`), off the public one, as the operations
//! docs tell operators to do (through the real binary).

use crate::harness::*;
use crate::on_both_backends;
use crate::operations::process::spawn_with;
use crate::rp::*;

#[test]
fn metrics_can_be_served_on_their_own_listener_only() {
    let port = free_listener().local_addr().unwrap().port();
    let mut run = spawn_with(
        Db::Sqlite,
        1024,
        &format!("\n[server]\nmetrics_listen = \"127.0.0.1:{port}\"\n"),
    );
    let public = http().get(format!("{}/metrics", run.base)).send().unwrap();
    assert_eq!(public.status(), 404, "not on the public listener");
    let own = http()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .unwrap();
    assert_eq!(own.status(), 200);
    assert!(own.text().unwrap().contains("idp_config_reloads_total"));
    let other = http()
        .get(format!("http://127.0.0.1:{port}/authorize"))
        .send()
        .unwrap();
    assert_eq!(other.status(), 404, "nothing else there");
    run.child.kill().unwrap();
    run.child.wait().unwrap();
}

fn metrics_count_requests_and_outcomes(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    signed_in_code(&server, &browser);
    let res = http().get(server.url("/metrics")).send().unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = res.text().unwrap();
    assert!(
        text.contains(r#"idp_signins_total{outcome="password_ok"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"idp_http_requests_total{method="GET",route="/authorize",status="303"}"#),
        "{text}"
    );
    assert!(
        text.contains("idp_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        !text.contains("ann@example.com"),
        "no personal data in metrics"
    );
}

/// `/metrics` labels requests by method and route; a caller sending made-up methods must not
/// add a series per method (each one is kept for the life of the process).
#[test]
fn made_up_methods_do_not_multiply_the_request_metrics() {
    let server = TestServer::start(Db::Sqlite);
    let client = http();
    for i in 0..20 {
        let method = reqwest::Method::from_bytes(format!("XMETHOD{i}").as_bytes()).unwrap();
        let res = client.request(method, server.url("/jwks")).send().unwrap();
        assert!(res.status().is_client_error(), "{}", res.status());
    }
    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        !metrics.contains("XMETHOD"),
        "one series per made-up method"
    );
    assert!(
        metrics.contains("method=\"other\""),
        "counted under one label: {metrics}"
    );
}

on_both_backends!(metrics_count_requests_and_outcomes);
