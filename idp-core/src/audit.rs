//! Reading the audit log (events are written by each use case, in its transaction: see
//! `store::audit`).

use crate::store::{audit, StoreError};
use crate::Idp;

pub use crate::model::Page;
pub use crate::model::{Actor, AuditAction, AuditEvent};
pub use crate::store::audit::{AuditFilter, StoredEvent};

impl Idp {
    /// Records one event on its own (for events with no accompanying change, e.g. a failed sign-in).
    pub fn audit(&self, ev: &AuditEvent<'_>) -> Result<(), StoreError> {
        let now = self.now();
        let mut conn = self.store().conn()?;
        audit::record(&mut conn, now, ev)
    }

    /// The newest events about a user, newest first.
    #[cfg(any(test, feature = "testing"))]
    pub fn audit_for_user(
        &self,
        user_id: &str,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let filter = AuditFilter {
            user_id: Some(user_id),
            ..AuditFilter::default()
        };
        audit::page(&mut *self.store().conn()?, &filter, limit)
    }

    /// The newest events of any kind, newest first.
    #[cfg(any(test, feature = "testing"))]
    pub fn audit_recent(&self, limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
        audit::page(&mut *self.store().conn()?, &AuditFilter::default(), limit)
    }

    /// A page of the log, newest first: up to `limit` events (1 to 500) matching `filter`, and
    /// the cursor of the next page when there is one.
    pub fn audit_page(
        &self,
        filter: &AuditFilter<'_>,
        limit: i64,
    ) -> Result<Page<StoredEvent>, StoreError> {
        let limit = limit.clamp(1, 500);
        let rows = audit::page(&mut *self.store().conn()?, filter, limit + 1)?;
        Ok(Page::from_rows(rows, limit, |e| e.id.to_string()))
    }
}
