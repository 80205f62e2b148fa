//! What the tests of external bodies and brains share: Python programs
//! started and read, `swarmd mesh credentials`, console lines, and the
//! domain events an agent journaled.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::console::{ENV, console, json_lines};
use super::{Node, eventually, python};

pub async fn run(node: &Node, line: &str) -> Vec<Value> {
    let (code, out, err) = console(&node.listen, &["--json", "-c", line]).await;
    assert_eq!(code, 0, "{line}: {out}{err}");
    json_lines(&out)
}

/// What `swarmd mesh credentials` for `tenant` on the node configured by
/// `config` printed, and how it exited.
pub async fn ask_credentials(config: &Path, tenant: &str) -> std::process::Output {
    super::swarmd()
        .args(["mesh", "credentials", "--tenant", tenant, "--config"])
        .arg(config)
        .envs(ENV)
        .output()
        .await
        .unwrap()
}

/// `swarmd mesh credentials` for `tenant` on the node configured by `config`.
pub async fn credentials(config: &Path, tenant: &str) -> Value {
    let out = ask_credentials(config, tenant).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&text).unwrap()
}

/// A Python script of tests/external, started and seen `ready`.
pub async fn script(name: &str, args: &[&str]) -> Script {
    started(python::script(name), args).await
}

/// A running Python program and every line it printed after `ready`.
pub struct Script {
    pub child: Child,
    pub lines: Arc<Mutex<Vec<String>>>,
}

impl Script {
    /// The last line printed about `agent`, as JSON.
    pub fn last_about(&self, agent: &str) -> Option<Value> {
        let lines = self.lines.lock().unwrap();
        let about = lines
            .iter()
            .rev()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok());
        about.into_iter().find(|v| v["agent"] == agent)
    }
}

/// The Python program `path`, started and seen `ready`.
pub async fn started(path: std::path::PathBuf, args: &[&str]) -> Script {
    let name = path.display().to_string();
    let mut child = Command::new(python::python())
        .arg(&path)
        .args(args)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line()).await;
    let line = ready.unwrap_or_else(|_| panic!("{name} not ready in 60 s"));
    assert_eq!(line.unwrap().as_deref(), Some("ready"), "{name}");
    // Kept (the last few hundred), and drained so the script never blocks.
    let kept = Arc::new(Mutex::new(Vec::new()));
    let keep = kept.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let mut kept = keep.lock().unwrap();
            if kept.len() == 512 {
                kept.remove(0);
            }
            kept.push(line);
        }
    });
    Script { child, lines: kept }
}

pub async fn agent(cloud: &Node, id: &str) -> Option<Value> {
    run(cloud, "agents")
        .await
        .into_iter()
        .find(|a| a["id"] == id)
}

pub async fn completed(cloud: &Node, id: u64) {
    let state = eventually("the mission ended", || async {
        let missions = run(cloud, "missions").await;
        let state = missions.into_iter().find(|m| m["id"] == id)?["state"].clone();
        (state != "Active").then_some(state)
    })
    .await;
    assert_eq!(state, "Completed", "mission {id}");
}

pub fn domain_acts(events: &[Value], act: &str) -> Vec<Value> {
    events
        .iter()
        .map(|e| e["detail"]["Domain"].clone())
        .filter(|d| d["act"].get(act).is_some() || d["act"] == act)
        .collect()
}
