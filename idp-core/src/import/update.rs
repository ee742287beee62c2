//! `import --update`: an existing user's line planned against what is stored (what the line
//! leaves out stays; a credential brought again as the last import brought it is no change),
//! then written in one transaction while the user is still as the batch read them.

use super::line::{field, ImportError, LineError, Prepared};
use super::marks::MarkKey;
use crate::model::{Actor, AuditAction, AuditEvent, EndReason, User, UserStatus};
use crate::store::import_marks::Mark;
use crate::store::{self, audit, sessions, StoreError};
use crate::Idp;

/// What `update` makes of an existing user: the line's details over the user's own.
pub(super) enum Update {
    /// The line gives nothing the user does not have already (a re-run of the same file).
    Unchanged,
    /// The line cannot apply to this user.
    Refused(LineError),
    /// The user as it will be stored, and the secret to link when the line brings another one.
    Changed {
        user: Box<User>,
        totp: Option<Vec<u8>>,
        /// What this import brought, to remember (see `store::import_marks`).
        mark: Mark,
    },
}

/// Why an update's transaction wrote nothing.
enum Written {
    /// The user changed since the batch read them (the line fails, asking for a re-run).
    ChangedMeanwhile,
    Failed(StoreError),
}

impl From<StoreError> for Written {
    fn from(e: StoreError) -> Self {
        Written::Failed(e)
    }
}

impl Idp {
    /// The line's details over an existing user's: what the line leaves out stays as it is; an
    /// unchanged line (the same details, the secret already linked) changes nothing, so a
    /// re-run neither relinks the app (its last used code stays spent) nor audits or ends
    /// sessions.
    pub(super) fn plan_update(
        &self,
        p: &Prepared,
        old: &User,
        before: &Mark,
        key: &MarkKey,
    ) -> Result<Update, ImportError> {
        let before = before.clone();
        let mark = key.mark_of(p, &before);
        let mut user = p.user.clone();
        // A credential the line brings again, as the last import brought it, is no change: what
        // happened here since (a password the user changed, the argon2id hash of their first
        // sign-in, an app linked after a lost phone) stays.
        let hash_again = mark.password_hash_mark.is_some()
            && p.user.password_hash.is_some()
            && mark.password_hash_mark == before.password_hash_mark;
        let secret_again = mark.totp_secret_mark.is_some()
            && p.totp.is_some()
            && mark.totp_secret_mark == before.totp_secret_mark;
        if user.password_hash.is_none() || hash_again {
            user.password_hash = old.password_hash.clone();
            user.password_changed_at = old.password_changed_at;
        }
        if !p.name_given {
            user.display_name = old.display_name.clone();
        }
        if !p.work_email_given {
            user.work_email = old.work_email.clone();
        }
        // (An invited user whose line brings a password becomes active, as at creation.)
        let gets_password = old.status == UserStatus::Invited && p.user.password_hash.is_some();
        if !p.status_given && !gets_password {
            user.status = old.status;
        }
        if !p.verified_given {
            user.email_verified = old.email_verified;
        }
        if user.status == UserStatus::Invited && user.password_hash.is_some() {
            return Ok(Update::Refused(field(
                "status",
                "a user with a password cannot be invited again (send them a reset link)",
            )));
        }
        let totp = match &p.totp {
            Some(_) if secret_again => None,
            Some(secret) => {
                let linked = store::totp::linked(&mut *self.store().conn()?, &user.id)?;
                let aad = store::totp::linked_aad(&user.id);
                let same = match linked {
                    Some(app) => self.secrets().open(&app.secret_sealed, &aad)? == *secret,
                    None => false,
                };
                (!same).then(|| secret.clone())
            }
            None => None,
        };
        let same = user.display_name == old.display_name
            && user.work_email == old.work_email
            && user.email_verified == old.email_verified
            && user.status == old.status
            && user.password_hash == old.password_hash;
        Ok(if same && totp.is_none() && mark == before {
            Update::Unchanged
        } else {
            Update::Changed {
                user: Box::new(user),
                totp,
                mark,
            }
        })
    }

    /// `update`: an existing user takes its planned details in one transaction. A new password
    /// hash or a disabled status ends the user's sessions (with back-channel logout), as the
    /// same change by an operator would; a new secret replaces the linked app. False (nothing
    /// written) when the user changed since the batch read them.
    pub(super) fn update_imported(
        &self,
        user: &User,
        totp: Option<&[u8]>,
        mark: &Mark,
        old: &User,
        now: i64,
        actor: &Actor,
    ) -> Result<bool, ImportError> {
        let listeners = self.logout_listeners();
        let aad = store::totp::linked_aad(&user.id);
        let sealed = totp.map(|t| self.secrets().seal(t, &aad)).transpose()?;
        // As an operator's same change would: disabling, a new password, or another app (the
        // sessions the old app's codes opened end with it, as at a disconnect).
        let ends = (user.status == UserStatus::Disabled && old.status != UserStatus::Disabled)
            || user.password_hash != old.password_hash
            || totp.is_some();
        let written = self.store().tx(|conn| {
            if user.password_hash != old.password_hash {
                // Links mailed before must not undo it (an invitation included, when this line
                // activates an invited user). Links before the user's row: the order a reset
                // link's own transaction takes them in.
                for purpose in [crate::model::Purpose::Reset, crate::model::Purpose::Invite] {
                    store::email_tokens::revoke(conn, &user.id, purpose, now)?;
                }
            }
            if !store::users::replace_details(conn, user, old, now)? {
                // Changed since the batch read it: roll the revocations back too.
                return Err(Written::ChangedMeanwhile);
            }
            store::import_marks::put(conn, mark)?;
            if let Some(s) = &sealed {
                store::totp::delete(conn, &user.id)?;
                store::totp::insert_linked(conn, now, &user.id, s, None)?;
            }
            if ends {
                sessions::end_all_of_user(
                    conn,
                    now,
                    &user.id,
                    None,
                    EndReason::Revoked,
                    &listeners,
                )?;
            }
            audit::record(
                conn,
                now,
                &AuditEvent::new(AuditAction::UserUpdated, actor)
                    .user(&user.account_id, &user.id)
                    .detail("by import"),
            )?;
            Ok::<_, Written>(())
        });
        match written {
            Ok(()) => Ok(true),
            Err(Written::ChangedMeanwhile) => Ok(false),
            Err(Written::Failed(e)) => Err(e.into()),
        }
    }
}
