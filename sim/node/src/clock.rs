use std::time::{Duration, SystemTime};

use swarmd_supervisor::seams::Clock;
use tokio::time::Instant;

/// Virtual time: wall time is `epoch` plus the virtual time elapsed since the
/// clock was made, so a run's timestamps depend only on its seed and schedule.
/// Use it on a runtime with paused time, where tokio advances time only when
/// every task is idle.
pub struct SimClock {
    epoch: SystemTime,
    start: Instant,
}

impl SimClock {
    /// 2026-01-01T00:00:00Z, fixed so traces are comparable across runs.
    pub const EPOCH_UNIX_SECS: u64 = 1_767_225_600;

    pub fn new() -> Self {
        Self {
            epoch: SystemTime::UNIX_EPOCH + Duration::from_secs(Self::EPOCH_UNIX_SECS),
            start: Instant::now(),
        }
    }
}

impl SimClock {
    /// Virtual time since the clock was made, in µs.
    pub fn elapsed_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// The wall time the clock started at, in µs since the Unix epoch.
    pub fn epoch_us(&self) -> u64 {
        Self::EPOCH_UNIX_SECS * 1_000_000
    }
}

impl Default for SimClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SimClock {
    fn wall_now(&self) -> SystemTime {
        self.epoch + self.start.elapsed()
    }
}

/// One node's wall clock, off the shared one by `offset_us` and running
/// fast or slow by `drift_ppm` (parts per million), as an unsynchronised
/// machine's clock does. Monotonic time stays tokio's, as on a real machine.
pub struct SkewedClock {
    base: std::sync::Arc<SimClock>,
    offset_us: i64,
    drift_ppm: i64,
}

impl SkewedClock {
    pub fn new(base: std::sync::Arc<SimClock>, offset_us: i64, drift_ppm: i64) -> Self {
        assert!(drift_ppm.abs() < 1_000_000, "a clock that runs backwards");
        Self {
            base,
            offset_us,
            drift_ppm,
        }
    }
}

impl Clock for SkewedClock {
    fn wall_now(&self) -> SystemTime {
        let elapsed = self.base.elapsed_us() as i64;
        let skew = self.offset_us + elapsed * self.drift_ppm / 1_000_000;
        let base = self.base.wall_now();
        if skew >= 0 {
            base + Duration::from_micros(skew as u64)
        } else {
            base - Duration::from_micros(skew.unsigned_abs())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn wall_time_follows_virtual_time_exactly() {
        let clock = SimClock::new();
        let t0 = clock.wall_now();
        assert_eq!(
            t0.duration_since(SystemTime::UNIX_EPOCH).unwrap(),
            Duration::from_secs(SimClock::EPOCH_UNIX_SECS)
        );
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(
            clock.wall_now().duration_since(t0).unwrap(),
            Duration::from_secs(3600)
        );
    }
}
