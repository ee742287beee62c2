//! Single-use tokens sent by email (invitation, password reset): random, hashed at rest, bound to
//! one user and one purpose, with an expiry.

use diesel::prelude::*;

use crate::crypto::{hash_token, random_token, CryptoError};
use crate::store::schema::email_tokens as et;
use crate::store::StoreError;
use crate::Idp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Confirm the authentication email and set the first password. Valid 7 days.
    Invite,
    /// Set a new password. Valid 1 hour.
    Reset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Invite => "invite",
            Purpose::Reset => "reset",
        }
    }
    pub fn ttl_secs(self) -> i64 {
        match self {
            Purpose::Invite => 7 * 24 * 60 * 60,
            Purpose::Reset => 60 * 60,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EmailTokenError {
    #[error("this link is invalid, has expired or has already been used")]
    Invalid,
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for EmailTokenError {
    fn from(e: diesel::result::Error) -> Self {
        EmailTokenError::Store(e.into())
    }
}

impl Idp {
    /// A new token for the user; older unused tokens of the same purpose stay valid until they
    /// expire (a failed send can be retried without invalidating the first mail).
    pub fn issue_email_token(
        &self,
        user_id: &str,
        purpose: Purpose,
    ) -> Result<String, EmailTokenError> {
        let now = self.now();
        let token = random_token()?;
        let mut conn = self.store().conn()?;
        diesel::insert_into(et::table)
            .values((
                et::token_hash.eq(hash_token(&token)),
                et::user_id.eq(user_id),
                et::purpose.eq(purpose.as_str()),
                et::created_at.eq(now),
                et::expires_at.eq(now + purpose.ttl_secs()),
            ))
            .execute(&mut conn)?;
        Ok(token)
    }

    /// The user a live token belongs to, without using it up (to show the form).
    pub fn peek_email_token(
        &self,
        token: &str,
        purpose: Purpose,
    ) -> Result<String, EmailTokenError> {
        let now = self.now();
        let mut conn = self.store().conn()?;
        et::table
            .find(hash_token(token))
            .filter(et::purpose.eq(purpose.as_str()))
            .filter(et::used_at.is_null())
            .filter(et::expires_at.gt(now))
            .select(et::user_id)
            .get_result(&mut conn)
            .optional()?
            .ok_or(EmailTokenError::Invalid)
    }

    /// Uses a token up, and every other token of the same user and purpose with it.
    pub(crate) fn consume_email_token(
        conn: &mut crate::store::DbConnection,
        now: i64,
        token: &str,
        purpose: Purpose,
    ) -> Result<String, EmailTokenError> {
        let hash = hash_token(token);
        let n = diesel::update(
            et::table
                .find(&hash)
                .filter(et::purpose.eq(purpose.as_str()))
                .filter(et::used_at.is_null())
                .filter(et::expires_at.gt(now)),
        )
        .set(et::used_at.eq(Some(now)))
        .execute(conn)?;
        if n != 1 {
            return Err(EmailTokenError::Invalid);
        }
        let user_id: String = et::table.find(&hash).select(et::user_id).get_result(conn)?;
        diesel::update(
            et::table
                .filter(et::user_id.eq(&user_id))
                .filter(et::purpose.eq(purpose.as_str()))
                .filter(et::used_at.is_null()),
        )
        .set(et::used_at.eq(Some(now)))
        .execute(conn)?;
        Ok(user_id)
    }

    /// Deletes tokens used or expired more than a day ago (housekeeping).
    pub fn purge_email_tokens(&self) -> Result<usize, StoreError> {
        let cutoff = self.now() - 24 * 60 * 60;
        let mut conn = self.store().conn()?;
        Ok(
            diesel::delete(et::table.filter(et::used_at.lt(cutoff).or(et::expires_at.lt(cutoff))))
                .execute(&mut conn)?,
        )
    }
}
