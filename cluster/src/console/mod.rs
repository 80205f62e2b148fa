//! `swarmd console`: the operator's REPL. It connects to one node as a
//! hidden client and sends each command to that node's `control` actor.
//! Commands come from `-c`, from stdin when it is not a terminal, or from
//! a line editor with history and completion of commands and live names.

mod client;
mod editor;
pub mod parse;
mod render;

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;
use swarmd_config::HostPort;

pub use client::Client;
use parse::{COMMANDS, Parsed};
pub use render::event as event_line;

use crate::control::{Command, ControlReply, ControlRequest, EventFilter};

/// `--follow` asks for new events this often.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);
/// How far back each `--follow` poll looks behind the newest event shown:
/// events are stamped when their node commits them, and a cloud receives
/// edges' events a little later. Forwarded events later than this (an
/// edge's backlog after a partition) are for `events --since`.
const FOLLOW_SLACK_US: u64 = 3_000_000;
/// Exit code when the console cannot connect (wrong cookie, nothing listening).
pub const EXIT_UNREACHABLE: u8 = 2;

pub struct ConsoleOptions {
    pub addr: HostPort,
    pub cookie: String,
    pub tls: Option<crate::transport::Tls>,
    pub tenant: String,
    pub json: bool,
    pub commands: Option<String>,
    pub history: Option<std::path::PathBuf>,
    /// Print each command's round trip to stderr.
    pub timing: bool,
}

pub struct Session {
    client: Client,
    tenant: String,
    principal: String,
    json: bool,
    timing: bool,
}

pub fn run(options: ConsoleOptions) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    let connected = runtime.block_on(Client::connect(
        &options.addr,
        &options.cookie,
        options.tls.as_ref(),
    ));
    let client = match connected {
        Ok(c) => c,
        Err(why) => return fail(&format!("cannot connect to {}: {why}", options.addr)),
    };
    let session = Session {
        principal: format!("console@{}", std::process::id()),
        client,
        tenant: options.tenant.clone(),
        json: options.json,
        timing: options.timing,
    };
    let ok = match &options.commands {
        Some(script) => runtime.block_on(session.run_script(script.split(';'))),
        None if !std::io::stdin().is_terminal() => {
            let lines: Vec<String> = std::io::stdin().lines().map_while(Result::ok).collect();
            runtime.block_on(session.run_script(lines.iter().map(String::as_str)))
        }
        None => editor::interactive(&runtime, &session, options.history.as_deref()),
    };
    runtime.shutdown_timeout(Duration::from_millis(200));
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn fail(why: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "swarmd console: {why}");
    ExitCode::from(EXIT_UNREACHABLE)
}

/// What a line did: go on, or leave the session.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
    Quit,
}

