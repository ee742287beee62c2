//! The command line: `serve`, `check-config`, `migrate`, and the operator commands that carry out
//! support tickets (accounts, users, MFA, sessions, keys). Every command reads the same config,
//! answers in one line (or `--json`), exits non-zero with a one-line reason on error, and is safe
//! to run twice.

use std::io::Read;

use clap::{Args, Parser, Subcommand, ValueEnum};
use idp_core::accounts::Change;
use idp_core::email_tokens::Purpose;
use idp_core::mfa::EnrollmentState;
use idp_core::users::NewUser;
use idp_core::{Actor, MfaPolicy, User};
use serde_json::json;

use crate::config::Config;
use crate::mail::Mailer;
use crate::{keys, web, Runtime};

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
        #[arg(
            long,
            conflicts_with = "password_stdin",
            required_unless_present = "password_stdin"
        )]
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
    /// Disconnect a user's app (lost phone): their next sign-in shows a new QR code.
    Disconnect(EmailArg),
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

/// What a command prints: a line for people, a value for scripts.
struct Output {
    json: bool,
}

impl Output {
    fn say(&self, text: impl AsRef<str>, value: serde_json::Value) {
        if self.json {
            println!("{value}");
        } else {
            println!("{}", text.as_ref());
        }
    }
}

fn operator(cli: &Cli) -> Actor {
    let name = cli
        .operator
        .clone()
        .or_else(|| std::env::var("SUDO_USER").ok())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "cli".into());
    Actor::Operator(name)
}

fn ts(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}

fn read_password() -> Result<String, String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let pw = s.strip_suffix('\n').unwrap_or(&s);
    let pw = pw.strip_suffix('\r').unwrap_or(pw);
    if pw.is_empty() {
        return Err("no password on standard input".into());
    }
    Ok(pw.to_string())
}

fn user_json(u: &User) -> serde_json::Value {
    serde_json::to_value(u).unwrap_or_default()
}

pub fn run(cli: Cli) -> Result<(), String> {
    let config = Config::load(&cli.config).map_err(|e| e.to_string())?;
    let out = Output { json: cli.json };
    let actor = operator(&cli);
    let command = cli.command.as_ref().unwrap_or(&Command::Serve);
    match command {
        Command::CheckConfig => {
            out.say(
                format!(
                    "{}: OK ({} client{})",
                    cli.config,
                    config.clients.len(),
                    if config.clients.len() == 1 { "" } else { "s" }
                ),
                json!({"ok": true, "clients": config.clients.len()}),
            );
            Ok(())
        }
        Command::Serve => serve(config),
        Command::Migrate => {
            let rt = Runtime::open_for_command(config, false)?;
            let applied = rt.idp.store().migrate().map_err(|e| e.to_string())?;
            let text = if applied.is_empty() {
                "database is up to date".to_string()
            } else {
                format!(
                    "applied {} migration(s): {}",
                    applied.len(),
                    applied.join(", ")
                )
            };
            out.say(text, json!({"applied": applied}));
            Ok(())
        }
        Command::Account(cmd) => {
            account(cmd, &Runtime::open_for_command(config, true)?, &out, &actor)
        }
        Command::User(cmd) => user(cmd, &Runtime::open_for_command(config, true)?, &out, &actor),
        Command::Mfa(cmd) => mfa(cmd, &Runtime::open_for_command(config, true)?, &out, &actor),
        Command::Session(cmd) => {
            session(cmd, &Runtime::open_for_command(config, true)?, &out, &actor)
        }
        Command::Keys(cmd) => {
            keys_cmd(cmd, &Runtime::open_for_command(config, true)?, &out, &actor)
        }
    }
}

