//! Single-use links sent by email (invitation, password reset): random, hashed at rest, bound to
//! one user and one purpose, with an expiry.

use crate::crypto::{hash_token, random_token, CryptoError};
use crate::model::{User, UserStatus};
use crate::policy;
use crate::store::{self, StoreError};
use crate::Idp;

pub use crate::model::Purpose;

/// Why a link could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EmailTokenError {
    /// The link is invalid, has expired or has already been used.
    #[error("the link is invalid, has expired or has already been used")]
    Invalid,
    /// The user is disabled: no link is sent (enable the user first).
    #[error("the user is disabled; enable the user first")]
    Disabled,
    #[error(transparent)]
    /// The random generator or the sealing of a secret failed.
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    /// The database failed, or could not be reached.
    Store(#[from] StoreError),
}

impl Idp {
    /// A new token for the user; older unused tokens of the same purpose stay valid until they
    /// expire (a failed send can be retried without invalidating the first mail).
    pub(crate) fn issue_email_token(
        &self,
        user_id: &str,
        purpose: Purpose,
    ) -> Result<String, EmailTokenError> {
        let token = random_token()?;
        store::email_tokens::insert(
            &mut *self.store().conn()?,
            self.now(),
            &hash_token(&token),
            user_id,
            purpose,
        )?;
        Ok(token)
    }

    /// The link a user needs by mail: an invitation while they have not completed registration,
    /// a password reset afterwards; none for a disabled user (see [`policy::may_use_links`]).
    pub(crate) fn issue_link(&self, user: &User) -> Result<(Purpose, String), EmailTokenError> {
        if !policy::may_use_links(user) {
            return Err(EmailTokenError::Disabled);
        }
        let purpose = if user.status == UserStatus::Invited {
            Purpose::Invite
        } else {
            Purpose::Reset
        };
        Ok((purpose, self.issue_email_token(&user.id, purpose)?))
    }

    /// The user a live token belongs to, without using it up (to show the form).
    pub(crate) fn peek_email_token(
        &self,
        token: &str,
        purpose: Purpose,
    ) -> Result<String, EmailTokenError> {
        store::email_tokens::peek(
            &mut *self.store().conn()?,
            &hash_token(token),
            purpose,
            self.now(),
        )?
        .ok_or(EmailTokenError::Invalid)
    }

    /// Deletes tokens used or expired more than a day ago (housekeeping).
    pub fn purge_email_tokens(&self) -> Result<usize, StoreError> {
        let cutoff = self.now() - 24 * 60 * 60;
        store::email_tokens::purge(&mut *self.store().conn()?, cutoff)
    }
}
