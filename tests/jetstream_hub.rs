//! The event hub on NATS JetStream, against a real `nats-server` and real
//! `swarmd` processes: every edge event reaches every cloud's ledger once
//! and unchanged, through a server crash, two consumers, resends past the
//! duplicate window and refused credentials.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use support::console::{ENV, console, json_lines};
use support::http::{get, post_json};
use support::nats::NatsServer;
use support::{Node, eventually, free_port, write_file};

const LIMIT: Duration = Duration::from_secs(60);

/// A node config on the JetStream hub at `url`, with `extra` TOML in `[hub.jetstream]`.
fn hub_config(dir: &Path, url: &str, extra: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let text = format!(
        "[hub]\nbackend = \"jetstream\"\n\n[hub.jetstream]\nurl = \"{url}\"\ntimeout_ms = 2000\n{extra}"
    );
    write_file(dir, "node.toml", &text).display().to_string()
}

async fn cloud(dir: &Path, name: &str, config: &str) -> (Node, String) {
    let http = format!("127.0.0.1:{}", free_port());
    let args = [
        "--name", name, "--role", "cloud", "--http", &http, "--config", config,
    ];
    let mut node = Node::start(&dir.join(name), &args, &ENV);
    node.ready().await;
    (node, http)
}

async fn edge(dir: &Path, name: &str, join: &str, config: &str) -> Node {
    let args = [
        "--name", name, "--join", join, "--http", "off", "--config", config,
    ];
    let mut node = Node::start(&dir.join(name), &args, &ENV);
    node.ready().await;
    node
}

