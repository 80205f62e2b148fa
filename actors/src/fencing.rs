//! Fencing tokens (DESIGN §18): with `[cloud] ha`, every assignment carries
//! the lease revision of the cloud that made it, and a node refuses one
//! older than the newest token it has seen, so a deposed leader that did
//! not notice cannot assign anything. One [`Fence`] per node, shared by
//! its router (which learns tokens from the clouds' adverts) and its agents.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default, Clone)]
pub struct Fence(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    newest: AtomicU64,
    refused: AtomicU64,
}

impl Fence {
    /// A leader's token seen (an advert): decisions older than it are refused.
    pub fn observe(&self, token: u64) {
        self.0.newest.fetch_max(token, Ordering::SeqCst);
    }

    /// Admits a decision stamped with `token` unless a newer token was seen;
    /// `Err` holds that newest token, and the refusal is counted.
    pub fn admit(&self, token: u64) -> Result<(), u64> {
        let newest = self.0.newest.fetch_max(token, Ordering::SeqCst);
        if token < newest {
            self.0.refused.fetch_add(1, Ordering::Relaxed);
            return Err(newest);
        }
        Ok(())
    }

    pub fn newest(&self) -> u64 {
        self.0.newest.load(Ordering::SeqCst)
    }

    /// Decisions refused as stale since the node started.
    pub fn refused(&self) -> u64 {
        self.0.refused.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_older_than_the_newest_token_seen_is_refused() {
        let fence = Fence::default();
        assert_eq!(fence.admit(0), Ok(()), "no HA: token 0 passes");
        assert_eq!(fence.admit(7), Ok(()));
        assert_eq!(fence.admit(7), Ok(()), "the same leader again");
        fence.observe(9);
        assert_eq!(fence.admit(7), Err(9), "the deposed leader's");
        assert_eq!(fence.admit(9), Ok(()));
        fence.observe(3);
        assert_eq!(fence.newest(), 9, "an older advert never lowers it");
        assert_eq!(fence.refused(), 1);
    }
}
