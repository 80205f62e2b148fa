//! Deadlocks: tasks wait while no agent has moved for a while of simulated
//! time. The driver judges them only while no fault is in effect (a
//! partition or a crash can hold agents still for good reasons).

use std::time::Duration;

use swarmd_messages::swarm::Cell;

/// No agent moved for this long while tasks waited: a deadlock.
pub const DEADLOCK_AFTER: Duration = Duration::from_secs(60);

pub struct DeadlockWatch {
    after_us: u64,
    last: Vec<(String, Cell)>,
    still_since_us: u64,
    reported: bool,
    pub deadlocks: u64,
}

impl DeadlockWatch {
    pub fn new(after: Duration) -> Self {
        assert!(!after.is_zero(), "a deadlock takes some time to tell");
        Self {
            after_us: after.as_micros() as u64,
            last: Vec::new(),
            still_since_us: 0,
            reported: false,
            deadlocks: 0,
        }
    }

    /// Starts timing stillness afresh at `now_us` (a fault began or ended).
    pub fn reset(&mut self, now_us: u64) {
        self.still_since_us = now_us;
        self.reported = false;
    }

    /// One look at the floor: the violation, once per deadlock.
    pub fn look(
        &mut self,
        now_us: u64,
        agents: &[(String, Cell)],
        waiting: usize,
    ) -> Option<String> {
        if agents != self.last.as_slice() || waiting == 0 {
            self.last = agents.to_vec();
            self.reset(now_us);
            return None;
        }
        let still_us = now_us - self.still_since_us;
        if still_us < self.after_us || self.reported {
            return None;
        }
        self.reported = true;
        self.deadlocks += 1;
        let at: Vec<String> = agents.iter().map(|(n, c)| format!("{n}@{c}")).collect();
        Some(format!(
            "deadlock: {waiting} tasks wait and no agent has moved for {} s (since {}us): {}",
            still_us / 1_000_000,
            self.still_since_us,
            at.join(" ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(x: i32) -> Vec<(String, Cell)> {
        vec![("a".into(), Cell::new(x, 0)), ("b".into(), Cell::new(5, 0))]
    }

    #[test]
    fn stillness_with_tasks_waiting_is_a_deadlock_once() {
        let mut watch = DeadlockWatch::new(Duration::from_secs(10));
        assert_eq!(watch.look(0, &at(1), 2), None);
        assert_eq!(watch.look(9_000_000, &at(1), 2), None);
        let found = watch.look(10_000_000, &at(1), 2).expect("a deadlock");
        assert!(
            found.contains("2 tasks wait") && found.contains("a@(1,0)"),
            "{found}"
        );
        assert_eq!(watch.look(20_000_000, &at(1), 2), None, "reported once");
        assert_eq!(watch.deadlocks, 1);
    }

    #[test]
    fn moving_or_idle_agents_are_no_deadlock() {
        let mut watch = DeadlockWatch::new(Duration::from_secs(10));
        for t in 0..100u64 {
            let x = (t % 2) as i32;
            assert_eq!(watch.look(t * 1_000_000, &at(x), 2), None, "moving");
        }
        for t in 100..200u64 {
            assert_eq!(watch.look(t * 1_000_000, &at(0), 0), None, "nothing to do");
        }
        watch.look(200_000_000, &at(0), 1);
        watch.reset(205_000_000);
        assert_eq!(
            watch.look(214_000_000, &at(0), 1),
            None,
            "timed from the reset"
        );
        assert_eq!(watch.deadlocks, 0);
    }
}
