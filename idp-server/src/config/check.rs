//! The helpers every section's validation uses: errors that name the key, durations, hosts.

use std::time::Duration;

use super::ConfigError;

/// Builds errors that name the file, the key and the reason.
pub(super) struct Check<'a> {
    path: &'a str,
}

impl<'a> Check<'a> {
    pub(super) fn new(path: &'a str) -> Self {
        Check { path }
    }

    /// The configuration file's path (relative files, such as a logo, are read beside it).
    pub(super) fn path(&self) -> &str {
        self.path
    }

    pub(super) fn bad(&self, key: &str, reason: &str) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.into(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    pub(super) fn duration(&self, key: &str, value: &str) -> Result<Duration, ConfigError> {
        humantime::parse_duration(value.trim()).map_err(|e| {
            self.bad(
                key,
                &format!("{value:?} is not a duration like \"30m\" or \"12h\" ({e})"),
            )
        })
    }

    pub(super) fn within(
        &self,
        key: &str,
        value: &str,
        min: Duration,
        max: Duration,
    ) -> Result<Duration, ConfigError> {
        let d = self.duration(key, value)?;
        if d < min || d > max {
            return Err(self.bad(
                key,
                &format!(
                    "must be between {} and {}",
                    humantime::format_duration(min),
                    humantime::format_duration(max)
                ),
            ));
        }
        Ok(d)
    }
}
