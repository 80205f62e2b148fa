//! A run's trace: one line per observation, in order, and a hash of them
//! all. One seed must give one trace, line for line.

use std::fmt::Write;

use swarmd_messages::StableHasher;

#[derive(Default)]
pub struct Trace {
    lines: Vec<String>,
    /// FNV-1a over every line, newline included.
    hash: StableHasher,
    /// Keep the lines (for `--trace`), or only hash them.
    keep: bool,
}

impl Trace {
    pub fn new(keep: bool) -> Self {
        Self {
            lines: Vec::new(),
            hash: StableHasher::new(),
            keep,
        }
    }

    pub fn line(&mut self, line: impl Into<String>) {
        let line = line.into();
        self.hash.write(line.as_bytes());
        self.hash.write(b"\n");
        if self.keep {
            self.lines.push(line);
        }
    }

    pub fn hash(&self) -> String {
        let mut out = String::new();
        let _ = write!(out, "{:016x}", self.hash.finish());
        out
    }

    pub fn lines(&self) -> &[String] {
        &self.lines
    }
}
