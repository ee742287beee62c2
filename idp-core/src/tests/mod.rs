//! Behaviour of the domain against a real database, each test on SQLite and on PostgreSQL
//! (`on_both_backends!`), one file per topic. The helpers here build what most tests need.

mod accounts_users;
mod import;
mod import_input;
mod import_marks;
mod import_scope;
mod keys;
mod legacy_hashes;
mod lifecycle;
mod lockouts;
mod mfa;
mod oauth;
mod outbox;
mod people;
mod sessions;
mod sign_in;
mod stale_sign_ins;
mod support;

use std::process::Command;

use diesel::prelude::*;

use crate::model::{AuthMethod, FlowStage, LogoutListeners, PendingAuthorization};
use crate::oauth::{Issued, NewCode};
use crate::sessions::SsoSession;
use crate::testing::TestDb;
use crate::users::NewUser;
use crate::{Actor, MfaPolicy, User};

const PW: &str = "correct horse battery staple";

fn op() -> Actor {
    Actor::Operator("test".into())
}

/// An active user with password `PW` in `account` (created if needed).
fn user(db: &TestDb, account: &str, email: &str) -> User {
    if db.idp.account_by_slug(account).is_err() {
        db.idp.create_account(account, "Acme Fuel", &op()).unwrap();
    }
    db.idp
        .create_user(
            account,
            NewUser {
                email,
                display_name: "Ann",
                work_email: None,
                password: Some(PW),
            },
            &op(),
        )
        .unwrap()
}

fn require_mfa(db: &TestDb, account: &str) {
    db.idp
        .set_mfa_policy(account, MfaPolicy::Required, &op())
        .unwrap();
}

/// A TOTP code computed by Debian's oathtool (an implementation independent of ours).
fn oathtool(activation_code: &str, at: i64) -> String {
    let secret: String = activation_code.split_whitespace().collect();
    let out = Command::new("oathtool")
        .args(["--totp", "-b", &secret, "-N", &format!("@{at}")])
        .output()
        .expect("oathtool must be installed (apt-get install oathtool)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A sign-in of `u` that passed the password and now shows the enrollment page: its handle.
fn enrollment_flow(db: &TestDb, u: &User) -> String {
    let h = db.idp.create_flow(None, None).unwrap();
    // As stored now (a test may have set the password since `u` was read).
    let u = db.idp.user_by_id(&u.id).unwrap().unwrap();
    db.idp.advance_flow(&h, &u, FlowStage::MfaEnroll).unwrap();
    h
}

/// Enrolls the user (MFA required on their account) in a sign-in of their own and returns the
/// activation code.
fn enroll(db: &TestDb, u: &User) -> String {
    let flow = enrollment_flow(db, u);
    let view = db.idp.begin_enrollment(u, &flow).unwrap();
    let code = oathtool(&view.activation_code, db.idp.now());
    db.idp
        .confirm_enrollment(u, &flow, &code, None, None)
        .unwrap();
    view.activation_code
}

/// A sign-in of ann (of an account that requires MFA) past her password, at the second factor.
fn parked(db: &TestDb, password: &str) -> String {
    let flow = db.idp.create_flow(Some(&request("openid")), None).unwrap();
    let step = db
        .idp
        .sign_in_password(&flow, "ann@example.com", password, Default::default())
        .unwrap();
    assert!(
        matches!(step, crate::signin::PasswordStep::SecondFactor),
        "{step:?}"
    );
    flow
}

fn session(db: &TestDb, u: &User, method: AuthMethod) -> SsoSession {
    db.idp.start_session(u, method, None, None).unwrap().0
}

/// An authorization request of client "app" (redirect "https://a/cb", no PKCE).
fn request(scope: &str) -> PendingAuthorization {
    PendingAuthorization {
        hinted_sub: None,
        client_id: "app".into(),
        redirect_uri: "https://a/cb".into(),
        scope: scope.into(),
        state: Some("st".into()),
        nonce: None,
        code_challenge: None,
        login_hint: None,
    }
}

/// A grant for `client` in session `s` of `u`: a code issued and redeemed (redirect
/// "https://a/cb", no PKCE, no nonce).
fn grant_for(db: &TestDb, client: &str, u: &User, s: &SsoSession, scope: &str) -> Issued {
    let new = NewCode {
        client_id: client,
        redirect_uri: "https://a/cb",
        session_id: &s.id,
        user_id: &u.id,
        scope,
        nonce: None,
        code_challenge: None,
    };
    db.idp
        .redeem_code(
            &db.idp.issue_code(&new).unwrap(),
            client,
            "https://a/cb",
            None,
        )
        .unwrap()
}

/// A grant for client "app".
fn redeem(db: &TestDb, u: &User, s: &SsoSession, scope: &str) -> Issued {
    grant_for(db, "app", u, s, scope)
}

/// The back-channel logouts queued so far: (session id, client id, reason), sorted.
fn queued_logouts(db: &TestDb) -> Vec<(String, String, String)> {
    use crate::store::schema::logout_outbox as lo;
    let mut c = db.idp.store().conn().unwrap();
    let mut rows: Vec<(String, String, String)> = lo::table
        .select((lo::session_id, lo::client_id, lo::reason))
        .load(&mut c)
        .unwrap();
    rows.sort();
    rows
}

/// Runs raw SQL on the test database (to set up states no use case would produce).
fn sql(db: &TestDb, statement: &str) {
    use diesel::connection::SimpleConnection;
    db.idp
        .store()
        .conn()
        .unwrap()
        .batch_execute(statement)
        .unwrap();
}
