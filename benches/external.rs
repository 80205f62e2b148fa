//! External bodies and brains against the in-process path, in one run.
//!
//!     cargo bench --bench external
//!
//! A real `swarmd` node (this build's binary) hosts three drones: two whose
//! body is this process (a zenoh client on the node's agent gateway, with
//! the tenant's credential), their reflexes at 50 Hz and 500 Hz, and one
//! whose brain is this process (answering at once). Measured:
//! - percept → command: from a percept's publication to the first command
//!   the reflex decided on it (`after`), over loopback TCP; it includes the
//!   wait for the reflex's next tick (up to one period);
//! - a brain decision: the runtime's own measure, question to answer
//!   (`latency_us` in the journal).
//!
//! The in-process paths, on the same machine in the same run: the drones'
//! reflex step (sense, the safety check, act, on the simulated airframe),
//! and their planner's `plan`.

// A benchmark harness timing real processes, not actor logic: wall time.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use swarmd::domain::{Domain, Plan};
use swarmd::drones::{Drones, Point};
use zenoh::Wait;

const COOKIE: &str = "BENCHEXTERNALCOOKIEQXJZVKWPMBRTYHGLN";
const PERCEPTS: usize = 600;
const PERCEPT_EVERY: Duration = Duration::from_millis(5);
const BRAIN_FOR: Duration = Duration::from_secs(15);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn swarmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_swarmd"));
    cmd.env("SWARMD_COOKIE", COOKIE).env_remove("RUST_LOG");
    cmd
}

fn console(listen: &str, line: &str) -> Option<Vec<Value>> {
    let out = swarmd()
        .args(["console", listen, "--json", "-c", line])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    out.status.success().then(|| {
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    })
}

struct Node {
    child: Child,
    listen: String,
    config: std::path::PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &std::path::Path, agents: &str) -> Node {
    let listen = format!("127.0.0.1:{}", free_port());
    let config = dir.join("bench.toml");
    let toml = format!(
        "[missions]\ndemo = false\n[agents]\nboot = 0\n[mesh]\nlisten = [\"tcp/127.0.0.1:{}\"]\n\
         agents_listen = [{agents:?}]\n",
        free_port()
    );
    std::fs::write(&config, toml).unwrap();
    let data = dir.join("data");
    let child = swarmd()
        .args([
            "--name", "bench", "--listen", &listen, "--http", "off", "--config",
        ])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("swarmd starts");
    let node = Node {
        child,
        listen,
        config,
    };
    let started = Instant::now();
    while console(&node.listen, "agents").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the node did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    node
}

fn spawn(node: &Node, id: &str, params: Value) {
    let line = format!("spawn drone {}", json!({"id": id, "params": params}));
    console(&node.listen, &line).unwrap_or_else(|| panic!("{line}"));
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn summary(name: &str, mut samples: Vec<f64>, unit: &str) -> f64 {
    samples.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&samples, 0.5), percentile(&samples, 0.99));
    println!(
        "{name:<44} n={:<5} p50={p50:>9.3} {unit}  p99={p99:>9.3} {unit}",
        samples.len()
    );
    p50
}

async fn client(endpoint: &str, user: &str, password: &str) -> zenoh::Session {
    let mut config = zenoh::Config::default();
    let settings = [
        ("mode", json!("client")),
        ("connect/endpoints", json!([endpoint])),
        ("scouting/multicast/enabled", json!(false)),
        ("transport/auth/usrpwd/user", json!(user)),
        ("transport/auth/usrpwd/password", json!(password)),
    ];
    for (key, value) in settings {
        config.insert_json5(key, &value.to_string()).unwrap();
    }
    zenoh::open(config)
        .await
        .expect("the gateway admits the tenant's credential")
}