fn account(cmd: &AccountCmd, rt: &Runtime, out: &Output, actor: &Actor) -> Result<(), String> {
    let idp = &rt.idp;
    match cmd {
        AccountCmd::Create { slug, name } => {
            let a = idp
                .create_account(slug, name, actor)
                .map_err(|e| e.to_string())?;
            out.say(
                format!("created account {} ({}); MFA is off", a.slug, a.name),
                json!({"account": a}),
            );
        }
        AccountCmd::List => {
            let list = idp.list_accounts().map_err(|e| e.to_string())?;
            if out.json {
                out.say("", json!({"accounts": list}));
            } else if list.is_empty() {
                println!("no accounts");
            } else {
                for a in &list {
                    println!("{}\t{}\tmfa={}", a.slug, a.name, a.mfa_policy.as_str());
                }
            }
        }
        AccountCmd::Show { slug } => {
            let a = idp.account_by_slug(slug).map_err(|e| e.to_string())?;
            let users = idp.count_users(&a.id).map_err(|e| e.to_string())?;
            out.say(
                format!(
                    "{}: {}\nmfa: {}\nusers: {users}\ncreated: {}",
                    a.slug,
                    a.name,
                    a.mfa_policy.as_str(),
                    ts(a.created_at)
                ),
                json!({"account": a, "users": users}),
            );
        }
    }
    Ok(())
}

fn send_link(rt: &Runtime, user: &User) -> Result<Purpose, String> {
    let (purpose, token) = rt.idp.issue_link(user).map_err(|e| e.to_string())?;
    let mailer = Mailer::new(&rt.config).map_err(|e| e.to_string())?;
    let result = mailer.send_link(user, purpose, &token);
    result.map_err(|e| {
        format!(
            "{e} (the link stays valid; run `user send-link --email {}` to retry)",
            user.email
        )
    })?;
    Ok(purpose)
}