impl Session {
    /// Runs every line; true if none failed.
    async fn run_script<'a>(&self, lines: impl Iterator<Item = &'a str>) -> bool {
        let mut ok = true;
        for line in lines {
            match self.run_line(line).await {
                Outcome::Ok => {}
                Outcome::Failed => ok = false,
                Outcome::Quit => break,
            }
        }
        ok
    }

    pub async fn run_line(&self, line: &str) -> Outcome {
        let (parsed, json) = match parse::parse_line(line) {
            Ok(p) => p,
            Err(e) => return error(&e.to_string()),
        };
        let json = json || self.json;
        match parsed {
            Parsed::Empty => Outcome::Ok,
            Parsed::Quit => Outcome::Quit,
            Parsed::Help(topic) => help(topic.as_deref()),
            Parsed::Trace(command) => match self.request(line, command.clone()).await {
                Ok(value) if json => print(&render::json_lines(&value)),
                Ok(value) => print(&render::trace(&value)),
                Err(e) => error(&e.to_string()),
            },
            Parsed::Run { command, follow } => {
                let result = self.request(line, command.clone()).await;
                let shown = match (&result, follow) {
                    (Ok(Value::Array(events)), true) => events.clone(),
                    _ => Vec::new(),
                };
                let outcome = show(&command, result, json);
                match (follow, command, outcome) {
                    (true, Command::Events(filter), Outcome::Ok) => {
                        self.follow(line, filter, &shown, json).await
                    }
                    (_, _, outcome) => outcome,
                }
            }
        }
    }

    async fn request(&self, line: &str, command: Command) -> ControlReply {
        self.send(line, command, false).await
    }

    /// A read the operator already asked for (a `--follow` poll, names for
    /// completion): not audited again.
    async fn repeat(&self, line: &str, command: Command) -> ControlReply {
        self.send(line, command, true).await
    }

    async fn send(&self, line: &str, command: Command, repeat: bool) -> ControlReply {
        let request = ControlRequest {
            tenant: self.tenant.clone(),
            principal: self.principal.clone(),
            line: line.trim().to_string(),
            command,
            repeat,
        };
        let started = tokio::time::Instant::now();
        let reply = self.client.call(&request).await;
        if self.timing && !repeat {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let _ = writeln!(std::io::stderr(), "({ms:.2} ms)");
        }
        reply
    }

    /// Polls for events after the newest seen, until Ctrl-C (or the node goes).
    async fn follow(
        &self,
        line: &str,
        mut filter: EventFilter,
        shown: &[Value],
        json: bool,
    ) -> Outcome {
        let mut seen = Seen::default();
        seen.note(shown);
        // What the first answer left out, at or before its newest event, is
        // not news: mark the window as seen without printing it.
        filter.since_us = Some(seen.newest_us.saturating_sub(FOLLOW_SLACK_US));
        filter.within_ms = None;
        filter.limit = crate::control::protocol::MAX_EVENTS;
        if let Ok(Value::Array(window)) = self.repeat(line, Command::Events(filter.clone())).await {
            let newest = seen.newest_us;
            let old: Vec<Value> = window
                .into_iter()
                .filter(|e| e["time_us"].as_u64().unwrap_or(0) <= newest)
                .collect();
            seen.note(&old);
        }
        filter.within_ms = None;
        filter.limit = crate::control::protocol::MAX_EVENTS;
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        loop {
            filter.since_us = Some(seen.newest_us.saturating_sub(FOLLOW_SLACK_US));
            tokio::select! {
                _ = &mut interrupted => return Outcome::Ok,
                _ = tokio::time::sleep(FOLLOW_EVERY) => {}
            }
            let events = match self.repeat(line, Command::Events(filter.clone())).await {
                Ok(Value::Array(events)) => events,
                Ok(_) => continue,
                Err(e) => return error(&e.to_string()),
            };
            let fresh: Vec<Value> = events.into_iter().filter(|e| seen.is_new(e)).collect();
            seen.note(&fresh);
            let text = if json {
                render::json_lines(&Value::Array(fresh))
            } else {
                fresh
                    .iter()
                    .map(|e| format!("{}\n", render::event(e)))
                    .collect()
            };
            print(&text);
        }
    }

    /// Names to complete: nodes and agents, fetched live.
    pub async fn live_names(&self) -> Vec<String> {
        let mut names = BTreeSet::new();
        for command in [Command::Nodes, Command::Agents { node: None }] {
            if let Ok(Value::Array(rows)) = self.repeat("(completion)", command).await {
                for row in rows {
                    for key in ["name", "id"] {
                        if let Some(n) = row[key].as_str() {
                            names.insert(n.to_string());
                        }
                    }
                }
            }
        }
        names.into_iter().collect()
    }
}

/// Which events `--follow` has shown within the slack window behind the
/// newest: a poll re-reads that window, and only the unseen are printed.
/// Bounded by the events of one window.
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

    fn is_new(&self, e: &Value) -> bool {
        !self.shown.contains(&Self::key(e))
    }

    fn note(&mut self, events: &[Value]) {
        for e in events {
            let key = Self::key(e);
            self.newest_us = self.newest_us.max(key.0);
            self.shown.insert(key);
        }
        let horizon = self.newest_us.saturating_sub(FOLLOW_SLACK_US);
        self.shown = self.shown.split_off(&(horizon, String::new(), 0));
    }
}

fn show(command: &Command, result: ControlReply, json: bool) -> Outcome {
    match result {
        Ok(value) if json => print(&render::json_lines(&value)),
        Ok(value) => print(&render::human(command, &value)),
        Err(e) => error(&e.to_string()),
    }
}

fn print(text: &str) -> Outcome {
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return Outcome::Quit;
    }
    Outcome::Ok
}

fn error(why: &str) -> Outcome {
    let _ = writeln!(std::io::stderr(), "error: {why}");
    Outcome::Failed
}

fn help(topic: Option<&str>) -> Outcome {
    let text = match topic {
        None => {
            let mut text = String::from("commands (help CMD for one):\n");
            for (name, synopsis) in COMMANDS {
                let first = synopsis.lines().next().unwrap_or(name);
                text.push_str(&format!("  {first}\n"));
            }
            text
        }
        Some(cmd) => match COMMANDS.iter().find(|(name, _)| *name == cmd) {
            Some((_, synopsis)) => format!("{synopsis}\n"),
            None => return error(&format!("no command {cmd:?}; try `help`")),
        },
    };
    print(&text)
}
