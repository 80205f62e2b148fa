use std::sync::Arc;

use futures::future::BoxFuture;
use swarmd_messages::Event;

use super::forward::{Hub, HubError};
use super::keys::{self, TREE};
use super::record::{decode_event, put_events};
use crate::{Batch, Storage, StorageError};

/// The cloud's receiving end: writes forwarded events into its own ledger
/// under their original `(node, seq)`, skipping those it already has (a
/// resend), and acks only after the flush. An id it holds with *different*
/// content refuses the whole batch with [`HubError::Conflict`]: acknowledged
/// data is never silently dropped in favour of what was there.
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
            let failed = |e: StorageError| HubError::Failed(e.to_string());
            if let Some((seq, why)) = events
                .iter()
                .find_map(|e| Some((e.id.seq, e.bounds_violation()?)))
            {
                tracing::warn!(seq, %why, "forwarded batch refused: an event is out of bounds");
                return Err(HubError::Invalid { seq, why });
            }
            // An event delivered before (a resend after a lost ack or cursor)
            // is skipped, so it is neither stored nor indexed twice.
            let mut fresh = Vec::with_capacity(events.len());
            for event in events {
                let key = keys::event(&event.tenant, &event.id.node, event.id.seq);
                match storage.get(TREE, &key).map_err(failed)? {
                    None => fresh.push(event),
                    Some(held) if decode_event(&held).is_ok_and(|held| held == event) => {}
                    Some(_) => {
                        tracing::error!(node = %event.id.node, seq = event.id.seq, "forwarded event differs from the one held; batch refused");
                        return Err(HubError::Conflict {
                            node: event.id.node,
                            seq: event.id.seq,
                        });
                    }
                }
            }
            let mut batch = Batch::default();
            put_events(&mut batch, &fresh).map_err(failed)?;
            storage.apply(TREE, batch).map_err(failed)?;
            storage
                .flush()
                .await
                .map_err(|e| HubError::Failed(e.to_string()))
        })
    }
}