fn user(cmd: &UserCmd, rt: &Runtime, out: &Output, actor: &Actor) -> Result<(), String> {
    let idp = &rt.idp;
    match cmd {
        UserCmd::Create {
            account,
            email,
            name,
            work_email,
            invite,
            password_stdin,
        } => {
            let password = if *password_stdin {
                Some(read_password()?)
            } else {
                None
            };
            let u = idp
                .create_user(
                    account,
                    NewUser {
                        email,
                        display_name: name,
                        work_email: work_email.as_deref(),
                        password: password.as_deref(),
                    },
                    actor,
                )
                .map_err(|e| e.to_string())?;
            if *invite {
                send_link(rt, &u).map_err(|e| {
                    format!(
                        "user {} created, but the invitation was not sent: {e}",
                        u.email
                    )
                })?;
                out.say(
                    format!("created user {} in {account}; invitation sent", u.email),
                    json!({"user": user_json(&u), "invitation_sent": true}),
                );
            } else {
                out.say(
                    format!("created user {} in {account} (active)", u.email),
                    json!({"user": user_json(&u)}),
                );
            }
        }
        UserCmd::List { account } => {
            let users = idp.list_users(account).map_err(|e| e.to_string())?;
            if out.json {
                out.say("", json!({"users": users}));
            } else if users.is_empty() {
                println!("no users in {account}");
            } else {
                for u in &users {
                    let mfa = idp.enrollment_state(&u.id).map_err(|e| e.to_string())?;
                    println!(
                        "{}\t{}\t{}\tmfa={}",
                        u.email,
                        u.display_name,
                        u.status.as_str(),
                        mfa_state(mfa)
                    );
                }
            }
        }
        UserCmd::Show(EmailArg { email }) => {
            let u = idp.user_by_email(email).map_err(|e| e.to_string())?;
            let account = idp
                .account_by_id(&u.account_id)
                .map_err(|e| e.to_string())?
                .map(|a| a.slug)
                .unwrap_or_default();
            let mfa = idp.enrollment_state(&u.id).map_err(|e| e.to_string())?;
            let pwd_lock = idp.password_lockout(&u).map_err(|e| e.to_string())?;
            let totp_lock = idp.totp_lockout(&u).map_err(|e| e.to_string())?;
            let sessions = idp.live_sessions(&u.id).map_err(|e| e.to_string())?;
            let locked: Vec<String> = [("password", &pwd_lock), ("totp", &totp_lock)]
                .iter()
                .filter_map(|(what, s)| {
                    s.as_ref()
                        .and_then(|s| s.locked_until)
                        .map(|t| format!("{what} locked until {}", ts(t)))
                })
                .collect();
            let text = format!(
                "{}\nname: {}\naccount: {account}\nstatus: {}\nemail verified: {}\nwork email: {}\nmfa: {}\nlockout: {}\nlive sessions: {}\ncreated: {}",
                u.email,
                u.display_name,
                u.status.as_str(),
                if u.email_verified { "yes" } else { "no" },
                u.work_email.as_deref().unwrap_or("-"),
                mfa_state(mfa),
                if locked.is_empty() { "none".to_string() } else { locked.join(", ") },
                sessions.len(),
                ts(u.created_at),
            );
            out.say(text, json!({"user": user_json(&u), "account": account, "mfa": mfa, "lockout": {"password": pwd_lock, "totp": totp_lock}, "live_sessions": sessions.len()}));
        }
        UserCmd::Disable(EmailArg { email }) => {
            // Disabling ends the sessions in the same transaction and says which.
            let (change, ended) = idp
                .set_user_enabled(email, false, actor)
                .map_err(|e| e.to_string())?;
            let (_, note) = backchannel_logout(rt, &ended)?;
            say_change(
                out,
                change,
                &format!("disabled {email}; {} session(s) ended{note}", ended.len()),
                &format!("{email} is already disabled"),
            );
        }
        UserCmd::Enable(EmailArg { email }) => {
            let (change, _) = idp
                .set_user_enabled(email, true, actor)
                .map_err(|e| e.to_string())?;
            say_change(
                out,
                change,
                &format!("enabled {email}"),
                &format!("{email} is already enabled"),
            );
        }
        UserCmd::SetPassword { email, .. } => {
            let u = idp.user_by_email(email).map_err(|e| e.to_string())?;
            let pw = read_password()?;
            // The support answer to a compromised account: every session ends, apps are told.
            let (_, ended) = idp
                .set_password(&u.id, &pw, actor, None, None)
                .map_err(|e| e.to_string())?;
            let (deliveries, note) = backchannel_logout(rt, &ended)?;
            out.say(
                format!(
                    "password of {} changed (authenticator app kept); {} session(s) ended{note}",
                    u.email,
                    ended.len()
                ),
                json!({"changed": true, "ended": ended.len(), "backchannel": deliveries}),
            );
        }
        UserCmd::Unlock(EmailArg { email }) => {
            idp.unlock_user(email, actor).map_err(|e| e.to_string())?;
            out.say(
                format!("cleared the lockouts of {email}"),
                json!({"unlocked": true}),
            );
        }
        UserCmd::SendLink(EmailArg { email }) => {
            let u = idp.user_by_email(email).map_err(|e| e.to_string())?;
            if u.status == idp_core::UserStatus::Disabled {
                return Err(format!("{} is disabled; enable the user first", u.email));
            }
            let purpose = send_link(rt, &u)?;
            out.say(
                format!("sent a {} link to {}", purpose.as_str(), u.email),
                json!({"sent": purpose.as_str()}),
            );
        }
    }
    Ok(())
}

fn say_change(out: &Output, change: Change, changed: &str, already: &str) {
    match change {
        Change::Changed => out.say(changed, json!({"changed": true})),
        Change::Already => out.say(already, json!({"changed": false})),
    }
}

fn mfa_state(s: EnrollmentState) -> &'static str {
    match s {
        EnrollmentState::Linked => "linked",
        EnrollmentState::Pending => "pending",
        EnrollmentState::NotEnrolled => "not enrolled",
    }
}