/// `events --node NODE` as `node` answers it, by seq.
async fn events_of(node: &Node, of: &str) -> BTreeMap<u64, Value> {
    let (code, out, err) = console(
        &node.listen,
        &["--json", "-c", &format!("events --node {of} --limit 10000")],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let events = json_lines(&out);
    let by_seq: BTreeMap<u64, Value> = events
        .iter()
        .map(|e| (e["seq"].as_u64().unwrap(), e.clone()))
        .collect();
    assert_eq!(by_seq.len(), events.len(), "an event listed twice: {out}");
    by_seq
}

/// Waits until `cloud` holds every event `edge` holds now, each unchanged.
async fn all_reached(cloud: &Node, edge: &Node, name: &str) -> usize {
    let recorded = events_of(edge, name).await;
    assert!(!recorded.is_empty(), "{name} recorded nothing");
    let what = format!("{name}'s {} events at {}", recorded.len(), cloud.listen);
    eventually(&what, || async {
        let held = events_of(cloud, name).await;
        recorded
            .iter()
            .all(|(seq, e)| held.get(seq) == Some(e))
            .then_some(recorded.len())
    })
    .await
}

async fn stats(node: &Node) -> Value {
    let (code, out, err) = console(&node.listen, &["--json", "-c", "stats"]).await;
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(out.trim()).unwrap()
}

async fn submit_mission(http: &str) {
    let sector = json!({"cover": {"sector": {"min": {"x": 0, "y": 0}, "max": {"x": 3, "y": 3}}}});
    let answer = post_json(http, "/api/missions", &sector).await.json();
    assert!(answer["mission"].is_u64(), "{answer}");
}

async fn agents_on(http: &str, edges: &[&str]) {
    eventually("the edges' agents known to the planner", || async {
        let agents = get(http, "/api/agents").await.json();
        let nodes: BTreeSet<&str> = agents
            .as_array()?
            .iter()
            .filter_map(|a| a["node"].as_str())
            .collect();
        edges.iter().all(|e| nodes.contains(e)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_edge_event_reaches_the_cloud_through_jetstream_once_and_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats")).await;
    let config = hub_config(&dir.path().join("conf"), &nats.url(), "");
    let (cloud, http) = cloud(dir.path(), "cloud", &config).await;
    let edge_1 = edge(dir.path(), "edge-1", &cloud.listen, &config).await;
    let edge_2 = edge(dir.path(), "edge-2", &cloud.listen, &config).await;
    agents_on(&http, &["edge-1", "edge-2"]).await;
    submit_mission(&http).await;
    for (edge, name) in [(&edge_1, "edge-1"), (&edge_2, "edge-2")] {
        all_reached(&cloud, edge, name).await;
    }
    let hub = &stats(&cloud).await["hub"];
    assert_eq!(hub["backend"], "jetstream", "{hub}");
    assert!(hub["applied"].as_u64() > Some(0), "{hub}");
    assert_eq!(hub["refused"], 0, "{hub}");
    assert!(hub["pending"].is_u64(), "the stream's lag: {hub}");
    let metrics = get(&http, "/metrics").await.text();
    let applied = metrics
        .lines()
        .find_map(|l| l.strip_prefix("swarmd_hub_messages_applied_total "))
        .and_then(|v| v.trim().parse::<f64>().ok());
    assert!(applied > Some(0.0), "{metrics}");
    let edge_stats = stats(&edge_1).await;
    assert_eq!(edge_stats["hub"]["backend"], "jetstream", "{edge_stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nats_server_costs_a_backlog_not_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let mut nats = NatsServer::start(&dir.path().join("nats")).await;
    let config = hub_config(&dir.path().join("conf"), &nats.url(), "");
    let (cloud, http) = cloud(dir.path(), "cloud", &config).await;
    let edge_1 = edge(dir.path(), "edge-1", &cloud.listen, &config).await;
    agents_on(&http, &["edge-1"]).await;
    all_reached(&cloud, &edge_1, "edge-1").await;

    nats.kill().await;
    // Work goes on meanwhile; the edge keeps what it records.
    submit_mission(&http).await;
    eventually("a backlog on the edge", || async {
        let s = stats(&edge_1).await;
        (s["forward"]["backlog"].as_u64() > Some(0)).then_some(())
    })
    .await;
    nats.restart().await;
    eventually("the backlog drained", || async {
        let s = stats(&edge_1).await;
        (s["forward"]["backlog"].as_u64() == Some(0)).then_some(())
    })
    .await;
    all_reached(&cloud, &edge_1, "edge-1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clouds_each_apply_every_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats")).await;
    let config = hub_config(&dir.path().join("conf"), &nats.url(), "");
    let (cloud_a, http) = cloud(dir.path(), "cloud-a", &config).await;
    // A second cloud outside this cluster: it shares only the stream.
    let (cloud_b, _) = cloud(dir.path(), "cloud-b", &config).await;
    let edge_1 = edge(dir.path(), "edge-1", &cloud_a.listen, &config).await;
    agents_on(&http, &["edge-1"]).await;
    submit_mission(&http).await;
    let at_a = all_reached(&cloud_a, &edge_1, "edge-1").await;
    let at_b = all_reached(&cloud_b, &edge_1, "edge-1").await;
    assert!(at_a > 0 && at_b > 0);
    let (a, b) = (stats(&cloud_a).await, stats(&cloud_b).await);
    assert!(a["hub"]["applied"].as_u64() > Some(0), "{a}");
    assert!(b["hub"]["applied"].as_u64() > Some(0), "{b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_are_a_clear_error_and_the_edge_keeps_buffering() {
    let dir = tempfile::tempdir().unwrap();
    let nats =
        NatsServer::start_with(&dir.path().join("nats"), Some(("swarmd", "right-password"))).await;
    let good = dir.path().join("good");
    std::fs::create_dir_all(&good).unwrap();
    let private = |file: std::path::PathBuf| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    private(write_file(&good, "password", "right-password\n"));
    let bad = dir.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    private(write_file(&bad, "password", "wrong-password\n"));
    let auth = |at: &Path| {
        format!(
            "user = \"swarmd\"\npassword_file = \"{}\"\n",
            at.join("password").display()
        )
    };
    let cloud_config = hub_config(&good, &nats.url(), &auth(&good));
    let edge_config = hub_config(&bad, &nats.url(), &auth(&bad));
    let (cloud, http) = cloud(dir.path(), "cloud", &cloud_config).await;
    let mut edge_1 = edge(dir.path(), "edge-1", &cloud.listen, &edge_config).await;
    let refused = edge_1
        .wait_for("the refusal logged", LIMIT, |v| {
            v["message"] == "forwarding failed"
                && v["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("authorization violation"))
        })
        .await;
    assert!(
        refused["reason"].as_str().unwrap().contains("NATS"),
        "{refused}"
    );
    agents_on(&http, &["edge-1"]).await;
    submit_mission(&http).await;
    let backlog = eventually("the edge buffers", || async {
        let s = stats(&edge_1).await;
        s["forward"]["backlog"].as_u64().filter(|b| *b > 0)
    })
    .await;
    assert!(backlog > 0);
    let at_cloud = events_of(&cloud, "edge-1").await;
    assert!(at_cloud.is_empty(), "nothing got through: {at_cloud:?}");
}

/// In one process: a resend JetStream stores again (outside its duplicate
/// window) still leaves one copy in the cloud's ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_past_the_duplicate_window_is_applied_once() {
    use swarmd_adapters::jetstream::JetStreamHub;
    use swarmd_config::hub::JetStreamSection;
    use swarmd_storage::ledger::{Hub, LedgerReader, encode_event};

    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats")).await;
    let section = JetStreamSection {
        url: nats.url(),
        duplicate_window_ms: 300,
        timeout_ms: 2000,
        ..JetStreamSection::default()
    };
    let (storage, stats, ingest, _writer) = in_process_cloud(dir.path(), &section).await;
    let event = |seq: u64| signal("edge-9", seq, "test");
    let hub = JetStreamHub::new("edge-9", section.clone());
    hub.deliver(vec![event(1), event(2)]).await.unwrap();
    let reader = LedgerReader::new(storage.clone());
    let held = || reader.node_log("edge-9", 0, 100).unwrap();
    eventually("both events applied", || async {
        (held().len() == 2).then_some(())
    })
    .await;

    // The same event again, until JetStream stores it anew (its window over).
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let subject = section.subject("default", "edge-9");
    let resend = || {
        let message = async_nats::jetstream::message::PublishMessage::build()
            .payload(encode_event(&event(1)).unwrap().into())
            .message_id(swarmd_adapters::jetstream::message_id(&event(1)));
        js.send_publish(subject.clone(), message)
    };
    let inside = resend().await.unwrap().await.unwrap();
    assert!(
        inside.duplicate,
        "a resend within the window is dropped by JetStream"
    );
    eventually("a resend JetStream stores again", || async {
        let ack = resend().await.unwrap().await.unwrap();
        (!ack.duplicate).then_some(())
    })
    .await;
    eventually("the resend consumed", || async {
        (stats.snapshot().applied >= 3).then_some(())
    })
    .await;
    assert_eq!(
        held(),
        vec![event(1), event(2)],
        "one copy of each, unchanged"
    );
    assert_eq!(stats.snapshot().refused, 0);
    ingest.stop(None);
}

/// A cloud's consumer in this process, on a sled ledger of its own, with
/// a ledger writer (under its supervisor) for its alarms.
async fn in_process_cloud(
    dir: &Path,
    section: &swarmd_config::hub::JetStreamSection,
) -> (
    std::sync::Arc<dyn swarmd_storage::Storage>,
    swarmd_adapters::jetstream::IngestStats,
    ractor::ActorRef<swarmd_adapters::jetstream::IngestMsg>,
    ractor::ActorRef<swarmd_supervisor::SupervisorMsg>,
) {
    use std::sync::Arc;
    use swarmd_adapters::jetstream::{IngestArgs, IngestStats, JetStreamIngest};
    use swarmd_storage::ledger::{WriterConfig, ledger_writer};
    use swarmd_supervisor::{Strategy, Supervisor, SupervisorSpec};
    let storage: Arc<dyn swarmd_storage::Storage> =
        Arc::new(swarmd_storage::SledStorage::open(&dir.join("ledger"), 8 << 20).unwrap());
    let clock = Arc::new(swarmd_cluster::seams::SystemClock);
    let (alarms, child) = ledger_writer(storage.clone(), clock, WriterConfig::new("cloud"));
    let spec = SupervisorSpec::new("storage", Strategy::RestForOne).child(child);
    let (writer, _) = ractor::Actor::spawn(None, Supervisor, spec).await.unwrap();
    let stats = IngestStats::default();
    let args = IngestArgs {
        node: "cloud".into(),
        section: section.clone(),
        storage: storage.clone(),
        stats: stats.clone(),
        alarms,
    };
    let (ingest, _) = ractor::Actor::spawn(None, JetStreamIngest, Arc::new(args))
        .await
        .unwrap();
    (storage, stats, ingest, writer)
}

fn signal(node: &str, seq: u64, status: &str) -> swarmd_messages::Event {
    use swarmd_messages::{Event, EventId, EventKind, TraceContext};
    Event {
        id: EventId {
            node: node.into(),
            seq,
        },
        tenant: "default".into(),
        agent: None,
        trace: TraceContext::default(),
        time_us: 1_000 + seq,
        kind: EventKind::Signal {
            status: status.into(),
            detail: format!("event {seq}"),
        },
    }
}

/// Another publisher (its own subject, no per-node permissions on the
/// server) writes an event as edge-9 under edge-9's next id. The cloud
/// refuses it at ingest (wrong subject) and raises an alarm; edge-9's own
/// publish finds the id taken by other content and reports a conflict
/// instead of taking the duplicate for its own; once JetStream's window has
/// passed, edge-9's real event is stored and reaches the cloud unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_event_id_is_refused_at_ingest_and_the_real_event_still_arrives() {
    use swarmd_adapters::jetstream::{JetStreamHub, message_id};
    use swarmd_config::hub::JetStreamSection;
    use swarmd_storage::ledger::{Hub, HubError, LedgerReader, encode_event};

    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats")).await;
    let section = JetStreamSection {
        url: nats.url(),
        duplicate_window_ms: 1_000,
        timeout_ms: 2000,
        ..JetStreamSection::default()
    };
    let (storage, stats, ingest, _writer) = in_process_cloud(dir.path(), &section).await;
    let hub = JetStreamHub::new("edge-9", section.clone());
    hub.deliver(vec![signal("edge-9", 1, "real")])
        .await
        .unwrap();

    let forgery = signal("edge-9", 2, "forged");
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let message = async_nats::jetstream::message::PublishMessage::build()
        .payload(encode_event(&forgery).unwrap().into())
        .message_id(message_id(&forgery));
    let mallory = section.subject("default", "mallory");
    let stored = js
        .send_publish(mallory, message)
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(!stored.duplicate);

    let real = signal("edge-9", 2, "real");
    let taken = hub.deliver(vec![real.clone()]).await;
    assert!(
        matches!(&taken, Err(HubError::Conflict { node, seq: 2 }) if node == "edge-9"),
        "the publisher took another's message for its own: {taken:?}"
    );
    eventually("the forgery refused at ingest", || async {
        (stats.snapshot().misattributed == 1).then_some(())
    })
    .await;

    eventually("the real event stored once the window passed", || async {
        hub.deliver(vec![real.clone()]).await.ok()
    })
    .await;
    let reader = LedgerReader::new(storage.clone());
    let held = eventually("the real event at the cloud", || async {
        let log = reader.node_log("edge-9", 0, 100).unwrap();
        (log.len() == 2).then_some(log)
    })
    .await;
    assert_eq!(
        held,
        vec![signal("edge-9", 1, "real"), real],
        "unchanged, no forgery"
    );
    let alarms = reader.node_log("cloud", 0, 1000).unwrap();
    let alarmed = alarms.iter().any(|e| {
        matches!(&e.kind, swarmd_messages::EventKind::Signal { status, detail }
            if status == "hub_misattributed" && detail.contains("edge-9/2"))
    });
    assert!(alarmed, "no alarm in the cloud's ledger: {alarms:?}");
    assert_eq!(stats.snapshot().refused, 1, "{:?}", stats.snapshot());
    ingest.stop(None);
}

/// Per-node NATS permissions, as README shows them: each edge may publish
/// only on its own subject (and the two JetStream API calls its publisher
/// makes). An edge that publishes on another edge's subject is refused by
/// the server; the real edge's events reach the cloud unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_per_node_permissions_an_edge_cannot_publish_as_another() {
    use swarmd_adapters::jetstream::{JetStreamHub, message_id};
    use swarmd_config::hub::JetStreamSection;
    use swarmd_storage::ledger::{Hub, LedgerReader, encode_event};

    let dir = tempfile::tempdir().unwrap();
    let edge_user = |name: &str| {
        format!(
            "{{ user: {name}, password: pw-{name}, permissions: {{\n\
             publish: [\"swarmd.*.events.{name}\", \"$JS.API.STREAM.INFO.>\", \"$JS.API.STREAM.MSG.GET.>\"],\n\
             subscribe: [\"_INBOX.>\"] }} }}"
        )
    };
    let config = format!(
        "authorization {{ users = [\n{}\n{}\n{{ user: cloud, password: pw-cloud }}\n] }}\n",
        edge_user("edge-9"),
        edge_user("mallory")
    );
    let nats = NatsServer::start_with_config(&dir.path().join("nats"), &config).await;
    let as_user = |user: &str| {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.path().join(format!("{user}.password"));
        std::fs::write(&path, format!("pw-{user}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        JetStreamSection {
            url: nats.url(),
            timeout_ms: 2000,
            user: Some(user.into()),
            password_file: Some(path),
            ..JetStreamSection::default()
        }
    };
    // The cloud makes the stream: an edge may only look it up.
    swarmd_adapters::jetstream::connect(&as_user("cloud"), "setup")
        .await
        .unwrap();
    let (storage, stats, ingest, _writer) = in_process_cloud(dir.path(), &as_user("cloud")).await;
    let hub = JetStreamHub::new("edge-9", as_user("edge-9"));
    hub.deliver(vec![signal("edge-9", 1, "real")])
        .await
        .unwrap();

    // Mallory's own events go through; edge-9's subject is not Mallory's.
    let mallory = JetStreamHub::new("mallory", as_user("mallory"));
    mallory
        .deliver(vec![signal("mallory", 1, "own")])
        .await
        .unwrap();
    let section = as_user("mallory");
    let password = std::fs::read_to_string(section.password_file.as_ref().unwrap()).unwrap();
    let client = async_nats::ConnectOptions::with_user_and_password(
        "mallory".into(),
        password.trim().into(),
    )
    .connect(nats.url())
    .await
    .unwrap();
    let mut js = async_nats::jetstream::new(client);
    js.set_timeout(Duration::from_secs(2));
    let forgery = signal("edge-9", 2, "forged");
    let message = async_nats::jetstream::message::PublishMessage::build()
        .payload(encode_event(&forgery).unwrap().into())
        .message_id(message_id(&forgery));
    let published = match js
        .send_publish(section.subject("default", "edge-9"), message)
        .await
    {
        Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    assert!(
        published.is_err(),
        "the server let Mallory publish as edge-9"
    );

    let real = signal("edge-9", 2, "real");
    hub.deliver(vec![real.clone()]).await.unwrap();
    let reader = LedgerReader::new(storage.clone());
    let held = eventually("edge-9's events at the cloud", || async {
        let log = reader.node_log("edge-9", 0, 100).unwrap();
        (log.len() == 2).then_some(log)
    })
    .await;
    assert_eq!(
        held,
        vec![signal("edge-9", 1, "real"), real],
        "unchanged, no forgery"
    );
    let own = eventually("Mallory's own event at the cloud", || async {
        let log = reader.node_log("mallory", 0, 100).unwrap();
        (log.len() == 1).then_some(log)
    })
    .await;
    assert_eq!(own, vec![signal("mallory", 1, "own")]);
    assert_eq!(stats.snapshot().misattributed, 0, "{:?}", stats.snapshot());
    ingest.stop(None);
}
