//! Roles: what a person may do for others in the console. Most users hold none.

use serde::Serialize;

/// A role a user may hold (issue 30).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Role {
    /// The vendor's help desk: every account.
    #[serde(rename = "support")]
    Support,
    /// A company's own administrator: their own account only.
    #[serde(rename = "account-admin")]
    AccountAdmin,
}

impl Role {
    /// Every role, in the order they are stored and shown.
    pub const ALL: [Role; 2] = [Role::AccountAdmin, Role::Support];

    /// As stored, shown and named on the command line and in the admin API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Support => "support",
            Role::AccountAdmin => "account-admin",
        }
    }

    /// The role named `s` (exactly as [`Role::as_str`] writes it).
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The roles a user holds (a small set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Roles {
    support: bool,
    account_admin: bool,
}

impl Roles {
    /// No role.
    pub const NONE: Roles = Roles {
        support: false,
        account_admin: false,
    };

    /// Whether `role` is held.
    pub fn has(self, role: Role) -> bool {
        match role {
            Role::Support => self.support,
            Role::AccountAdmin => self.account_admin,
        }
    }

    /// Whether any role is held.
    pub fn any(self) -> bool {
        self.support || self.account_admin
    }

    /// These roles with `role` granted (`held`) or taken back.
    pub fn with(mut self, role: Role, held: bool) -> Roles {
        match role {
            Role::Support => self.support = held,
            Role::AccountAdmin => self.account_admin = held,
        }
        self
    }

    /// The roles held, in [`Role::ALL`]'s order.
    pub fn list(self) -> Vec<Role> {
        Role::ALL.into_iter().filter(|r| self.has(*r)).collect()
    }

    /// As stored: the held roles' names, space-separated ('' for none).
    pub fn to_stored(self) -> String {
        self.list()
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// From the stored form; `None` when it names an unknown role.
    pub fn from_stored(s: &str) -> Option<Roles> {
        s.split_whitespace().try_fold(Roles::NONE, |acc, name| {
            Some(acc.with(Role::parse(name)?, true))
        })
    }
}

impl Serialize for Roles {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.list().serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_stored_sorted_and_read_back() {
        let both = Roles::NONE
            .with(Role::Support, true)
            .with(Role::AccountAdmin, true);
        assert_eq!(both.to_stored(), "account-admin support");
        assert_eq!(Roles::from_stored("support account-admin"), Some(both));
        assert_eq!(Roles::from_stored(""), Some(Roles::NONE));
        assert_eq!(Roles::from_stored("root"), None);
        assert!(!Roles::NONE.any());
        assert_eq!(both.with(Role::Support, false).list(), [Role::AccountAdmin]);
        assert_eq!(
            serde_json::to_string(&both).unwrap(),
            r#"["account-admin","support"]"#
        );
    }
}
