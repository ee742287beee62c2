//! The operator's TOML file, parsed into typed structs (unknown keys are refused) and validated
//! at start-up, section by section (`validate`, `clients`). Every error names the key and the
//! reason. The environment (secrets named by `secret_env`) is read before validation, which is
//! then a pure function of the file and those values.

mod branding;
mod check;
mod clients;
mod raw;
#[cfg(test)]
mod tests;
mod types;
mod validate;

pub use raw::{
    ClientSection, CookiesSection, DatabaseSection, MailSection, MailTransport, MfaSection,
    PasswordsSection, RawConfig, SecureCookies, ServerSection, SessionSection, SmtpTls,
    TokensSection,
};

pub use branding::MAX_LOGO_BYTES;
pub use clients::console_redirect_uri;
pub use types::{AdminAccess, AdminScope, Asset, Brand, Client, Config, ConfigError, Environment};

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &str) -> Result<Self, ConfigError> {
        Self::parse(path, &read(path)?)
    }

    /// Parses and validates a configuration, with secrets from the process environment.
    pub fn parse(path: &str, text: &str) -> Result<Self, ConfigError> {
        let raw = raw::parse(path, text)?;
        let env = Environment::read(&raw);
        validate::validate(path, raw, &env)
    }

    /// [`Config::load`] for an operator's command (see `Environment::for_operator`).
    pub fn load_for_operator(path: &str) -> Result<Self, ConfigError> {
        let raw = raw::parse(path, &read(path)?)?;
        let env = Environment::read(&raw).for_operator();
        validate::validate(path, raw, &env)
    }

    /// Parses and validates a configuration with the given environment values.
    pub fn parse_with(path: &str, text: &str, env: &Environment) -> Result<Self, ConfigError> {
        validate::validate(path, raw::parse(path, text)?, env)
    }
}

fn read(path: &str) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.into(),
        source,
    })
}
