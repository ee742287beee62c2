//! The `login_flows` table: half-finished sign-ins, found by the hash of their browser handle,
//! with the authorization request they answer (JSON) and, during enrollment, the secret they
//! show (sealed, bound to user and flow: [`pending_aad`]).

use diesel::prelude::*;

use super::schema::login_flows as lf;
use super::{DbConnection, StoreError};
use crate::model::{FlowStage, LoginFlow, PendingAuthorization};

/// The binding of a pending (shown, not yet confirmed) secret: its user and the login flow that
/// showed it, so it opens in that flow only.
pub(crate) fn pending_aad(user_id: &str, flow_id: &str) -> String {
    format!("totp-pending:{user_id}:{flow_id}")
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = lf)]
struct FlowRow {
    request: Option<String>,
    user_id: Option<String>,
    stage: String,
    expires_at: i64,
    relink_token_hash: Option<String>,
}

impl FlowRow {
    fn into_flow(self, now: i64) -> Result<Option<LoginFlow>, StoreError> {
        if self.expires_at <= now {
            return Ok(None);
        }
        let stage = FlowStage::parse(&self.stage)
            .ok_or_else(|| StoreError::Corrupt(format!("login flow stage {:?}", self.stage)))?;
        let request = match self.request {
            Some(json) => Some(
                serde_json::from_str::<PendingAuthorization>(&json)
                    .map_err(|e| StoreError::Corrupt(format!("login flow request: {e}")))?,
            ),
            None => None,
        };
        Ok(Some(LoginFlow {
            request,
            user_id: self.user_id,
            stage,
            expires_at: self.expires_at,
            relink_token_hash: self.relink_token_hash,
        }))
    }
}

pub(crate) fn insert(
    conn: &mut DbConnection,
    now: i64,
    id_hash: &str,
    request: Option<&PendingAuthorization>,
    expires_at: i64,
) -> Result<(), StoreError> {
    insert_relink(conn, now, id_hash, request, expires_at, None)
}

/// [`insert`], for a sign-in opened by a relink link (the hash of its token).
pub(crate) fn insert_relink(
    conn: &mut DbConnection,
    now: i64,
    id_hash: &str,
    request: Option<&PendingAuthorization>,
    expires_at: i64,
    relink_token_hash: Option<&str>,
) -> Result<(), StoreError> {
    let request = request
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("login flow request: {e}")))?;
    diesel::insert_into(lf::table)
        .values((
            lf::id_hash.eq(id_hash),
            lf::request.eq(request),
            lf::stage.eq(FlowStage::Password.as_str()),
            lf::created_at.eq(now),
            lf::expires_at.eq(expires_at),
            lf::relink_token_hash.eq(relink_token_hash),
        ))
        .execute(conn)?;
    Ok(())
}

/// Cancels the user's sign-ins past their password step (see
/// [`super::sessions::end_all_of_user`]).
pub(crate) fn cancel_of_user(conn: &mut DbConnection, user_id: &str) -> Result<usize, StoreError> {
    Ok(diesel::delete(lf::table.filter(lf::user_id.eq(user_id))).execute(conn)?)
}

/// The live flow with this id.
pub(crate) fn live(
    conn: &mut DbConnection,
    id_hash: &str,
    now: i64,
) -> Result<Option<LoginFlow>, StoreError> {
    lf::table
        .find(id_hash)
        .select(FlowRow::as_select())
        .get_result(conn)
        .optional()?
        .map(|r| r.into_flow(now))
        .transpose()
        .map(Option::flatten)
}

/// Moves a live flow to a stage, for this user; false if it expired or does not exist.
pub(crate) fn advance(
    conn: &mut DbConnection,
    now: i64,
    id_hash: &str,
    user_id: &str,
    stage: FlowStage,
) -> Result<bool, StoreError> {
    let n = diesel::update(lf::table.find(id_hash).filter(lf::expires_at.gt(now)))
        .set((lf::user_id.eq(Some(user_id)), lf::stage.eq(stage.as_str())))
        .execute(conn)?;
    Ok(n == 1)
}

