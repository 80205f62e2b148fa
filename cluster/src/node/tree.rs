//! The root supervision tree (DESIGN §5). Later issues add the ledger writer and
//! forwarder under `storage`, agent subtrees under `agents`, and the `cloud` and
//! `control` subtrees.

use std::time::Duration;

use ractor::Actor;
use swarmd_actors::NodeCtx;
use swarmd_config::NodeConfig;
use swarmd_storage::StorageKeeper;
use swarmd_supervisor::{ChildSpec, Strategy, SupervisorSpec};

pub fn root_spec(ctx: &NodeCtx, config: &NodeConfig, cookie: String) -> SupervisorSpec {
    SupervisorSpec::new("node", Strategy::OneForOne)
        .intensity(3, Duration::from_secs(30))
        .child(storage_spec(ctx).into_child())
        .child(crate::transport::cluster_spec(ctx, config, cookie).into_child())
        .child(SupervisorSpec::new("agents", Strategy::OneForOne).into_child())
}

/// `rest_for_one`: everything after the keeper depends on the storage it owns.
fn storage_spec(ctx: &NodeCtx) -> SupervisorSpec {
    let storage = ctx.storage.clone();
    let keeper = ChildSpec::new("keeper", move |sup| {
        let storage = storage.clone();
        async move {
            let (keeper, _) = Actor::spawn_linked(None, StorageKeeper, storage, sup).await?;
            Ok(keeper.get_cell())
        }
    });
    SupervisorSpec::new("storage", Strategy::RestForOne).child(keeper)
}
