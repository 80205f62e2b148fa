use std::sync::Mutex;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use swarmd_supervisor::seams::Entropy;

/// A seeded ChaCha8 stream. ChaCha's output is fixed by its spec, so a seed
/// gives the same numbers on every platform and every build.
pub struct SeededEntropy {
    rng: Mutex<ChaCha8Rng>,
}

impl SeededEntropy {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }
}

impl Entropy for SeededEntropy {
    fn next_u64(&self) -> u64 {
        self.rng.lock().expect("entropy lock poisoned").next_u64()
    }

    fn fill_bytes(&self, dest: &mut [u8]) {
        self.rng
            .lock()
            .expect("entropy lock poisoned")
            .fill_bytes(dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_different_seed_different_stream() {
        let draw = |seed| {
            let e = SeededEntropy::new(seed);
            (0..16).map(|_| e.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn stream_is_pinned_across_versions() {
        // A changed value here means old seeds no longer reproduce old runs.
        let e = SeededEntropy::new(0);
        let first = [e.next_u64(), e.next_u64()];
        assert_eq!(first, [13080132717333068652, 8594738769458413623]);
    }
}
