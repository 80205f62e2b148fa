//! `[board]`: the cloud's task board — how agents claim the tasks of
//! missions, and the policies that decide who gets what.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BoardSection {
    /// Which open task a claim gets: "fifo" (oldest first) or "srpt"
    /// (least work first). Across tenants, always fair share.
    pub admission: String,
    /// Live (open or claimed) tasks per partition (tenant and squad), at
    /// most; beyond, posting is refused (`Overloaded`) until tasks end.
    pub capacity: u64,
    /// A claim's lease; renewed by every status of its holder that lists
    /// the task. A lease that runs out returns the task.
    pub lease_ms: u64,
    /// Leases a task gets; then it goes to the dead-letter queue.
    pub max_attempts: u64,
    /// Tasks an agent holds at once (in hand and queued).
    pub tasks_per_agent: u64,
    /// Claims an agent may make per second (0: unlimited), and at once.
    pub claims_per_s: u64,
    pub claim_burst: u64,
    /// Failures in a row of one task type that open its circuit breaker,
    /// and how long it stays open before one probe task goes.
    pub breaker_failures: u64,
    pub breaker_cool_down_ms: u64,
}

impl Default for BoardSection {
    fn default() -> Self {
        Self {
            admission: "fifo".into(),
            capacity: 1024,
            lease_ms: 30_000,
            max_attempts: 5,
            tasks_per_agent: 2,
            claims_per_s: 20,
            claim_burst: 10,
            breaker_failures: 5,
            breaker_cool_down_ms: 10_000,
        }
    }
}

impl BoardSection {
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        let b = self;
        if !matches!(b.admission.as_str(), "fifo" | "srpt") {
            let why = format!("{:?} is not a policy: fifo or srpt", b.admission);
            return Err(("board.admission", why));
        }
        Ok(())
    }
}
