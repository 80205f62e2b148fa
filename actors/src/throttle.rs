//! Agents' priorities and the node-wide throttle of their slow layers.
//!
//! Under CPU pressure the node's governor slows the Supervision and Situation
//! layers of its lowest-priority agents by a factor: their tickers deliver
//! one due tick in `factor` and count the rest as throttled. Reflexes never
//! take a pace, so safety keeps its rate whatever the governor does.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// An agent's claim on the node's CPU (spec parameter `priority`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
}

impl Priority {
    pub const ALL: [Priority; 3] = [Priority::Low, Priority::Normal, Priority::High];

    pub fn name(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl std::str::FromStr for Priority {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "low" => Ok(Priority::Low),
            "normal" => Ok(Priority::Normal),
            "high" => Ok(Priority::High),
            _ => Err("expected low, normal or high".into()),
        }
    }
}

/// How many times slower each priority's slow layers run (1: their own
/// rate). Shared by every agent on a node; the governor sets it.
#[derive(Clone, Default)]
pub struct Throttle {
    factors: Arc<[AtomicU32; 3]>,
}

impl Throttle {
    /// Slow layers of `priority` run `factor` times slower (1 or 0: not at all).
    pub fn set(&self, priority: Priority, factor: u32) {
        self.factors[priority.index()].store(factor, Ordering::Relaxed);
    }

    pub fn factor(&self, priority: Priority) -> u32 {
        self.factors[priority.index()]
            .load(Ordering::Relaxed)
            .max(1)
    }

    /// What a slow layer of an agent of `priority` paces its ticks by.
    pub fn pace(&self, priority: Priority) -> Pace {
        Pace(Some((self.clone(), priority)))
    }
}

/// Whether a ticker delivers every due tick (`Pace::steady`) or one in the
/// throttle's factor for a priority.
#[derive(Clone, Default)]
pub struct Pace(Option<(Throttle, Priority)>);

impl Pace {
    pub fn steady() -> Self {
        Self(None)
    }

    /// Whether the `n`-th due tick (from 0) is delivered.
    pub fn delivers(&self, n: u64) -> bool {
        match &self.0 {
            None => true,
            Some((throttle, priority)) => n.is_multiple_of(u64::from(throttle.factor(*priority))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttled_priority_delivers_one_tick_in_its_factor_and_others_every_tick() {
        let throttle = Throttle::default();
        throttle.set(Priority::Low, 4);
        let low = throttle.pace(Priority::Low);
        let high = throttle.pace(Priority::High);
        let delivered = |pace: &Pace| (0..100).filter(|n| pace.delivers(*n)).count();
        assert_eq!(delivered(&low), 25);
        assert_eq!(delivered(&high), 100);
        assert_eq!(delivered(&Pace::steady()), 100);
        throttle.set(Priority::Low, 1);
        assert_eq!(delivered(&low), 100);
    }

    #[test]
    fn priorities_parse_by_name_and_order_low_to_high() {
        assert_eq!("low".parse(), Ok(Priority::Low));
        assert_eq!(" high ".parse(), Ok(Priority::High));
        assert!("urgent".parse::<Priority>().is_err());
        assert!(Priority::Low < Priority::Normal && Priority::Normal < Priority::High);
    }
}
