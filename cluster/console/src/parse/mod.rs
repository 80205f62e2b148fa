//! The console's command language: one command per line (or `;`-separated
//! with `-c`), words split on whitespace, `"..."` quoting a word, and JSON
//! taking the rest of the line.

mod recipe;

use serde_json::Value;

pub use super::help::COMMANDS;
use swarmd_control::protocol::ReplayAt;
use swarmd_control::{Command, EventFilter};

/// Lines longer than this are refused before they are split.
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// `events` shows this many when no `--limit` is given.
pub const DEFAULT_LIMIT: usize = 50;

#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Empty,
    Help(Option<String>),
    Quit,
    /// A command for the node; `follow` keeps `events` streaming.
    Run {
        command: Command,
        follow: bool,
    },
    /// `trace ID`: every event of a trace, shown as a tree of spans.
    Trace(Command),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError(msg.into()))
}

/// A line and whether it asked for JSON output (`--json` anywhere among
/// its words, except inside `send`'s JSON).
pub fn parse_line(line: &str) -> Result<(Parsed, bool), ParseError> {
    let trimmed = line.trim_start();
    if trimmed.starts_with("send ") || !line.split_whitespace().any(|w| w == "--json") {
        return Ok((parse(line)?, false));
    }
    let rest: Vec<&str> = line.split_whitespace().filter(|w| *w != "--json").collect();
    Ok((parse(&rest.join(" "))?, true))
}

pub fn parse(line: &str) -> Result<Parsed, ParseError> {
    if line.len() > MAX_LINE_BYTES {
        return err(format!("a line is at most {MAX_LINE_BYTES} bytes"));
    }
    let line = line.trim();
    let (word, rest) = split_word(line);
    let rest = rest.trim_start();
    match word {
        "" => Ok(Parsed::Empty),
        "help" | "?" => Ok(Parsed::Help(words(rest)?.into_iter().next())),
        "quit" | "exit" => no_args(rest, Parsed::Quit),
        "nodes" => no_args(rest, run(Command::Nodes)),
        "tree" => Ok(run(Command::Tree {
            node: optional(rest)?,
        })),
        "agents" => Ok(run(Command::Agents {
            node: optional(rest)?,
        })),
        "stats" => Ok(run(Command::Stats {
            node: optional(rest)?,
        })),
        "events" => events(rest),
        "trace" => match words(rest)?.as_slice() {
            [id] => {
                let filter = EventFilter {
                    trace: Some(id.to_lowercase()),
                    limit: swarmd_control::protocol::MAX_EVENTS,
                    ..EventFilter::default()
                };
                Ok(Parsed::Trace(Command::Events(filter)))
            }
            _ => err("usage: trace ID"),
        },
        "send" => {
            let (path, message) = path_and_json(rest, "send PATH JSON")?;
            Ok(run(Command::Send { path, message }))
        }
        "call" => {
            let (path, message) = path_and_json(rest, "call PATH JSON")?;
            Ok(run(Command::Call { path, message }))
        }
        "mission" if rest.trim_start().starts_with("--recipe") => recipe::parse(rest),
        "mission" => {
            let (goal, after) = json_prefix(rest, "mission JSON")?;
            no_args(after, run(Command::Mission { goal }))
        }
        "missions" => no_args(rest, run(Command::Missions)),
        "board" => no_args(rest, run(Command::Board)),
        "dlq" => recipe::dlq(rest),
        "world" => no_args(rest, run(Command::World)),
        "spawn" => spawn(rest),
        "stop" => match words(rest)?.as_slice() {
            [agent] => Ok(run(Command::Stop {
                agent: agent.clone(),
            })),
            _ => err("usage: stop AGENT"),
        },
        "replay" => replay(rest),
        "estop" => Ok(run(Command::Estop {
            agent: agent_or_all(rest)?,
        })),
        "resume" => Ok(run(Command::Resume {
            agent: agent_or_all(rest)?,
        })),
        "kill" => kill(rest),
        other => err(format!("unknown command {other:?}; try `help`")),
    }
}

pub(super) fn run(command: Command) -> Parsed {
    Parsed::Run {
        command,
        follow: false,
    }
}

fn no_args(rest: &str, parsed: Parsed) -> Result<Parsed, ParseError> {
    if rest.is_empty() {
        Ok(parsed)
    } else {
        err(format!("unexpected {rest:?}"))
    }
}

fn optional(rest: &str) -> Result<Option<String>, ParseError> {
    match words(rest)?.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        [_, extra, ..] => err(format!("unexpected {extra:?}")),
    }
}

fn agent_or_all(rest: &str) -> Result<Option<String>, ParseError> {
    Ok(optional(rest)?.filter(|a| a != "all"))
}

/// The first word and what follows it.
fn split_word(s: &str) -> (&str, &str) {
    s.split_once(char::is_whitespace).unwrap_or((s, ""))
}

/// Splits on whitespace; `"..."` is one word (`\"` and `\\` escape).
pub(super) fn words(s: &str) -> Result<Vec<String>, ParseError> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' {
            chars.next();
            loop {
                match chars.next() {
                    None => return err("unterminated quote"),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(e) => word.push(e),
                        None => return err("unterminated quote"),
                    },
                    Some(other) => word.push(other),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        out.push(word);
    }
    Ok(out)
}

