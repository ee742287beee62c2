//! What the admin API reads and writes: the JSON shapes, their OpenAPI schemas, and the
//! conversions from the domain's types. Times are RFC 3339 (UTC); ids are the ids apps see
//! (a user's `id` is the `sub` of their tokens).

use std::collections::HashMap;

use idp_core::audit::StoredEvent;
use idp_core::sessions::SsoSession;
use idp_core::support::MfaOverview;
use idp_core::{Account, MfaPolicy, User};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Unix seconds as RFC 3339.
pub fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// A customer company; its MFA policy applies to every one of its users.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountOut {
    /// The account's id.
    pub id: String,
    /// Unique, chosen at creation: how the API and the CLI name the account.
    #[schema(example = "acme")]
    pub slug: String,
    /// Display name.
    #[schema(example = "Acme Fuel")]
    pub name: String,
    /// Whether MFA is required for every user of the account.
    pub mfa_required: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&Account> for AccountOut {
    fn from(a: &Account) -> Self {
        AccountOut {
            id: a.id.clone(),
            slug: a.slug.clone(),
            name: a.name.clone(),
            mfa_required: a.mfa_policy == MfaPolicy::Required,
            created_at: rfc3339(a.created_at),
            updated_at: rfc3339(a.updated_at),
        }
    }
}

/// A new account (MFA is off until it is turned on).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountCreate {
    /// 2-63 lowercase letters, digits and dashes, not starting or ending with a dash.
    #[schema(pattern = "^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$", example = "acme")]
    pub slug: String,
    /// Display name (1-200 characters, no control characters).
    #[schema(
        min_length = 1,
        max_length = 200,
        example = "Acme Fuel",
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: String,
}

/// A change of an account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    /// The new display name (1-200 characters, no control characters).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: String,
}

/// A list of accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountList {
    pub items: Vec<AccountOut>,
    /// Always null: every account is in one page.
    pub next_cursor: Option<String>,
}

/// A person who signs in.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    /// The user's id: the `sub` apps see.
    pub id: String,
    /// The account's slug.
    pub account: String,
    /// The authentication email (the login), normalised.
    #[schema(format = Email)]
    pub email: String,
    /// The work or contact address; never used to sign in.
    pub work_email: Option<String>,
    /// The name apps show.
    pub name: String,
    /// `invited` (has not completed registration), `active` or `disabled`.
    #[schema(example = "active")]
    pub status: String,
    /// The user proved control of the authentication email.
    pub email_verified: bool,
    /// What they may do for others in the console: `support`, `account-admin` (most: none).
    #[schema(example = json!(["account-admin"]))]
    pub roles: Vec<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl UserOut {
    /// The user as shown, with their account's slug.
    pub fn of(u: &User, slugs: &HashMap<String, String>) -> Self {
        UserOut {
            id: u.id.clone(),
            account: slugs.get(&u.account_id).cloned().unwrap_or_default(),
            email: u.email.clone(),
            work_email: u.work_email.clone(),
            name: u.display_name.clone(),
            status: u.status.as_str().into(),
            email_verified: u.email_verified,
            roles: u
                .roles
                .list()
                .iter()
                .map(|r| r.as_str().to_string())
                .collect(),
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
        }
    }
}

/// A new user. No password is ever taken: with `invite` the user is mailed the registration
/// link, else an operator sends it later (`reset-link`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    /// The account's slug.
    #[schema(pattern = "^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$", example = "acme")]
    pub account: String,
    /// The authentication email (matched case-insensitively, as at sign-in).
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// The name apps show (no control characters).
    #[serde(default)]
    #[schema(max_length = 200, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub name: String,
    /// The work or contact address.
    #[serde(default)]
    #[schema(format = Email, max_length = 254)]
    pub work_email: Option<String>,
    /// Mail the registration link now.
    #[serde(default)]
    pub invite: bool,
}

/// A change of a user's name or work email (the authentication email never changes here), as a
/// JSON merge patch (RFC 7396): absent fields stay as they are; null (or empty) removes one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// The name apps show (no control characters); null or empty removes it.
    #[schema(
        value_type = Option<String>,
        nullable,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    #[serde(default, deserialize_with = "null_removes")]
    pub name: Option<String>,
    /// The work or contact address; null or empty removes it.
    #[schema(
        value_type = Option<String>,
        nullable,
        max_length = 254,
        pattern = "^$|^[^@\\s]{1,64}@[^@\\s]+\\.[^@\\s]+$"
    )]
    #[serde(default, deserialize_with = "null_removes")]
    pub work_email: Option<String>,
}

/// A field that is in the body: null there means the same as empty (removed); absent stays
/// `None` (kept).
fn null_removes<'de, D>(d: D) -> Result<Option<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Option::<String>::deserialize(d).map(|v| Some(v.unwrap_or_default()))
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub items: Vec<UserOut>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// A query value that is there and not empty (`?cursor=` is no cursor).
fn given(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

/// The page size a list asked for: 1-500, 100 when absent.
pub fn page_size(limit: Option<i64>) -> Result<i64, super::problem::ApiError> {
    match limit.unwrap_or(100) {
        n @ 1..=500 => Ok(n),
        _ => Err(super::problem::ApiError::InvalidRequest(
            "limit must be 1-500".into(),
        )),
    }
}

impl UserQueryParams {
    /// Empty values count as absent.
    pub fn normalised(self) -> Self {
        UserQueryParams {
            account: given(self.account),
            email: given(self.email),
            cursor: given(self.cursor),
            limit: self.limit,
        }
    }
}

impl AuditQueryParams {
    /// Empty values count as absent.
    pub fn normalised(self) -> Self {
        AuditQueryParams {
            account: given(self.account),
            user: given(self.user),
            // A time that is there must be a time: `since=` is refused.
            since: self.since,
            cursor: given(self.cursor),
            limit: self.limit,
        }
    }
}

/// Which users to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQueryParams {
    /// Only users of this account (slug).
    pub account: Option<String>,
    /// Only the user with this authentication email (case-insensitive).
    pub email: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[0-9a-f]{0,64}$")]
    pub cursor: Option<String>,
    /// Page size, 1-500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// An account's MFA: the policy, and per user whether an app is linked.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaOut {
    /// MFA is required for every user of the account.
    pub required: bool,
    pub users: Vec<MfaUserOut>,
}

