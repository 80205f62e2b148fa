//! Which reads the control actor audits: the first of each (tenant,
//! principal, command line) within a window, and no more than a node-wide
//! rate. A `--follow` poll, a dashboard's refresh or a burst of GETs is
//! thus recorded once, not once a poll; what is left out is counted.
//! Actions are always audited. The control actor decides this itself:
//! nothing a client says makes a read go unrecorded.

use std::collections::{HashMap, VecDeque};

use tokio::time::{Duration, Instant};

/// A repeat of the same read within this window is not audited again.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(60);
/// Distinct reads remembered at most; the oldest is forgotten first.
const MAX_REMEMBERED: usize = 1024;
/// Read audits per second at most, node-wide, with bursts of this many.
const READS_PER_SECOND: f64 = 10.0;
const BURST: f64 = 50.0;

pub struct ReadAudits {
    last: HashMap<String, Instant>,
    order: VecDeque<String>,
    tokens: f64,
    refilled: Instant,
    /// Reads not audited because the rate was spent.
    pub over_rate: u64,
}

impl ReadAudits {
    pub fn new(now: Instant) -> Self {
        Self {
            last: HashMap::new(),
            order: VecDeque::new(),
            tokens: BURST,
            refilled: now,
            over_rate: 0,
        }
    }

    /// Whether this read is to be audited.
    pub fn admit(&mut self, tenant: &str, principal: &str, line: &str, now: Instant) -> bool {
        let key = format!("{tenant}\u{0}{principal}\u{0}{line}");
        if self
            .last
            .get(&key)
            .is_some_and(|at| now.duration_since(*at) < REPEAT_WINDOW)
        {
            return false;
        }
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * READS_PER_SECOND).min(BURST);
        self.refilled = now;
        if self.tokens < 1.0 {
            self.over_rate += 1;
            return false;
        }
        self.tokens -= 1.0;
        self.remember(key, now);
        true
    }

    fn remember(&mut self, key: String, now: Instant) {
        if self.last.insert(key.clone(), now).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > MAX_REMEMBERED {
            if let Some(oldest) = self.order.pop_front() {
                self.last.remove(&oldest);
            }
        }
        debug_assert!(self.last.len() == self.order.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_is_audited_once_a_window_and_a_burst_is_capped() {
        let start = Instant::now();
        let mut audits = ReadAudits::new(start);
        assert!(audits.admit("system", "console a", "nodes", start));
        assert!(!audits.admit("system", "console a", "nodes", start));
        assert!(audits.admit("system", "console b", "nodes", start));
        let later = start + REPEAT_WINDOW;
        assert!(audits.admit("system", "console a", "nodes", later));

        let mut admitted = 0;
        for i in 0..500 {
            if audits.admit("acme", "http@x", &format!("GET /api/world?{i}"), later) {
                admitted += 1;
            }
        }
        assert!(admitted <= BURST as usize, "{admitted}");
        assert!(audits.over_rate >= 450, "{}", audits.over_rate);
        let refilled = later + Duration::from_secs(1);
        assert!(audits.admit("acme", "http@x", "GET /api/board", refilled));
    }
}
