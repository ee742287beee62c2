//! A client as the protocol endpoints see it: how it authenticates and what it may ask for.
//! Clients live in the server's configuration (reloaded on SIGHUP), not in the database; the
//! server hands the current registration to each use case, so a reload takes effect at once.

/// A registered client, borrowed from the server's current configuration.
#[derive(Debug, Clone)]
pub struct ClientRegistration<'a> {
    /// Its `client_id`.
    pub client_id: &'a str,
    /// SHA-256 of its secret (`client_secret_basic` / `client_secret_post`), if it has one.
    pub secret_sha256: Option<&'a [u8; 32]>,
    /// A public client (no secret; PKCE is required for its codes).
    pub public: bool,
    /// What it is for.
    pub kind: ClientKind<'a>,
}

/// What a client is for, which decides the grants it may use.
#[derive(Debug, Clone)]
pub enum ClientKind<'a> {
    /// An app people sign in to: the authorization code and refresh token grants, with these
    /// exact redirect URIs.
    App {
        /// Registered redirect URIs (exact match).
        redirect_uris: &'a [String],
    },
    /// An admin client (a help-desk system): the client credentials grant only, for an access
    /// token to the admin API with at most these scopes (sorted, each once).
    Admin {
        /// The scopes it holds.
        scopes: Vec<&'a str>,
    },
    /// A resource server (an API): no grant at all; it only introspects tokens (RFC 7662).
    ResourceServer,
}

/// The credentials a request presents for its client (parsed by the server; not yet checked).
#[derive(Debug, Clone, Copy)]
pub struct ClientCredentials<'a> {
    /// The secret presented (Basic or the form), if any.
    pub secret: Option<&'a str>,
    /// The caller's address (the lockout of a client is keyed on the client and the address).
    pub ip: &'a str,
}