/// One user in [`MfaOut`].
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaUserOut {
    pub id: String,
    #[schema(format = Email)]
    pub email: String,
    /// An authenticator app is linked.
    pub linked: bool,
}

impl From<MfaOverview> for MfaOut {
    fn from(o: MfaOverview) -> Self {
        MfaOut {
            required: o.required,
            users: o
                .users
                .into_iter()
                .map(|u| MfaUserOut {
                    id: u.id,
                    email: u.email,
                    linked: u.linked,
                })
                .collect(),
        }
    }
}

/// Turn MFA on or off for a whole account (never for one user).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaPut {
    pub required: bool,
}

/// A live SSO session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOut {
    /// The session id (`sid` of its tokens).
    pub id: String,
    #[schema(format = DateTime)]
    pub started_at: String,
    #[schema(format = DateTime)]
    pub last_active_at: String,
    /// When it ends if nothing happens (`idle_exp`).
    #[schema(format = DateTime)]
    pub idle_expires_at: String,
    /// Its absolute end.
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// A second factor was passed.
    pub mfa: bool,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl From<&SsoSession> for SessionOut {
    fn from(s: &SsoSession) -> Self {
        SessionOut {
            id: s.id.clone(),
            started_at: rfc3339(s.auth_time),
            last_active_at: rfc3339(s.last_active_at),
            idle_expires_at: rfc3339(s.idle_expires_at),
            expires_at: rfc3339(s.expires_at),
            mfa: s.has_mfa(),
            ip: s.ip.clone(),
            user_agent: s.user_agent.clone(),
        }
    }
}

/// A user's live sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionOut>,
    /// Always null: a user's sessions are in one page.
    pub next_cursor: Option<String>,
}

/// What a revocation ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    /// Sessions ended now (each app holding a grant gets a back-channel logout).
    pub ended: usize,
}

/// What a link request sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkSent {
    /// `invite` (not registered yet) or `reset`.
    #[schema(example = "reset")]
    pub sent: String,
}

/// An audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventOut {
    pub id: i64,
    #[schema(format = DateTime)]
    pub at: String,
    /// What happened, e.g. `mfa.disconnected`.
    pub action: String,
    /// Who: `user:ID`, `console:ID` (a user acting in the console), `operator:NAME`,
    /// `client:ID`, `system` or `anonymous`.
    pub actor: String,
    /// What an admin client said it acted for (its `X-Actor` header), as it said it.
    pub actor_note: Option<String>,
    pub account_id: Option<String>,
    pub user_id: Option<String>,
    /// The address the actor acted from.
    pub ip: Option<String>,
    pub detail: Option<String>,
    /// Why (the console's required reason, a disconnect's reason).
    pub reason: Option<String>,
}

impl From<StoredEvent> for AuditEventOut {
    fn from(e: StoredEvent) -> Self {
        AuditEventOut {
            id: e.id,
            at: rfc3339(e.at),
            action: e.action,
            actor: e.actor,
            actor_note: e.actor_note,
            account_id: e.account_id,
            user_id: e.user_id,
            ip: e.ip,
            detail: e.detail,
            reason: e.reason,
        }
    }
}

/// A page of the audit log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    pub items: Vec<AuditEventOut>,
    /// Pass as `cursor` for the next (older) page; null on the last.
    pub next_cursor: Option<String>,
}

/// Which events to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQueryParams {
    /// Only events about this account (slug).
    pub account: Option<String>,
    /// Only events about this user (id).
    pub user: Option<String>,
    /// Only events at or after this time (RFC 3339).
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^$|^[1-9][0-9]{0,17}$")]
    pub cursor: Option<String>,
    /// Page size, 1-500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// A JSON request body that must be an object of `T`'s shape (serde would also read a struct
/// from an array; the API does not).
pub struct Body<T>(pub T);

/// A role, as the paths name it.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
pub enum RoleName {
    /// The vendor's help desk: every account.
    #[serde(rename = "support")]
    Support,
    /// A company's own administrator: their own account.
    #[serde(rename = "account-admin")]
    AccountAdmin,
}

/// Why an authenticator app is disconnected: required (a ticket number, or a sentence); recorded
/// in the audit log and mailed to the account's administrators.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisconnectReason {
    /// 1 to 500 characters, no control characters.
    #[schema(example = "T-4821: lost phone, identity checked by call-back")]
    pub reason: String,
}

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for Body<T> {
    type Error = actix_web::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        let json = actix_web::web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let value = json.await?.into_inner();
            if !value.is_object() {
                return Err(super::problem::ApiError::InvalidRequest(
                    "the body must be a JSON object".into(),
                )
                .into());
            }
            serde_json::from_value(value).map(Body).map_err(|e| {
                super::problem::ApiError::InvalidRequest(format!("the JSON body is not valid: {e}"))
                    .into()
            })
        })
    }
}
