//! A program outside the workspace builds on swarmd's embedding API alone:
//! a cargo project written here (`tests/embedding/echo`: one agent kind,
//! `echo`) with a path dependency on `swarmd`, built into the workspace's
//! target directory (so it reuses what is built) and offline, with the
//! workspace's lock file. Its simulation test passes under `cargo test`;
//! its binary runs as a node, where `spawn echo {}` starts an agent that
//! journals, and an unknown kind is still refused.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::console::{ENV, console, json_lines};
use support::{Node, eventually};

const WORKSPACE: &str = env!("CARGO_MANIFEST_DIR");

const FILES: [(&str, &str); 4] = [
    ("src/lib.rs", include_str!("embedding/echo/src/lib.rs")),
    ("src/main.rs", include_str!("embedding/echo/src/main.rs")),
    ("tests/sim.rs", include_str!("embedding/echo/tests/sim.rs")),
    ("build.rs", include_str!("embedding/echo/build.rs")),
];

/// The project, written under `dir`.
fn write_project(dir: &Path) -> PathBuf {
    let project = dir.join("echo-swarm");
    for (path, text) in FILES {
        let file = project.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    let manifest = format!(
        r#"[package]
name = "echo-swarm"
version = "0.1.0"
edition = "2024"

[dependencies]
swarmd = {{ path = "{WORKSPACE}" }}

[dev-dependencies]
swarmd = {{ path = "{WORKSPACE}", features = ["sim"] }}

[workspace]

# The workspace's profile, so every crate built there is reused, not rebuilt.
[profile.dev]
debug = "line-tables-only"

[profile.dev.package."*"]
debug = false
"#
    );
    std::fs::write(project.join("Cargo.toml"), manifest).unwrap();
    // The workspace's versions of every crate: nothing to resolve or fetch.
    std::fs::copy(
        Path::new(WORKSPACE).join("Cargo.lock"),
        project.join("Cargo.lock"),
    )
    .unwrap();
    project
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(WORKSPACE).join("target"))
}

/// `cargo SUBCOMMAND` on the project, offline, into the shared target dir.
fn cargo(project: &Path, subcommand: &[&str]) -> std::process::Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    Command::new(cargo)
        .args(subcommand)
        .args(["--offline", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .expect("cargo runs")
}

/// The lines of a cargo run's stderr that name why it failed (the whole
/// output follows them), so a truncated CI log still shows the cause.
fn causes(stderr: &str) -> String {
    let named = |line: &&str| {
        [
            "error",
            "note: ",
            "collect2",
            "/usr/bin/ld",
            "No space",
            "Killed",
        ]
        .iter()
        .any(|cause| line.contains(cause))
    };
    let lines: Vec<&str> = stderr.lines().filter(named).take(40).collect();
    lines.join("\n")
}

fn succeeded(what: &str, out: &std::process::Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what} failed: {}\n--- stdout\n{}\n--- stderr\n{stderr}",
        causes(&stderr),
        String::from_utf8_lossy(&out.stdout),
    );
}

/// `cargo SUBCOMMAND`, run again once when only the system linker failed:
/// that is the machine (memory, disk), not the program, and says nothing of
/// the API under test. The first failure's cause is printed either way.
fn cargo_linked(project: &Path, subcommand: &[&str]) -> std::process::Output {
    let out = cargo(project, subcommand);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || !stderr.contains("linking with `cc` failed") {
        return out;
    }
    println!("the linker failed; once more, alone:\n{}", causes(&stderr));
    let mut alone = subcommand.to_vec();
    alone.extend(["--jobs", "1"]);
    cargo(project, &alone)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_outside_the_workspace_runs_its_own_agent_kind_in_a_node_and_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let project = write_project(dir.path());
    let started = tokio::time::Instant::now();
    succeeded("cargo build", &cargo_linked(&project, &["build", "--bins"]));
    println!("the program built in {:?}", started.elapsed());
    let tested = cargo_linked(&project, &["test"]);
    succeeded("cargo test", &tested);
    let stdout = String::from_utf8_lossy(&tested.stdout);
    assert!(
        stdout.contains("an_echo_agent_is_kept_running_through_its_edges_crash ... ok"),
        "{stdout}"
    );

    let program = target_dir().join("debug").join("echo-swarm");
    let data_dir = dir.path().join("node");
    let mut node = Node::start_program(&program, &data_dir, &["--name", "solo"], &ENV);
    node.ready().await;
    let (code, out, err) = console(&node.listen, &["-c", r#"spawn echo {"id": "e1"}"#]).await;
    assert_eq!(code, 0, "{out}{err}");
    eventually("echo's own decision in the ledger", || async {
        let line = "events --agent e1 --kind decision --limit 100";
        let (_, out, _) = console(&node.listen, &["--json", "-c", line]).await;
        let events = json_lines(&out);
        events
            .iter()
            .any(|e| e["detail"]["Decision"]["rationale"] == "echo is up")
            .then_some(())
    })
    .await;
    let (code, _, err) = console(&node.listen, &["-c", r#"spawn nosuch {"id": "n1"}"#]).await;
    assert_ne!(code, 0, "an unknown kind is refused");
    assert!(
        err.contains("unknown kind") && err.contains("echo"),
        "{err}"
    );
}
