//! A seeded mutation fuzzer for the frame decoder: valid frames of every
//! message kind, mutated (bit flips, byte overwrites, insertions, deletions,
//! truncations, splices), must decode to a value or a typed error, never a
//! panic, and never allocate past the frame limit.
//!
//! CI runs it briefly; `SWARMD_FUZZ_SECS=600 cargo test -p swarmd-messages
//! --test fuzz_decode -- --nocapture` is the long run. `SWARMD_FUZZ_SEED`
//! picks the seed (printed on every run).

use std::collections::BTreeMap;
use std::time::Duration;

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use swarmd_messages::{
    Envelope, Event, EventId, EventKind, MemberInfo, MissionChange, Reply, Request, Role,
    SpawnSpec, TraceContext, WireFrame, WireMsg, decode, encode,
};

fn seeds() -> Vec<Vec<u8>> {
    let member = MemberInfo {
        name: "edge-1".into(),
        role: Role::Edge,
        cluster_addr: "127.0.0.1:4698".into(),
        incarnation: 7,
    };
    let event = Event {
        id: EventId {
            node: "edge-1".into(),
            seq: 3,
        },
        tenant: "default".into(),
        agent: Some("a1".into()),
        trace: TraceContext::default(),
        time_us: 1,
        kind: EventKind::Mission {
            mission: 2,
            change: MissionChange::Planned {
                goal: "cover".into(),
                squad: "default".into(),
                tasks: 3,
            },
            rationale: "why".into(),
        },
    };
    let mut spec = SpawnSpec::new("a1", "grid", "default");
    spec.params = BTreeMap::from([("start".into(), "1,2".into())]);
    let msgs = vec![
        WireMsg::Hello(member.clone()),
        WireMsg::Members(vec![member]),
        WireMsg::Heartbeat,
        WireMsg::Ticket {
            ticket: u128::MAX - 7,
            ask: true,
        },
        WireMsg::Confirm {
            ticket: 3,
            nonce: 5,
        },
        WireMsg::Cast {
            to: "world".into(),
            payload: vec![1, 2, 3],
        },
        WireMsg::Request {
            id: 9,
            body: Request::Spawn(spec),
        },
        WireMsg::Request {
            id: 10,
            body: Request::Ledger(vec![event]),
        },
        WireMsg::Reply {
            id: 9,
            body: Reply::Echo(vec![0; 16]),
        },
    ];
    msgs.into_iter()
        .map(|m| {
            let frame = WireFrame {
                from: "edge-1".into(),
                incarnation: 1,
                ticket: 1 << 100,
                msgs: vec![m],
            };
            encode(&Envelope::new("system", TraceContext::default(), frame)).unwrap()
        })
        .collect()
}

fn mutate(rng: &mut ChaCha8Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = seeds[rng.random_range(0..seeds.len())].clone();
    for _ in 0..rng.random_range(1..8) {
        let at = rng.random_range(0..bytes.len().max(1));
        match rng.random_range(0..6) {
            0 if !bytes.is_empty() => bytes[at] ^= 1 << rng.random_range(0..8),
            1 if !bytes.is_empty() => bytes[at] = rng.random(),
            2 => bytes.insert(at.min(bytes.len()), rng.random()),
            3 if !bytes.is_empty() => {
                bytes.remove(at);
            }
            4 => bytes.truncate(at),
            _ => {
                // A run of 0xff: the largest varint lengths.
                let run = rng.random_range(1..12);
                let at = at.min(bytes.len());
                bytes.splice(at..at, std::iter::repeat_n(0xff, run));
            }
        }
    }
    bytes
}

#[test]
// The run's budget is wall time and its seed fresh entropy, on purpose: a
// harness, not actor logic. The seed is printed, so any failure replays.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
fn mutated_frames_decode_or_fail_cleanly() {
    let secs: u64 = std::env::var("SWARMD_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let seed = std::env::var("SWARMD_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().next_u64());
    let seeds = seeds();
    for s in &seeds {
        assert!(decode::<WireFrame>(s).is_ok(), "every seed frame is valid");
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    let (mut runs, mut decoded) = (0u64, 0u64);
    while std::time::Instant::now() < deadline {
        let bytes = mutate(&mut rng, &seeds);
        decoded += u64::from(decode::<WireFrame>(&bytes).is_ok());
        runs += 1;
    }
    println!("fuzz_decode: seed {seed}, {runs} frames, {decoded} still decoded");
    assert!(runs > 1000, "the fuzzer ran ({runs} frames)");
}
