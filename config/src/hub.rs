//! `[hub]`: where edges' flight recorders go. `ledger` (the default): each
//! edge forwards to a cloud node's ledger over the cluster. `jetstream`:
//! edges publish to a NATS JetStream stream and cloud nodes consume it.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HubBackend {
    #[default]
    Ledger,
    Jetstream,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSection {
    #[serde(default)]
    pub backend: HubBackend,
    #[serde(default)]
    pub jetstream: JetStreamSection,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JetStreamSection {
    /// The NATS server(s), e.g. `nats://127.0.0.1:4222` (`tls://` for TLS);
    /// several separated by commas.
    pub url: String,
    /// The stream's name; created when missing.
    pub stream: String,
    /// Edges publish on `<subject_prefix>.<tenant>.events.<node>`.
    pub subject_prefix: String,
    /// The subjects the stream holds; unset: `<subject_prefix>.*.events.*`.
    /// Set it to share a stream with other subjects; it must cover the
    /// edges' subjects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subjects: Option<Vec<String>>,
    /// Copies of each message JetStream keeps (1 on a single server; 3 or 5
    /// on a cluster). An edge's cursor advances only once they are stored.
    pub replicas: usize,
    /// JetStream drops a resend with the same id within this window.
    pub duplicate_window_ms: u64,
    /// The cloud's durable consumer; unset: the node's name, so each cloud
    /// node reads the whole stream into its own ledger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer: Option<String>,
    /// A NATS credentials file (JWT and NKey seed).
    #[serde(skip_serializing_if = "Option::is_none", alias = "credentials")]
    pub credentials_file: Option<PathBuf>,
    /// User and password (instead of a credentials file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// A CA certificate (PEM) to verify a `tls://` server by; unset: the
    /// system's roots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Connecting, publishing a batch and fetching give up after this long.
    pub timeout_ms: u64,
    /// Messages a cloud fetches per pull at most.
    pub fetch_batch: usize,
}

impl Default for JetStreamSection {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            stream: "SWARMD_EVENTS".into(),
            subject_prefix: "swarmd".into(),
            subjects: None,
            replicas: 1,
            duplicate_window_ms: 120_000,
            consumer: None,
            credentials_file: None,
            user: None,
            password_file: None,
            ca_file: None,
            timeout_ms: 5_000,
            fetch_batch: 500,
        }
    }
}

impl JetStreamSection {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub fn duplicate_window(&self) -> Duration {
        Duration::from_millis(self.duplicate_window_ms)
    }

    /// Where `node` publishes `tenant`'s events.
    pub fn subject(&self, tenant: &str, node: &str) -> String {
        format!(
            "{}.{}.events.{}",
            self.subject_prefix,
            subject_token(tenant),
            subject_token(node)
        )
    }

    /// Every subject the stream holds.
    pub fn subjects(&self) -> Vec<String> {
        self.subjects
            .clone()
            .unwrap_or_else(|| vec![format!("{}.*.events.*", self.subject_prefix)])
    }
}

/// `name` as one NATS subject token: `.`, `*`, `>` and whitespace (which
/// would split or widen a subject) become `_`.
pub fn subject_token(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '.' | '*' | '>' => '_',
            c if c.is_whitespace() => '_',
            c => c,
        })
        .collect()
}

impl HubSection {
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        let j = &self.jetstream;
        if self.backend != HubBackend::Jetstream {
            return Ok(());
        }
        for url in j.url.split(',') {
            let url = url.trim();
            let ok = ["nats://", "tls://"]
                .iter()
                .any(|s| url.strip_prefix(s).is_some_and(|rest| !rest.is_empty()));
            if !ok {
                return Err((
                    "hub.jetstream.url",
                    format!("{url:?} is not a nats:// or tls:// URL"),
                ));
            }
        }
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !plain(&j.stream) {
            return Err((
                "hub.jetstream.stream",
                "must be letters, digits, '_' or '-'".into(),
            ));
        }
        if !j.subject_prefix.split('.').all(plain) {
            return Err((
                "hub.jetstream.subject_prefix",
                "must be dot-separated tokens of letters, digits, '_' or '-'".into(),
            ));
        }
        let subject_ok = |s: &String| !s.is_empty() && !s.chars().any(char::is_whitespace);
        if j.subjects
            .as_ref()
            .is_some_and(|s| s.is_empty() || !s.iter().all(subject_ok))
        {
            return Err((
                "hub.jetstream.subjects",
                "must be one or more subjects without spaces".into(),
            ));
        }
        if let Some(consumer) = &j.consumer
            && !plain(consumer)
        {
            return Err((
                "hub.jetstream.consumer",
                "must be letters, digits, '_' or '-'".into(),
            ));
        }
        if !(1..=5).contains(&j.replicas) {
            return Err(("hub.jetstream.replicas", "must be 1 to 5".into()));
        }
        if j.user.is_some() != j.password_file.is_some() {
            return Err((
                "hub.jetstream.user",
                "user and password_file go together".into(),
            ));
        }
        if j.user.is_some() && j.credentials_file.is_some() {
            return Err((
                "hub.jetstream.credentials_file",
                "either a credentials file or a user and password, not both".into(),
            ));
        }
        for (key, value) in [
            ("hub.jetstream.duplicate_window_ms", j.duplicate_window_ms),
            ("hub.jetstream.timeout_ms", j.timeout_ms),
            ("hub.jetstream.fetch_batch", j.fetch_batch as u64),
        ] {
            if value == 0 {
                return Err((key, "must be at least 1".into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_and_nodes_are_one_subject_token_each() {
        let j = JetStreamSection::default();
        assert_eq!(j.subject("acme", "edge-1"), "swarmd.acme.events.edge-1");
        assert_eq!(j.subject("a.b", "n >*"), "swarmd.a_b.events.n___");
        assert_eq!(j.subjects(), vec!["swarmd.*.events.*"]);
    }
}
