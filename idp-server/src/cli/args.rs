//! The command line's shape (clap): global options, commands, their arguments.

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "idp-server",
    version,
    about = "OpenID Connect identity provider with per-account TOTP MFA"
)]
pub struct Cli {
    /// Configuration file.
    #[arg(
        long,
        global = true,
        env = "IDP_CONFIG",
        default_value = "config/idp.toml"
    )]
    pub config: String,
    /// Print results as JSON (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
    /// Log format of the server.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Name recorded in audit events for operator commands (default: $SUDO_USER or $USER).
    #[arg(long, global = true)]
    pub operator: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Cli {
    pub fn is_serve(&self) -> bool {
        matches!(self.command, None | Some(Command::Serve))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the provider (the default when no command is given).
    Serve,
    /// Validate the configuration file and exit.
    CheckConfig,
    /// Apply pending database migrations.
    Migrate,
    /// Customer accounts.
    #[command(subcommand)]
    Account(AccountCmd),
    /// Users of an account.
    #[command(subcommand)]
    User(UserCmd),
    /// The per-account MFA policy and users' authenticator apps.
    #[command(subcommand)]
    Mfa(MfaCmd),
    /// Users' SSO sessions.
    #[command(subcommand)]
    Session(SessionCmd),
    /// Token-signing keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Import users from JSON Lines (one object a line: account, email, work_email, name,
    /// status, email_verified, password_hash, totp_secret). Exits 1 when a line was refused.
    Import(ImportArgs),
    /// For bench/pinned.sh: argon2id verifications and JWT signatures per second, one at a time,
    /// with the provider's own code on the cores this process may run on.
    #[command(hide = true)]
    Ceiling(CeilingArgs),
}

#[derive(Debug, Args)]
pub struct CeilingArgs {
    /// Seconds to measure each operation for.
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f64,
    /// Only these (argon2id, RS256, ES256; repeatable). Default: all three.
    #[arg(long)]
    pub only: Vec<String>,
}

/// An import names its account or says it is for all (`ImportScope`): neither is refused by
/// clap before anything is read, naming both flags. Assuming every account would make the
/// dangerous reading the default (one company's export, run with `--update`, rewriting another
/// company's users), and taking the account from the file would let the file choose; so the
/// operator says once which it is.
#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("scope").required(true).args(["account", "all_accounts"])
))]
pub struct ImportArgs {
    /// The file to read (`-` for standard input).
    #[arg(long)]
    pub file: String,
    /// Check every line and report what would happen; store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Create the accounts the file names that do not exist yet.
    #[arg(long)]
    pub create_accounts: bool,
    /// Replace the details of users that exist instead of skipping them.
    #[arg(long)]
    pub update: bool,
    /// The account the file is for (its slug): a line for any other account is refused.
    #[arg(long, value_name = "SLUG")]
    pub account: Option<String>,
    /// The file is for every account it names (a migration of the whole user base).
    #[arg(long)]
    pub all_accounts: bool,
}

#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    /// Create an account (MFA is off until `mfa enable`).
    Create {
        slug: String,
        #[arg(long)]
        name: String,
    },
    /// List accounts.
    List,
    /// Show one account.
    Show { slug: String },
}

#[derive(Debug, Args)]
pub struct EmailArg {
    /// The user's authentication email (case does not matter).
    #[arg(long)]
    pub email: String,
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create a user: invite by email (they set their password) or set the password from stdin.
    #[command(group(
        clap::ArgGroup::new("how").required(true).args(["invite", "password_stdin"])
    ))]
    Create {
        #[arg(long)]
        account: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long)]
        work_email: Option<String>,
        /// Send an invitation to confirm the email and set a password.
        #[arg(long)]
        invite: bool,
        /// Read the password from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the users of an account.
    List {
        #[arg(long)]
        account: String,
    },
    /// Show a user, their MFA state, lockouts and live sessions.
    Show(EmailArg),
    /// Disable a user (ends their sessions).
    Disable(EmailArg),
    /// Enable a disabled user.
    Enable(EmailArg),
    /// Set a user's password from standard input (the TOTP link is kept).
    SetPassword {
        #[arg(long)]
        email: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Clear a user's password and TOTP lockouts.
    Unlock(EmailArg),
    /// Send a new invitation link (invited users) or password reset link.
    SendLink(EmailArg),
    /// Grant a role: `support` (the help desk: every account) or `account-admin` (their own
    /// account). A role always needs a second factor: their sessions without one end.
    GrantRole {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = parse_role)]
        role: idp_core::model::Role,
    },
    /// Take a role back (their console sessions end).
    RevokeRole {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = parse_role)]
        role: idp_core::model::Role,
    },
}

fn parse_role(s: &str) -> Result<idp_core::model::Role, String> {
    idp_core::model::Role::parse(s)
        .ok_or_else(|| format!("{s:?} is not a role: use support or account-admin"))
}

#[derive(Debug, Subcommand)]
pub enum MfaCmd {
    /// Require MFA for every user of the account.
    Enable {
        #[arg(long)]
        account: String,
    },
    /// Turn MFA off for the whole account (users' apps stay linked for a later enable).
    Disable {
        #[arg(long)]
        account: String,
    },
    /// The account's policy and each user's state: linked, pending, not enrolled.
    Status {
        #[arg(long)]
        account: String,
    },
    /// Disconnect a user's app (lost phone): their sessions end, they and their account's
    /// administrators are mailed, and their next sign-in shows a new QR code.
    Disconnect {
        #[arg(long)]
        email: String,
        /// Why (a ticket number): required, recorded in the audit log and mailed to the
        /// account's administrators.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SessionCmd {
    /// A user's live sessions.
    List(EmailArg),
    /// End every session of a user, with back-channel logout to the apps.
    Revoke(EmailArg),
}

#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// New signing keys; the old ones stay published until their tokens expire.
    Rotate,
    /// The signing keys and their state.
    List,
    /// Re-encrypts every TOTP secret and private signing key with the current master key
    /// (`IDP_MASTER_KEY`), after a master-key rotation (old key in `IDP_MASTER_KEY_PREVIOUS`).
    Reseal,
}
