//! A node's life against the real binary: start, signals, ordered shutdown,
//! the data-dir lock and the cookie.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;

use serde_json::Value;
use support::{Node, STARTUP};

fn child_events<'a>(events: &'a [Value], message: &str, supervisor: &str) -> Vec<&'a str> {
    events
        .iter()
        .filter(|e| e["message"] == message && e["supervisor"] == supervisor)
        .filter_map(|e| e["child"].as_str())
        .collect()
}

fn position(events: &[Value], pred: impl Fn(&Value) -> bool) -> usize {
    events.iter().position(pred).expect("event present")
}

#[tokio::test]
async fn sigterm_stops_children_in_reverse_order_flushes_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    // Children starting and stopping are routine: logged at debug.
    let log = [("SWARMD_LOG", "info,swarmd_supervisor=debug")];
    let mut node = Node::start(&dir.path().join("data"), &[], &log);
    node.ready().await;
    node.signal(libc::SIGTERM);
    let status = node.exit().await;
    assert_eq!(status.code(), Some(0), "log:\n{}", node.log.join("\n"));

    let events = node.events();
    let started = child_events(&events, "child started", "node");
    let stopped = child_events(&events, "child stopped", "node");
    // The default node plays both roles: it also hosts the world and plans.
    assert_eq!(
        started,
        [
            "storage", "governor", "cluster", "agents", "cloud", "control"
        ]
    );
    assert_eq!(
        stopped,
        [
            "control", "cloud", "agents", "cluster", "governor", "storage"
        ],
        "reverse start order"
    );

    let cluster_down = position(&events, |e| {
        e["message"] == "child stopped" && e["child"] == "cluster"
    });
    let flushed = position(&events, |e| e["message"] == "storage flushed");
    let node_stopped = position(&events, |e| e["message"] == "node stopped");
    assert!(
        cluster_down < flushed && flushed < node_stopped,
        "storage flushes last"
    );
}

#[tokio::test]
async fn a_group_delivered_sigterm_is_one_request_and_stops_in_order() {
    // `timeout` sends SIGTERM to the node and to its process group: the node
    // receives it twice, at once, and must take it as one request.
    let dir = tempfile::tempdir().unwrap();
    let wrapper = ["timeout", "-s", "TERM", "--preserve-status", "6"];
    let mut node = Node::start_wrapped(&wrapper, &dir.path().join("data"), &[]);
    let status = node.exit().await;
    let log = node.log.join("\n");
    assert_eq!(status.code(), Some(0), "log:\n{log}");
    let events = node.events();
    assert!(
        events.iter().any(|e| e["message"] == "node stopped"),
        "{log}"
    );
    assert!(!log.contains("forcing exit"), "{log}");
}

#[tokio::test]
async fn a_repeat_just_after_the_first_sigterm_is_the_same_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::start(&dir.path().join("data"), &[], &[]);
    node.ready().await;
    node.signal(libc::SIGTERM);
    node.wait_message("shutting down", STARTUP).await;
    // A group delivery that lands after the node took the first one.
    node.signal(libc::SIGTERM);
    let status = node.exit().await;
    let log = node.log.join("\n");
    assert_eq!(status.code(), Some(0), "log:\n{log}");
    assert!(log.contains("node stopped"), "{log}");
}

#[tokio::test]
async fn sigint_also_shuts_down_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::start(&dir.path().join("data"), &[], &[]);
    node.ready().await;
    node.signal(libc::SIGINT);
    assert_eq!(node.exit().await.code(), Some(0));
    assert!(node.events().iter().any(|e| e["signal"] == "SIGINT"));
}

#[tokio::test]
async fn second_node_on_the_same_data_dir_fails_fast_and_first_keeps_running() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut first = Node::start(&data, &["--name", "first"], &[]);
    first.ready().await;
    let cookie_before = std::fs::read(data.join("cookie")).unwrap();

    let mut second = Node::start(&data, &["--name", "second"], &[]);
    let status = second.exit().await;
    assert_eq!(status.code(), Some(1));
    let log = second.log.join("\n");
    assert!(log.contains("is in use by another swarmd"), "{log}");
    assert!(log.contains("LOCK"), "{log}");
    assert!(!log.contains("node ready"), "{log}");

    assert!(
        first.child.try_wait().unwrap().is_none(),
        "first node still runs"
    );
    assert_eq!(
        std::fs::read(data.join("cookie")).unwrap(),
        cookie_before,
        "nothing rewritten"
    );
    first.signal(libc::SIGTERM);
    assert_eq!(
        first.exit().await.code(),
        Some(0),
        "first shuts down cleanly afterwards"
    );
}

