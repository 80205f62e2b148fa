//! A run's trace: one line per observation, in order, and a hash of them
//! all. One seed must give one trace, line for line.

use std::fmt::Write;

#[derive(Default)]
pub struct Trace {
    lines: Vec<String>,
    /// FNV-1a over every line, newline included.
    hash: u64,
    /// Keep the lines (for `--trace`), or only hash them.
    keep: bool,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

impl Trace {
    pub fn new(keep: bool) -> Self {
        Self {
            lines: Vec::new(),
            hash: FNV_OFFSET,
            keep,
        }
    }

    pub fn line(&mut self, line: impl Into<String>) {
        let line = line.into();
        for b in line.bytes().chain(std::iter::once(b'\n')) {
            self.hash = (self.hash ^ u64::from(b)).wrapping_mul(FNV_PRIME);
        }
        if self.keep {
            self.lines.push(line);
        }
    }

    pub fn hash(&self) -> String {
        let mut out = String::new();
        let _ = write!(out, "{:016x}", self.hash);
        out
    }

    pub fn lines(&self) -> &[String] {
        &self.lines
    }
}

/// A stable 64-bit hash of a name, to derive per-node seed streams.
pub fn fnv(text: &str) -> u64 {
    text.bytes().fold(FNV_OFFSET, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}