fn mfa(cmd: &MfaCmd, rt: &Runtime, out: &Output, actor: &Actor) -> Result<(), String> {
    let idp = &rt.idp;
    match cmd {
        MfaCmd::Enable { account } => {
            // Sessions signed in without a second factor end now (with back-channel logout).
            let (change, ended) = idp
                .set_mfa_policy(account, MfaPolicy::Required, actor)
                .map_err(|e| e.to_string())?;
            let (_, note) = backchannel_logout(rt, &ended)?;
            say_change(
                out,
                change,
                &format!(
                    "MFA is now required for every user of {account}; {} session(s) without a second factor ended{note}",
                    ended.len()
                ),
                &format!("MFA is already required for {account}"),
            );
        }
        MfaCmd::Disable { account } => {
            let (change, _) = idp
                .set_mfa_policy(account, MfaPolicy::Off, actor)
                .map_err(|e| e.to_string())?;
            say_change(
                out,
                change,
                &format!("MFA is now off for every user of {account} (linked apps are kept for a later enable)"),
                &format!("MFA is already off for {account}"),
            );
        }
        MfaCmd::Status { account } => {
            let a = idp.account_by_slug(account).map_err(|e| e.to_string())?;
            let users = idp.list_users(account).map_err(|e| e.to_string())?;
            let mut rows = Vec::new();
            for u in &users {
                rows.push((
                    u.email.clone(),
                    idp.enrollment_state(&u.id).map_err(|e| e.to_string())?,
                ));
            }
            if out.json {
                let users: Vec<_> = rows
                    .iter()
                    .map(|(e, s)| json!({"email": e, "state": s}))
                    .collect();
                out.say(
                    "",
                    json!({"account": a.slug, "policy": a.mfa_policy, "users": users}),
                );
            } else {
                println!("{}: MFA {}", a.slug, a.mfa_policy.as_str());
                for (email, s) in rows {
                    println!("{email}\t{}", mfa_state(s));
                }
            }
        }
        MfaCmd::Disconnect(EmailArg { email }) => {
            let u = idp.user_by_email(email).map_err(|e| e.to_string())?;
            let change = idp.disconnect_mfa(&u, actor).map_err(|e| e.to_string())?;
            if change == Change::Changed {
                // The user hears of it (a support ticket may have been opened by someone else).
                let mailer = Mailer::new(&rt.config).map_err(|e| e.to_string())?;
                if let Err(e) = mailer.send(
                    &u.email,
                    crate::mail::Mail::AppDisconnected { at: idp.now() },
                ) {
                    eprintln!("warning: the notice to {} was not sent: {e}", u.email);
                }
            }
            say_change(
                out,
                change,
                &format!("disconnected the authenticator app of {}; the next sign-in shows a new QR code", u.email),
                &format!("{} has no authenticator app linked", u.email),
            );
        }
    }
    Ok(())
}

fn session(cmd: &SessionCmd, rt: &Runtime, out: &Output, actor: &Actor) -> Result<(), String> {
    let idp = &rt.idp;
    match cmd {
        SessionCmd::List(EmailArg { email }) => {
            let u = idp.user_by_email(email).map_err(|e| e.to_string())?;
            let sessions = idp.live_sessions(&u.id).map_err(|e| e.to_string())?;
            if out.json {
                out.say("", json!({"sessions": sessions}));
            } else if sessions.is_empty() {
                println!("{} has no live session", u.email);
            } else {
                for s in &sessions {
                    println!(
                        "{}\tsigned in {}\tlast active {}\tidle expiry {}\tamr={}\tip={}",
                        s.id,
                        ts(s.auth_time),
                        ts(s.last_active_at),
                        ts(s.idle_expires_at),
                        s.amr.join(","),
                        s.ip.as_deref().unwrap_or("-")
                    );
                }
            }
        }
        SessionCmd::Revoke(EmailArg { email }) => {
            let u = idp.user_by_email(email).map_err(|e| e.to_string())?;
            let ended = idp
                .end_user_sessions(&u, actor, None)
                .map_err(|e| e.to_string())?;
            let (deliveries, note) = backchannel_logout(rt, &ended)?;
            let text = format!("ended {} session(s) of {}{note}", ended.len(), u.email);
            out.say(
                text,
                json!({"ended": ended.len(), "backchannel": deliveries}),
            );
        }
    }
    Ok(())
}