#[tokio::test]
async fn cookie_is_created_owner_only_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut node = Node::start(&data, &[], &[]);
    node.ready().await;
    let cookie_path = data.join("cookie");
    let mode = std::fs::metadata(&cookie_path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let cookie = std::fs::read_to_string(&cookie_path).unwrap();
    assert!(cookie.trim().len() >= 20, "cookie {cookie:?}");
    node.signal(libc::SIGTERM);
    assert_eq!(node.exit().await.code(), Some(0));

    let mut again = Node::start(&data, &[], &[]);
    again.ready().await;
    assert_eq!(
        std::fs::read_to_string(&cookie_path).unwrap(),
        cookie,
        "kept across restarts"
    );
    again.signal(libc::SIGTERM);
    assert_eq!(again.exit().await.code(), Some(0));
}

#[tokio::test]
async fn world_readable_cookie_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let cookie_path = support::write_file(&data, "cookie", "SECRETCOOKIEXQZJVKWPMBRTYHGFDSLN\n");
    std::fs::set_permissions(&cookie_path, std::fs::Permissions::from_mode(0o644)).unwrap();

    let mut node = Node::start(&data, &[], &[]);
    let status = node.exit().await;
    assert_eq!(status.code(), Some(1));
    let log = node.log.join("\n");
    assert!(log.contains("readable by group or others"), "{log}");
    assert!(log.contains("chmod 600"), "{log}");
    assert!(!log.contains("node ready"));
}

#[tokio::test]
async fn a_guessable_cookie_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let weak = [("SWARMD_COOKIE", "SECRET")];
    let mut node = Node::start(&dir.path().join("data"), &[], &weak);
    let status = node.exit().await;
    assert_eq!(status.code(), Some(1));
    let log = node.log.join("\n");
    assert!(
        log.contains("SWARMD_COOKIE") && log.contains("128 bits"),
        "{log}"
    );
    assert!(!log.contains("node ready"));
}

#[tokio::test]
async fn a_busy_listen_port_is_a_clear_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut node = Node::start_listening(&dir.path().join("data"), &addr, &[], &[]);
    let status = node.exit().await;
    assert_eq!(status.code(), Some(1));
    let log = node.log.join("\n");
    assert!(
        log.contains("node failed to start") && log.contains("node_server"),
        "{log}"
    );
    assert!(status.signal().is_none(), "no crash");
}

#[tokio::test]
async fn join_authenticates_with_a_shared_cookie_and_not_with_a_wrong_one() {
    let dir = tempfile::tempdir().unwrap();
    let cookie = [("SWARMD_COOKIE", "SHAREDCOOKIEXQZJVKWPMBRTYHGFDSLN")];
    let mut cloud = Node::start(
        &dir.path().join("cloud"),
        &["--name", "cloud", "--role", "cloud"],
        &cookie,
    );
    cloud.ready().await;
    let seed = cloud.listen.clone();

    let mut edge = Node::start(
        &dir.path().join("edge"),
        &["--name", "edge", "--role", "edge", "--join", &seed],
        &cookie,
    );
    edge.ready().await;
    edge.wait_message("connected", STARTUP).await;
    let authed = |v: &Value| v["message"] == "cluster session authenticated";
    let on_edge = edge.wait_for("edge authenticated", STARTUP, authed).await;
    assert!(
        on_edge["peer"].as_str().unwrap().starts_with("cloud@"),
        "{on_edge}"
    );
    let on_cloud = cloud.wait_for("cloud authenticated", STARTUP, authed).await;
    assert!(
        on_cloud["peer"].as_str().unwrap().starts_with("edge@"),
        "{on_cloud}"
    );

    let wrong = [("SWARMD_COOKIE", "WRONGCOOKIEXQZJVKWPMBRTYHGFDSLNC")];
    let mut intruder = Node::start(
        &dir.path().join("intruder"),
        &["--name", "intruder", "--join", &seed],
        &wrong,
    );
    intruder.ready().await;
    // The intruder learns from the cloud's first answer that its cookie is wrong.
    let failed = intruder.wait_message("cannot connect", STARTUP).await;
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("wrong cookie")),
        "{failed}"
    );
    // The cloud drops the connection in swarmd's handshake and says so; nothing
    // from the intruder ever reaches ractor_cluster, let alone authenticates.
    let refused = cloud
        .wait_message("cluster connection refused", STARTUP)
        .await;
    assert_eq!(refused["level"], "WARN", "{refused}");
    assert!(
        !cloud
            .events()
            .iter()
            .any(|e| authed(e) && e["peer"].as_str().unwrap_or("").starts_with("intruder@")),
        "wrong cookie must not authenticate"
    );

    for node in [&mut intruder, &mut edge, &mut cloud] {
        node.signal(libc::SIGTERM);
        assert_eq!(node.exit().await.code(), Some(0));
    }
}

