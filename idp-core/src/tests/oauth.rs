//! Authorization codes, grants and refresh tokens: single use, rotation, scope, and the session
//! policy checked inside the grant's transaction.

use std::sync::{Arc, Barrier};

use super::*;
use crate::oauth::GrantError;

fn code_is_single_use_and_replay_revokes(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let (s, _) = db
        .idp
        .start_session(&u, AuthMethod::Password, None, None)
        .unwrap();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let new = NewCode {
        client_id: "app",
        redirect_uri: "https://app.example/cb",
        session_id: &s.id,
        user_id: &u.id,
        scope: "openid email",
        nonce: Some("n-1"),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
    };
    let code = db.idp.issue_code(&new).unwrap();
    let issued = db
        .idp
        .redeem_code(&code, "app", "https://app.example/cb", Some(verifier))
        .unwrap();
    assert_eq!(issued.nonce.as_deref(), Some("n-1"));
    assert!(db
        .idp
        .live_grant_subject(&issued.grant_id)
        .unwrap()
        .is_some());
    let again = db
        .idp
        .redeem_code(&code, "app", "https://app.example/cb", Some(verifier));
    assert!(matches!(again, Err(GrantError::InvalidGrant(_))));
    assert!(
        db.idp
            .live_grant_subject(&issued.grant_id)
            .unwrap()
            .is_none(),
        "replay revokes the first grant"
    );
    assert!(db.idp.refresh(&issued.refresh_token, "app").is_err());
    // Binding: wrong client, redirect URI, verifier, or too late.
    for (client, uri, v, wait) in [
        ("other", "https://app.example/cb", Some(verifier), 0),
        ("app", "https://app.example/cb/", Some(verifier), 0),
        (
            "app",
            "https://app.example/cb",
            Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX"),
            0,
        ),
        ("app", "https://app.example/cb", None, 0),
        ("app", "https://app.example/cb", Some(verifier), 61),
    ] {
        let code = db.idp.issue_code(&new).unwrap();
        db.clock.advance(wait);
        assert!(
            db.idp.redeem_code(&code, client, uri, v).is_err(),
            "{client} {uri} {v:?} {wait}"
        );
        // The failed attempt burned the code.
        assert!(db
            .idp
            .redeem_code(&code, "app", "https://app.example/cb", Some(verifier))
            .is_err());
    }
}

/// `live_grant_subject` (the one-query `/userinfo` path): the user and account while the grant
/// and its session live; nothing after idle expiry, logout or revocation.
fn userinfo_subject_only_for_a_live_grant(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let grant = |sid: &str| {
        let code = db
            .idp
            .issue_code(&NewCode {
                client_id: "app",
                redirect_uri: "https://app.example/cb",
                session_id: sid,
                user_id: &u.id,
                scope: "openid",
                nonce: None,
                code_challenge: None,
            })
            .unwrap();
        db.idp
            .redeem_code(&code, "app", "https://app.example/cb", None)
            .unwrap()
    };
    let (s, _) = db
        .idp
        .start_session(&u, AuthMethod::Password, None, None)
        .unwrap();
    let g = grant(&s.id);
    let (found, account) = db.idp.live_grant_subject(&g.grant_id).unwrap().unwrap();
    assert_eq!(found.id, u.id);
    assert_eq!(account.slug, "acme");
    assert!(db
        .idp
        .live_grant_subject("no-such-grant")
        .unwrap()
        .is_none());

    // Idle expiry, without anyone ending the session.
    db.clock.advance(s.idle_timeout_secs - 1);
    assert!(db.idp.live_grant_subject(&g.grant_id).unwrap().is_some());
    db.clock.advance(1);
    assert!(db.idp.live_grant_subject(&g.grant_id).unwrap().is_none());

    // Logout.
    let (s, _) = db
        .idp
        .start_session(&u, AuthMethod::Password, None, None)
        .unwrap();
    let g = grant(&s.id);
    db.idp.end_session(&s.id, &op(), None).unwrap();
    assert!(db.idp.live_grant_subject(&g.grant_id).unwrap().is_none());

    // A revoked grant (refresh-token reuse) in a session that lives on.
    let (s, _) = db
        .idp
        .start_session(&u, AuthMethod::Password, None, None)
        .unwrap();
    let g = grant(&s.id);
    let next = db.idp.refresh(&g.refresh_token, "app").unwrap();
    assert!(db.idp.refresh(&g.refresh_token, "app").is_err(), "reuse");
    assert!(db.idp.live_grant_subject(&next.grant_id).unwrap().is_none());
    assert!(db.idp.live_sessions(&u.id).unwrap().len() == 1);
}

