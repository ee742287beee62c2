//! Half-finished sign-ins, kept server-side so that no step can be skipped: the browser holds
//! only a random handle (in a cookie); the password result, the user and the pending
//! authorization request live here until the last step completes and the flow is consumed.

use crate::crypto::{hash_token, random_token, CryptoError};
use crate::model::{Counter, Locked, User};
use crate::store::attempts::{self, Reserved};
use crate::store::{self, StoreError};
use crate::Idp;

pub use crate::model::{FlowStage, LoginFlow, PendingAuthorization};

/// Why a flow could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The sign-in has expired.
    #[error("the sign-in has expired")]
    Expired,
    /// Too many sign-ins started from this address (the table must not grow without bound).
    #[error("too many sign-ins were started from this address")]
    TooMany(Locked),
    #[error(transparent)]
    /// The random generator or the sealing of a secret failed.
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    /// The database failed, or could not be reached.
    Store(#[from] StoreError),
}

impl Idp {
    /// Starts a flow for an authorization request (`None`: a sign-in at the provider itself);
    /// returns the handle for the browser. Flows started per client address are rate-limited
    /// (`login_flows_per_ip`), so nobody can fill the table.
    pub fn create_flow(
        &self,
        request: Option<&PendingAuthorization>,
        ip: Option<&str>,
    ) -> Result<String, FlowError> {
        self.create_flow_with(request, ip, None)
    }

    /// [`Idp::create_flow`], for a sign-in opened by a relink link (the hash of its token).
    pub(crate) fn create_flow_with(
        &self,
        request: Option<&PendingAuthorization>,
        ip: Option<&str>,
        relink_token_hash: Option<&str>,
    ) -> Result<String, FlowError> {
        let now = self.now();
        if let Some(ip) = ip {
            let counters = [Counter::LoginFlowsFromIp(ip)];
            let throttle = &self.settings().throttle;
            if let Reserved::Refused(l) = attempts::reserve(self.store(), now, throttle, &counters)?
            {
                return Err(FlowError::TooMany(l));
            }
        }
        let handle = random_token()?;
        let expires_at = now + self.settings().login_flow_ttl_secs;
        store::flows::insert_relink(
            &mut *self.store().conn()?,
            now,
            &hash_token(&handle),
            request,
            expires_at,
            relink_token_hash,
        )?;
        Ok(handle)
    }

    /// The live flow behind a handle.
    pub fn flow(&self, handle: &str) -> Result<LoginFlow, FlowError> {
        let now = self.now();
        store::flows::live(&mut *self.store().conn()?, &hash_token(handle), now)?
            .ok_or(FlowError::Expired)
    }

    /// Moves a flow to its next stage for this user (after the password was verified), while
    /// the hash `user` was read with is still theirs. A password set after that read fails the
    /// hold; one set earlier has cancelled the flow (see `store::sessions::end_all_of_user`),
    /// so `advance` finds nothing.
    pub fn advance_flow(
        &self,
        handle: &str,
        user: &User,
        stage: FlowStage,
    ) -> Result<(), FlowError> {
        let now = self.now();
        let advanced = self.store().tx(|conn| {
            Ok::<_, StoreError>(
                store::users::hold_checked(conn, user)?
                    && store::flows::advance(conn, now, &hash_token(handle), &user.id, stage)?,
            )
        })?;
        if advanced {
            Ok(())
        } else {
            Err(FlowError::Expired)
        }
    }

    /// Consumes a flow: only the first caller gets it (a double submit cannot finish twice).
    #[cfg(any(test, feature = "testing"))]
    pub fn consume_flow(&self, handle: &str) -> Result<LoginFlow, FlowError> {
        let now = self.now();
        store::flows::consume(&mut *self.store().conn()?, &hash_token(handle), now)?
            .ok_or(FlowError::Expired)
    }

    /// Removes flows that expired (housekeeping).
    pub fn purge_flows(&self) -> Result<usize, StoreError> {
        let now = self.now();
        store::flows::purge(&mut *self.store().conn()?, now)
    }
}