#[tokio::test]
async fn the_ledger_records_the_supervision_tree_durably() {
    use std::sync::Arc;
    use swarmd_messages::{EventKind, SupervisionAction};
    use swarmd_storage::ledger::{LedgerReader, Query, Selector};

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut node = Node::start(&data, &["--name", "recorder"], &[]);
    node.ready().await;
    node.signal(libc::SIGTERM);
    assert_eq!(node.exit().await.code(), Some(0));

    let storage = swarmd_storage::SledStorage::open(&data.join("ledger"), 8 << 20).unwrap();
    let reader = LedgerReader::new(Arc::new(storage));
    let events = reader
        .query(&Query {
            tenant: "system".into(),
            select: Selector::Kind("supervision".into()),
            limit: 1000,
        })
        .unwrap();
    let records: Vec<(String, SupervisionAction)> = events
        .iter()
        .map(|e| match &e.kind {
            EventKind::Supervision { child, what, .. } => (child.clone(), what.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    let started = |c: &str| records.contains(&(c.to_string(), SupervisionAction::Started));
    for child in [
        "storage/keeper",
        "storage/ledger_writer",
        "node/storage",
        "cluster/node_server",
        "node/agents",
    ] {
        assert!(started(child), "{child} not recorded in {records:?}");
    }
    assert!(
        records.contains(&(
            "node/agents".to_string(),
            SupervisionAction::Exited {
                reason: "Shutdown".into()
            }
        )),
        "shutdown of the first-stopped subtree recorded: {records:?}"
    );
    assert!(events.iter().all(|e| e.id.node == "recorder"));
    assert!(events.windows(2).all(|w| w[0].id.seq < w[1].id.seq));
}

/// The first line on stdout is for a person: the version, the node, where
/// its listeners are, its data dir, and the console command to try.
#[tokio::test]
async fn the_first_line_says_where_the_node_is() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", support::free_port());
    let http = format!("127.0.0.1:{}", support::free_port());
    let data = dir.path().join("data");
    let mut child = support::swarmd()
        .args(["--listen", &listen, "--http", &http, "--data-dir"])
        .arg(&data)
        .env("SWARMD_COOKIE", support::console::COOKIE)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let first = tokio::time::timeout(STARTUP, lines.next_line())
        .await
        .expect("a line within the startup limit")
        .unwrap()
        .expect("a first line");
    let expected = format!(
        "ready: node swarmd (both), cluster {listen}, Mission Control http://{http}, data {}",
        data.display()
    );
    assert!(first.starts_with("swarmd "), "{first}");
    assert!(first.contains(&expected), "{first}");
    assert!(
        first.ends_with(&format!("try: swarmd console {listen}")),
        "{first}"
    );
    child.kill().await.unwrap();
}

/// The daemon's randomness is the OS's: two fresh data dirs never get the
/// same token (a binary that linked the simulator's shims would answer
/// every process the same "random" bytes).
#[tokio::test]
async fn fresh_secrets_differ_from_process_to_process() {
    let dir = tempfile::tempdir().unwrap();
    let mut tokens = Vec::new();
    for i in 0..2 {
        let data = dir.path().join(format!("data-{i}"));
        let data = data.to_str().unwrap();
        let args = ["token", "create", "--tenant", "acme", "--data-dir", data];
        let (status, out, err) = support::run(&args, &[]).await;
        assert!(status.success(), "{err}");
        tokens.push(out.trim().to_string());
    }
    assert!(tokens[0].len() >= 32, "{tokens:?}");
    assert_ne!(tokens[0], tokens[1]);
}
