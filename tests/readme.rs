//! The manual stays true to the tree and the binary: every relative link in
//! every README (and SECURITY.md) resolves, and every command line of
//! README.md's tour is accepted by the program it runs: with `--help`
//! appended (nothing starts; an unknown flag fails), and a node's command
//! line with `config show` appended (a bad value fails).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn manuals() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![PathBuf::from(ROOT)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() && !name.starts_with('.') && name != "target" {
                dirs.push(path);
            } else if name == "README.md" || name == "SECURITY.md" {
                found.push(path);
            }
        }
    }
    found
}

/// Targets of `[text](target)` links that are not URLs or anchors.
fn relative_links(text: &str) -> Vec<String> {
    let mut links = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        let Some(end) = rest.find(')') else { break };
        let target = rest[..end].split('#').next().unwrap_or_default();
        let external = target.contains("://") || target.starts_with("mailto:");
        if !target.is_empty() && !external {
            links.push(target.to_string());
        }
    }
    links
}

#[test]
fn every_relative_link_in_every_readme_resolves() {
    let manuals = manuals();
    assert!(manuals.len() >= 10, "too few manuals found: {manuals:?}");
    let mut broken = Vec::new();
    let mut checked = 0;
    for manual in &manuals {
        let text = std::fs::read_to_string(manual).unwrap();
        for link in relative_links(&text) {
            checked += 1;
            if !manual.parent().unwrap().join(&link).exists() {
                broken.push(format!("{}: {link}", manual.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links to nothing:\n{}",
        broken.join("\n")
    );
    assert!(checked >= 15, "only {checked} links checked");
}

/// The indented code lines of README.md's tour, continuations joined.
fn tour_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let start = readme
        .find("## A five-minute tour")
        .expect("README has its tour");
    let tour = &readme[start..];
    let tour = &tour[..tour[3..].find("\n## ").map_or(tour.len(), |e| e + 3)];
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in tour.lines().filter_map(|l| l.strip_prefix("    ")) {
        current.push_str(line.trim_end_matches('\\').trim());
        current.push(' ');
        if !line.ends_with('\\') {
            commands.push(std::mem::take(&mut current).trim().to_string());
        }
    }
    commands
}

/// Shell words: quotes kept together, `$(...)` taken as one value,
/// `VAR=value` prefixes dropped.
fn words(command: &str) -> Vec<String> {
    let mut command = command.to_string();
    while let Some(at) = command.find("$(") {
        let end = at + command[at..].find(')').expect("$(...) is closed");
        command.replace_range(at..=end, "VALUE");
    }
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    for c in command.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ' ') if !word.is_empty() => words.push(std::mem::take(&mut word)),
            (None, ' ') => {}
            _ => word.push(c),
        }
    }
    words.push(word);
    let first = words.iter().position(|w| !w.contains('=')).unwrap_or(0);
    words.split_off(first)
}

/// The program and arguments a tour line runs.
fn program_and_args(words: &[String]) -> (PathBuf, Vec<String>) {
    let swarmd = PathBuf::from(env!("CARGO_BIN_EXE_swarmd"));
    if words[0] == "swarmd" {
        return (swarmd, words[1..].to_vec());
    }
    assert_eq!(words[..2], ["cargo", "run"], "{words:?}");
    let after = words
        .iter()
        .position(|w| w == "--")
        .map_or(words.len(), |i| i + 1);
    let args = words[after..].to_vec();
    match words.iter().position(|w| w == "--bin") {
        Some(i) => (built(&words[i + 1], &swarmd), args),
        None => (swarmd, args),
    }
}

/// Another binary of the workspace, built beside `swarmd` if it is not yet.
fn built(bin: &str, swarmd: &Path) -> PathBuf {
    let path = swarmd.with_file_name(bin);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-q", "-p", "swarmd-sim", "--bin", bin])
            .current_dir(ROOT)
            .status()
            .unwrap();
        assert!(status.success(), "cannot build {bin}");
    }
    path
}

#[test]
fn every_command_of_the_tour_parses() {
    let commands = tour_commands();
    assert!(commands.len() >= 5, "{commands:?}");
    for command in &commands {
        let (program, args) = program_and_args(&words(command));
        let starts_a_node = program.ends_with("swarmd") && args.iter().all(|a| a != "console");
        let mut checks = vec![[&args[..], &["--help".to_string()]].concat()];
        if starts_a_node {
            checks.push([&args[..], &["config".to_string(), "show".to_string()]].concat());
        }
        for check in checks {
            let out = Command::new(&program).args(&check).output().unwrap();
            assert!(
                out.status.success(),
                "{command}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// The tour's node commands, as a test can run them side by side with
/// others: its own listen addresses and data dirs instead of the fixed ones.
fn without_addresses(args: &[String], seed: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--listen" | "--data-dir" => {
                it.next();
            }
            "--join" => {
                it.next();
                out.extend(["--join".to_string(), seed.to_string()]);
            }
            _ => out.push(arg.clone()),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tours_second_node_joins_and_the_mesh_forms_with_no_mesh_flags() {
    let commands = tour_commands();
    let joining = commands
        .iter()
        .find(|c| c.contains("--join"))
        .expect("a joining node");
    let (_, edge_args) = program_and_args(&words(joining));
    let dir = tempfile::tempdir().unwrap();
    let cookie = [("SWARMD_COOKIE", "READMETOURCOOKIEXQZJVKWPMBRTYHGFD")];
    let mut first = support::Node::start(&dir.path().join("swarmd-data"), &[], &cookie);
    first.ready().await;
    let edge_args = without_addresses(&edge_args, &first.listen);
    assert!(
        !edge_args.iter().any(|a| a.starts_with("--mesh")),
        "{edge_args:?}"
    );
    let args: Vec<&str> = edge_args.iter().map(String::as_str).collect();
    let mut edge = support::Node::start(&dir.path().join("edge-1-data"), &args, &cookie);
    edge.ready().await;
    let linked = |member: &'static str| {
        move |v: &serde_json::Value| v["message"] == "mesh linked" && v["member"] == member
    };
    let limit = std::time::Duration::from_secs(20);
    edge.wait_for(
        "edge-1's mesh linked to the first node",
        limit,
        linked("swarmd"),
    )
    .await;
    first
        .wait_for(
            "the first node's mesh linked to edge-1",
            limit,
            linked("edge-1"),
        )
        .await;
    for node in [&mut edge, &mut first] {
        node.signal(libc::SIGTERM);
        assert_eq!(node.exit().await.code(), Some(0), "{}", node.log.join("\n"));
    }
}
