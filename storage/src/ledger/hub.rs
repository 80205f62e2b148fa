use std::sync::Arc;

use futures::future::BoxFuture;
use swarmd_messages::Event;

use super::forward::{Hub, HubError};
use super::keys::TREE;
use super::record::put_events;
use crate::{Batch, Storage};

/// The cloud's receiving end: writes forwarded events into its own ledger
/// under their original `(node, seq)`, so a duplicate overwrites itself, and
/// acks only after the flush.
pub struct LedgerHub {
    storage: Arc<dyn Storage>,
}

impl LedgerHub {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self { storage }
    }
}

impl Hub for LedgerHub {
    fn deliver(&self, events: Vec<Event>) -> BoxFuture<'static, Result<(), HubError>> {
        let storage = self.storage.clone();
        Box::pin(async move {
            let mut batch = Batch::default();
            put_events(&mut batch, &events).map_err(|e| HubError::Failed(e.to_string()))?;
            storage
                .apply(TREE, batch)
                .map_err(|e| HubError::Failed(e.to_string()))?;
            storage
                .flush()
                .await
                .map_err(|e| HubError::Failed(e.to_string()))
        })
    }
}
