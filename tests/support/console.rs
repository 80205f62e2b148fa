//! Helpers of the console tests: run `swarmd console`, read JSON Lines,
//! start a playground node, walk a `tree --json`.

use std::path::Path;

use serde_json::Value;

use super::{Node, STARTUP};

pub const COOKIE: &str = "CONSOLETESTCOOKIEXQZJVKWPMBRTYHGF";
pub const ENV: [(&str, &str); 1] = [("SWARMD_COOKIE", COOKIE)];

/// Runs `swarmd console ADDR EXTRA...`; returns (exit code, stdout, stderr).
pub async fn console(addr: &str, extra: &[&str]) -> (i32, String, String) {
    console_with(addr, extra, &ENV).await
}

pub async fn console_with(
    addr: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let mut args = vec!["console", addr];
    args.extend(extra);
    let (status, out, err) = super::run(&args, env).await;
    (status.code().unwrap_or(-1), out, err)
}

pub fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

/// A `both` node (it runs agents and the world) with fault injection on.
pub async fn playground(dir: &Path) -> Node {
    playground_with(dir, "").await
}

/// [`playground`] with more config (TOML) after the fault-injection switch.
pub async fn playground_with(dir: &Path, extra: &str) -> Node {
    let text = format!("[control]\nallow_fault_injection = true\n{extra}");
    let config = super::write_file(dir, "node.toml", &text);
    let config = config.display().to_string();
    let args = ["--name", "swarmd", "--config", &config];
    let mut node = Node::start(&dir.join("node"), &args, &ENV);
    node.ready().await;
    node.wait_for("agents", STARTUP, |v| v["message"] == "entered the world")
        .await;
    node
}

/// A node named `name` with `toml` as its config file (and the console's
/// cookie), started with `extra` flags; returns once it is ready.
pub async fn configured(dir: &Path, name: &str, toml: &str, extra: &[&str]) -> Node {
    let config = super::write_file(dir, &format!("{name}.toml"), toml);
    let config = config.display().to_string();
    let mut args = vec!["--name", name, "--config", &config];
    args.extend(extra);
    let mut node = Node::start(&dir.join(name), &args, &ENV);
    node.ready().await;
    node
}

pub fn layer<'a>(tree: &'a Value, path: &[&str]) -> &'a Value {
    let mut at = tree;
    for id in path {
        at = at["children"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["id"] == *id))
            .unwrap_or_else(|| panic!("no {id} in {at}"));
    }
    at
}
