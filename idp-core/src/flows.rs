//! Half-finished sign-ins, kept server-side so that no step can be skipped: the browser holds only
//! a random handle (in a cookie); the password result, the user and the pending authorization
//! request live here until the last step completes and the flow is consumed.

use diesel::prelude::*;

use crate::crypto::{hash_token, random_token, CryptoError};
use crate::store::schema::login_flows as lf;
use crate::store::{DbConnection, StoreError};
use crate::throttle::{key, Locked, ThrottleError};
use crate::Idp;

/// Where a sign-in stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowStage {
    /// Waiting for email and password.
    Password,
    /// Password verified; the user must link an authenticator app.
    MfaEnroll,
    /// Password verified; the user must enter a code from their linked app.
    MfaVerify,
}

impl FlowStage {
    fn as_str(self) -> &'static str {
        match self {
            FlowStage::Password => "password",
            FlowStage::MfaEnroll => "mfa_enroll",
            FlowStage::MfaVerify => "mfa_verify",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        match s {
            "password" => Some(FlowStage::Password),
            "mfa_enroll" => Some(FlowStage::MfaEnroll),
            "mfa_verify" => Some(FlowStage::MfaVerify),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct LoginFlow {
    /// Opaque to the core: the server stores the pending authorization request here.
    pub request: String,
    pub user_id: Option<String>,
    pub stage: FlowStage,
    pub expires_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("the sign-in has expired; please start again")]
    Expired,
    /// Too many sign-ins started from this address (the table must not grow without bound).
    #[error("too many sign-ins were started from this address; try again later")]
    TooMany(Locked),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for FlowError {
    fn from(e: diesel::result::Error) -> Self {
        FlowError::Store(e.into())
    }
}

impl Idp {
    /// Starts a flow; returns the handle for the browser. Flows started per client address are
    /// rate-limited (`login_flows_per_ip`), so nobody can fill the table.
    pub fn create_flow(&self, request: &str, ip: Option<&str>) -> Result<String, FlowError> {
        if let Some(ip) = ip {
            let k = key::login_flows_ip(ip);
            match self.reserve_attempts(&[(&k, &self.settings().throttle.login_flows_per_ip)]) {
                Ok(_) => {}
                Err(ThrottleError::Locked(l)) => return Err(FlowError::TooMany(l)),
                Err(ThrottleError::Store(e)) => return Err(e.into()),
            }
        }
        let now = self.now();
        let handle = random_token()?;
        let mut conn = self.store().conn()?;
        diesel::insert_into(lf::table)
            .values((
                lf::id_hash.eq(hash_token(&handle)),
                lf::request.eq(request),
                lf::stage.eq(FlowStage::Password.as_str()),
                lf::created_at.eq(now),
                lf::expires_at.eq(now + self.settings().login_flow_ttl_secs),
            ))
            .execute(&mut conn)?;
        Ok(handle)
    }

    pub fn flow(&self, handle: &str) -> Result<LoginFlow, FlowError> {
        let now = self.now();
        let mut conn = self.store().conn()?;
        let row: Option<FlowRow> = lf::table
            .find(hash_token(handle))
            .select((lf::request, lf::user_id, lf::stage, lf::expires_at))
            .get_result(&mut conn)
            .optional()?;
        live_flow(row, now)
    }

    /// Moves a flow to its next stage for this user (after the password was verified).
    pub fn advance_flow(
        &self,
        handle: &str,
        user_id: &str,
        stage: FlowStage,
    ) -> Result<(), FlowError> {
        let now = self.now();
        let mut conn = self.store().conn()?;
        let n = diesel::update(
            lf::table
                .find(hash_token(handle))
                .filter(lf::expires_at.gt(now)),
        )
        .set((lf::user_id.eq(Some(user_id)), lf::stage.eq(stage.as_str())))
        .execute(&mut conn)?;
        if n == 1 {
            Ok(())
        } else {
            Err(FlowError::Expired)
        }
    }

    /// Consumes a flow: only the first caller gets it (a double submit cannot finish twice).
    pub fn consume_flow(&self, handle: &str) -> Result<LoginFlow, FlowError> {
        let now = self.now();
        let mut conn = self.store().conn()?;
        consume_in(&mut conn, now, handle)
    }

    /// Removes flows that expired (housekeeping).
    pub fn purge_flows(&self) -> Result<usize, StoreError> {
        let now = self.now();
        let mut conn = self.store().conn()?;
        Ok(diesel::delete(lf::table.filter(lf::expires_at.le(now))).execute(&mut conn)?)
    }
}

/// Consumes a flow in the caller's transaction. One statement: of two concurrent completions
/// only one gets the row back. An expired flow is deleted too (it could never be used again).
pub(crate) fn consume_in(
    conn: &mut DbConnection,
    now: i64,
    handle: &str,
) -> Result<LoginFlow, FlowError> {
    let row: Option<FlowRow> =
        crate::on_backend!(conn, |c| diesel::delete(lf::table.find(hash_token(handle)))
            .returning((lf::request, lf::user_id, lf::stage, lf::expires_at))
            .get_result(c)
            .optional())?;
    live_flow(row, now)
}

/// The pending enrollment secret (sealed) of a live flow of this user in the enrollment stage:
/// `None` when there is no such flow, `Some(None)` when it has no secret yet.
pub(crate) fn pending_secret(
    conn: &mut DbConnection,
    now: i64,
    handle: &str,
    user_id: &str,
) -> Result<Option<Option<String>>, StoreError> {
    Ok(lf::table
        .find(hash_token(handle))
        .filter(lf::user_id.eq(user_id))
        .filter(lf::stage.eq(FlowStage::MfaEnroll.as_str()))
        .filter(lf::expires_at.gt(now))
        .select(lf::pending_totp_sealed)
        .get_result(conn)
        .optional()?)
}

/// Stores a pending secret in a flow that has none; false if another request stored one first.
pub(crate) fn put_pending_secret(
    conn: &mut DbConnection,
    now: i64,
    handle: &str,
    user_id: &str,
    sealed: &str,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        lf::table
            .find(hash_token(handle))
            .filter(lf::user_id.eq(user_id))
            .filter(lf::stage.eq(FlowStage::MfaEnroll.as_str()))
            .filter(lf::expires_at.gt(now))
            .filter(lf::pending_totp_sealed.is_null()),
    )
    .set(lf::pending_totp_sealed.eq(Some(sealed)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Takes the pending secret out of its flow (it became the linked app); false if it was taken
/// already (a double submit).
pub(crate) fn take_pending_secret(
    conn: &mut DbConnection,
    handle: &str,
    sealed: &str,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        lf::table
            .find(hash_token(handle))
            .filter(lf::pending_totp_sealed.eq(sealed)),
    )
    .set(lf::pending_totp_sealed.eq(None::<String>))
    .execute(conn)?;
    Ok(n == 1)
}

/// Whether a live sign-in of this user is showing an enrollment secret (for `mfa status`).
pub(crate) fn has_pending_secret(
    conn: &mut DbConnection,
    now: i64,
    user_id: &str,
) -> Result<bool, StoreError> {
    let n: i64 = lf::table
        .filter(lf::user_id.eq(user_id))
        .filter(lf::pending_totp_sealed.is_not_null())
        .filter(lf::expires_at.gt(now))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// The hash that names a flow in the database (part of its pending secret's binding).
pub(crate) fn flow_id(handle: &str) -> String {
    hash_token(handle)
}

/// A login flow's row: request, user, stage, expiry.
type FlowRow = (String, Option<String>, String, i64);

fn live_flow(row: Option<FlowRow>, now: i64) -> Result<LoginFlow, FlowError> {
    match row {
        Some((request, user_id, stage, expires_at)) if expires_at > now => Ok(LoginFlow {
            request,
            user_id,
            stage: FlowStage::parse(&stage).ok_or(FlowError::Expired)?,
            expires_at,
        }),
        _ => Err(FlowError::Expired),
    }
}
