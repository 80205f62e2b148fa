//! A seeded mutation fuzzer for the console's command parser and the
//! control actor's request decoder: mutated command lines (characters
//! inserted, deleted, replaced; quotes, braces, flags and multi-byte
//! characters among them) must parse to a command or a clear error, never
//! panic, and every `events` they yield stays within the query bounds.
//!
//! CI runs it briefly; `SWARMD_FUZZ_SECS=600 cargo test -p swarmd-console
//! --test fuzz_console -- --nocapture` is the long run. `SWARMD_FUZZ_SEED`
//! picks the seed (printed on every run).

use std::time::Duration;

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use swarmd_console::parse::{Parsed, parse_line};
use swarmd_control::protocol::MAX_EVENTS;
use swarmd_control::{Command, ControlRequest};

const LINES: [&str; 14] = [
    "nodes",
    "tree edge-1",
    "agents --json",
    "events --tenant default --node edge-1 --agent a1 --kind audit --limit 5 --follow",
    "events --since 5m --trace 0123456789abcdef0123456789abcdef",
    "events --since 17 --node n",
    "trace 0123456789abcdef0123456789abcdef",
    r#"send swarmd-1 {"EmergencyStop": {"reason": "a \"quoted\" one"}}"#,
    r#"send swarmd/agents/swarmd-1 "Resume""#,
    "estop all",
    "resume swarmd-2",
    r#"kill swarmd/agents/swarmd-1/reflex --reason "chaos test""#,
    "stats edge-1",
    "help events",
];

const ALPHABET: [&str; 16] = [
    " ", "\"", "\\", "{", "}", "-", "--", "/", ";", "0", "9", "é", "🦀", "\t", "--json", "--limit",
];

fn mutate(rng: &mut ChaCha8Rng) -> String {
    let mut chars: Vec<char> = LINES[rng.random_range(0..LINES.len())].chars().collect();
    for _ in 0..rng.random_range(1..6) {
        let at = rng.random_range(0..=chars.len());
        match rng.random_range(0..4) {
            0 if at < chars.len() => {
                chars.remove(at);
            }
            1 => {
                let piece = ALPHABET[rng.random_range(0..ALPHABET.len())];
                chars.splice(at..at, piece.chars());
            }
            2 if at < chars.len() => chars[at] = char::from(rng.random_range(0x20u8..0x7f)),
            _ => chars.truncate(at),
        }
    }
    chars.into_iter().collect()
}

fn check(line: &str) {
    let Ok((parsed, _json)) = parse_line(line) else {
        return;
    };
    if let Parsed::Run {
        command: Command::Events(filter),
        ..
    } = &parsed
    {
        assert!(
            (1..=MAX_EVENTS).contains(&filter.limit),
            "{line:?}: {filter:?}"
        );
    }
    // What parses also travels: the request round-trips through JSON.
    let command = match parsed {
        Parsed::Run { command, .. } | Parsed::Trace(command) => command,
        _ => return,
    };
    let request = ControlRequest {
        tenant: "default".into(),
        principal: "fuzz".into(),
        line: line.into(),
        command,
    };
    let bytes = serde_json::to_vec(&request).expect("a parsed command encodes");
    let back: ControlRequest = serde_json::from_slice(&bytes).expect("and decodes");
    assert_eq!(back, request);
    // A damaged request is an error, never a panic.
    let mut damaged = bytes.clone();
    let at = line.len() % damaged.len().max(1);
    damaged.truncate(at);
    let _ = serde_json::from_slice::<ControlRequest>(&damaged);
}

#[test]
// The run's budget is wall time and its seed fresh entropy, on purpose: a
// harness, not actor logic. The seed is printed, so any failure replays.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
fn mutated_command_lines_parse_or_fail_cleanly() {
    let secs: u64 = std::env::var("SWARMD_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let seed = std::env::var("SWARMD_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().next_u64());
    for line in LINES {
        assert!(parse_line(line).is_ok(), "every seed line parses: {line:?}");
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    let (mut runs, mut parsed) = (0u64, 0u64);
    while std::time::Instant::now() < deadline {
        let line = mutate(&mut rng);
        parsed += u64::from(parse_line(&line).is_ok());
        check(&line);
        runs += 1;
    }
    println!("fuzz_console: seed {seed}, {runs} lines, {parsed} still parsed");
    assert!(runs > 1000, "the fuzzer ran ({runs} lines)");
}
