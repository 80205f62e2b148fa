use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tracing::{error, info};

use crate::Storage;

/// Owns the node's storage within the supervision tree. It starts first and
/// stops last, so its `post_stop` flush is the last write of a clean shutdown.
/// The ledger writer and forwarder will join it in the storage subtree.
pub struct StorageKeeper;

pub enum KeeperMsg {}

impl ractor::Message for KeeperMsg {}

impl Actor for StorageKeeper {
    type Msg = KeeperMsg;
    type State = Arc<dyn Storage>;
    type Arguments = Arc<dyn Storage>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        storage: Arc<dyn Storage>,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(storage)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        storage: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match storage.flush().await {
            Ok(()) => info!("storage flushed"),
            Err(e) => error!(error = %e, "storage flush on shutdown failed"),
        }
        Ok(())
    }
}