/// Percept → command round trips of `agent`'s external body, in ms.
async fn body_round_trips(session: &zenoh::Session, agent: &str) -> Vec<f64> {
    let sent: Arc<Mutex<BTreeMap<u64, Instant>>> = Arc::default();
    let trips: Arc<Mutex<Vec<f64>>> = Arc::default();
    let (s, t) = (sent.clone(), trips.clone());
    let _commands = session
        .declare_subscriber(format!("swarmd/default/agent/{agent}/command"))
        .callback(move |sample| {
            let Ok(m) = serde_json::from_slice::<Value>(&sample.payload().to_bytes()) else {
                return;
            };
            let after = m["after"].as_u64().unwrap_or(0);
            if let Some(at) = s.lock().unwrap().remove(&after) {
                t.lock().unwrap().push(at.elapsed().as_secs_f64() * 1e3);
            }
        })
        .await
        .unwrap();
    let key = format!("swarmd/default/agent/{agent}/percept");
    for seq in 1..=PERCEPTS as u64 {
        let percept = json!({"at": [40.0, 2.0], "velocity": [0.0, 0.0], "battery": 1.0,
            "home": [40.0, 2.0], "near": [], "t_ms": seq * 5});
        let message = json!({"v": 1, "agent": agent, "seq": seq, "percept": percept});
        sent.lock().unwrap().insert(seq, Instant::now());
        session.put(&key, message.to_string()).await.unwrap();
        tokio::time::sleep(PERCEPT_EVERY).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    std::mem::take(&mut *trips.lock().unwrap())
}

/// Answers `agent`'s situations at once with `hover`.
async fn answer_at_once(session: &zenoh::Session, agent: &str) -> zenoh::pubsub::Subscriber<()> {
    let (session2, agent2) = (session.clone(), agent.to_string());
    session
        .declare_subscriber(format!("swarmd/default/agent/{agent}/situation"))
        .callback(move |sample| {
            let Ok(s) = serde_json::from_slice::<Value>(&sample.payload().to_bytes()) else {
                return;
            };
            let answer = json!({"v": 1, "agent": agent2, "seq": s["seq"], "plan": {"go": "hover"}});
            let key = format!("swarmd/default/agent/{agent2}/intent");
            let _ = session2.put(key, answer.to_string()).wait();
        })
        .await
        .unwrap()
}

fn in_process_reflex() -> Vec<f64> {
    let drones = Drones::standard();
    let frame = drones.sky.airframe("p1", Point(40.0, 2.0));
    let mut body: Box<dyn swarmd::domain::Body<Drones>> = Box::new(frame);
    let command = swarmd::drones::Command::Fly {
        velocity: Point(0.0, 1.0),
    };
    (0..20_000)
        .map(|_| {
            let at = Instant::now();
            let percept = body.sense().expect("the airframe senses");
            let ok = drones.check(&percept, &[], &command).is_ok();
            body.act(if ok {
                &command
            } else {
                &swarmd::drones::Command::Hover
            });
            at.elapsed().as_secs_f64() * 1e6
        })
        .collect()
}

fn in_process_planner() -> Vec<f64> {
    let drones = Drones::standard();
    let summary = swarmd::drones::Summary {
        at: Point(40.0, 2.0),
        battery: 1.0,
        home: Point(40.0, 2.0),
    };
    let mut flight = swarmd::drones::Flight {
        waypoints: vec![Point(40.0, 60.0)],
        next: 0,
    };
    (0..20_000)
        .map(|_| {
            let at = Instant::now();
            let plan = drones.plan(&summary, Some(&mut flight));
            assert!(matches!(plan, Plan::Go(_)));
            at.elapsed().as_secs_f64() * 1e6
        })
        .collect()
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = format!("tcp/127.0.0.1:{}", free_port());
    let node = start(dir.path(), &gateway);
    let out = swarmd()
        .args(["mesh", "credentials", "--tenant", "default", "--config"])
        .arg(&node.config)
        .output()
        .unwrap();
    let creds: Value = serde_json::from_slice(&out.stdout).expect("credentials");
    let (user, password) = (
        creds["user"].as_str().unwrap(),
        creds["password"].as_str().unwrap(),
    );
    spawn(&node, "x50", json!({"home": "40,2", "body": "remote"}));
    let fast =
        json!({"home": "40,2", "body": "remote", "reflex_hz": "500", "deadman_ticks": "250"});
    spawn(&node, "x500", fast);
    spawn(&node, "b1", json!({"home": "100,2", "brain": "remote"}));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("external bodies and brains vs the in-process path (one run, this machine)");
    let (at50, at500) = runtime.block_on(async {
        let session = client(&gateway, user, password).await;
        let _brain = answer_at_once(&session, "b1").await;
        let at50 = body_round_trips(&session, "x50").await;
        let at500 = body_round_trips(&session, "x500").await;
        tokio::time::sleep(BRAIN_FOR.saturating_sub(Duration::from_secs(6))).await;
        (at50, at500)
    });
    let reflex = summary(
        "in-process reflex step (sense, check, act)",
        in_process_reflex(),
        "us",
    );
    let ext50 = summary("external body, percept -> command, 50 Hz", at50, "ms");
    let ext500 = summary("external body, percept -> command, 500 Hz", at500, "ms");
    let events = console(&node.listen, "events --kind domain --agent b1 --limit 1000").unwrap();
    let brain: Vec<f64> = events
        .iter()
        .filter(|e| e["detail"]["Domain"]["act"]["Brain"]["outcome"] == "accepted")
        .filter_map(|e| e["detail"]["Domain"]["act"]["Brain"]["latency_us"].as_f64())
        .map(|us| us / 1e3)
        .collect();
    assert!(!brain.is_empty(), "the brain decided: {events:?}");
    let planner = summary("in-process planner (plan)", in_process_planner(), "us");
    let external = summary("external brain decision (question -> answer)", brain, "ms");
    println!(
        "ratios (p50): body 50 Hz {:.0}x, body 500 Hz {:.0}x the in-process reflex step; brain {:.0}x the in-process planner",
        ext50 * 1e3 / reflex,
        ext500 * 1e3 / reflex,
        external * 1e3 / planner
    );
}
