//! Periodic ticks on the NodeCtx clock, for layer actors and the world.
//!
//! Ticks are due at fixed instants (`start + n * period`), so a late tick does
//! not push the next one back. At most one tick waits in an actor's mailbox:
//! while one is pending, due ticks are skipped and counted (the overflow
//! policy), so a slow actor is never buried under its own clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ractor::{ActorRef, Message};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Lateness of handled ticks, in power-of-two microsecond buckets.
#[derive(Default)]
pub struct TickStats {
    handled: AtomicU64,
    skipped: AtomicU64,
    /// `buckets[i]` counts ticks handled `[2^(i-1), 2^i)` µs late (`[0,1)` for 0).
    buckets: [AtomicU64; 32],
}

impl TickStats {
    pub fn record(&self, lateness: Duration) {
        let us = u64::try_from(lateness.as_micros()).unwrap_or(u64::MAX);
        let bucket = (64 - us.leading_zeros() as usize).min(31);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.handled.fetch_add(1, Ordering::Relaxed);
    }

    pub fn handled(&self) -> u64 {
        self.handled.load(Ordering::Relaxed)
    }

    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// An upper bound of the `q` quantile of lateness (the bucket's upper edge).
    pub fn quantile_upper_bound(&self, q: f64) -> Duration {
        quantile_upper_bound(&self.bucket_counts(), q)
    }

    /// Ticks handled per lateness bucket (see `buckets`); add several agents'
    /// counts, or subtract an earlier reading, before asking for quantiles.
    pub fn bucket_counts(&self) -> [u64; 32] {
        std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed))
    }
}

/// An upper bound of the `q` quantile of `counts` (a bucket's upper edge).
pub fn quantile_upper_bound(counts: &[u64; 32], q: f64) -> Duration {
    assert!((0.0..=1.0).contains(&q), "quantile {q} out of range");
    let total: u64 = counts.iter().sum();
    let wanted = ((total as f64) * q).ceil() as u64;
    let mut seen = 0;
    for (i, n) in counts.iter().enumerate() {
        seen += n;
        if seen >= wanted.max(1) {
            return Duration::from_micros(1u64 << i);
        }
    }
    Duration::ZERO
}

/// A running ticker; dropping it stops the ticks.
pub struct Ticker {
    task: JoinHandle<()>,
    pending: Arc<AtomicBool>,
    stats: Arc<TickStats>,
}

impl Ticker {
    /// Sends `tick(due)` to `actor` every `period`, starting one period from now.
    pub fn start<M: Message>(
        period: Duration,
        actor: ActorRef<M>,
        stats: Arc<TickStats>,
        tick: fn(Instant) -> M,
    ) -> Self {
        assert!(!period.is_zero(), "a ticker needs a period");
        let pending = Arc::new(AtomicBool::new(false));
        let flag = pending.clone();
        let counters = stats.clone();
        let task = tokio::spawn(async move {
            let mut due = Instant::now() + period;
            loop {
                tokio::time::sleep_until(due).await;
                if flag.swap(true, Ordering::AcqRel) {
                    counters.skipped.fetch_add(1, Ordering::Relaxed);
                } else if actor.cast(tick(due)).is_err() {
                    return;
                }
                due += period;
            }
        });
        Self {
            task,
            pending,
            stats,
        }
    }

    /// Call when handling a tick: records its lateness and lets the next one in.
    pub fn handled(&self, due: Instant, now: Instant) {
        self.stats.record(now.saturating_duration_since(due));
        self.pending.store(false, Ordering::Release);
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The period of a rate in hertz.
pub fn period_of(hz: u32) -> Duration {
    assert!(hz > 0, "a rate of 0 Hz has no period");
    Duration::from_secs(1) / hz
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_bucket_edges() {
        let stats = TickStats::default();
        for _ in 0..98 {
            stats.record(Duration::from_micros(3));
        }
        stats.record(Duration::from_micros(900));
        stats.record(Duration::from_millis(5));
        assert_eq!(stats.handled(), 100);
        assert_eq!(stats.quantile_upper_bound(0.5), Duration::from_micros(4));
        assert_eq!(
            stats.quantile_upper_bound(0.99),
            Duration::from_micros(1024)
        );
        assert_eq!(stats.quantile_upper_bound(1.0), Duration::from_micros(8192));
    }
}
