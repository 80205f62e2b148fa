//! A domain-neutral unit of work (DESIGN §16). The runtime carries a task
//! through missions, recipes, the board, the dead-letter queue and traces
//! without knowing its domain: the payload is the domain's own task type as
//! JSON text (bincode cannot carry a self-describing value), checked by the
//! domain when the task is submitted and again by the agent that takes it.

use serde::{Deserialize, Serialize};

use crate::limits::{MAX_CAPABILITIES, MAX_NAME_BYTES, is_name};

/// A task's payload at most (JSON text).
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024;
/// A task's timeout at most (one day).
pub const MAX_TASK_TIMEOUT_MS: u64 = 86_400_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// What kind of work it is (`survey`, `deliver`, `cover`): the domain
    /// that knows the kind checks the payload; the board keeps one circuit
    /// breaker per kind; only agents that list the kind among their
    /// capabilities take it.
    pub kind: String,
    /// The domain's task, as JSON text.
    pub payload: String,
    /// Capabilities the agent needs beyond the kind itself.
    pub capabilities: Vec<String>,
    /// Higher goes first on the board (0 by default); ties go by cost.
    pub priority: u8,
    /// The agent gives the task up as failed after this long (0: the
    /// agent's own task timeout).
    pub timeout_ms: u64,
}

impl TaskSpec {
    pub fn new(kind: &str, payload: impl Into<String>) -> Self {
        Self {
            kind: kind.to_string(),
            payload: payload.into(),
            capabilities: Vec::new(),
            priority: 0,
            timeout_ms: 0,
        }
    }

    /// Every capability an agent must list to take the task: its kind, then
    /// the others.
    pub fn needs(&self) -> Vec<String> {
        let mut needs = vec![self.kind.clone()];
        needs.extend(
            self.capabilities
                .iter()
                .filter(|c| **c != self.kind)
                .cloned(),
        );
        needs
    }

    /// Why the task cannot be carried as it is, if so (bounds only: the
    /// payload's meaning is its domain's to check).
    pub fn violation(&self) -> Option<String> {
        if !is_name(&self.kind, MAX_NAME_BYTES) {
            return Some(format!("task kind {:.80?} is not a name", self.kind));
        }
        if self.payload.len() > MAX_PAYLOAD_BYTES {
            let len = self.payload.len();
            return Some(format!(
                "payload of {len} bytes (at most {MAX_PAYLOAD_BYTES})"
            ));
        }
        if self.capabilities.len() > MAX_CAPABILITIES {
            return Some(format!("more than {MAX_CAPABILITIES} capabilities"));
        }
        if let Some(bad) = self
            .capabilities
            .iter()
            .find(|c| !is_name(c, MAX_NAME_BYTES))
        {
            return Some(format!("capability {bad:.80?} is not a name"));
        }
        if self.timeout_ms > MAX_TASK_TIMEOUT_MS {
            return Some(format!("timeout over {MAX_TASK_TIMEOUT_MS} ms"));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_needs_its_kind_and_its_capabilities_once() {
        let mut t = TaskSpec::new("survey", "{}");
        t.capabilities = vec!["camera".into(), "survey".into()];
        assert_eq!(t.needs(), ["survey", "camera"]);
        assert_eq!(t.violation(), None);
    }

    #[test]
    fn out_of_bounds_tasks_say_why() {
        let bad_kind = TaskSpec::new("no spaces", "{}");
        assert!(bad_kind.violation().unwrap().contains("not a name"));
        let big = TaskSpec::new("survey", "x".repeat(MAX_PAYLOAD_BYTES + 1));
        assert!(big.violation().unwrap().contains("payload"));
        let mut late = TaskSpec::new("survey", "{}");
        late.timeout_ms = MAX_TASK_TIMEOUT_MS + 1;
        assert!(late.violation().unwrap().contains("timeout"));
    }
}