fn refresh_rotates_and_reuse_revokes_the_chain(db: &TestDb) {
    // Another user in another account, created first, so a grant that found the wrong user or
    // account would show.
    let other = user(db, "globex", "gil@example.com");
    let (other_s, _) = db
        .idp
        .start_session(&other, AuthMethod::Password, None, None)
        .unwrap();
    redeem(db, &other, &other_s, "openid");
    let u = user(db, "acme", "ann@example.com");
    let (s, _) = db
        .idp
        .start_session(&u, AuthMethod::Password, None, None)
        .unwrap();
    let first = redeem(db, &u, &s, "openid");
    assert_eq!(
        (first.user.id.as_str(), first.account.slug.as_str()),
        (u.id.as_str(), "acme"),
        "the code's grant carries its user and account"
    );
    db.clock.advance(600);
    let second = db.idp.refresh(&first.refresh_token, "app").unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(
        (second.user.email.as_str(), second.account.id.as_str()),
        ("ann@example.com", u.account_id.as_str()),
        "a refresh carries the grant's user and account"
    );
    assert_eq!(
        second.session.idle_expires_at,
        db.idp.now() + 1800,
        "refresh slides the idle window"
    );
    assert!(
        db.idp.refresh(&second.refresh_token, "other").is_err(),
        "bound to the client"
    );
    // (The wrong-client attempt revoked the grant; start a fresh one for the reuse check.)
    let g = redeem(db, &u, &s, "openid");
    let g2 = db.idp.refresh(&g.refresh_token, "app").unwrap();
    assert!(
        db.idp.refresh(&g.refresh_token, "app").is_err(),
        "reuse refused"
    );
    assert!(
        db.idp.refresh(&g2.refresh_token, "app").is_err(),
        "reuse revoked the newest token too"
    );
    // Idle expiry kills refresh.
    let g = redeem(db, &u, &s, "openid");
    db.clock.advance(1801);
    assert!(db.idp.refresh(&g.refresh_token, "app").is_err());
}

fn refresh_may_narrow_the_scope_but_not_widen_it(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let (s, _) = db
        .idp
        .start_session(&u, AuthMethod::Password, None, None)
        .unwrap();
    let g = redeem(db, &u, &s, "openid email");
    // Wider than the grant: refused, and nothing was spent.
    assert!(matches!(
        db.idp
            .refresh_with_scope(&g.refresh_token, "app", Some("openid email profile")),
        Err(GrantError::InvalidScope)
    ));
    // Narrower: this response's tokens carry the narrower scope...
    let narrow = db
        .idp
        .refresh_with_scope(&g.refresh_token, "app", Some("openid  email openid"))
        .expect("the refused request left the token usable");
    assert_eq!(narrow.scope, "openid email");
    let narrow = db
        .idp
        .refresh_with_scope(&narrow.refresh_token, "app", Some("openid"))
        .unwrap();
    assert_eq!(narrow.scope, "openid");
    // ...while the grant keeps its own, and an empty scope means the grant's.
    let next = db
        .idp
        .refresh_with_scope(&narrow.refresh_token, "app", Some(" "))
        .unwrap();
    assert_eq!(next.scope, "openid email");
    assert!(
        db.idp.refresh(&narrow.refresh_token, "app").is_err(),
        "still single-use"
    );
}

fn concurrent_code_redemptions_have_one_winner(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let (s, _) = db
        .idp
        .start_session(&u, AuthMethod::Password, None, None)
        .unwrap();
    let new = NewCode {
        client_id: "app",
        redirect_uri: "https://a/cb",
        session_id: &s.id,
        user_id: &u.id,
        scope: "openid",
        nonce: None,
        code_challenge: None,
    };
    for _ in 0..5 {
        let code = db.idp.issue_code(&new).unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (idp, code, barrier) = (db.idp.clone(), code.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    idp.redeem_code(&code, "app", "https://a/cb", None)
                })
            })
            .collect();
        let ok = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|r| r.is_ok())
            .count();
        assert_eq!(ok, 1);
    }
}

