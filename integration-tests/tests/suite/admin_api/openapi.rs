//! Schemathesis checks every admin API operation against the served OpenAPI document.

use std::process::Command;

use super::{admin_token, server, HELPDESK_SECRET};
use crate::harness::*;
use crate::rp::seed;

/// Schemathesis (an independent, property-based API tester) runs every operation of the served
/// document against a real server: no 5xx, every response of the documented status, content
/// type, headers and schema, invalid input refused, undeclared methods answered 405.
#[test]
fn schemathesis_finds_nothing_wrong_with_the_admin_api() {
    crate::independent_clients::ensure_python_packages();
    let server = server(
        Db::Sqlite,
        "\n[admin]\ncalls_per_minute = 100000\n\n[tokens]\naccess_token_ttl = \"1h\"\n",
    );
    seed(&server, "acme", "ann@example.com", true);
    let token = admin_token(&server, "helpdesk", HELPDESK_SECRET);
    let out = Command::new("python3")
        .args(["-m", "schemathesis.cli", "run"])
        .arg(server.url("/admin/v1/openapi.json"))
        .args(["-H", &format!("Authorization: Bearer {token}")])
        // Every check but two heuristics that do not fit this API: a user's sessions are a
        // collection that stays (empty) after DELETE, and "schema-valid" emails the server
        // refuses (no dot in the domain) are refusals, not bugs.
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "use_after_free,positive_data_acceptance",
        ])
        .args([
            "--max-examples",
            "40",
            "--workers",
            "1",
            "--seed",
            "20261201",
        ])
        .env("NO_COLOR", "1")
        .output()
        .expect("python3 with schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("20 selected / 20 total"), "{stdout}");
    assert!(stdout.contains("No issues found"), "{stdout}");
}
