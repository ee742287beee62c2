//! The rules that decide who may sign in and who may go on using a session, in one place.
//!
//! - [`may_use_session`] is **the** session rule: the completion of a sign-in, `/authorize`
//!   (session reuse), `/token` (code redemption and refresh), `/userinfo`, introspection and the
//!   signed-in pages all ask it, with the rows read in the same transaction or query. A session
//!   it refuses is ended for the reason it names (`sessions::refuse_in`, the one way such a
//!   session ends), so no path keeps using what another path refused.
//! - [`requires_second_factor`] is the one MFA rule: the account's policy (and, from the user's
//!   roles, the user's own need); the next step of a sign-in (`mfa::step_in`) and the session
//!   rule both read it.
//! - [`reuse_refusal`] lists, in order, why a live session does not serve an authorization
//!   request without a new sign-in (OIDC Core 3.1.2.1), each check named.

use crate::model::{
    Account, AuthMethod, EndReason, Hinted, MfaPolicy, Prompt, SsoSession, User, UserStatus,
};

/// Why a live session may not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRefusal {
    /// The user is disabled (or has not completed registration).
    UserNotActive,
    /// The user needs a second factor (the account's policy) and this session's sign-in never
    /// passed one.
    SecondFactorMissing,
}

impl SessionRefusal {
    /// Why a session refused for this ends (stored with it and sent in the outbox).
    pub fn end_reason(self) -> EndReason {
        match self {
            SessionRefusal::UserNotActive => EndReason::UserDisabled,
            SessionRefusal::SecondFactorMissing => EndReason::MfaMissing,
        }
    }

    /// A refused grant's `error_description` at `/token` (RFC 6749 5.2: for the client's
    /// developer).
    pub fn description(self) -> &'static str {
        match self {
            SessionRefusal::UserNotActive => "the user is disabled",
            SessionRefusal::SecondFactorMissing => {
                "the account requires a second factor this session never passed; sign in again"
            }
        }
    }
}

/// Whether this user may sign in at all.
pub fn may_sign_in(user: &User) -> bool {
    user.status == UserStatus::Active
}

/// Whether this user may be sent, and may use, an invitation or reset link (not while disabled:
/// a link would be a way back in).
pub fn may_use_links(user: &User) -> bool {
    user.status != UserStatus::Disabled
}

/// Whether `user` of `account` must pass a second factor to sign in: the one MFA rule. The
/// account's policy decides for its users, and a user who holds a role (who may act for
/// others) always needs one, whatever the policy.
pub fn requires_second_factor(user: &User, account: &Account) -> bool {
    debug_assert_eq!(user.account_id, account.id);
    account.mfa_policy == MfaPolicy::Required || user.roles.any()
}

/// Whether `user` may hold a session signed in with `method`: the one predicate behind a new
/// sign-in's completion and every later use of its session.
pub fn may_use_session(
    user: &User,
    account: &Account,
    method: AuthMethod,
) -> Result<(), SessionRefusal> {
    if !may_sign_in(user) {
        return Err(SessionRefusal::UserNotActive);
    }
    if requires_second_factor(user, account) && !method.passed_second_factor() {
        return Err(SessionRefusal::SecondFactorMissing);
    }
    Ok(())
}

/// Why a live session does not serve an authorization request by itself (a sign-in is asked
/// for instead, or `login_required` under `prompt=none`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReuseRefusal {
    /// `prompt=login`: the request asks for a new sign-in.
    PromptLogin,
    /// `max_age`: the sign-in is older than the request allows (`max_age=0` always asks again).
    MaxAgeExceeded,
    /// The `id_token_hint` names another user than the session's.
    HintNamesAnotherUser,
    /// The `id_token_hint` could not be verified: no session may serve the request.
    HintUnverifiable,
    /// The session itself may not be used ([`may_use_session`]; the session is ended).
    Session(SessionRefusal),
}

/// One named check of [`reuse_refusal`].
type ReuseCheck = fn(&Prompt, &SsoSession, i64) -> Option<ReuseRefusal>;

/// The request's own checks, in the order they are asked (node-oidc-provider names the same
/// list). The session rule comes after them (it needs the user's row), in [`reuse_refusal`].
const REUSE_CHECKS: [(&str, ReuseCheck); 3] = [
    ("prompt_login", check_prompt_login),
    ("max_age", check_max_age),
    ("id_token_hint", check_id_token_hint),
];

fn check_prompt_login(prompt: &Prompt, _: &SsoSession, _: i64) -> Option<ReuseRefusal> {
    prompt.login.then_some(ReuseRefusal::PromptLogin)
}

fn check_max_age(prompt: &Prompt, session: &SsoSession, now: i64) -> Option<ReuseRefusal> {
    prompt
        .max_age
        .is_some_and(|m| now - session.auth_time >= m)
        .then_some(ReuseRefusal::MaxAgeExceeded)
}

