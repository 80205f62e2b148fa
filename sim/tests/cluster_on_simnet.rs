//! Production node trees on SimNet in virtual time: a cloud and two edges
//! join, the edges' agents work the cloud's missions, and a partition of one
//! edge is seen as `down` and then healed.

use std::time::Duration;

use swarmd_cluster::gateway::MemberState;
use swarmd_config::Role;
use swarmd_messages::{EventKind, MissionChange, MissionOutcome};
use swarmd_sim::cluster::{SimCluster, address_of, node_config};
use swarmd_sim::net::NetFaults;
use swarmd_storage::ledger::{LedgerReader, Query, Selector};

async fn states(cluster: &SimCluster, of: &str) -> Vec<(String, MemberState)> {
    let node = cluster.member(of).unwrap().node.as_ref().unwrap();
    let members = node.cluster.members().await.unwrap_or_default();
    members
        .into_iter()
        .map(|m| (m.info.name, m.state))
        .collect()
}

fn completed_missions(cluster: &SimCluster) -> usize {
    let storage = cluster.member("cloud").unwrap().storage.clone();
    let query = Query {
        tenant: "default".into(),
        select: Selector::Kind("mission".into()),
        limit: 10_000,
    };
    let events = LedgerReader::new(storage).query(&query).unwrap();
    events
        .iter()
        .filter(|e| {
            matches!(
                &e.kind,
                EventKind::Mission {
                    change: MissionChange::Ended(MissionOutcome::Completed),
                    ..
                }
            )
        })
        .count()
}

async fn wait_until(what: &str, limit: Duration, mut probe: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !probe().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_cloud_and_two_edges_work_missions_over_simnet() {
    if std::env::var("SIM_LOG").is_ok() {
        tracing_subscriber::fmt().with_env_filter("info").init();
    }
    let mut cluster = SimCluster::new(7, NetFaults::default());
    let cloud = node_config("cloud", Role::Cloud, &[]);
    let seed = address_of(&cloud);
    cluster.add(cloud).await.unwrap();
    for name in ["edge-1", "edge-2"] {
        let mut config = node_config(name, Role::Edge, std::slice::from_ref(&seed));
        config.agents.boot = 2;
        cluster.add(config).await.unwrap();
    }
    wait_until(
        "both edges up at the cloud",
        Duration::from_secs(10),
        async || {
            let s = states(&cluster, "cloud").await;
            s.len() == 2 && s.iter().all(|(_, st)| *st == MemberState::Up)
        },
    )
    .await;
    wait_until(
        "two missions completed",
        Duration::from_secs(120),
        async || completed_missions(&cluster) >= 2,
    )
    .await;

    cluster.partition("cloud", "edge-2");
    wait_until(
        "edge-2 down at the cloud",
        Duration::from_secs(10),
        async || {
            states(&cluster, "cloud")
                .await
                .contains(&("edge-2".into(), MemberState::Down))
        },
    )
    .await;
    cluster.heal("cloud", "edge-2");
    wait_until("edge-2 back up", Duration::from_secs(20), async || {
        states(&cluster, "cloud")
            .await
            .contains(&("edge-2".into(), MemberState::Up))
    })
    .await;
    cluster.power_off().await;
}
