//! The relink use cases (`[mfa] relink_requires_email`): a sign-in opened by the link mailed
//! after a help-desk disconnect, and "send me a new link" from the page that asks for it. The
//! gate itself lives with the enrollment (`mfa::relink`).

use crate::crypto::{hash_token, random_token};
use crate::mfa::RelinkError;
use crate::model::{Counter, FlowStage, Purpose, User};
use crate::store;
use crate::store::attempts::{self, Reserved};
use crate::Idp;

impl From<crate::flows::FlowError> for RelinkError {
    fn from(e: crate::flows::FlowError) -> Self {
        match e {
            crate::flows::FlowError::Expired => RelinkError::Expired,
            crate::flows::FlowError::TooMany(l) => RelinkError::TooMany(l),
            crate::flows::FlowError::Crypto(c) => RelinkError::Crypto(c),
            crate::flows::FlowError::Store(s) => RelinkError::Store(s),
        }
    }
}

impl Idp {
    /// Opens a sign-in from a relink link (`/relink?token=`): a flow carrying the link, whose
    /// enrollment the gate lets through for the link's user once they give their password.
    /// The link stays valid until the enrollment (a sign-in abandoned halfway can be started
    /// again from it); flows are rate-limited per address as every sign-in.
    pub fn open_relink(&self, token: &str, ip: Option<&str>) -> Result<String, RelinkError> {
        let hash = hash_token(token);
        let now = self.now();
        let owner =
            store::email_tokens::peek(&mut *self.store().conn()?, &hash, Purpose::Relink, now)?;
        if owner.is_none() {
            return Err(RelinkError::Invalid);
        }
        Ok(self.create_flow_with(None, ip, Some(&hash))?)
    }

    /// "Send me a new link", from a sign-in waiting at the relink page: a new link to the
    /// user's authentication email (the older ones end); at most `forgot_per_email` an hour.
    /// Returns the user and the token for the caller to mail.
    pub fn resend_relink(&self, flow: &str) -> Result<(User, String), RelinkError> {
        let f = self.flow(flow)?;
        let (Some(uid), FlowStage::RelinkByEmail) = (&f.user_id, f.stage) else {
            return Err(RelinkError::Expired);
        };
        let user = self.user_by_id(uid)?.ok_or(RelinkError::Expired)?;
        let now = self.now();
        let counters = [Counter::RelinkMails(&user.id)];
        if let Reserved::Refused(l) =
            attempts::reserve(self.store(), now, &self.settings().throttle, &counters)?
        {
            return Err(RelinkError::TooMany(l));
        }
        let token = random_token()?;
        self.store().tx(|conn| {
            store::email_tokens::revoke(conn, &user.id, Purpose::Relink, now)?;
            store::email_tokens::insert(conn, now, &hash_token(&token), &user.id, Purpose::Relink)
        })?;
        Ok((user, token))
    }
}
