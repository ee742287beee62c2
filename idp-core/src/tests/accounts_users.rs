//! Accounts and users: creation, lookup, the authentication email's uniqueness.

use super::*;
use crate::users::UserError;
use crate::UserStatus;

fn accounts_and_users(db: &TestDb) {
    let a = db.idp.create_account("acme", "Acme Fuel", &op()).unwrap();
    assert_eq!(a.mfa_policy, MfaPolicy::Off, "MFA is off by default");
    assert!(matches!(
        db.idp.create_account("acme", "Other", &op()),
        Err(crate::accounts::AccountError::SlugTaken(_))
    ));
    assert!(db.idp.create_account("Bad Slug", "x", &op()).is_err());
    let u = db
        .idp
        .create_user(
            "acme",
            NewUser {
                email: "  Ann.Lee@Example.com ",
                display_name: "Ann Lee",
                work_email: Some("ann@work.example"),
                password: None,
            },
            &op(),
        )
        .unwrap();
    assert_eq!(u.email, "ann.lee@example.com");
    assert_eq!(u.status, UserStatus::Invited);
    assert!(!u.email_verified);
    assert_eq!(u.work_email.as_deref(), Some("ann@work.example"));
    // An invited user gets a password by completing registration, not from an operator: that
    // left them "invited" with a password, refused at sign-in as if disabled.
    assert!(matches!(
        db.idp
            .set_password(&u.id, "a fine long passphrase", &op(), None, None),
        Err(UserError::NotRegistered(_))
    ));
    assert!(db
        .idp
        .user_by_id(&u.id)
        .unwrap()
        .unwrap()
        .password_hash
        .is_none());
    // The authentication email is unique whatever its case.
    let dup = db.idp.create_user(
        "acme",
        NewUser {
            email: "ANN.LEE@example.com",
            password: Some(PW),
            ..Default::default()
        },
        &op(),
    );
    assert!(matches!(dup, Err(UserError::EmailTaken(_))));
    assert_eq!(
        db.idp.user_by_email("ANN.lee@EXAMPLE.com").unwrap().id,
        u.id
    );
    // A weak password is refused with its reason, and nothing is stored.
    let weak = db.idp.create_user(
        "acme",
        NewUser {
            email: "bob@example.com",
            password: Some("password1234"),
            ..Default::default()
        },
        &op(),
    );
    assert!(matches!(
        weak,
        Err(UserError::Password(crate::PasswordRejection::Common))
    ));
    assert!(db.idp.user_by_email("bob@example.com").is_err());
    assert_eq!(db.idp.list_users("acme").unwrap().len(), 1);
}

/// Two spellings of one address (Unicode composed or decomposed, any case, a sharp s or "ss")
/// are one user: the second is refused as taken, and either finds the first, at sign-in too.
fn two_spellings_of_one_address_are_one_user(db: &TestDb) {
    let first = user(db, "acme", "Jos\u{e9}.Strasse@example.com");
    for other in [
        "jose\u{301}.strasse@example.com",
        "JOS\u{c9}.STRASSE@EXAMPLE.COM",
        "JOSE\u{301}.STRA\u{df}E@example.com",
    ] {
        let dup = db.idp.create_user(
            "acme",
            NewUser {
                email: other,
                password: Some(PW),
                ..Default::default()
            },
            &op(),
        );
        // Taken; the sharp-s spelling is refused before that, as an address folding changes.
        let refused = if other.contains('\u{df}') {
            matches!(
                dup,
                Err(UserError::InvalidEmail(
                    crate::model::EmailError::FoldsIntoAnother
                ))
            )
        } else {
            matches!(dup, Err(UserError::EmailTaken(_)))
        };
        assert!(refused, "{other:?}: {dup:?}");
        assert_eq!(db.idp.user_by_email(other).unwrap().id, first.id);
        assert_eq!(
            db.idp.authenticate_password(other, PW, None).unwrap().id,
            first.id
        );
    }
    // An address that folding turns into another is never stored (nor mailed) as that other:
    // anna@straße.example is not anna@strasse.example's domain (found by review).
    let folded = db.idp.create_user(
        "acme",
        NewUser {
            email: "anna@stra\u{df}e.example",
            work_email: None,
            ..Default::default()
        },
        &op(),
    );
    assert!(
        matches!(
            folded,
            Err(UserError::InvalidEmail(
                crate::model::EmailError::FoldsIntoAnother
            ))
        ),
        "{folded:?}"
    );
    let work = db.idp.create_user(
        "acme",
        NewUser {
            email: "anna@example.com",
            work_email: Some("anna@stra\u{df}e.example"),
            ..Default::default()
        },
        &op(),
    );
    assert!(
        matches!(work, Err(UserError::InvalidWorkEmail(_))),
        "{work:?}"
    );
}

crate::on_both_backends!(
    accounts_and_users,
    two_spellings_of_one_address_are_one_user
);