/// One JSON value at the start of `s`, and what follows it.
fn json_prefix<'a>(s: &'a str, usage: &str) -> Result<(Value, &'a str), ParseError> {
    let s = s.trim_start();
    if s.is_empty() {
        return err(format!("usage: {usage}"));
    }
    let mut values = serde_json::Deserializer::from_str(s).into_iter::<Value>();
    match values.next() {
        Some(Ok(value)) => Ok((value, s[values.byte_offset()..].trim())),
        Some(Err(e)) => err(format!("the message is not JSON: {e}")),
        None => err(format!("usage: {usage}")),
    }
}

fn path_and_json(rest: &str, usage: &str) -> Result<(String, Value), ParseError> {
    let (path, json) = split_word(rest);
    if path.is_empty() {
        return err(format!("usage: {usage}"));
    }
    let (message, after) = json_prefix(json, usage)?;
    if !after.is_empty() {
        return err(format!("unexpected {after:?} after the JSON"));
    }
    Ok((path.to_string(), message))
}

fn spawn(rest: &str) -> Result<Parsed, ParseError> {
    let usage = "spawn KIND JSON [--node N | --place] [--supervised]";
    let (kind, json) = split_word(rest);
    if kind.is_empty() {
        return err(format!("usage: {usage}"));
    }
    let (spec, after) = json_prefix(json, usage)?;
    let mut flags = words(after)?;
    let supervised = flags.last().is_some_and(|f| f == "--supervised");
    if supervised {
        flags.pop();
    }
    let (node, place) = match flags.as_slice() {
        [] => (None, false),
        [flag, node] if flag == "--node" => (Some(node.clone()), false),
        [flag] if flag == "--place" => (None, true),
        _ => return err(format!("unexpected {after:?}; usage: {usage}")),
    };
    Ok(run(Command::Spawn {
        kind: kind.to_string(),
        spec,
        node,
        place,
        supervised,
    }))
}

fn replay(rest: &str) -> Result<Parsed, ParseError> {
    let usage = "usage: replay AGENT [--at SEQ|5m]";
    let (agent, at) = match words(rest)?.as_slice() {
        [agent] => (agent.clone(), None),
        [agent, flag, at] if flag == "--at" => {
            let at = match at.parse::<u64>() {
                Ok(seq) => ReplayAt::Seq(seq),
                Err(_) => ReplayAt::AgoMs(duration_ms(at)?),
            };
            (agent.clone(), Some(at))
        }
        _ => return err(usage),
    };
    Ok(run(Command::Replay { agent, at }))
}

fn kill(rest: &str) -> Result<Parsed, ParseError> {
    let words = words(rest)?;
    let mut path = None;
    let mut reason = None;
    let mut it = words.into_iter();
    while let Some(w) = it.next() {
        match w.as_str() {
            "--reason" => reason = Some(it.next().ok_or(ParseError("--reason needs TEXT".into()))?),
            _ if path.is_none() => path = Some(w),
            other => return err(format!("unexpected {other:?}")),
        }
    }
    let Some(path) = path else {
        return err("usage: kill PATH [--reason TEXT]");
    };
    Ok(run(Command::Kill { path, reason }))
}

fn events(rest: &str) -> Result<Parsed, ParseError> {
    let mut filter = EventFilter {
        limit: DEFAULT_LIMIT,
        ..EventFilter::default()
    };
    let mut follow = false;
    let mut it = words(rest)?.into_iter();
    while let Some(flag) = it.next() {
        if flag == "--follow" || flag == "-f" {
            follow = true;
            continue;
        }
        let value = it
            .next()
            .ok_or_else(|| ParseError(format!("{flag} needs a value")))?;
        match flag.as_str() {
            "--tenant" => filter.tenant = Some(value),
            "--node" => filter.node = Some(value),
            "--agent" => filter.agent = Some(value),
            "--kind" => filter.kind = Some(kind(&value)?),
            "--trace" => filter.trace = Some(value.to_lowercase()),
            "--since" => since(&value, &mut filter)?,
            "--limit" => {
                filter.limit = match value.parse::<usize>() {
                    Ok(n) if (1..=swarmd_control::protocol::MAX_EVENTS).contains(&n) => n,
                    _ => {
                        let max = swarmd_control::protocol::MAX_EVENTS;
                        return err(format!("--limit takes 1..={max}, not {value:?}"));
                    }
                }
            }
            other => return err(format!("unknown option {other:?} for events")),
        }
    }
    Ok(Parsed::Run {
        command: Command::Events(filter),
        follow,
    })
}

fn kind(value: &str) -> Result<String, ParseError> {
    let names = swarmd_messages::EventKind::NAMES;
    if names.contains(&value) {
        Ok(value.to_string())
    } else {
        err(format!(
            "unknown kind {value:?}; kinds: {}",
            names.join(", ")
        ))
    }
}

/// `--since 5m` (a duration: ms, s, m, h, d) or `--since 1234` (a seq).
fn since(value: &str, filter: &mut EventFilter) -> Result<(), ParseError> {
    if let Ok(seq) = value.parse::<u64>() {
        filter.since_seq = Some(seq);
        return Ok(());
    }
    filter.within_ms = Some(duration_ms(value).map_err(|e| ParseError(format!("--since {e}")))?);
    Ok(())
}

/// `5m`, `30s`, `250ms`, `2h`, `1d` in ms.
fn duration_ms(value: &str) -> Result<u64, ParseError> {
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| ParseError(format!("takes 5m, 30s, 2h, 1d or a seq, not {value:?}")))?;
    let ms_per = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return err(format!("unknown unit {unit:?} (ms, s, m, h, d)")),
    };
    Ok(n.saturating_mul(ms_per))
}

#[cfg(test)]
mod tests;
