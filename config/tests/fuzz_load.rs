//! A seeded mutation fuzzer for the config loader: the shipped defaults,
//! mutated line by line (values swapped for extreme or ill-typed ones, lines
//! dropped, duplicated or garbled), must load or fail with a `ConfigError`,
//! never panic. `SWARMD_FUZZ_SECS` and `SWARMD_FUZZ_SEED` as for the decoder.

use std::time::Duration;

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

const VALUES: &[&str] = &[
    "0",
    "-1",
    "1",
    "18446744073709551615",
    "9223372036854775807",
    "-9223372036854775808",
    "1e308",
    "nan",
    "inf",
    "\"\"",
    "\"x\"",
    "[]",
    "[\"\"]",
    "{}",
    "true",
    "\"a/b\"",
    "\"127.0.0.1:0\"",
    "\"[::1]:1\"",
    "\"x:99999\"",
    "\"\\u0000\"",
];

fn mutate(rng: &mut ChaCha8Rng, lines: &[&str]) -> String {
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    for _ in 0..rng.random_range(1..6) {
        let at = rng.random_range(0..out.len());
        match rng.random_range(0..5) {
            0 => {
                if let Some((key, _)) = out[at].split_once('=') {
                    let value = VALUES[rng.random_range(0..VALUES.len())];
                    out[at] = format!("{key}= {value}");
                }
            }
            1 => {
                out.remove(at);
            }
            2 => {
                let line = out[at].clone();
                out.insert(at, line);
            }
            3 => {
                let mut bytes = out[at].clone().into_bytes();
                if !bytes.is_empty() {
                    let i = rng.random_range(0..bytes.len());
                    bytes[i] = rng.random_range(0x20..0x7f);
                }
                out[at] = String::from_utf8_lossy(&bytes).into_owned();
            }
            _ => out.insert(at, "[node]".into()),
        }
        if out.is_empty() {
            break;
        }
    }
    out.join("\n")
}

#[test]
// Wall-time budget and a fresh seed, printed: a harness, not actor logic.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
fn mutated_configs_load_or_fail_cleanly() {
    let secs: u64 = std::env::var("SWARMD_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let seed = std::env::var("SWARMD_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().next_u64());
    let lines: Vec<&str> = swarmd_config::DEFAULT_TOML
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz.toml");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    let (mut runs, mut loaded) = (0u64, 0u64);
    while std::time::Instant::now() < deadline {
        std::fs::write(&path, mutate(&mut rng, &lines)).unwrap();
        loaded += u64::from(swarmd_config::load_file(&path).is_ok());
        runs += 1;
    }
    println!("fuzz_load: seed {seed}, {runs} configs, {loaded} loaded");
    assert!(runs > 100, "the fuzzer ran ({runs} configs)");
}