/// Deletes the flow and returns it if it was live. One statement: of two concurrent completions
/// only one gets the row back; an expired flow is deleted too (it could never be used again).
pub(crate) fn consume(
    conn: &mut DbConnection,
    id_hash: &str,
    now: i64,
) -> Result<Option<LoginFlow>, StoreError> {
    crate::on_backend!(conn, |c| diesel::delete(lf::table.find(id_hash))
        .returning(FlowRow::as_returning())
        .get_result(c)
        .optional())?
    .map(|r| r.into_flow(now))
    .transpose()
    .map(Option::flatten)
}

/// What a flow holds for enrollment.
pub(crate) enum PendingSecret {
    /// No live flow of this user in the enrollment stage.
    NoFlow,
    /// The flow shows no secret yet.
    None,
    /// The sealed secret it shows.
    Sealed(String),
}

pub(crate) fn pending_secret(
    conn: &mut DbConnection,
    now: i64,
    id_hash: &str,
    user_id: &str,
) -> Result<PendingSecret, StoreError> {
    let found: Option<Option<String>> = lf::table
        .find(id_hash)
        .filter(lf::user_id.eq(user_id))
        .filter(lf::stage.eq(FlowStage::MfaEnroll.as_str()))
        .filter(lf::expires_at.gt(now))
        .select(lf::pending_totp_sealed)
        .get_result(conn)
        .optional()?;
    Ok(match found {
        None => PendingSecret::NoFlow,
        Some(None) => PendingSecret::None,
        Some(Some(sealed)) => PendingSecret::Sealed(sealed),
    })
}

/// Stores a pending secret in a flow that has none; false if another request stored one first.
pub(crate) fn put_pending_secret(
    conn: &mut DbConnection,
    now: i64,
    id_hash: &str,
    user_id: &str,
    sealed: &str,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        lf::table
            .find(id_hash)
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
    id_hash: &str,
    sealed: &str,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        lf::table
            .find(id_hash)
            .filter(lf::pending_totp_sealed.eq(sealed)),
    )
    .set(lf::pending_totp_sealed.eq(None::<String>))
    .execute(conn)?;
    Ok(n == 1)
}

/// Whether a live sign-in of this user is showing an enrollment secret.
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

/// The users of an account that a live sign-in is showing a pending secret to.
pub(crate) fn pending_in_account(
    conn: &mut DbConnection,
    now: i64,
    account_id: &str,
) -> Result<Vec<String>, StoreError> {
    use super::schema::users as u;
    Ok(lf::table
        .inner_join(u::table.on(lf::user_id.eq(u::id.nullable())))
        .filter(u::account_id.eq(account_id))
        .filter(lf::pending_totp_sealed.is_not_null())
        .filter(lf::expires_at.gt(now))
        .select(u::id)
        .distinct()
        .load(conn)?)
}

/// A flow's pending secret as stored (for resealing).
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = lf)]
struct PendingRow {
    id_hash: String,
    user_id: Option<String>,
    pending_totp_sealed: Option<String>,
}

/// A pending enrollment secret and the sign-in it belongs to.
#[derive(Debug)]
pub(crate) struct StoredPending {
    /// The flow's id (the hash of its handle).
    pub(crate) flow_id: String,
    /// The user the flow is for.
    pub(crate) user_id: String,
    /// The sealed secret.
    pub(crate) sealed: String,
}

/// Every pending secret.
pub(crate) fn all_pending(conn: &mut DbConnection) -> Result<Vec<StoredPending>, StoreError> {
    let rows: Vec<PendingRow> = crate::on_backend!(conn, |c| lf::table
        .filter(lf::pending_totp_sealed.is_not_null())
        .select(PendingRow::as_select())
        .load(c))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(StoredPending {
                flow_id: r.id_hash,
                user_id: r.user_id?,
                sealed: r.pending_totp_sealed?,
            })
        })
        .collect())
}

/// Replaces a pending secret if it is still `old`; how many rows changed.
pub(crate) fn reseal_pending(
    conn: &mut DbConnection,
    id_hash: &str,
    old: &str,
    new: &str,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        lf::table
            .find(id_hash)
            .filter(lf::pending_totp_sealed.eq(old)),
    )
    .set(lf::pending_totp_sealed.eq(Some(new)))
    .execute(conn)?)
}

/// Deletes the flows that expired.
pub(crate) fn purge(conn: &mut DbConnection, now: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(lf::table.filter(lf::expires_at.le(now))).execute(conn)?)
}