/// Back-channel logout to the apps of sessions an operator ended, delivered from the outbox by
/// this command; the deliveries and a note for people ("; back-channel logout sent to 2
/// app(s)"). What fails here is retried by the running servers.
fn backchannel_logout(
    rt: &Runtime,
    ended: &[idp_core::sessions::EndedSession],
) -> Result<(Vec<crate::backchannel::Delivery>, String), String> {
    if !ended.iter().any(|e| !e.clients.is_empty()) {
        return Ok((Vec::new(), String::new()));
    }
    let idp = &rt.idp;
    let keyring =
        keys::Keyring::load_or_create(idp, rt.publish_retired_for()).map_err(|e| e.to_string())?;
    let sids: Vec<String> = ended.iter().map(|e| e.sid.clone()).collect();
    let deliveries = crate::backchannel::deliver_due(idp, &rt.config, &keyring, None, Some(&sids))
        .map_err(|e| e.to_string())?;
    let failed = deliveries.iter().filter(|d| !d.ok).count();
    if deliveries.is_empty() {
        return Ok((deliveries, String::new()));
    }
    let mut note = format!(
        "; back-channel logout sent to {} app(s)",
        deliveries.len() - failed
    );
    if failed > 0 {
        note.push_str(&format!(
            ", {failed} failed (the servers retry them; see the log)"
        ));
    }
    Ok((deliveries, note))
}

fn keys_cmd(cmd: &KeysCmd, rt: &Runtime, out: &Output, actor: &Actor) -> Result<(), String> {
    let idp = &rt.idp;
    match cmd {
        KeysCmd::Rotate => {
            let kids = keys::rotate(idp, actor).map_err(|e| e.to_string())?;
            out.say(
                format!(
                    "new signing keys: {}; retired keys stay published for {} s",
                    kids.join(", "),
                    rt.publish_retired_for()
                ),
                json!({"new_kids": kids}),
            );
        }
        KeysCmd::Reseal => {
            let r = idp.reseal_secrets(actor).map_err(|e| e.to_string())?;
            out.say(
                format!(
                    "re-encrypted {} TOTP secret(s) and {} signing key(s) with the current master key; the previous key is no longer needed",
                    r.totp_secrets, r.signing_keys
                ),
                json!({"totp_secrets": r.totp_secrets, "signing_keys": r.signing_keys}),
            );
        }
        KeysCmd::List => {
            let list = idp.signing_keys().map_err(|e| e.to_string())?;
            if out.json {
                let v: Vec<_> = list.iter().map(|k| json!({"kid": k.kid, "alg": k.alg, "created_at": k.created_at, "retired_at": k.retired_at})).collect();
                out.say("", json!({"keys": v}));
            } else {
                for k in &list {
                    println!(
                        "{}\t{}\tcreated {}\t{}",
                        k.kid,
                        k.alg,
                        ts(k.created_at),
                        k.retired_at
                            .map(|r| format!("retired {}", ts(r)))
                            .unwrap_or_else(|| "active".into())
                    );
                }
            }
        }
    }
    Ok(())
}

fn serve(config: Config) -> Result<(), String> {
    let rt = Runtime::open(config, true)?;
    let state = crate::app_state(&rt)?;
    let listener = std::net::TcpListener::bind(rt.config.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", rt.config.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(issuer = %rt.config.issuer, listen = %local, database = rt.idp.store().backend_name(), "identity provider started");
    actix_web::rt::System::new()
        .block_on(web::serve(state, listener))
        .map_err(|e| e.to_string())
}
