//! The JetStream hub's binding of events to their publishers, in one
//! process against a real `nats-server`: a resend past the duplicate window
//! is applied once, a forged event id is refused at ingest while the real
//! event still arrives, and with per-node NATS permissions an edge cannot
//! publish as another.

mod support;

use std::path::Path;
use std::time::Duration;

use support::eventually;
use support::nats::NatsServer;
use swarmd_config::hub::JetStreamSection;

/// A hub section on `nats` with a duplicate window of `window_ms`.
fn section(nats: &NatsServer, window_ms: u64) -> JetStreamSection {
    JetStreamSection {
        url: nats.url(),
        duplicate_window_ms: window_ms,
        timeout_ms: 2000,
        ..JetStreamSection::default()
    }
}

/// In one process: a resend JetStream stores again (outside its duplicate
/// window) still leaves one copy in the cloud's ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_past_the_duplicate_window_is_applied_once() {
    use swarmd_adapters::jetstream::JetStreamHub;
    use swarmd_storage::ledger::{Hub, LedgerReader, encode_event};

    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats")).await;
    let section = section(&nats, 300);
    made_stream(&section).await;
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
/// The stream made before the cloud and the edge start: both make it when
/// missing, and a publish racing a create may find no stream yet (the
/// forwarder would retry it; these tests deliver once).
async fn made_stream(section: &swarmd_config::hub::JetStreamSection) {
    swarmd_adapters::jetstream::connect(section, "setup")
        .await
        .unwrap();
}

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
    use swarmd_storage::ledger::{Hub, HubError, LedgerReader, encode_event};

    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats")).await;
    let section = section(&nats, 1_000);
    made_stream(&section).await;
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
