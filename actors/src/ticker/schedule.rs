//! One timer task for many tickers: the tickers that share a `TickStats`
//! (every reflex of a node, say) and a period are kept in one schedule, by
//! due instant. Its task sleeps until the earliest due tick and delivers
//! every tick due by then, so a node pays one timer and one task wake per
//! slot, not one per actor. Each ticker keeps its own due instants
//! (`start + n * period`), its pace and its at-most-one-pending rule.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::TickStats;
use crate::throttle::Pace;

/// Hands one tick to its actor; `false` once the actor is gone.
pub type Deliver = Box<dyn Fn(Instant) -> bool + Send + Sync>;

/// One ticker as its schedule sees it.
pub struct Slot {
    deliver: Deliver,
    pace: Pace,
    /// Due ticks so far, for the pace.
    count: AtomicU64,
    /// A tick waits in the actor's mailbox.
    pub pending: AtomicBool,
    /// The ticker was dropped: the slot leaves at its next due instant.
    pub stopped: AtomicBool,
}

impl Slot {
    pub fn new(deliver: Deliver, pace: Pace) -> Self {
        Self {
            deliver,
            pace,
            count: AtomicU64::new(0),
            pending: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        }
    }

    /// The due tick, delivered, skipped or throttled as the old per-actor
    /// task did. `false` when the slot is done.
    fn fire(&self, due: Instant, stats: &TickStats) -> bool {
        if self.stopped.load(Ordering::Acquire) {
            return false;
        }
        let n = self.count.fetch_add(1, Ordering::Relaxed);
        if !self.pace.delivers(n) {
            stats.throttled.fetch_add(1, Ordering::Relaxed);
        } else if self.pending.swap(true, Ordering::AcqRel) {
            stats.skipped.fetch_add(1, Ordering::Relaxed);
        } else if !(self.deliver)(due) {
            return false;
        }
        true
    }
}

/// Slots by `(due, registration number)`: the same order in every run.
#[derive(Default)]
struct Due {
    slots: BTreeMap<(Instant, u64), Arc<Slot>>,
    registered: u64,
    /// The task serving this schedule, while it runs.
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The tickers of one period and one `TickStats`.
pub struct Schedule {
    period: Duration,
    due: Mutex<Due>,
}

impl Schedule {
    pub fn new(period: Duration) -> Self {
        assert!(!period.is_zero(), "a ticker needs a period");
        Self {
            period,
            due: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Due> {
        self.due.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `slot`, first due one period from now; starts the schedule's
    /// task if none serves it.
    pub fn add(self: &Arc<Self>, slot: Arc<Slot>, stats: Arc<TickStats>) {
        let mut due = self.lock();
        due.registered += 1;
        let key = (Instant::now() + self.period, due.registered);
        due.slots.insert(key, slot);
        // A task whose runtime went away is finished without having said so.
        if due.task.as_ref().is_none_or(|task| task.is_finished()) {
            due.task = Some(tokio::spawn(self.clone().serve(stats)));
        }
    }

    /// Until no slot is left: sleep to the earliest due tick, fire every
    /// tick due by now, each slot again one period later.
    async fn serve(self: Arc<Self>, stats: Arc<TickStats>) {
        loop {
            let next = {
                let mut due = self.lock();
                let Some(((at, _), _)) = due.slots.first_key_value() else {
                    due.task = None;
                    return;
                };
                *at
            };
            tokio::time::sleep_until(next).await;
            self.fire_due(Instant::now(), &stats);
        }
    }

    fn fire_due(&self, now: Instant, stats: &TickStats) {
        let mut due = self.lock();
        while let Some(entry) = due.slots.first_entry() {
            if entry.key().0 > now {
                return;
            }
            let ((at, number), slot) = entry.remove_entry();
            if slot.fire(at, stats) {
                due.slots.insert((at + self.period, number), slot);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ractor::{Actor, ActorProcessingErr, ActorRef};
    use tokio::sync::mpsc;

    use super::super::Ticker;
    use super::*;

    struct Tick(Instant);
    impl ractor::Message for Tick {}

    /// Forwards each tick's due instant, tagged with its name.
    struct Echo;

    impl Actor for Echo {
        type Msg = Tick;
        type State = (char, mpsc::UnboundedSender<(char, Instant)>);
        type Arguments = Self::State;

        async fn pre_start(
            &self,
            _: ActorRef<Tick>,
            a: Self::State,
        ) -> Result<Self::State, ActorProcessingErr> {
            Ok(a)
        }

        async fn handle(
            &self,
            _: ActorRef<Tick>,
            Tick(due): Tick,
            s: &mut Self::State,
        ) -> Result<(), ActorProcessingErr> {
            let _ = s.1.send((s.0, due));
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn tickers_sharing_stats_share_a_task_yet_keep_their_own_instants() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let stats = Arc::new(TickStats::default());
        let period = Duration::from_millis(10);
        let start = Instant::now();
        let (a, _) = Actor::spawn(None, Echo, ('a', tx.clone())).await.unwrap();
        let (b, _) = Actor::spawn(None, Echo, ('b', tx)).await.unwrap();
        let ticker_a = Ticker::start(period, a, stats.clone(), Tick);
        tokio::time::sleep(Duration::from_millis(3)).await;
        let ticker_b = Ticker::start(period, b, stats.clone(), Tick);
        assert_eq!(
            stats.schedules.lock().unwrap().len(),
            1,
            "one schedule per period"
        );

        let mut seen = Vec::new();
        while seen.len() < 6 {
            let (who, due) = rx.recv().await.unwrap();
            let ticker = if who == 'a' { &ticker_a } else { &ticker_b };
            ticker.handled(due, Instant::now());
            seen.push((who, (due - start).as_millis()));
        }
        assert_eq!(
            seen,
            [
                ('a', 10),
                ('b', 13),
                ('a', 20),
                ('b', 23),
                ('a', 30),
                ('b', 33)
            ]
        );
        assert!(
            stats.quantile(1.0) < Duration::from_millis(1),
            "on time in virtual time"
        );

        // `b` stops; `a` is not told its tick was handled, so later ticks skip.
        drop(ticker_b);
        let (who, _) = rx.recv().await.unwrap();
        assert_eq!(who, 'a');
        tokio::time::sleep(period * 5).await;
        assert!(
            rx.try_recv().is_err(),
            "no tick while one is pending, none for a dropped ticker"
        );
        assert!(stats.skipped() >= 4, "skipped {}", stats.skipped());
        drop(ticker_a);
        tokio::time::sleep(period * 2).await;
        let schedule = stats.schedules.lock().unwrap()[&period].clone();
        assert!(
            schedule.lock().task.is_none(),
            "the task ends with its last ticker"
        );
    }
}
