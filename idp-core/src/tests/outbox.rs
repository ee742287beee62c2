//! The durable outbox of back-channel logouts: claims exclude each other, failures are retried
//! with backoff, a lost claim is taken over after its lease, the last failure is audited.

use super::*;
use crate::outbox::{FailedAttempt, CLAIM_LEASE_SECS, MAX_ATTEMPTS, RETRY_DELAYS_SECS};

/// A session with a grant for "app", ended: one logout queued.
fn one_logout(db: &TestDb) -> (User, SsoSession) {
    let u = user(db, "acme", "ann@example.com");
    let s = session(db, &u, AuthMethod::Password);
    redeem(db, &u, &s, "openid");
    db.idp.end_session(&s.id, &op(), None).unwrap();
    (u, s)
}

fn a_claimed_logout_is_not_claimed_twice(db: &TestDb) {
    let (_, s) = one_logout(db);
    let other = db.reopen(crate::testing::cheap_settings());
    assert!(db.idp.logouts_due().unwrap());
    let mine = db.idp.claim_logouts("app", 10, None).unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (mine[0].session_id.as_str(), mine[0].attempts),
        (s.id.as_str(), 1)
    );
    assert!(
        other.claim_logouts("app", 10, None).unwrap().is_empty(),
        "claimed by the first"
    );
    assert!(!other.logouts_due().unwrap());
    // Only the given sessions, when asked.
    assert!(db
        .idp
        .claim_logouts("app", 10, Some(&["another".to_string()]))
        .unwrap()
        .is_empty());
    db.idp.logouts_delivered(&[(&mine[0], None)]).unwrap();
    db.clock.advance(CLAIM_LEASE_SECS + 1);
    assert!(
        other.claim_logouts("app", 10, None).unwrap().is_empty(),
        "delivered: done"
    );
    assert_eq!(db.idp.outbox_counts().unwrap(), (0, 1, 0));
}

/// A replica that dies holding a claim: after the lease another one takes the logout over, and
/// the lost attempt counts.
fn a_lost_claim_is_taken_over_after_its_lease(db: &TestDb) {
    let (_, s) = one_logout(db);
    let only = [s.id.clone()];
    let first = db.idp.claim_logouts("app", 10, None).unwrap();
    assert_eq!(first.len(), 1);
    db.clock.advance(CLAIM_LEASE_SECS - 1);
    assert!(db.idp.claim_logouts("app", 10, None).unwrap().is_empty());
    assert!(db
        .idp
        .claim_logouts("app", 10, Some(&only))
        .unwrap()
        .is_empty());
    db.clock.advance(1);
    // Taken over by a claim for that session as by any other.
    let again = db.idp.claim_logouts("app", 10, Some(&only)).unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 2));
    assert!(db.idp.claim_logouts("app", 10, None).unwrap().is_empty());
    db.clock.advance(CLAIM_LEASE_SECS);
    let third = db.idp.claim_logouts("app", 10, None).unwrap();
    assert_eq!((third.len(), third[0].attempts), (1, 3));
    db.idp.logouts_delivered(&[(&third[0], None)]).unwrap();
    db.clock.advance(CLAIM_LEASE_SECS + 1);
    assert!(
        db.idp
            .claim_logouts("app", 10, Some(&only))
            .unwrap()
            .is_empty(),
        "delivered: not claimed again for its session"
    );
}

/// Failures are retried with backoff (at least three attempts over at least a minute); after the
/// last one the logout is given up and an audit event says so.
fn failures_are_retried_with_backoff_then_audited(db: &TestDb) {
    let (u, s) = one_logout(db);
    let started = db.idp.now();
    let mut attempts = Vec::new();
    loop {
        let mut claimed = db.idp.claim_logouts("app", 10, None).unwrap();
        let Some(logout) = claimed.pop() else {
            panic!("due logout not claimable at +{}s", db.idp.now() - started);
        };
        attempts.push(db.idp.now() - started);
        match db.idp.logout_failed(&logout, "HTTP 503").unwrap() {
            FailedAttempt::RetryAt(at) => {
                // Not before its time.
                db.clock.set(at - 1);
                assert!(db.idp.claim_logouts("app", 10, None).unwrap().is_empty());
                db.clock.set(at);
            }
            FailedAttempt::GaveUp => break,
            FailedAttempt::TakenOver => panic!("nobody else claimed it"),
        }
    }
    assert_eq!(attempts.len(), MAX_ATTEMPTS as usize);
    assert!(attempts.len() >= 3);
    assert!(*attempts.last().unwrap() >= 60, "{attempts:?}");
    let mut expected = vec![0];
    for d in RETRY_DELAYS_SECS {
        expected.push(expected.last().unwrap() + d);
    }
    assert_eq!(attempts, expected);
    db.clock.advance(3600);
    assert!(
        db.idp.claim_logouts("app", 10, None).unwrap().is_empty(),
        "given up"
    );
    assert_eq!(db.idp.outbox_counts().unwrap(), (0, 0, 1));
    let audit = db
        .idp
        .audit_for_user(&u.id, 10)
        .unwrap()
        .into_iter()
        .find(|e| e.action == "logout.delivery_failed")
        .expect("the final failure is audited");
    let detail = audit.detail.unwrap();
    assert!(detail.contains(&s.id) && detail.contains("client=app") && detail.contains("HTTP 503"));
}

