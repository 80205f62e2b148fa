//! Shutdown signals, as daemons take them: SIGINT or SIGTERM asks for an
//! orderly stop; the same signal again within [`DUPLICATE_GRACE`] is the
//! same request (a process-group delivery, as `timeout` and shells send,
//! reaches the node twice); a later or different request, or SIGQUIT at any
//! time, forces an exit.

use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::time::Instant;

/// A repeat of the first signal within this long is a duplicate delivery.
pub const DUPLICATE_GRACE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    Interrupt,
    Terminate,
    Quit,
}

impl Shutdown {
    pub fn name(self) -> &'static str {
        match self {
            Shutdown::Interrupt => "SIGINT",
            Shutdown::Terminate => "SIGTERM",
            Shutdown::Quit => "SIGQUIT",
        }
    }
}

/// SIGINT, SIGTERM and SIGQUIT, registered at startup so none is missed once
/// the node runs.
pub struct ShutdownSignals {
    interrupt: Signal,
    terminate: Signal,
    quit: Signal,
}

impl ShutdownSignals {
    pub fn register() -> std::io::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            quit: signal(SignalKind::quit())?,
        })
    }

    /// Waits for the next shutdown signal.
    pub async fn next(&mut self) -> Shutdown {
        tokio::select! {
            _ = self.interrupt.recv() => Shutdown::Interrupt,
            _ = self.terminate.recv() => Shutdown::Terminate,
            _ = self.quit.recv() => Shutdown::Quit,
        }
    }

    /// After `first` (received at `at`), waits for a signal that forces the
    /// exit: SIGQUIT, a different signal, or `first` again after the grace.
    pub async fn next_forcing(&mut self, first: Shutdown, at: Instant) -> Shutdown {
        loop {
            let signal = self.next().await;
            if forces(first, at, signal, Instant::now()) {
                return signal;
            }
            tracing::info!(
                signal = signal.name(),
                "duplicate delivery of the shutdown signal; already stopping"
            );
        }
    }
}

/// Whether `signal` at `now`, after `first` at `at`, forces the exit.
fn forces(first: Shutdown, at: Instant, signal: Shutdown, now: Instant) -> bool {
    signal == Shutdown::Quit
        || signal != first
        || now.saturating_duration_since(at) >= DUPLICATE_GRACE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_quick_repeat_of_the_same_signal_is_a_duplicate() {
        let at = Instant::now();
        let soon = at + DUPLICATE_GRACE / 10;
        let later = at + DUPLICATE_GRACE;
        use Shutdown::*;
        assert!(!forces(Terminate, at, Terminate, soon));
        assert!(forces(Terminate, at, Terminate, later));
        assert!(forces(Terminate, at, Interrupt, soon));
        assert!(forces(Interrupt, at, Quit, soon));
    }
}
