//! The console's audit log as CSV: a header row, the filtered events of every page, and cells a
//! spreadsheet would run as formulas defused; signing out of the console ends its SSO session.

use idp_core::model::Role;

use crate::console::{console_sign_in, csrf, person, with_role};
use crate::harness::*;
use crate::on_both_backends;
use crate::rp::*;

/// The CSV export: a header row, the filtered events, and formula cells defused.
fn the_audit_export_is_csv_with_formulas_defused(db: Db) {
    let server = TestServer::start(db);
    let help = person(&server, "vendor", "help@example.com");
    let help = with_role(&server, &help, Role::Support);
    let ann = person(&server, "acme", "ann@example.com");
    let (browser, _, home) =
        console_sign_in(&server, "help@example.com", SecondFactor::Enroll, None);
    let done = browser.post(
        &server.url(&format!("/console/users/{}/disable", ann.id)),
        &[
            ("csrf", &csrf(&home)),
            ("reason", "=HYPERLINK(\"http://evil.example\",\"x\")"),
        ],
    );
    assert_eq!(done.status, 303, "{}", done.body);
    let csv = browser.get(&server.url(&format!("/console/audit.csv?user={}", ann.id)));
    assert_eq!(csv.status, 200);
    assert!(csv
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let mut lines = csv.body.lines();
    assert_eq!(
        lines.next(),
        Some("time,event,actor,account_id,user_id,address,reason,detail,on_behalf_of")
    );
    let disabled = csv
        .body
        .lines()
        .find(|l| l.contains("user.disabled"))
        .unwrap();
    assert!(
        disabled.contains("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\""),
        "{disabled}"
    );
    assert!(
        csv.body.lines().skip(1).all(|l| l.contains(&ann.id)),
        "only ann's events"
    );
    let bad = browser.get(&server.url("/console/audit?from=yesterday"));
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("Enter dates as year-month-day"),
        "{}",
        bad.body
    );
    // Signing out of the console ends the SSO session it ran in; the form needs its token.
    assert_eq!(
        browser.post(&server.url("/console/signout"), &[]).status,
        403
    );
    let bye = browser.post(&server.url("/console/signout"), &[("csrf", &csrf(&home))]);
    assert_eq!(bye.status, 200, "{}", bye.body);
    assert!(server.rt.idp.live_sessions(&help.id).unwrap().is_empty());
    assert_eq!(browser.get(&server.url("/console")).status, 303);
}

on_both_backends!(the_audit_export_is_csv_with_formulas_defused);