/// Scope values the provider never grants are ignored at refresh as at /authorize: a refresh
/// that repeats the original request's scope (Authlib does, `offline_access` included) works.
fn refresh_ignores_scope_values_never_granted(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let s = session(db, &u, AuthMethod::Password);
    let g = redeem(db, &u, &s, "openid email");
    let next = db
        .idp
        .refresh_with_scope(&g.refresh_token, "app", Some("openid email offline_access"))
        .unwrap();
    assert_eq!(next.scope, "openid email");
    let next = db
        .idp
        .refresh_with_scope(&next.refresh_token, "app", Some("offline_access"))
        .unwrap();
    assert_eq!(
        next.scope, "openid email",
        "nothing left: the grant's scope"
    );
    assert!(matches!(
        db.idp.refresh_with_scope(
            &next.refresh_token,
            "app",
            Some("openid profile offline_access")
        ),
        Err(GrantError::InvalidScope)
    ));
    assert_eq!(
        crate::oauth::supported_scope("offline_access email openid api:read"),
        vec!["openid", "email"]
    );
}

/// Defence in depth: a session that never passed the second factor its account requires (MFA
/// turned on behind the use case's back) is refused at refresh, at code redemption and at
/// userinfo; the first refusal that writes ends it, with its logout queued. A session that
/// passed it is not touched.
fn a_session_without_the_required_second_factor_is_refused(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let weak = session(db, &u, AuthMethod::Password);
    let g = redeem(db, &u, &weak, "openid");
    let strong = session(db, &u, AuthMethod::PasswordAndTotp);
    let h = redeem(db, &u, &strong, "openid");
    sql(db, "UPDATE accounts SET mfa_policy = 'required'");
    assert!(db.idp.live_grant_subject(&g.grant_id).unwrap().is_none());
    assert!(db.idp.live_grant_subject(&h.grant_id).unwrap().is_some());
    let code = db
        .idp
        .issue_code(&NewCode {
            client_id: "app",
            redirect_uri: "https://a/cb",
            session_id: &weak.id,
            user_id: &u.id,
            scope: "openid",
            nonce: None,
            code_challenge: None,
        })
        .unwrap();
    assert!(matches!(
        db.idp.redeem_code(&code, "app", "https://a/cb", None),
        Err(GrantError::InvalidGrant(_))
    ));
    assert!(matches!(
        db.idp.refresh(&g.refresh_token, "app"),
        Err(GrantError::InvalidGrant(_))
    ));
    assert!(db
        .idp
        .session_by_id(&weak.id)
        .unwrap()
        .unwrap()
        .ended_at
        .is_some());
    assert_eq!(
        queued_logouts(db),
        vec![(weak.id.clone(), "app".into(), "mfa_missing".into())]
    );
    db.idp.refresh(&h.refresh_token, "app").unwrap();
}

/// A disabled user's code or refresh is refused inside the grant's transaction: no grant or
/// refresh token is created for them (before, the server refused after both were written), and
/// the session the refusal found ends for that reason (the session rule's one home, `gate`).
fn a_disabled_user_gets_no_new_grant(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let s = session(db, &u, AuthMethod::Password);
    let g = redeem(db, &u, &s, "openid");
    let count = |table: &str| -> i64 {
        use diesel::sql_types::BigInt;
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut c = db.idp.store().conn().unwrap();
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
            .get_result::<N>(&mut c)
            .unwrap()
            .n
    };
    let code = db
        .idp
        .issue_code(&NewCode {
            client_id: "app",
            redirect_uri: "https://a/cb",
            session_id: &s.id,
            user_id: &u.id,
            scope: "openid",
            nonce: None,
            code_challenge: None,
        })
        .unwrap();
    sql(db, "UPDATE users SET status = 'disabled'");
    let (grants, tokens) = (count("grants"), count("refresh_tokens"));
    assert!(matches!(
        db.idp.redeem_code(&code, "app", "https://a/cb", None),
        Err(GrantError::InvalidGrant("the user is disabled"))
    ));
    assert!(matches!(
        db.idp.refresh(&g.refresh_token, "app"),
        Err(GrantError::InvalidGrant("the grant has been revoked"))
    ));
    assert_eq!((count("grants"), count("refresh_tokens")), (grants, tokens));
    assert_eq!(
        queued_logouts(db),
        vec![(s.id.clone(), "app".into(), "user_disabled".into())]
    );
    sql(db, "UPDATE users SET status = 'active'");
    assert!(
        db.idp.refresh(&g.refresh_token, "app").is_err(),
        "the refused refresh revoked its grant"
    );
}

crate::on_both_backends!(
    code_is_single_use_and_replay_revokes,
    userinfo_subject_only_for_a_live_grant,
    refresh_rotates_and_reuse_revokes_the_chain,
    refresh_may_narrow_the_scope_but_not_widen_it,
    refresh_ignores_scope_values_never_granted,
    concurrent_code_redemptions_have_one_winner,
    a_session_without_the_required_second_factor_is_refused,
    a_disabled_user_gets_no_new_grant,
);
