//! The governor's decisions, as a pure state machine: each sample of RSS and
//! CPU in, the actions it calls for out. The actor does the measuring and
//! applies the actions.
//!
//! - Memory: at or above the budget, spawns are refused and background work
//!   is shed; both resume once RSS is below 90% of the budget (hysteresis,
//!   so one allocation does not flap the node).
//! - CPU: above the budget, the slow layers of `low` agents are throttled;
//!   if the pressure holds for `ESCALATE_AFTER` more samples, `normal` ones
//!   too. `high` agents and every reflex are never throttled. Below 70% of
//!   the budget for `RELAX_AFTER` samples, the highest throttled priority is
//!   released, one step at a time.

use swarmd_actors::throttle::Priority;

/// Samples over the CPU budget, with a priority throttled, before the next one is.
pub const ESCALATE_AFTER: u32 = 3;
/// Samples under the release line before one priority is released.
pub const RELAX_AFTER: u32 = 3;

/// The priorities throttled, in the order pressure reaches them.
const THROTTLE_ORDER: [Priority; 2] = [Priority::Low, Priority::Normal];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    pub memory_mb: Option<u64>,
    pub cpu_percent: Option<u64>,
    pub throttle_factor: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub rss_mb: u64,
    pub cpu_percent: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    MemoryOverBudget,
    MemoryRecovered,
    /// Slow layers of agents of `priority` run `factor` times slower.
    Throttle {
        priority: Priority,
        factor: u32,
    },
    /// Slow layers of agents of `priority` run at their own rate again.
    Release {
        priority: Priority,
    },
}

#[derive(Debug)]
pub struct Policy {
    budgets: Budgets,
    over_memory: bool,
    /// How many of `THROTTLE_ORDER` are throttled now.
    throttled: usize,
    /// Consecutive samples over the CPU budget, or under the release line.
    hot: u32,
    calm: u32,
}

impl Policy {
    pub fn new(budgets: Budgets) -> Self {
        assert!(budgets.throttle_factor >= 2, "a throttle must slow");
        Self {
            budgets,
            over_memory: false,
            throttled: 0,
            hot: 0,
            calm: 0,
        }
    }

    pub fn over_memory(&self) -> bool {
        self.over_memory
    }

    pub fn observe(&mut self, usage: Usage) -> Vec<Action> {
        let mut actions = Vec::new();
        self.memory(usage.rss_mb, &mut actions);
        self.cpu(usage.cpu_percent, &mut actions);
        actions
    }

    fn memory(&mut self, rss_mb: u64, actions: &mut Vec<Action>) {
        let Some(budget) = self.budgets.memory_mb else {
            return;
        };
        if !self.over_memory && rss_mb >= budget {
            self.over_memory = true;
            actions.push(Action::MemoryOverBudget);
        } else if self.over_memory && rss_mb * 10 < budget * 9 {
            self.over_memory = false;
            actions.push(Action::MemoryRecovered);
        }
    }

    fn cpu(&mut self, cpu_percent: u64, actions: &mut Vec<Action>) {
        let Some(budget) = self.budgets.cpu_percent else {
            return;
        };
        if cpu_percent > budget {
            self.calm = 0;
            self.hot += 1;
            let first = self.throttled == 0;
            if (first || self.hot > ESCALATE_AFTER) && self.throttled < THROTTLE_ORDER.len() {
                let priority = THROTTLE_ORDER[self.throttled];
                self.throttled += 1;
                self.hot = 0;
                let factor = self.budgets.throttle_factor;
                actions.push(Action::Throttle { priority, factor });
            }
        } else if cpu_percent * 10 < budget * 7 {
            self.hot = 0;
            self.calm += 1;
            if self.calm >= RELAX_AFTER && self.throttled > 0 {
                self.throttled -= 1;
                self.calm = 0;
                let priority = THROTTLE_ORDER[self.throttled];
                actions.push(Action::Release { priority });
            }
        } else {
            self.hot = 0;
            self.calm = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::new(Budgets {
            memory_mb: Some(100),
            cpu_percent: Some(50),
            throttle_factor: 10,
        })
    }

    fn usage(rss_mb: u64, cpu_percent: u64) -> Usage {
        Usage {
            rss_mb,
            cpu_percent,
        }
    }

    #[test]
    fn memory_at_the_budget_refuses_then_recovers_below_ninety_percent() {
        let mut p = policy();
        assert_eq!(p.observe(usage(99, 0)), vec![]);
        assert_eq!(p.observe(usage(100, 0)), vec![Action::MemoryOverBudget]);
        assert!(p.over_memory());
        assert_eq!(
            p.observe(usage(95, 0)),
            vec![],
            "inside the hysteresis band"
        );
        assert_eq!(p.observe(usage(89, 0)), vec![Action::MemoryRecovered]);
        assert!(!p.over_memory());
    }

    #[test]
    fn cpu_pressure_throttles_low_first_then_normal_and_never_high() {
        let mut p = policy();
        let throttle = |priority| Action::Throttle {
            priority,
            factor: 10,
        };
        assert_eq!(p.observe(usage(0, 80)), vec![throttle(Priority::Low)]);
        for _ in 0..ESCALATE_AFTER {
            assert_eq!(p.observe(usage(0, 80)), vec![]);
        }
        assert_eq!(p.observe(usage(0, 80)), vec![throttle(Priority::Normal)]);
        for _ in 0..20 {
            assert_eq!(p.observe(usage(0, 95)), vec![], "high is never throttled");
        }
    }

    #[test]
    fn calm_releases_one_priority_at_a_time_highest_first() {
        let mut p = policy();
        p.observe(usage(0, 80));
        for _ in 0..=ESCALATE_AFTER {
            p.observe(usage(0, 80));
        }
        let calm = |p: &mut Policy| {
            (0..RELAX_AFTER)
                .flat_map(|_| p.observe(usage(0, 10)))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            calm(&mut p),
            vec![Action::Release {
                priority: Priority::Normal
            }]
        );
        assert_eq!(
            calm(&mut p),
            vec![Action::Release {
                priority: Priority::Low
            }]
        );
        assert_eq!(calm(&mut p), vec![]);
    }

    #[test]
    fn between_the_release_line_and_the_budget_nothing_changes() {
        let mut p = policy();
        p.observe(usage(0, 80));
        for _ in 0..10 {
            assert_eq!(p.observe(usage(0, 45)), vec![]);
        }
    }

    #[test]
    fn no_budget_no_action() {
        let mut p = Policy::new(Budgets {
            memory_mb: None,
            cpu_percent: None,
            throttle_factor: 10,
        });
        assert_eq!(p.observe(usage(1 << 20, 10_000)), vec![]);
    }
}
