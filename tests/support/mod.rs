//! Drives real `swarmd` processes: free loopback ports, temp data dirs, JSON
//! log lines read from stderr, signals, and bounded waits on events.

#![allow(dead_code)] // each test binary uses part of the harness

pub mod browser;
pub mod console;
pub mod external;
pub mod http;
pub mod nats;
pub mod netns;
pub mod python;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// Generous: debug builds on a loaded 2-core CI machine start slowly.
pub const STARTUP: Duration = Duration::from_secs(30);
pub const EXIT: Duration = Duration::from_secs(20);
/// How long [`eventually`] polls.
pub const EVENTUALLY: Duration = Duration::from_secs(60);

/// Polls `probe` (every 200 ms) until it gives a value, for at most
/// [`EVENTUALLY`]; then fails naming `what`.
pub async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut probe: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn swarmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_swarmd"));
    cmd.env_remove("RUST_LOG")
        .env_remove("SWARMD_COOKIE")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// `swarmd` run inside network namespace `netns` (`ip netns exec` execs it:
/// the child's pid is swarmd's).
pub fn in_netns(netns: &str) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", netns])
        .arg(env!("CARGO_BIN_EXE_swarmd"))
        .env_remove("RUST_LOG")
        .env_remove("SWARMD_COOKIE")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// A loopback port that was free a moment ago, and never handed out
/// before in this process (a test that takes two ports before using either
/// would otherwise get the same one twice). It lies below the kernel's
/// ephemeral range: a port from that range can be taken, between this
/// check and the bind, as the local end of any outgoing connection (a
/// console, a NATS client, a NATS route), which made nodes fail to start.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // A node's mesh listens on its cluster port + 1000 (mesh.port_offset):
    // that one must be free too, and never handed out itself.
    let offset = swarmd::config::DEFAULT_MESH_PORT_OFFSET;
    let (low, high) = (10_000, ephemeral_ports_start().saturating_sub(offset));
    assert!(high > low + 1000, "too few ports below the ephemeral range");
    let random = RandomState::new();
    for attempt in 0..1000u32 {
        let port = low + (random.hash_one(attempt) % u64::from(high - low)) as u16;
        let mesh = port + offset;
        let taken = |p: u16| {
            given
                .iter()
                .any(|&g| g == p || g.checked_add(offset) == Some(p))
        };
        let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
        if !taken(port) && !taken(mesh) && free(port) && free(mesh) {
            given.push(port);
            return port;
        }
    }
    panic!("no fresh loopback port in 1000 tries");
}

/// The first port the kernel hands out to outgoing connections.
fn ephemeral_ports_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

pub struct Node {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    /// Every stderr line seen so far, in order.
    pub log: Vec<String>,
    pub listen: String,
    pub data_dir: PathBuf,
}

impl Node {
    /// Starts `swarmd` with JSON logs on `data_dir` and a fresh port, plus `extra` args.
    pub fn start(data_dir: &Path, extra: &[&str], envs: &[(&str, &str)]) -> Node {
        Node::start_listening(data_dir, &format!("127.0.0.1:{}", free_port()), extra, envs)
    }

    pub fn start_listening(
        data_dir: &Path,
        listen: &str,
        extra: &[&str],
        envs: &[(&str, &str)],
    ) -> Node {
        Node::spawn(swarmd(), data_dir, listen, extra, envs)
    }

    /// Starts `swarmd` inside network namespace `netns`, listening on `listen`.
    pub fn start_in_netns(
        netns: &str,
        data_dir: &Path,
        listen: &str,
        extra: &[&str],
        envs: &[(&str, &str)],
    ) -> Node {
        Node::spawn(in_netns(netns), data_dir, listen, extra, envs)
    }

    /// Starts `swarmd` under `wrapper` (e.g. `timeout -s TERM 5`), as [`start`](Self::start) does.
    /// Starts `program` (a program built on swarmd's embedding API, with
    /// swarmd's command line) as `start` starts `swarmd`.
    pub fn start_program(
        program: &Path,
        data_dir: &Path,
        extra: &[&str],
        envs: &[(&str, &str)],
    ) -> Node {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut cmd = Command::new(program);
        cmd.env_remove("RUST_LOG")
            .env_remove("SWARMD_COOKIE")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        Node::spawn(cmd, data_dir, &listen, extra, envs)
    }

    pub fn start_wrapped(wrapper: &[&str], data_dir: &Path, extra: &[&str]) -> Node {
        let (program, args) = wrapper.split_first().expect("a wrapper program");
        let mut cmd = Command::new(program);
        cmd.args(args)
            .arg(env!("CARGO_BIN_EXE_swarmd"))
            .env_remove("RUST_LOG")
            .env_remove("SWARMD_COOKIE")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let listen = format!("127.0.0.1:{}", free_port());
        Node::spawn(cmd, data_dir, &listen, extra, &[])
    }

