//! Remote spawn and cross-node watches, from a node in this test process (the
//! cloud) to a real `swarmd` edge process over TCP.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use support::{Node, STARTUP};
use swarmd_actors::fleet::{PROBE_KIND, ProbeMsg};
use swarmd_cluster::gateway::{
    CallError, ExitCause, GatewayMsg, MemberState, Placed, Placement, RemoteChild,
    RemoteSupervisor, RemoteSupervisorArgs, RemoteSupervisorMsg, SpawnError, gateway_name,
};
use swarmd_messages::{SpawnRejected, SpawnSpec};
use swarmd_node::Started;
use swarmd_storage::DataDir;
use swarmd_supervisor::{Intensity, Restart};

const COOKIE: &str = "REMOTESPAWNCOOKIEXQZJVKWPMBRTYHG";
const EXIT_NOTICE: Duration = Duration::from_secs(10);

fn probe(id: &str) -> SpawnSpec {
    SpawnSpec::new(id, PROBE_KIND, "default")
}

/// An in-process cloud node on a free port, with a fast failure detector.
/// Tests share this process, and with it ractor's registry: each cloud gets its own `name`.
async fn start_cloud(dir: &Path, name: &str) -> (Started, String, DataDir) {
    let cookie = support::write_file(dir, "cookie", COOKIE);
    std::fs::set_permissions(&cookie, std::fs::Permissions::from_mode(0o600)).unwrap();
    let listen = format!("127.0.0.1:{}", support::free_port());
    let text = format!(
        "[node]\nname = \"{name}\"\nrole = \"cloud\"\ndata_dir = {:?}\ncookie_file = {:?}\n\
         [cluster]\nlisten = \"{listen}\"\nheartbeat_interval_ms = 100\n\
         suspect_after_ms = 400\ndown_after_ms = 1200\n",
        dir.join(name),
        cookie,
    );
    let path = support::write_file(dir, "cloud.toml", &text);
    let config = swarmd_config::load(Some(&path), &[]).unwrap();
    let data_dir = DataDir::lock(&config.node.data_dir).unwrap();
    let node = Started::start(&config, &data_dir).await.unwrap();
    (node, listen, data_dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_spawn_watch_exit_limits_and_node_down() {
    let dir = tempfile::tempdir().unwrap();
    let (cloud, seed, _lock) = start_cloud(dir.path(), "cloud").await;
    let cluster = cloud.cluster.clone();
    let mut changes = cluster.subscribe();

    let edge_config = support::write_file(
        dir.path(),
        "edge.toml",
        "[agents]\nmax_agents = 2\nboot = 0\n",
    );
    let args = [
        "--config",
        edge_config.to_str().unwrap(),
        "--name",
        "edge1",
        "--role",
        "edge",
    ];
    let mut args = args.to_vec();
    args.extend(["--join", &seed]);
    let mut edge = Node::start(
        &dir.path().join("edge1"),
        &args,
        &[("SWARMD_COOKIE", COOKIE)],
    );
    let up = tokio::time::timeout(STARTUP, async {
        loop {
            let change = changes.recv().await.unwrap();
            if change.node == "edge1" && change.to == MemberState::Up {
                return;
            }
        }
    });
    up.await.expect("edge1 up at the cloud");

    // Typed refusals.
    let unknown = cluster.spawn("nowhere", probe("p0")).await.unwrap_err();
    assert_eq!(
        unknown,
        SpawnError::Call(CallError::UnknownNode("nowhere".into()))
    );
    let mut bad = probe("p0");
    bad.kind = "no-such-kind".into();
    let rejected = cluster.spawn("edge1", bad).await.unwrap_err();
    assert!(
        matches!(&rejected, SpawnError::Rejected(SpawnRejected::Spec(why)) if why.contains("unknown kind")),
        "{rejected:?}"
    );

    // Spawn, watch, fail it remotely: the reason crosses the wire.
    let p1 = cluster.spawn("edge1", probe("p1")).await.unwrap();
    assert_eq!((p1.node.as_str(), p1.name.as_str()), ("edge1", "p1"));
    let exit = p1.watch().await.unwrap();
    p1.cast(&ProbeMsg::Ping).unwrap();
    p1.cast(&ProbeMsg::Fail("boom: sensor offline".into()))
        .unwrap();
    let exit = tokio::time::timeout(EXIT_NOTICE, exit)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((exit.node.as_str(), exit.actor.as_str()), ("edge1", "p1"));
    match &exit.cause {
        ExitCause::Exited(reason) => assert!(reason.contains("boom: sensor offline"), "{reason}"),
        other => panic!("expected an exit reason, got {other:?}"),
    }

    // The exited temporary child is gone, so two more fit and a third does not.
    let p2 = cluster.spawn("edge1", probe("p2")).await.unwrap();
    cluster.spawn("edge1", probe("p3")).await.unwrap();
    let full = cluster.spawn("edge1", probe("p4")).await.unwrap_err();
    assert_eq!(full, SpawnError::Rejected(SpawnRejected::LimitReached(2)));
    let taken = cluster.spawn("edge1", probe("p2")).await.unwrap_err();
    assert!(
        matches!(taken, SpawnError::Rejected(SpawnRejected::Spec(_))),
        "{taken:?}"
    );

    // An undecodable frame is counted and dropped; the gateway carries on.
    let gateway = ractor::registry::where_is(gateway_name("cloud")).unwrap();
    let gateway: ractor::ActorRef<GatewayMsg> = gateway.into();
    gateway.cast(GatewayMsg::Frame(vec![0xFF; 37])).unwrap();
    let stats = cluster.stats().await.unwrap();
    assert_eq!(stats.undecodable_frames, 1);

    // The node dies: the watch of p2 fires with NodeDown, spawns fail fast.
    let exit = p2.watch().await.unwrap();
    edge.signal(libc::SIGKILL);
    edge.exit().await;
    let exit = tokio::time::timeout(EXIT_NOTICE, exit)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit.cause, ExitCause::NodeDown);
    let down = cluster.spawn("edge1", probe("p5")).await.unwrap_err();
    assert_eq!(down, SpawnError::Call(CallError::NodeDown("edge1".into())));

    assert_eq!(
        cloud.shutdown(Duration::from_secs(10)).await,
        std::process::ExitCode::SUCCESS
    );
}

async fn wait_placed(
    sup: &ractor::ActorRef<RemoteSupervisorMsg>,
    what: &str,
    ok: impl Fn(&[Placed]) -> bool,
) -> Vec<Placed> {
    let deadline = tokio::time::Instant::now() + STARTUP;
    loop {
        let placed = ractor::call_t!(sup, RemoteSupervisorMsg::Which, 5_000).unwrap();
        if ok(&placed) {
            return placed;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {placed:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn on(placed: &[Placed], id: &str) -> (Option<String>, u32) {
    let p = placed.iter().find(|p| p.id == id).unwrap();
    (p.node.clone(), p.restarts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_side_supervisor_respawns_remote_children_by_policy() {
    let dir = tempfile::tempdir().unwrap();
    let (cloud, seed, _lock) = start_cloud(dir.path(), "cloud-b").await;
    let cluster = cloud.cluster.clone();
    let mut edges = Vec::new();
    for name in ["edge1", "edge2"] {
        let args = ["--name", name, "--role", "edge", "--join", &seed];
        let envs = [("SWARMD_COOKIE", COOKIE)];
        edges.push(Node::start(&dir.path().join(name), &args, &envs));
    }
    let child = |id: &str, node: &str, restart, placement| RemoteChild {
        spec: probe(id),
        node: node.into(),
        restart,
        placement,
    };
    let args = RemoteSupervisorArgs {
        cluster: cluster.clone(),
        children: vec![
            child("roamer", "edge1", Restart::Permanent, Placement::AnyEdge),
            child("pinned", "edge2", Restart::Transient, Placement::SameNode),
        ],
        intensity: Intensity {
            max_restarts: 1,
            period: Duration::from_secs(60),
        },
        retry: Duration::from_millis(100),
        grace: Duration::ZERO,
        notes: None,
    };
    let (sup, handle) = ractor::Actor::spawn(None, RemoteSupervisor, args)
        .await
        .unwrap();
    wait_placed(&sup, "both placed", |p| {
        on(p, "roamer").0.is_some() && on(p, "pinned").0.as_deref() == Some("edge2")
    })
    .await;

    // A crash on the same node: restarted there.
    cluster
        .remote_ref("edge2", "pinned")
        .cast(&ProbeMsg::Fail("crash".into()))
        .unwrap();
    wait_placed(&sup, "pinned restarted on edge2", |p| {
        on(p, "pinned") == (Some("edge2".into()), 1)
    })
    .await;

    // The roamer's node dies: it moves to the edge that is left.
    let placed = wait_placed(&sup, "roamer placed", |p| on(p, "roamer").0.is_some()).await;
    let (roamer_node, _) = on(&placed, "roamer");
    let (victim, survivor) = if roamer_node.as_deref() == Some("edge1") {
        (0, "edge2")
    } else {
        (1, "edge1")
    };
    edges[victim].signal(libc::SIGKILL);
    edges[victim].exit().await;
    wait_placed(&sup, "roamer moved", |p| {
        on(p, "roamer").0.as_deref() == Some(survivor)
    })
    .await;

    // A second crash within the period exceeds the intensity: the supervisor fails.
    if survivor == "edge2" {
        cluster
            .remote_ref("edge2", "pinned")
            .cast(&ProbeMsg::Fail("again".into()))
            .unwrap();
    } else {
        cluster
            .remote_ref("edge1", "roamer")
            .cast(&ProbeMsg::Fail("again".into()))
            .unwrap();
    }
    tokio::time::timeout(STARTUP, handle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sup.get_status(), ractor::ActorStatus::Stopped);
    cloud.shutdown(Duration::from_secs(10)).await;
}
