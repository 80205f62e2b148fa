//! `events --follow`: show what the first answer showed, then poll for what
//! is new. In a script it runs until Ctrl-C; at the interactive prompt it
//! runs in the background, printing above the line being edited, until
//! Ctrl-C at the prompt stops it.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;

use super::{Caller, render};
use swarmd_control::{Command, EventFilter};

/// Asks for new events this often.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);
/// How far back each poll looks behind the newest event shown: events are
/// stamped when their node commits them, and a cloud receives edges' events
/// a little later. Forwarded events later than this (an edge's backlog after
/// a partition) are for `events --since`.
const FOLLOW_SLACK_US: u64 = 3_000_000;

/// Where followed events go: stdout, or above the interactive prompt.
#[derive(Clone)]
pub enum Sink {
    Stdout,
    Prompt(Arc<Mutex<dyn rustyline::ExternalPrinter + Send>>),
}

impl Sink {
    /// False once output can no longer be written.
    fn write(&self, text: &str) -> bool {
        if text.is_empty() {
            return true;
        }
        match self {
            Sink::Stdout => super::print(text) == super::Outcome::Ok,
            Sink::Prompt(printer) => printer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .print(text.trim_end().to_string())
                .is_ok(),
        }
    }
}

/// Follows until the node fails a poll or the sink is closed; the caller
/// stops it earlier by dropping (aborting) the future.
pub async fn follow(
    caller: Caller,
    line: String,
    mut filter: EventFilter,
    shown: Vec<Value>,
    json: bool,
    sink: Sink,
) -> Result<(), String> {
    let mut seen = Seen::default();
    seen.note(&shown);
    filter.within_ms = None;
    filter.limit = swarmd_control::protocol::MAX_EVENTS;
    // What the first answer left out, at or before its newest event, is not
    // news: mark that window as seen without printing it.
    filter.since_us = Some(seen.horizon());
    if let Ok(Value::Array(window)) = caller.quiet(&line, Command::Events(filter.clone())).await {
        let newest = seen.newest_us;
        let old: Vec<Value> = window
            .into_iter()
            .filter(|e| e["time_us"].as_u64().unwrap_or(0) <= newest)
            .collect();
        seen.note(&old);
    }
    loop {
        tokio::time::sleep(FOLLOW_EVERY).await;
        filter.since_us = Some(seen.horizon());
        let events = match caller.quiet(&line, Command::Events(filter.clone())).await {
            Ok(Value::Array(events)) => events,
            Ok(_) => continue,
            Err(e) => return Err(e.to_string()),
        };
        let fresh: Vec<Value> = events.into_iter().filter(|e| seen.is_new(e)).collect();
        seen.note(&fresh);
        let text: String = if json {
            render::json_lines(&Value::Array(fresh))
        } else {
            fresh
                .iter()
                .map(|e| format!("{}\n", render::event(e)))
                .collect()
        };
        if !sink.write(&text) {
            return Ok(());
        }
    }
}

/// Which events have been shown within the slack window behind the newest:
/// a poll re-reads that window, and only the unseen are printed. Bounded by
/// the events of one window.
#[derive(Default)]
struct Seen {
    newest_us: u64,
    shown: BTreeSet<(u64, String, u64)>,
}

impl Seen {
    fn key(e: &Value) -> (u64, String, u64) {
        let node = e["node"].as_str().unwrap_or_default().to_string();
        let time = e["time_us"].as_u64().unwrap_or(0);
        (time, node, e["seq"].as_u64().unwrap_or(0))
    }

    fn horizon(&self) -> u64 {
        self.newest_us.saturating_sub(FOLLOW_SLACK_US)
    }

    fn is_new(&self, e: &Value) -> bool {
        !self.shown.contains(&Self::key(e))
    }

    fn note(&mut self, events: &[Value]) {
        for e in events {
            let key = Self::key(e);
            self.newest_us = self.newest_us.max(key.0);
            self.shown.insert(key);
        }
        self.shown = self.shown.split_off(&(self.horizon(), String::new(), 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(time_us: u64, seq: u64) -> Value {
        json!({"node": "n", "seq": seq, "time_us": time_us})
    }

    #[test]
    fn a_late_event_inside_the_window_is_news_once_and_the_window_is_bounded() {
        let mut seen = Seen::default();
        seen.note(&[event(10_000_000, 1), event(10_000_001, 2)]);
        let late = event(9_000_000, 3);
        assert!(seen.is_new(&late));
        seen.note(std::slice::from_ref(&late));
        assert!(!seen.is_new(&late), "shown once");
        seen.note(&[event(20_000_000, 4)]);
        assert_eq!(
            seen.shown.len(),
            1,
            "what fell behind the window is forgotten"
        );
    }
}
