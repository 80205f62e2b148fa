//! Periodic ticks on the NodeCtx clock, for layer actors and the world.
//!
//! Ticks are due at fixed instants (`start + n * period`), so a late tick does
//! not push the next one back. At most one tick waits in an actor's mailbox:
//! while one is pending, due ticks are skipped and counted (the overflow
//! policy), so a slow actor is never buried under its own clock. Tickers that
//! share a `TickStats` and a period share one timer task ([`schedule`]).

mod schedule;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hdrhistogram::Histogram;
use ractor::{ActorRef, Message};
use tokio::time::Instant;

use crate::throttle::Pace;
use schedule::{Schedule, Slot};

/// Lateness above this is recorded as this (a tick a minute late is lost anyway).
const MAX_LATENESS_US: u64 = 60_000_000;
/// 1% resolution across the whole range, in about 20 KiB per histogram.
const SIGNIFICANT_DIGITS: u8 = 2;

/// Lateness of handled ticks (µs, HdrHistogram) and counts of handled and
/// skipped ticks. One is shared by every actor of a kind on a node (every
/// agent's reflex, say), so its size does not grow with the agents.
pub struct TickStats {
    handled: AtomicU64,
    skipped: AtomicU64,
    /// Due ticks not delivered because the layer was throttled.
    throttled: AtomicU64,
    lateness: Mutex<Histogram<u64>>,
    /// The schedules of the tickers that report here, by period.
    schedules: Mutex<BTreeMap<Duration, Arc<Schedule>>>,
}

impl Default for TickStats {
    fn default() -> Self {
        Self {
            handled: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            lateness: Mutex::new(empty_lateness()),
            schedules: Mutex::default(),
        }
    }
}

/// An empty lateness histogram, µs from 1 to `MAX_LATENESS_US`.
pub fn empty_lateness() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENESS_US, SIGNIFICANT_DIGITS)
        .expect("constant histogram bounds are valid")
}

impl TickStats {
    pub fn record(&self, lateness: Duration) {
        let us = u64::try_from(lateness.as_micros()).unwrap_or(u64::MAX);
        self.lateness
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .saturating_record(us);
        self.handled.fetch_add(1, Ordering::Relaxed);
    }

    pub fn handled(&self) -> u64 {
        self.handled.load(Ordering::Relaxed)
    }

    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// The `q` quantile of lateness so far.
    pub fn quantile(&self, q: f64) -> Duration {
        quantile(&self.lateness(), q)
    }

    /// A copy of the lateness histogram; subtract an earlier copy for a window.
    pub fn lateness(&self) -> Histogram<u64> {
        self.lateness
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The `q` quantile of a lateness histogram (µs values).
pub fn quantile(lateness: &Histogram<u64>, q: f64) -> Duration {
    assert!((0.0..=1.0).contains(&q), "quantile {q} out of range");
    Duration::from_micros(lateness.value_at_quantile(q))
}

/// A running ticker; dropping it stops the ticks.
pub struct Ticker {
    slot: Arc<Slot>,
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
        Self::start_paced(period, actor, stats, tick, Pace::steady())
    }

    /// As `start`, delivering only the due ticks `pace` lets through (the
    /// others are counted as throttled).
    pub fn start_paced<M: Message>(
        period: Duration,
        actor: ActorRef<M>,
        stats: Arc<TickStats>,
        tick: fn(Instant) -> M,
        pace: Pace,
    ) -> Self {
        assert!(!period.is_zero(), "a ticker needs a period");
        let deliver = Box::new(move |due| actor.cast(tick(due)).is_ok());
        let slot = Arc::new(Slot::new(deliver, pace));
        let schedule = stats
            .schedules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(period)
            .or_insert_with(|| Arc::new(Schedule::new(period)))
            .clone();
        schedule.add(slot.clone(), stats.clone());
        Self { slot, stats }
    }

    /// Call when handling a tick: records its lateness and lets the next one in.
    pub fn handled(&self, due: Instant, now: Instant) {
        self.stats.record(now.saturating_duration_since(due));
        self.slot.pending.store(false, Ordering::Release);
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.slot.stopped.store(true, Ordering::Release);
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
    fn quantiles_resolve_within_one_percent() {
        let stats = TickStats::default();
        for _ in 0..98 {
            stats.record(Duration::from_micros(300));
        }
        stats.record(Duration::from_micros(1_700));
        stats.record(Duration::from_millis(5));
        assert_eq!(stats.handled(), 100);
        let near = |d: Duration, us: f64| (d.as_micros() as f64 - us).abs() <= us * 0.01;
        assert!(
            near(stats.quantile(0.5), 300.0),
            "{:?}",
            stats.quantile(0.5)
        );
        assert!(
            near(stats.quantile(0.99), 1_700.0),
            "{:?}",
            stats.quantile(0.99)
        );
        assert!(
            near(stats.quantile(1.0), 5_000.0),
            "{:?}",
            stats.quantile(1.0)
        );
    }

    #[test]
    fn a_window_is_a_later_copy_minus_an_earlier_one() {
        let stats = TickStats::default();
        stats.record(Duration::from_millis(40));
        let before = stats.lateness();
        stats.record(Duration::from_micros(100));
        let mut window = stats.lateness();
        window.subtract(&before).expect("same bounds");
        assert_eq!(window.len(), 1);
        assert!(quantile(&window, 1.0) < Duration::from_micros(102));
    }

    #[test]
    fn lateness_beyond_the_range_is_kept_at_its_top() {
        let stats = TickStats::default();
        stats.record(Duration::from_secs(3600));
        assert_eq!(stats.handled(), 1);
        assert!(stats.quantile(1.0) >= Duration::from_secs(59));
    }
}
