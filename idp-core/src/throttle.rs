//! The throttles the server asks about directly (client authentication at the token endpoint)
//! and the purge of old counters. The counting itself is `store::attempts`; every limit is in
//! `ThrottleSettings`.

use crate::model::Counter;
use crate::store::attempts::{self, Reserved};
use crate::store::StoreError;
use crate::Idp;

pub use crate::model::{
    ClientAuthFailure, CounterState, Limit, LimitKind, Locked, ThrottleSettings,
};

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

    /// Counters whose window has passed and that hold no lock say nothing any more: deleted
    /// (housekeeping), so the table holds only keys seen within the longest window.
    pub fn purge_attempt_counters(&self) -> Result<usize, StoreError> {
        let now = self.now();
        let longest = self.settings().throttle.longest_window_secs();
        attempts::purge(&mut *self.store().conn()?, now - longest, now)
    }
}
