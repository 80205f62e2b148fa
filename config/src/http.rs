//! `[http]`: Mission Control (the dashboard, `/api`, `/metrics`).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where the HTTP endpoint listens on cloud and `both` nodes by default.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:4680";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    pub listen: HttpListen,
    /// A 0600 file holding a `system` bearer token, besides the one the node
    /// writes into `<data-dir>/tokens/` (every bind needs a token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
}

impl Default for HttpSection {
    fn default() -> Self {
        Self {
            listen: HttpListen::Auto,
            token_file: None,
        }
    }
}

/// `auto` (the default address on cloud and `both` nodes, off on edges),
/// `off`, or a socket address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpListen {
    Auto,
    Off,
    At(SocketAddr),
}

impl FromStr for HttpListen {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "off" => Ok(Self::Off),
            _ => s.parse().map(Self::At).map_err(|_| {
                format!("{s:?} is not a socket address (e.g. {DEFAULT_HTTP_LISTEN}), auto or off")
            }),
        }
    }
}

impl fmt::Display for HttpListen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Off => f.write_str("off"),
            Self::At(addr) => addr.fmt(f),
        }
    }
}

impl Serialize for HttpListen {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HttpListen {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
