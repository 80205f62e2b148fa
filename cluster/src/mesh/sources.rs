//! Samples received per publishing node, as each sample's attachment names
//! it: bounded, so a peer that invents names cannot grow the table.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Distinct publishers counted by name; the rest are counted together.
pub const MAX_SOURCES: usize = 256;
/// Where samples of publishers past the cap are counted.
pub const OTHER_SOURCES: &str = "(others)";
/// Where samples that name no node (or not a name) are counted.
pub const UNNAMED_SOURCE: &str = "(unnamed)";

/// Counts of the samples other nodes published (this node's own, which its
/// subscriptions hear too, are not counted).
pub struct Sources {
    own: String,
    counts: Mutex<BTreeMap<String, u64>>,
}

impl Sources {
    pub fn new(own: &str) -> Self {
        Self {
            own: own.to_string(),
            counts: Mutex::default(),
        }
    }

    pub fn count(&self, attachment: Option<&[u8]>) {
        let name = attachment
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .filter(|name| {
                swarmd_messages::limits::is_name(name, swarmd_messages::limits::MAX_NAME_BYTES)
            })
            .unwrap_or(UNNAMED_SOURCE);
        if name == self.own {
            return;
        }
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let key = match counts.contains_key(name) || counts.len() < MAX_SOURCES {
            true => name,
            false => OTHER_SOURCES,
        };
        *counts.entry(key.to_owned()).or_default() += 1;
    }

    /// Most samples first.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<(String, u64)> = counts.iter().map(|(k, v)| (k.clone(), *v)).collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_named_node_and_caps_invented_names() {
        let sources = Sources::new("me");
        sources.count(Some(b"me"));
        sources.count(Some(b"edge-1"));
        sources.count(Some(b"edge-1"));
        sources.count(Some(b"edge-2"));
        sources.count(None);
        sources.count(Some(b"../bad name"));
        for i in 0..MAX_SOURCES + 50 {
            sources.count(Some(format!("n{i}").as_bytes()));
        }
        let seen = sources.snapshot();
        assert_eq!(seen[0], ("(others)".to_string(), 50 + 3));
        assert!(seen.contains(&("edge-1".to_string(), 2)));
        assert!(seen.contains(&("(unnamed)".to_string(), 2)));
        assert_eq!(seen.len(), MAX_SOURCES + 1);
    }
}
