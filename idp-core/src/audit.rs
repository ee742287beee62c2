//! Reading the audit log (events are written by each use case, in its transaction: see
//! `store::audit`).

use crate::store::{audit, StoreError};
use crate::Idp;

pub use crate::model::{Actor, AuditAction, AuditEvent};
pub use crate::store::audit::StoredEvent;

impl Idp {
    /// Records one event on its own (for events with no accompanying change, e.g. a failed sign-in).
    pub fn audit(&self, ev: &AuditEvent<'_>) -> Result<(), StoreError> {
        let now = self.now();
        let mut conn = self.store().conn()?;
        audit::record(&mut conn, now, ev)
    }

    /// The newest events about a user, newest first.
    pub fn audit_for_user(
        &self,
        user_id: &str,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut conn = self.store().conn()?;
        audit::for_user(&mut conn, user_id, limit)
    }

    /// The newest events of any kind, newest first.
    pub fn audit_recent(&self, limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
        let mut conn = self.store().conn()?;
        audit::recent(&mut conn, limit)
    }
}
