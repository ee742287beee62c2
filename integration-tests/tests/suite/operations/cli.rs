//! Operator commands through the real binary: success, refusal, idempotence, `--json`, audit.

use crate::harness::*;
use crate::on_both_backends;

fn ok(out: &CliOutput) -> &str {
    assert_eq!(
        out.code, 0,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    &out.stdout
}

fn refused(out: &CliOutput) -> &str {
    assert_ne!(out.code, 0, "expected a refusal: {}", out.stdout);
    assert!(
        out.stderr.starts_with("error: "),
        "one-line reason: {}",
        out.stderr
    );
    &out.stderr
}

fn operator_commands_do_what_support_tickets_ask(db: Db) {
    let server = TestServer::start(db);
    let s = &server;
    assert!(ok(&s.cli(&["check-config"], None)).contains("OK"));
    ok(&s.cli(&["migrate"], None));
    assert!(
        ok(&s.cli(&["account", "create", "acme", "--name", "Acme Fuel"], None))
            .contains("MFA is off")
    );
    refused(&s.cli(&["account", "create", "acme", "--name", "Again"], None));
    refused(&s.cli(&["account", "show", "nope"], None));
    let shown: serde_json::Value =
        serde_json::from_str(ok(&s.cli(&["--json", "account", "show", "acme"], None))).unwrap();
    assert_eq!(shown["account"]["mfa_policy"], "off");

    // Users: weak password refused with the policy's reason, nothing stored.
    assert!(refused(&s.cli(
        &[
            "user",
            "create",
            "--account",
            "acme",
            "--email",
            "bob@acme.example",
            "--password-stdin"
        ],
        Some("password1234\n")
    ))
    .contains("common"));
    ok(&s.cli(
        &[
            "--operator",
            "alice",
            "user",
            "create",
            "--account",
            "acme",
            "--email",
            "Bob@Acme.example",
            "--name",
            "Bob",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    ));
    refused(&s.cli(
        &[
            "user",
            "create",
            "--account",
            "acme",
            "--email",
            "BOB@acme.example",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    ));
    refused(&s.cli(
        &[
            "user",
            "create",
            "--account",
            "nope",
            "--email",
            "c@acme.example",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    ));
    assert_eq!(
        s.cli(
            &[
                "user",
                "create",
                "--account",
                "acme",
                "--email",
                "c@acme.example"
            ],
            None
        )
        .code,
        2,
        "clap usage error"
    );
    assert!(
        ok(&s.cli(&["user", "show", "--email", "BOB@acme.example"], None))
            .contains("status: active")
    );
    assert!(ok(&s.cli(&["user", "list", "--account", "acme"], None)).contains("bob@acme.example"));

    // Invitation: a mail lands in the outbox.
    ok(&s.cli(
        &[
            "user",
            "create",
            "--account",
            "acme",
            "--email",
            "new@acme.example",
            "--invite",
        ],
        None,
    ));
    let mails: Vec<_> = std::fs::read_dir(server.outbox()).unwrap().collect();
    assert_eq!(mails.len(), 1);

    // Disable / enable, twice each.
    assert!(
        ok(&s.cli(&["user", "disable", "--email", "bob@acme.example"], None)).contains("disabled")
    );
    assert!(
        ok(&s.cli(&["user", "disable", "--email", "bob@acme.example"], None)).contains("already")
    );
    ok(&s.cli(&["user", "enable", "--email", "bob@acme.example"], None));
    assert!(
        ok(&s.cli(&["user", "enable", "--email", "bob@acme.example"], None)).contains("already")
    );
    refused(&s.cli(
        &[
            "user",
            "set-password",
            "--email",
            "bob@acme.example",
            "--password-stdin",
        ],
        Some("short\n"),
    ));
    ok(&s.cli(
        &[
            "user",
            "set-password",
            "--email",
            "bob@acme.example",
            "--password-stdin",
        ],
        Some("another fine passphrase\n"),
    ));
    assert!(server
        .rt
        .idp
        .authenticate_password("bob@acme.example", "another fine passphrase", None)
        .is_ok());
    ok(&s.cli(&["user", "unlock", "--email", "bob@acme.example"], None));
    ok(&s.cli(&["user", "send-link", "--email", "bob@acme.example"], None));

    // MFA policy for the whole account.
    assert!(ok(&s.cli(&["mfa", "enable", "--account", "acme"], None)).contains("required"));
    assert!(ok(&s.cli(&["mfa", "enable", "--account", "acme"], None)).contains("already"));
    assert!(ok(&s.cli(&["mfa", "status", "--account", "acme"], None)).contains("not enrolled"));
    assert!(ok(&s.cli(
        &[
            "mfa",
            "disconnect",
            "--email",
            "bob@acme.example",
            "--reason",
            "T-2 lost phone"
        ],
        None
    ))
    .contains("no authenticator app"));
    ok(&s.cli(&["mfa", "disable", "--account", "acme"], None));
    refused(&s.cli(&["mfa", "enable", "--account", "nope"], None));

    // Sessions.
    let bob = server.rt.idp.user_by_email("bob@acme.example").unwrap();
    server
        .rt
        .idp
        .start_session(&bob, idp_core::AuthMethod::Password, None, None)
        .unwrap();
    assert!(
        ok(&s.cli(&["session", "list", "--email", "bob@acme.example"], None)).contains("amr=pwd")
    );
    assert!(
        ok(&s.cli(&["session", "revoke", "--email", "bob@acme.example"], None))
            .contains("ended 1 session")
    );
    assert!(server.rt.idp.live_sessions(&bob.id).unwrap().is_empty());

    // Keys.
    let before = ok(&s.cli(&["keys", "list"], None)).lines().count();
    ok(&s.cli(&["keys", "rotate"], None));
    assert_eq!(
        ok(&s.cli(&["keys", "list"], None)).lines().count(),
        before + 3
    );

    // Audit names the operator.
    let events = server.rt.idp.audit_recent(200).unwrap();
    assert!(events
        .iter()
        .any(|e| e.action == "user.created" && e.actor == "operator:alice"));
    assert!(events.iter().any(|e| e.action == "mfa.policy_changed"));
    assert!(events.iter().any(|e| e.action == "keys.rotated"));
}

fn a_broken_config_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "issuer = \"http://127.0.0.1:1\"\n[session]\nidle_timeout = \"soon\"\n",
    )
    .unwrap();
    let out = run_cli(&path, &["check-config"], None);
    assert!(refused(&out).contains("session.idle_timeout"));
}

/// Master-key rotation by command: the new key in `IDP_MASTER_KEY`, the old one in
/// `IDP_MASTER_KEY_PREVIOUS`, `keys reseal`; afterwards the new key alone is enough.
fn master_key_rotation_by_command(db: Db) {
    let server = TestServer::start(db);
    crate::rp::seed(&server, "acme", "ann@example.com", true);
    let user = server.rt.idp.user_by_email("ann@example.com").unwrap();
    // A sign-in showing its enrollment secret (a pending secret lives in its login flow).
    let flow = server.rt.idp.create_flow(None, None).unwrap();
    server
        .rt
        .idp
        .advance_flow(&flow, &user, idp_core::flows::FlowStage::MfaEnroll)
        .unwrap();
    server.rt.idp.begin_enrollment(&user, &flow).unwrap();
    let old = std::fs::read_to_string(server.dir.path().join("keys/master.key")).unwrap();
    let new = "ab".repeat(32);
    let only_new = [("IDP_MASTER_KEY", new.as_str())];
    let both = [
        ("IDP_MASTER_KEY", new.as_str()),
        ("IDP_MASTER_KEY_PREVIOUS", old.trim()),
    ];
    let cfg = &server.config_path;
    // Without the old key the sealed data cannot be opened: a clear refusal, nothing changed.
    refused(&run_cli_env(cfg, &["keys", "reseal"], None, &only_new));
    let out = run_cli_env(cfg, &["--json", "keys", "reseal"], None, &both);
    let report: serde_json::Value = serde_json::from_str(ok(&out)).unwrap();
    assert_eq!(report["totp_secrets"], 1);
    assert!(report["signing_keys"].as_u64().unwrap() >= 3, "{report}");
    // Everything is now under the new key: nothing left to do, and it needs no old key.
    let again = run_cli_env(cfg, &["--json", "keys", "reseal"], None, &only_new);
    let report: serde_json::Value = serde_json::from_str(ok(&again)).unwrap();
    assert_eq!(report["totp_secrets"], 0);
    assert_eq!(report["signing_keys"], 0);
    // And the old key alone no longer opens anything.
    refused(&run_cli_env(
        cfg,
        &["keys", "reseal"],
        None,
        &[("IDP_MASTER_KEY", old.trim())],
    ));
}

/// A lost laptop: disabling the user ends their sessions and tells the apps (back-channel).
fn disabling_a_user_logs_them_out_of_the_apps(db: Db) {
    let recorder = Recorder::start();
    let server = TestServer::start_with(
        db,
        Options {
            backchannel_logout_uri: Some(recorder.url.clone()),
            ..Options::default()
        },
    );
    crate::rp::seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let signed = crate::rp::sign_in(
        &server,
        &browser,
        &server.demo_authorize_url(),
        "ann@example.com",
        crate::rp::SecondFactor::None,
        None,
    );
    let code = signed.callback.location_param("code").unwrap();
    let res = crate::rp::http()
        .post(server.url("/token"))
        .basic_auth("demo", Some(DEMO_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:8081/callback"),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    let out = server.cli(&["user", "disable", "--email", "ann@example.com"], None);
    let text = ok(&out);
    assert!(
        text.contains("1 session(s) ended; back-channel logout sent to 1 app(s)"),
        "{text}"
    );
    let body = recorder
        .rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("back-channel logout received");
    assert!(body.starts_with("logout_token="), "{body}");
    assert!(
        ok(&server.cli(&["user", "disable", "--email", "ann@example.com"], None))
            .contains("already disabled")
    );
}

/// A reader that goes away early (`idp-server user list ... | head`) ends the command quietly:
/// no panic (Rust ignores SIGPIPE, so a plain println! panics on the broken pipe) and not the
/// panic's exit code 101.
#[test]
fn output_to_a_closed_pipe_ends_the_command_quietly() {
    let server = TestServer::start(Db::Sqlite);
    crate::rp::seed(&server, "acme", "ann@example.com", false);
    let mut child = std::process::Command::new(binary())
        .arg("--config")
        .arg(&server.config_path)
        .args(["--json", "user", "list", "--account", "acme"])
        .env_remove("IDP_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Closed before the command opens its database, so its first line meets a broken pipe.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn broken_config_is_refused_with_the_key() {
    a_broken_config_names_the_key();
}

on_both_backends!(
    operator_commands_do_what_support_tickets_ask,
    master_key_rotation_by_command,
    disabling_a_user_logs_them_out_of_the_apps,
);
