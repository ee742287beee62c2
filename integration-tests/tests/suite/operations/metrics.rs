//! `/metrics` on a listener of its own (`[server] metrics_listen`), off the public one: what the
//! operations docs tell operators to do, through the real binary.

use crate::harness::*;
use crate::operations::process::spawn_with;
use crate::rp::http;

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
