//! systemd's service protocol, when the node runs under it (`Type=notify`,
//! see `config/systemd/swarmd.service`): readiness once the tree is up,
//! `STOPPING=1` at shutdown, and the watchdog fed while the root supervisor
//! runs. Outside systemd (no `NOTIFY_SOCKET`) every call does nothing.

use std::time::Duration;

use ractor::{ActorRef, ActorStatus};
use sd_notify::NotifyState;
use swarmd_supervisor::SupervisorMsg;
use tracing::warn;

pub fn ready() {
    send(&[NotifyState::Ready]);
}

pub fn stopping() {
    send(&[NotifyState::Stopping]);
}

/// Feeds the watchdog at half its interval for as long as `root` runs: a
/// root supervisor that gave up (or a runtime that hangs) stops feeding it,
/// and systemd restarts the service.
pub fn feed_watchdog(root: ActorRef<SupervisorMsg>) -> Option<tokio::task::JoinHandle<()>> {
    let every = watchdog_interval()? / 2;
    let every = every.max(Duration::from_millis(10));
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if root.get_status() != ActorStatus::Running {
                return;
            }
            send(&[NotifyState::Watchdog]);
        }
    }))
}

/// `WATCHDOG_USEC`, unless `WATCHDOG_PID` names another process (as
/// libsystemd's `sd_watchdog_enabled`: an unset pid means this one).
fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    let ours = match std::env::var("WATCHDOG_PID") {
        Ok(pid) => pid.parse::<u32>().ok() == Some(std::process::id()),
        Err(_) => true,
    };
    (ours && usec > 0).then(|| Duration::from_micros(usec))
}

fn send(state: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(false, state) {
        warn!(error = %e, "cannot notify systemd");
    }
}