fn check_id_token_hint(prompt: &Prompt, session: &SsoSession, _: i64) -> Option<ReuseRefusal> {
    match &prompt.subject {
        Some(Hinted::User(sub)) if *sub != session.user_id => {
            Some(ReuseRefusal::HintNamesAnotherUser)
        }
        Some(Hinted::Unknown) => Some(ReuseRefusal::HintUnverifiable),
        _ => None,
    }
}

/// Why the live `session` of `user` may not serve an authorization request that asks `prompt`
/// at `now` without a new sign-in: the request's checks in order ([`REUSE_CHECKS`]), then the
/// session rule ([`may_use_session`]). `None`: it may.
pub fn reuse_refusal(
    prompt: &Prompt,
    session: &SsoSession,
    user: &User,
    account: &Account,
    now: i64,
) -> Option<ReuseRefusal> {
    REUSE_CHECKS
        .iter()
        .find_map(|(_, check)| check(prompt, session, now))
        .or_else(|| {
            may_use_session(user, account, session.auth_method())
                .err()
                .map(ReuseRefusal::Session)
        })
}

/// What a person may do for others in the console: each support ticket of the product's
/// documents as an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffAction {
    /// Invite a new user to the account.
    InviteUser,
    /// Send a user's invitation again.
    ResendInvitation,
    /// Disable a user (ends their sessions).
    Disable,
    /// Enable a disabled user.
    Enable,
    /// Clear a user's lockouts.
    Unlock,
    /// Send a user a password-reset link.
    SendReset,
    /// Disconnect a user's authenticator app (a lost phone).
    DisconnectApp,
    /// End every session of a user.
    EndSessions,
    /// Turn MFA on for the whole account.
    MfaOn,
    /// Turn MFA off for the whole account.
    MfaOff,
}

/// Why the console refuses an action (or a page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StaffRefusal {
    /// The signed-in user holds no role.
    #[error("you hold no role that gives access to the console")]
    NoRole,
    /// An `account-admin` acting on another company's account.
    #[error("this account is not yours to manage")]
    OtherAccount,
    /// Nobody acts on their own authenticator, roles or status in the console.
    #[error("you cannot do this to yourself here; use your account page")]
    OwnUser,
    /// An `account-admin` acting on someone who holds a role: that goes to support.
    #[error("this user holds a role: ask support")]
    HoldsRole,
    /// Only `support` may turn MFA off for an account (a compromised company admin must not be
    /// able to switch it off for the whole company).
    #[error("only support may do this")]
    SupportOnly,
}

/// Whether `staff` may see the account with this id: `support` every account, an
/// `account-admin` their own.
pub fn may_see_account(staff: &User, account_id: &str) -> bool {
    staff.roles.has(crate::model::Role::Support)
        || (staff.roles.has(crate::model::Role::AccountAdmin) && staff.account_id == account_id)
}

