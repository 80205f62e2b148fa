//! The `storage` subtree (`rest_for_one`): the keeper that owns the
//! storage, the ledger writer, the recorder, and on an edge the forwarder
//! that ships the ledger to the hub.

use std::sync::Arc;
use std::time::Duration;

use swarmd_actors::NodeCtx;
use swarmd_actors::ctx::{LedgerHandle, Storage};
use swarmd_adapters::jetstream::JetStreamHub;
use swarmd_cluster::gateway::{ClusterHandle, ClusterHub};
use swarmd_config::NodeConfig;
use swarmd_config::hub::HubBackend;
use swarmd_storage::Shedding;
use swarmd_storage::ledger::{ForwarderArgs, ForwarderConfig, Hub, forwarder_child};
use swarmd_storage::ledger::{RetentionPolicy, WriterConfig};
use swarmd_storage::{KeeperArgs, StorageKeeper};
use swarmd_supervisor::seams::{Clock, Entropy};
use swarmd_supervisor::{ChildSpec, Strategy, SupervisorSpec};

use super::recorder::{Recorder, RecorderArgs};

/// The storage children made before the tree: the ledger handle of the
/// writer goes into NodeCtx, and the recorder's receivers subscribe early.
pub struct StorageChildren {
    pub ledger_writer: ChildSpec,
    pub recorder: RecorderArgs,
}

/// The ledger's handle (for NodeCtx) and its supervised writer (for the tree).
pub fn ledger_writer(
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    entropy: &dyn Entropy,
    config: &NodeConfig,
) -> (LedgerHandle, ChildSpec) {
    let st = &config.storage;
    let writer = WriterConfig {
        node: config.node.name.clone(),
        max_batch: st.group_commit_max_events,
        max_wait: Duration::from_micros(st.group_commit_max_wait_us),
        queue_capacity: st.queue_capacity,
        enqueue_timeout: Duration::from_millis(st.append_timeout_ms),
        first_seq: swarmd_storage::ledger::fresh_seq_base(entropy),
    };
    swarmd_storage::ledger::ledger_writer(storage, clock, writer)
}

/// `rest_for_one`: everything after the keeper depends on the storage it owns.
pub fn storage_spec(
    ctx: &NodeCtx,
    config: &NodeConfig,
    StorageChildren {
        ledger_writer,
        recorder,
    }: StorageChildren,
    shedding: Shedding,
    cluster: &ClusterHandle,
) -> SupervisorSpec {
    let st = &config.storage;
    let args = KeeperArgs {
        storage: ctx.storage.clone(),
        clock: ctx.clock.clone(),
        retention: RetentionPolicy {
            max_age: Duration::from_secs(st.retention_max_age_s),
            max_bytes: st.retention_max_mb * 1024 * 1024,
        },
        retention_interval: Duration::from_secs(st.retention_interval_s),
        forwarding_node: forwards(config).then(|| config.node.name.clone()),
        shedding,
    };
    let keeper = ChildSpec::for_actor("keeper", StorageKeeper, args);
    let spec = SupervisorSpec::new("storage", Strategy::RestForOne)
        .child(keeper)
        .child(ledger_writer)
        .child(ChildSpec::for_actor("recorder", Recorder, recorder));
    if !forwards(config) {
        return spec;
    }
    let mut forwarding = ForwarderConfig::new(config.node.name.clone());
    let hub: Arc<dyn Hub> = match config.hub.backend {
        HubBackend::Ledger => {
            // A batch is re-sent only once the call carrying it has surely given up.
            forwarding.ack_timeout = config.cluster.call_timeout() + Duration::from_secs(1);
            Arc::new(ClusterHub {
                cluster: cluster.clone(),
            })
        }
        HubBackend::Jetstream => {
            let js = &config.hub.jetstream;
            // Connecting, then publishing and awaiting the acks, each bounded.
            forwarding.ack_timeout = js.timeout() * 2 + Duration::from_secs(1);
            Arc::new(JetStreamHub::new(&config.node.name, js.clone()))
        }
    };
    spec.child(forwarder_child(ForwarderArgs {
        storage: ctx.storage.clone(),
        ledger: ctx.ledger.clone(),
        entropy: ctx.entropy.clone(),
        hub,
        config: forwarding,
    }))
}

/// A cloud on the JetStream hub reads the stream into its ledger.
pub fn consumes_jetstream(config: &NodeConfig) -> bool {
    config.node.role.runs_cloud() && config.hub.backend == HubBackend::Jetstream
}

/// An edge-only node ships its ledger to the cloud; a cloud or a single
/// `both` node is its own hub.
fn forwards(config: &NodeConfig) -> bool {
    let role = config.node.role;
    role.runs_edge() && !role.runs_cloud()
}
