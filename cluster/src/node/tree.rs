//! The root supervision tree (DESIGN §5). Later issues add the forwarder or hub
//! receiver and snapshotter under `storage`, agent subtrees under `agents`, and
//! the `cloud` and `control` subtrees.

use std::sync::Arc;
use std::time::Duration;

use ractor::Actor;
use swarmd_actors::NodeCtx;
use swarmd_actors::ctx::{LedgerHandle, Storage};
use swarmd_config::NodeConfig;
use swarmd_storage::ledger::{RetentionPolicy, WriterConfig};
use swarmd_storage::{KeeperArgs, StorageKeeper};
use swarmd_supervisor::seams::Clock;
use swarmd_supervisor::{ChildSpec, EventSender, Strategy, SupervisorSpec};

/// Every supervisor of the tree reports to `events`.
pub fn root_spec(
    ctx: &NodeCtx,
    config: &NodeConfig,
    cookie: String,
    ledger_writer: ChildSpec,
    events: &EventSender,
) -> SupervisorSpec {
    let storage = storage_spec(ctx, config, ledger_writer).events(events.clone());
    let cluster = crate::transport::cluster_spec(ctx, config, cookie).events(events.clone());
    let agents = SupervisorSpec::new("agents", Strategy::OneForOne).events(events.clone());
    SupervisorSpec::new("node", Strategy::OneForOne)
        .intensity(3, Duration::from_secs(30))
        .events(events.clone())
        .child(storage.into_child())
        .child(cluster.into_child())
        .child(agents.into_child())
}

/// The ledger's handle (for NodeCtx) and its supervised writer (for the tree).
pub fn ledger_writer(
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    config: &NodeConfig,
) -> (LedgerHandle, ChildSpec) {
    let st = &config.storage;
    let writer = WriterConfig {
        node: config.node.name.clone(),
        max_batch: st.group_commit_max_events,
        max_wait: Duration::from_micros(st.group_commit_max_wait_us),
        queue_capacity: st.queue_capacity,
        enqueue_timeout: Duration::from_millis(st.append_timeout_ms),
    };
    swarmd_storage::ledger::ledger_writer(storage, clock, writer)
}

/// `rest_for_one`: everything after the keeper depends on the storage it owns.
fn storage_spec(ctx: &NodeCtx, config: &NodeConfig, ledger_writer: ChildSpec) -> SupervisorSpec {
    let st = &config.storage;
    let role = config.node.role;
    let args = KeeperArgs {
        storage: ctx.storage.clone(),
        clock: ctx.clock.clone(),
        retention: RetentionPolicy {
            max_age: Duration::from_secs(st.retention_max_age_s),
            max_bytes: st.retention_max_mb * 1024 * 1024,
        },
        retention_interval: Duration::from_secs(st.retention_interval_s),
        forwarding_node: (role.runs_edge() && !role.runs_cloud()).then(|| config.node.name.clone()),
    };
    let keeper = ChildSpec::new("keeper", move |sup| {
        let args = args.clone();
        async move {
            Ok(Actor::spawn_linked(None, StorageKeeper, args, sup)
                .await?
                .0
                .get_cell())
        }
    });
    SupervisorSpec::new("storage", Strategy::RestForOne)
        .child(keeper)
        .child(ledger_writer)
}