/// Replicas claiming at the same moment, half of them for the given sessions (as right after a
/// logout): every logout is claimed by exactly one of them (on PostgreSQL the rows a claimer
/// selected are locked until its claim commits; on SQLite the claim's update checks the
/// conditions again).
fn concurrent_claimers_each_get_their_own_logouts(db: &TestDb) {
    let mut queued = std::collections::BTreeSet::new();
    for i in 0..40 {
        let u = user(db, "acme", &format!("u{i}@example.com"));
        let s = session(db, &u, AuthMethod::Password);
        redeem(db, &u, &s, "openid");
        db.idp.end_session(&s.id, &op(), None).unwrap();
        queued.insert(s.id);
    }
    let claimers: Vec<_> = (0..4)
        .map(|_| db.reopen(crate::testing::cheap_settings()))
        .collect();
    let start = std::sync::Barrier::new(claimers.len());
    let sessions: Vec<String> = queued.iter().cloned().collect();
    let claimed: Vec<Vec<String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = claimers
            .iter()
            .enumerate()
            .map(|(i, idp)| {
                let (start, only) = (&start, (i % 2 == 1).then_some(sessions.as_slice()));
                scope.spawn(move || {
                    start.wait();
                    let mut mine = Vec::new();
                    loop {
                        let batch = idp.claim_logouts("app", 3, only).unwrap();
                        if batch.is_empty() {
                            return mine;
                        }
                        mine.extend(batch.into_iter().map(|l| l.session_id));
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all: Vec<&String> = claimed.iter().flatten().collect();
    let distinct: std::collections::BTreeSet<String> = all.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        all.len(),
        distinct.len(),
        "{} claims of {} logouts",
        all.len(),
        distinct.len()
    );
    assert_eq!(distinct, queued, "every logout claimed");
}

/// Two replicas and one logout on its last attempt: A's round outlives its claim's lease and B
/// claims the logout again, then delivers it. What A records late (delivered while B still
/// holds it, then given up) changes nothing: only the holder of the current claim records an
/// outcome (before, A's late "delivered" ended B's claim, and A's late give-up marked the
/// delivered logout failed too, with an audit event saying so).
fn only_the_replica_holding_the_claim_records_the_outcome(db: &TestDb) {
    let (u, _) = one_logout(db);
    let b = db.reopen(crate::testing::cheap_settings());
    let mut a = db
        .idp
        .claim_logouts("app", 10, None)
        .unwrap()
        .pop()
        .unwrap();
    while a.attempts < MAX_ATTEMPTS {
        let FailedAttempt::RetryAt(at) = db.idp.logout_failed(&a, "HTTP 503").unwrap() else {
            panic!("given up before the last attempt");
        };
        db.clock.set(at);
        a = db
            .idp
            .claim_logouts("app", 10, None)
            .unwrap()
            .pop()
            .unwrap();
    }
    db.clock.advance(CLAIM_LEASE_SECS);
    let taken_over = b.claim_logouts("app", 10, None).unwrap().pop().unwrap();
    assert_eq!(taken_over.attempts, MAX_ATTEMPTS + 1);
    assert_eq!(db.idp.logouts_delivered(&[(&a, None)]).unwrap(), 0);
    assert_eq!(
        db.idp.outbox_counts().unwrap(),
        (1, 0, 0),
        "A's late delivery is not recorded: B holds the logout"
    );
    assert!(
        db.idp.claim_logouts("app", 10, None).unwrap().is_empty(),
        "still claimed by B"
    );
    assert_eq!(b.logouts_delivered(&[(&taken_over, None)]).unwrap(), 1);
    assert_eq!(db.idp.outbox_counts().unwrap(), (0, 1, 0), "B's is");
    assert_eq!(
        db.idp.logout_failed(&a, "timed out").unwrap(),
        FailedAttempt::TakenOver
    );
    assert_eq!(
        db.idp.outbox_counts().unwrap(),
        (0, 1, 0),
        "A's late give-up does not mark the delivered logout failed"
    );
    let audited = db.idp.audit_for_user(&u.id, 50).unwrap();
    assert!(
        audited.iter().all(|e| e.action != "logout.delivery_failed"),
        "no failure audited for a delivered logout"
    );
}

/// Each app's logouts are claimed apart (a delivery lane per app, so one that never answers
/// holds up only its own): the apps with due logouts are listed, and a claim for one app never
/// returns another's.
fn each_apps_logouts_are_claimed_apart(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let s = session(db, &u, AuthMethod::Password);
    grant_for(db, "app", &u, &s, "openid");
    grant_for(db, "crm", &u, &s, "openid");
    db.idp.end_session(&s.id, &op(), None).unwrap();
    let mut apps = db.idp.apps_with_due_logouts(None).unwrap();
    apps.sort();
    assert_eq!(apps, ["app", "crm"]);
    assert!(db
        .idp
        .apps_with_due_logouts(Some(&["another".to_string()]))
        .unwrap()
        .is_empty());
    let crm = db
        .idp
        .claim_logouts("crm", 10, Some(std::slice::from_ref(&s.id)))
        .unwrap();
    assert_eq!((crm.len(), crm[0].client_id.as_str()), (1, "crm"));
    assert_eq!(
        db.idp.apps_with_due_logouts(None).unwrap(),
        ["app"],
        "the CRM's is claimed"
    );
    let app = db.idp.claim_logouts("app", 10, None).unwrap();
    assert_eq!((app.len(), app[0].client_id.as_str()), (1, "app"));
    assert!(db.idp.apps_with_due_logouts(None).unwrap().is_empty());
}

crate::on_both_backends!(
    concurrent_claimers_each_get_their_own_logouts,
    a_claimed_logout_is_not_claimed_twice,
    a_lost_claim_is_taken_over_after_its_lease,
    failures_are_retried_with_backoff_then_audited,
    only_the_replica_holding_the_claim_records_the_outcome,
    each_apps_logouts_are_claimed_apart,
);
