//! The throttles the server asks about directly (client authentication at the token endpoint),
//! the purge of old counters, and the known-browser cookie (made and verified here, the only
//! place that holds its key). The counting itself is `store::attempts`; every limit is in
//! `ThrottleSettings`.

use crate::crypto::{random_id, CryptoError};
use crate::model::{Counter, KnownBrowser, KNOWN_BROWSER_TTL_SECS};
use crate::store::attempts::{self, Reserved};
use crate::store::StoreError;
use crate::Idp;

pub use crate::model::{
    ClientAuthFailure, CounterState, Limit, LimitKind, Locked, ThrottleSettings,
};

/// How far ahead of this replica's clock an issue time may lie (another replica's clock).
const CLOCK_SKEW_SECS: i64 = 300;

impl Idp {
    /// The lockout of a client at an address, if one holds (checked before a correct secret is
    /// accepted). Client secrets are high-entropy, so the lockout only keeps a guessing loop from
    /// costing work; it is keyed on the client *and* the address, so a stranger cannot lock an
    /// app out of its own code exchanges.
    pub fn client_auth_lock(
        &self,
        client_id: &str,
        ip: &str,
    ) -> Result<Option<Locked>, StoreError> {
        attempts::lock_of(
            &mut *self.store().conn()?,
            &Counter::ClientAuth { client_id, ip },
            self.now(),
        )
    }

    /// Counts a failed client authentication. The secret is a SHA-256 digest the server compares
    /// in constant time before it asks here; the failure is counted atomically right after that
    /// comparison and the count decides the answer, which is what reserving first would give,
    /// without a write on every good request.
    pub(crate) fn client_auth_failed(
        &self,
        client_id: &str,
        ip: &str,
    ) -> Result<ClientAuthFailure, StoreError> {
        let counters = [Counter::ClientAuth { client_id, ip }];
        let throttle = &self.settings().throttle;
        Ok(
            match attempts::reserve(self.store(), self.now(), throttle, &counters)? {
                Reserved::Taken(_) => ClientAuthFailure::Counted,
                Reserved::Refused(l) => ClientAuthFailure::Locked(l),
            },
        )
    }

    /// The value of a known-browser cookie for a browser that just completed a sign-in as this
    /// user (or changed or reset the password in it): `v1.<user id>.<now>.<random id>.<tag>`,
    /// the tag an HMAC-SHA256 under a key derived from the master key (`SecretBox::tag`). The
    /// random id gives the browser a password counter of its own.
    pub fn vouch_for_browser(&self, user_id: &str) -> Result<String, CryptoError> {
        let known = KnownBrowser::new(user_id, self.now(), random_id()?);
        let payload = known.payload();
        Ok(format!("{payload}.{}", self.secrets().tag(&payload)))
    }

    /// What a known-browser cookie proves, when its tag verifies and it is neither expired nor
    /// from the future; `None` for anything else (a forged, altered, expired or garbled value is
    /// simply an unknown browser). Whom it vouches for is [`KnownBrowser::vouches_for`]'s to say.
    pub fn known_browser(&self, cookie: &str) -> Option<KnownBrowser> {
        if cookie.len() > 512 {
            return None;
        }
        let (known, tag) = KnownBrowser::parse(cookie)?;
        if !self.secrets().verify_tag(&known.payload(), tag) {
            return None;
        }
        let now = self.now();
        let age = now - known.issued_at();
        (-CLOCK_SKEW_SECS..KNOWN_BROWSER_TTL_SECS)
            .contains(&age)
            .then_some(known)
    }

    /// Counters whose window has passed and that hold no lock say nothing any more: deleted
    /// (housekeeping), so the table holds only keys seen within the longest window.
    pub fn purge_attempt_counters(&self) -> Result<usize, StoreError> {
        let now = self.now();
        let longest = self.settings().throttle.longest_window_secs();
        attempts::purge(&mut *self.store().conn()?, now - longest, now)
    }
}
