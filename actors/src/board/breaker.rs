//! A circuit breaker per task type: after `failures` failures in a row of
//! one type the board stops handing out tasks of that type (open); after
//! `cool_down_us` it lets one task through as a probe (half-open); the
//! probe's success closes the breaker, its failure opens it again.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerConfig {
    /// Failures in a row that open the breaker.
    pub failures: u32,
    /// How long it stays open before a probe.
    pub cool_down_us: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Breaker {
    Closed {
        failures: u32,
    },
    Open {
        until_us: u64,
    },
    /// One probe may be out; `probing` while it is.
    HalfOpen {
        probing: bool,
    },
}

/// A breaker's change of state, for the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Opened,
    HalfOpened,
    Closed,
}

impl Transition {
    pub fn name(self) -> &'static str {
        match self {
            Self::Opened => "opened",
            Self::HalfOpened => "half-opened",
            Self::Closed => "closed",
        }
    }
}

impl Default for Breaker {
    fn default() -> Self {
        Self::Closed { failures: 0 }
    }
}

impl Breaker {
    /// Whether a task of this type may be handed out now; an open breaker
    /// whose cool-down is over half-opens first.
    pub fn admits(&mut self, now_us: u64) -> (bool, Option<Transition>) {
        match *self {
            Self::Closed { .. } => (true, None),
            Self::Open { until_us } if now_us >= until_us => {
                *self = Self::HalfOpen { probing: false };
                (true, Some(Transition::HalfOpened))
            }
            Self::Open { .. } => (false, None),
            Self::HalfOpen { probing } => (!probing, None),
        }
    }

    /// A task of this type was handed out.
    pub fn dispatched(&mut self) {
        if let Self::HalfOpen { probing } = self {
            *probing = true;
        }
    }

    /// A task of this type was done.
    pub fn succeeded(&mut self) -> Option<Transition> {
        let was_closed = matches!(self, Self::Closed { .. });
        *self = Self::Closed { failures: 0 };
        (!was_closed).then_some(Transition::Closed)
    }

    /// A task of this type failed.
    pub fn failed(&mut self, config: &BreakerConfig, now_us: u64) -> Option<Transition> {
        let open = Self::Open {
            until_us: now_us.saturating_add(config.cool_down_us),
        };
        match self {
            Self::Closed { failures } => {
                *failures += 1;
                if *failures < config.failures.max(1) {
                    return None;
                }
            }
            Self::HalfOpen { .. } => {}
            // A late failure of a task dispatched before it opened.
            Self::Open { .. } => return None,
        }
        *self = open;
        Some(Transition::Opened)
    }

    /// A task of this type came back without an outcome (its lease ended):
    /// a probe that never answered lets another one through.
    pub fn returned(&mut self) {
        if let Self::HalfOpen { probing } = self {
            *probing = false;
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Closed { .. } => "closed",
            Self::Open { .. } => "open",
            Self::HalfOpen { .. } => "half-open",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: BreakerConfig = BreakerConfig {
        failures: 3,
        cool_down_us: 1_000,
    };

    #[test]
    fn opens_after_failures_in_a_row_half_opens_after_the_cool_down_and_closes_on_success() {
        let mut b = Breaker::default();
        assert_eq!(b.failed(&CONFIG, 0), None);
        assert_eq!(b.succeeded(), None, "a success resets the count");
        assert_eq!(b.failed(&CONFIG, 0), None);
        assert_eq!(b.failed(&CONFIG, 0), None);
        assert_eq!(b.failed(&CONFIG, 10), Some(Transition::Opened));
        assert_eq!(b.admits(500), (false, None));
        assert_eq!(b.admits(1_010), (true, Some(Transition::HalfOpened)));
        b.dispatched();
        assert_eq!(b.admits(1_020), (false, None), "one probe at a time");
        assert_eq!(b.succeeded(), Some(Transition::Closed));
        assert_eq!(b.admits(1_030), (true, None));
    }

    #[test]
    fn a_failed_probe_opens_it_again_and_a_lost_probe_lets_another_through() {
        let mut b = Breaker::Open { until_us: 100 };
        assert_eq!(b.admits(100), (true, Some(Transition::HalfOpened)));
        b.dispatched();
        b.returned();
        assert_eq!(b.admits(101), (true, None));
        b.dispatched();
        assert_eq!(b.failed(&CONFIG, 200), Some(Transition::Opened));
        assert_eq!(b, Breaker::Open { until_us: 1_200 });
        assert_eq!(b.failed(&CONFIG, 300), None, "already open");
    }
}
