//! Per-agent rate limits on claims: a token bucket on the planner's clock,
//! in thousandths of a token so refills need no floating point.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateConfig {
    /// Claims an agent may make per second, sustained (0: unlimited).
    pub per_s: u32,
    /// Claims it may make at once after a quiet spell.
    pub burst: u32,
}

const MILLI: u64 = 1_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    milli_tokens: u64,
    at_us: u64,
}

impl Bucket {
    pub fn full(config: &RateConfig, now_us: u64) -> Self {
        Self {
            milli_tokens: u64::from(config.burst.max(1)) * MILLI,
            at_us: now_us,
        }
    }

    /// Takes a token if there is one; else how long until there is.
    pub fn take(&mut self, config: &RateConfig, now_us: u64) -> Result<(), u64> {
        if config.per_s == 0 {
            return Ok(());
        }
        self.refill(config, now_us);
        if self.milli_tokens >= MILLI {
            self.milli_tokens -= MILLI;
            return Ok(());
        }
        let missing = MILLI - self.milli_tokens;
        // milli-tokens per µs = per_s / 1_000; the wait rounds up.
        let per_s = u64::from(config.per_s);
        Err((missing * 1_000).div_ceil(per_s))
    }

    fn refill(&mut self, config: &RateConfig, now_us: u64) {
        let elapsed = now_us.saturating_sub(self.at_us);
        let earned = elapsed.saturating_mul(u64::from(config.per_s)) / 1_000;
        let cap = u64::from(config.burst.max(1)) * MILLI;
        self.milli_tokens = self.milli_tokens.saturating_add(earned).min(cap);
        // Time that earned nothing is not lost: the clock only moves on
        // by what was turned into tokens.
        if earned > 0 {
            self.at_us = now_us;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let config = RateConfig {
            per_s: 10,
            burst: 3,
        };
        let mut b = Bucket::full(&config, 0);
        for _ in 0..3 {
            assert_eq!(b.take(&config, 0), Ok(()));
        }
        assert_eq!(b.take(&config, 0), Err(100_000), "one token per 100 ms");
        assert_eq!(b.take(&config, 50_000), Err(50_000));
        assert_eq!(b.take(&config, 100_000), Ok(()));
        assert!(b.take(&config, 100_000).is_err());
        // A long quiet spell refills the burst, no more.
        for _ in 0..3 {
            assert_eq!(b.take(&config, 10_000_000), Ok(()));
        }
        assert!(b.take(&config, 10_000_000).is_err());
    }

    #[test]
    fn zero_is_unlimited() {
        let config = RateConfig { per_s: 0, burst: 0 };
        let mut b = Bucket::full(&config, 0);
        assert!((0..1000).all(|_| b.take(&config, 0).is_ok()));
    }
}
