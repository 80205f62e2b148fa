use std::fmt;

/// A configuration problem, located precisely enough for a user to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The file could not be read at all.
    Read { origin: String, reason: String },
    /// The file is not valid TOML.
    Syntax { origin: String, reason: String },
    /// A key is unknown, has the wrong type, or holds an invalid value.
    Invalid {
        origin: String,
        key: String,
        reason: String,
    },
}

impl ConfigError {
    pub fn invalid(origin: &str, key: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            origin: origin.to_owned(),
            key: key.to_owned(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { origin, reason } => write!(f, "{origin}: cannot read: {reason}"),
            Self::Syntax { origin, reason } => write!(f, "{origin}: invalid TOML: {reason}"),
            Self::Invalid {
                origin,
                key,
                reason,
            } => write!(f, "{origin}: {key}: {reason}"),
        }
    }
}

impl std::error::Error for ConfigError {}