/// Whether `staff` may do `action` in the account with this id, to `target` (a user of it) when
/// the action concerns one. The one rule of the console; its handlers never decide.
pub fn staff_may(
    staff: &User,
    action: StaffAction,
    account_id: &str,
    target: Option<&User>,
) -> Result<(), StaffRefusal> {
    use crate::model::Role;
    if !staff.roles.any() {
        return Err(StaffRefusal::NoRole);
    }
    if !may_see_account(staff, account_id) {
        return Err(StaffRefusal::OtherAccount);
    }
    let support = staff.roles.has(Role::Support);
    if action == StaffAction::MfaOff && !support {
        return Err(StaffRefusal::SupportOnly);
    }
    if let Some(t) = target {
        if t.account_id != account_id {
            return Err(StaffRefusal::OtherAccount);
        }
        if t.id == staff.id {
            return Err(StaffRefusal::OwnUser);
        }
        if t.roles.any() && !support {
            return Err(StaffRefusal::HoldsRole);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(mfa_policy: MfaPolicy) -> Account {
        Account {
            id: "a".into(),
            slug: "acme".into(),
            name: "Acme".into(),
            mfa_policy,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn user(status: UserStatus) -> User {
        User {
            id: "u".into(),
            account_id: "a".into(),
            email: "ann@example.com".into(),
            work_email: None,
            display_name: String::new(),
            status,
            email_verified: true,
            password_hash: None,
            password_changed_at: None,
            created_at: 0,
            updated_at: 0,
            roles: crate::model::Roles::NONE,
            locale: None,
            last_sign_in_at: None,
            relink_by_email: false,
        }
    }

    fn session(method: AuthMethod, auth_time: i64) -> SsoSession {
        SsoSession {
            id: "s".into(),
            user_id: "u".into(),
            auth_time,
            amr: method.amr().iter().map(|a| a.to_string()).collect(),
            created_at: auth_time,
            last_active_at: auth_time,
            idle_timeout_secs: 1800,
            expires_at: auth_time + 43200,
            idle_expires_at: auth_time + 1800,
            ended_at: None,
            ip: None,
            user_agent: None,
        }
    }

    #[test]
    fn a_session_without_the_required_second_factor_is_refused_and_one_with_it_is_not() {
        let required = account(MfaPolicy::Required);
        let active = user(UserStatus::Active);
        assert_eq!(
            may_use_session(&active, &required, AuthMethod::Password),
            Err(SessionRefusal::SecondFactorMissing)
        );
        assert_eq!(
            may_use_session(&active, &required, AuthMethod::PasswordAndTotp),
            Ok(())
        );
        assert_eq!(
            may_use_session(&active, &account(MfaPolicy::Off), AuthMethod::Password),
            Ok(())
        );
        let staff = User {
            roles: crate::model::Roles::NONE.with(crate::model::Role::AccountAdmin, true),
            ..active.clone()
        };
        assert_eq!(
            may_use_session(&staff, &account(MfaPolicy::Off), AuthMethod::Password),
            Err(SessionRefusal::SecondFactorMissing),
            "a role always needs a second factor"
        );
        for status in [UserStatus::Disabled, UserStatus::Invited] {
            assert_eq!(
                may_use_session(&user(status), &required, AuthMethod::PasswordAndTotp),
                Err(SessionRefusal::UserNotActive)
            );
        }
    }

    #[test]
    fn the_console_lets_each_role_do_what_it_may_and_nothing_else() {
        use crate::model::{Role, Roles};
        let with = |id: &str, account: &str, roles: &[Role]| User {
            id: id.into(),
            account_id: account.into(),
            roles: roles
                .iter()
                .fold(Roles::NONE, |r, role| r.with(*role, true)),
            ..user(UserStatus::Active)
        };
        let support = with("s", "vendor", &[Role::Support]);
        let admin = with("a", "acme", &[Role::AccountAdmin]);
        let plain = with("p", "acme", &[]);
        let other_admin = with("o", "acme", &[Role::AccountAdmin]);
        let stranger = with("x", "globex", &[]);
        use StaffAction::*;
        assert_eq!(
            staff_may(&plain, Disable, "acme", Some(&other_admin)),
            Err(StaffRefusal::NoRole)
        );
        assert_eq!(staff_may(&admin, Disable, "acme", Some(&plain)), Ok(()));
        assert_eq!(staff_may(&admin, MfaOn, "acme", None), Ok(()));
        assert_eq!(
            staff_may(&admin, MfaOff, "acme", None),
            Err(StaffRefusal::SupportOnly)
        );
        assert_eq!(
            staff_may(&admin, Disable, "globex", Some(&stranger)),
            Err(StaffRefusal::OtherAccount)
        );
        assert_eq!(
            staff_may(&admin, Disable, "acme", Some(&stranger)),
            Err(StaffRefusal::OtherAccount),
            "a target of another account named under this one"
        );
        assert_eq!(
            staff_may(&admin, DisconnectApp, "acme", Some(&admin)),
            Err(StaffRefusal::OwnUser)
        );
        assert_eq!(
            staff_may(&admin, DisconnectApp, "acme", Some(&other_admin)),
            Err(StaffRefusal::HoldsRole)
        );
        assert_eq!(
            staff_may(&support, DisconnectApp, "acme", Some(&other_admin)),
            Ok(())
        );
        assert_eq!(staff_may(&support, MfaOff, "globex", None), Ok(()));
        assert_eq!(
            staff_may(&support, Disable, "vendor", Some(&support)),
            Err(StaffRefusal::OwnUser)
        );
        assert!(may_see_account(&support, "globex") && !may_see_account(&admin, "globex"));
        assert!(!may_see_account(&plain, "acme"));
    }

    #[test]
    fn reuse_asks_the_request_s_checks_in_order_then_the_session_rule() {
        let (u, off, required) = (
            user(UserStatus::Active),
            account(MfaPolicy::Off),
            account(MfaPolicy::Required),
        );
        let s = session(AuthMethod::Password, 1000);
        let at = |p: Prompt, a: &Account, now| reuse_refusal(&p, &s, &u, a, now);
        assert_eq!(at(Prompt::default(), &off, 1010), None);
        let login = Prompt {
            login: true,
            max_age: Some(0),
            ..Prompt::default()
        };
        assert_eq!(at(login, &required, 1010), Some(ReuseRefusal::PromptLogin));
        let max_age = |m| Prompt {
            max_age: Some(m),
            subject: Some(Hinted::Unknown),
            ..Prompt::default()
        };
        assert_eq!(
            at(max_age(0), &off, 1000),
            Some(ReuseRefusal::MaxAgeExceeded)
        );
        assert_eq!(
            at(max_age(10), &off, 1010),
            Some(ReuseRefusal::MaxAgeExceeded)
        );
        assert_eq!(
            at(max_age(11), &off, 1010),
            Some(ReuseRefusal::HintUnverifiable)
        );
        let hint = |sub: &str| Prompt {
            subject: Some(Hinted::User(sub.into())),
            ..Prompt::default()
        };
        assert_eq!(
            at(hint("v"), &required, 1010),
            Some(ReuseRefusal::HintNamesAnotherUser)
        );
        assert_eq!(at(hint("u"), &off, 1010), None);
        assert_eq!(
            at(hint("u"), &required, 1010),
            Some(ReuseRefusal::Session(SessionRefusal::SecondFactorMissing))
        );
    }
}
