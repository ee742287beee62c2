//! CSRF tokens: every form carries one derived from a secret the browser holds in an HttpOnly
//! cookie (the flow handle, the session secret, or a form secret), so a page elsewhere can
//! neither read it nor compute the token.

/// The token of a form bound to a cookie secret: SHA-256 over a label and the secret.
pub fn csrf_for(secret: &str) -> String {
    idp_core::crypto::hash_token(&format!("csrf\0{secret}"))
}

/// Whether a presented token is the one for this secret (constant time).
pub fn csrf_ok(secret: &str, presented: Option<&str>) -> bool {
    presented.is_some_and(|p| idp_core::crypto::ct_eq(csrf_for(secret).as_bytes(), p.as_bytes()))
}

/// The token of a link form (registration, reset): bound to the browser (its form secret) *and*
/// the link's token, so a page elsewhere cannot post a form of ours from a victim's browser, not
/// even with an invitation of its own (which would sign the victim's browser into the
/// attacker's account).
pub fn link_csrf(form_secret: &str, token: &str) -> String {
    csrf_for(&format!("{form_secret}\0{token}"))
}
