//! Time and randomness seams. Production implementations read the OS; the
//! simulator's are seeded and follow virtual time.
//!
//! The rule for time: monotonic time, timers, timeouts and `send_after` are
//! tokio's (`tokio::time`), which the simulator runs paused, so they follow
//! virtual time with no seam of their own. Wall-clock time (timestamps on
//! records) is the one thing tokio cannot virtualize, so it alone goes
//! through [`Clock`]. `std::time::Instant`, `SystemTime::now` and
//! `std::thread::sleep` are banned by clippy.toml outside the seams.

use std::time::{Duration, SystemTime};

pub trait Clock: Send + Sync + 'static {
    /// Wall-clock time, for timestamps on records. Virtual in the simulator.
    fn wall_now(&self) -> SystemTime;
}

pub trait Entropy: Send + Sync + 'static {
    fn next_u64(&self) -> u64;

    fn fill_bytes(&self, dest: &mut [u8]);

    /// A uniformly drawn duration in `[0, upper]`, for jittered backoff.
    fn jitter(&self, upper: Duration) -> Duration {
        let upper_us = u64::try_from(upper.as_micros()).unwrap_or(u64::MAX);
        if upper_us == 0 {
            return Duration::ZERO;
        }
        Duration::from_micros(self.next_u64() % (upper_us + 1))
    }
}

/// Exponential backoff with full jitter: attempt `n` waits a uniform draw from
/// `[0, min(max, min * 2^n)]`, never less than `min / 2` so retries cannot spin.
pub fn backoff_delay(
    entropy: &dyn Entropy,
    attempt: u32,
    min: Duration,
    max: Duration,
) -> Duration {
    debug_assert!(min <= max, "backoff min {min:?} exceeds max {max:?}");
    let ceiling = min.saturating_mul(1u32 << attempt.min(20)).min(max);
    entropy.jitter(ceiling).max(min / 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Counts up: enough to check the arithmetic without any OS randomness.
    struct Counting(AtomicU64);
    impl Entropy for Counting {
        fn next_u64(&self) -> u64 {
            self.0.fetch_add(7919, Ordering::Relaxed)
        }
        fn fill_bytes(&self, dest: &mut [u8]) {
            dest.fill(self.next_u64() as u8);
        }
    }

    #[test]
    fn backoff_stays_within_floor_and_cap() {
        let e = Counting(AtomicU64::new(1));
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(5));
        for attempt in 0..40 {
            let d = backoff_delay(&e, attempt, min, max);
            let ceiling = min.saturating_mul(1 << attempt.min(20)).min(max);
            assert!(
                d >= min / 2 && d <= ceiling.max(min / 2),
                "attempt {attempt}: {d:?}"
            );
        }
    }

    #[test]
    fn jitter_of_zero_is_zero() {
        let e = Counting(AtomicU64::new(3));
        assert_eq!(e.jitter(Duration::ZERO), Duration::ZERO);
    }
}