    fn spawn(
        mut cmd: Command,
        data_dir: &Path,
        listen: &str,
        extra: &[&str],
        envs: &[(&str, &str)],
    ) -> Node {
        let listen = listen.to_owned();
        cmd.args(["--log-format", "json", "--listen", &listen, "--data-dir"])
            .arg(data_dir)
            .args(extra)
            // Many cloud nodes run at once here: Mission Control only where a test asks (--http).
            .env("SWARMD_HTTP", "off")
            // The agents' and planner's routine lines (debug by default)
            // are what tests wait on; a test may ask for more (`SWARMD_LOG`).
            .env(
                "SWARMD_LOG",
                "info,swarmd_actors=debug,swarmd_warehouse=debug",
            )
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn swarmd");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel(10_000);
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if tx.send(line).await.is_err() {
                    break;
                }
            }
        });
        Node {
            child,
            lines,
            log: Vec::new(),
            listen,
            data_dir: data_dir.to_owned(),
        }
    }

    /// The first log event, seen so far or arriving within `limit`, that satisfies
    /// `pred`. Panics with the log so far otherwise.
    pub async fn wait_for(
        &mut self,
        what: &str,
        limit: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        if let Some(seen) = self.events().into_iter().find(|v| pred(v)) {
            return seen;
        }
        let found = tokio::time::timeout(limit, async {
            while let Some(line) = self.lines.recv().await {
                self.log.push(line.clone());
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && pred(&v)
                {
                    return Some(v);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(v)) => v,
            Ok(None) => panic!("swarmd exited before {what}; log:\n{}", self.log.join("\n")),
            Err(_) => panic!("no {what} within {limit:?}; log:\n{}", self.log.join("\n")),
        }
    }

    /// Waits until at least `count` log events satisfy `pred`.
    pub async fn wait_count(
        &mut self,
        what: &str,
        limit: Duration,
        count: usize,
        pred: impl Fn(&Value) -> bool,
    ) {
        let seen = |node: &Self| node.events().iter().filter(|v| pred(v)).count();
        let found = tokio::time::timeout(limit, async {
            while seen(self) < count {
                match self.lines.recv().await {
                    Some(line) => self.log.push(line),
                    None => return false,
                }
            }
            true
        })
        .await;
        if found != Ok(true) {
            panic!(
                "fewer than {count} x {what} within {limit:?}; log:\n{}",
                self.log.join("\n")
            );
        }
    }

    pub async fn wait_message(&mut self, message: &str, limit: Duration) -> Value {
        self.wait_for(message, limit, |v| v["message"] == message)
            .await
    }

    /// Waits for "node ready". If the node serves Mission Control, its
    /// address is given the node's system token, which `http::get` and
    /// `http::post_json` then send (`http::request` sends only what it is told).
    pub async fn ready(&mut self) {
        self.wait_message("node ready", STARTUP).await;
        let listening = self
            .events()
            .into_iter()
            .find(|v| v["message"] == "Mission Control listening");
        if let Some(addr) = listening.as_ref().and_then(|v| v["addr"].as_str()) {
            http::remember_token(addr, &self.http_token());
        }
    }

    /// The node's `system` token for Mission Control, from its data dir.
    pub fn http_token(&self) -> String {
        let path = self.data_dir.join("tokens/system.token");
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .trim()
            .to_string()
    }

    pub fn signal(&self, sig: i32) {
        let pid = self.child.id().expect("still running") as i32;
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill({pid}, {sig})");
    }

    /// Waits for exit and drains the rest of the log.
    pub async fn exit(&mut self) -> ExitStatus {
        let status = tokio::time::timeout(EXIT, self.child.wait())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "swarmd did not exit within {EXIT:?}; log:\n{}",
                    self.log.join("\n")
                )
            })
            .unwrap();
        while let Some(line) = self.lines.recv().await {
            self.log.push(line);
        }
        status
    }

    /// Parsed JSON log events so far.
    pub fn events(&self) -> Vec<Value> {
        self.log
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// Runs `swarmd` to completion with a deadline, returning (status, stdout, stderr).
pub async fn run(args: &[&str], envs: &[(&str, &str)]) -> (ExitStatus, String, String) {
    let mut cmd = swarmd();
    cmd.args(args).envs(envs.iter().copied());
    let out = tokio::time::timeout(EXIT, cmd.output())
        .await
        .expect("swarmd did not finish in time")
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const INSTALL_LOCK: &str = "/tmp/swarmd-tests-apt.lock";

/// Installs Debian `packages` with apt-get unless every one of `paths`
/// exists: once per machine, under a lock, so parallel tests do not race
/// apt. No install, no test: it fails loudly, it never skips.
pub fn ensure_packages(paths: &[&str], packages: &[&str]) {
    use std::os::fd::AsRawFd;
    let installed = || paths.iter().all(|p| Path::new(p).exists());
    if installed() {
        return;
    }
    let lock = std::fs::File::create(INSTALL_LOCK).expect("the install lock file");
    // SAFETY: flock on a file descriptor we own; released when `lock` drops.
    let locked = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(locked, 0, "cannot lock {INSTALL_LOCK}");
    if installed() {
        return;
    }
    eprintln!("installing Debian's {packages:?} for the tests…");
    let install = || {
        std::process::Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    if !install() {
        let _ = std::process::Command::new("apt-get").arg("update").status();
        assert!(install(), "apt-get install {packages:?} failed");
    }
    assert!(
        installed(),
        "{paths:?} still missing after installing {packages:?}"
    );
}
