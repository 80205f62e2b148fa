use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// OTP restart intensity: more than `max_restarts` restarts within `period`
/// makes the supervisor give up and escalate to its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intensity {
    pub max_restarts: u32,
    pub period: Duration,
}

impl Default for Intensity {
    /// OTP's defaults: intensity 1, period 5 s.
    fn default() -> Self {
        Self {
            max_restarts: 1,
            period: Duration::from_secs(5),
        }
    }
}

/// The sliding window of recent restart times. Bounded by `max_restarts + 1`.
#[derive(Debug, Default)]
pub struct RestartWindow {
    times: VecDeque<Instant>,
}

impl RestartWindow {
    /// Restarts currently inside the window.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Records a restart at `now`; returns false when the intensity is exceeded.
    pub fn admit(&mut self, limit: Intensity, now: Instant) -> bool {
        // A deliberately broken build, to show the simulator's checker catch it.
        if cfg!(feature = "bug-ignore-intensity") {
            return true;
        }
        while let Some(&oldest) = self.times.front() {
            if now.duration_since(oldest) >= limit.period {
                self.times.pop_front();
            } else {
                break;
            }
        }
        self.times.push_back(now);
        let within = self.times.len() <= limit.max_restarts as usize;
        if !within {
            self.times.pop_front();
        }
        debug_assert!(self.times.len() <= limit.max_restarts as usize + 1);
        within
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn window_is_exact_at_the_period_boundary() {
        let limit = Intensity {
            max_restarts: 2,
            period: Duration::from_secs(10),
        };
        let mut w = RestartWindow::default();
        let t0 = Instant::now();
        assert!(w.admit(limit, t0));
        assert!(w.admit(limit, t0 + Duration::from_secs(1)));
        assert!(
            !w.admit(limit, t0 + Duration::from_millis(9_999)),
            "3 in <10s"
        );
        let mut w = RestartWindow::default();
        assert!(w.admit(limit, t0));
        assert!(w.admit(limit, t0 + Duration::from_secs(1)));
        assert!(
            w.admit(limit, t0 + Duration::from_secs(10)),
            "first one aged out"
        );
    }
}
