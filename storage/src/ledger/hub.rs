use std::sync::Arc;

use futures::future::BoxFuture;
use swarmd_messages::Event;

use super::events::EventLookup;
use super::forward::{Hub, HubError};
use super::keys::TREE;
use super::record::{put_events, put_events_alone};
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
            refuse_invalid(&events)?;
            let (appended, late) = new_events(&*storage, events)?;
            let mut batch = Batch::default();
            put_events(&mut batch, &appended).map_err(failed)?;
            put_events_alone(&mut batch, &late).map_err(failed)?;
            storage.apply(TREE, batch).map_err(failed)?;
            storage.flush().await.map_err(failed)
        })
    }
}

/// A batch with an event out of bounds is refused naming the first.
fn refuse_invalid(events: &[Event]) -> Result<(), HubError> {
    match events
        .iter()
        .find_map(|e| Some((e.id.seq, e.bounds_violation()?)))
    {
        Some((seq, why)) => {
            tracing::warn!(seq, %why, "forwarded batch refused: an event is out of bounds");
            Err(HubError::Invalid { seq, why })
        }
        None => Ok(()),
    }
}

/// The events not held yet: those above the newest seq held (or taken from
/// this batch) for their tenant and node (appended: they go into blocks),
/// and the missing ones below it (late: stored alone, so blocks of a tenant
/// and node never overlap). An event held already (a resend after a lost
/// ack or cursor) is skipped, so it is neither stored nor indexed twice; one
/// held with other content refuses the batch.
fn new_events(
    storage: &dyn Storage,
    events: Vec<Event>,
) -> Result<(Vec<Event>, Vec<Event>), HubError> {
    let failed = |e: StorageError| HubError::Failed(e.to_string());
    let mut lookup = EventLookup::new(storage);
    // (tenant, node, newest seq): a batch names a few.
    let mut newest: Vec<(String, String, Option<u64>)> = Vec::new();
    let mut fresh: Vec<(Event, bool)> = Vec::with_capacity(events.len());
    for event in events {
        let (tenant, node, seq) = (event.tenant.as_str(), event.id.node.as_str(), event.id.seq);
        let at = match newest.iter().position(|(t, n, _)| t == tenant && n == node) {
            Some(at) => at,
            None => {
                let seq = lookup.newest(tenant, node).map_err(failed)?;
                newest.push((tenant.to_owned(), node.to_owned(), seq));
                newest.len() - 1
            }
        };
        if newest[at].2.is_none_or(|newest| seq > newest) {
            newest[at].2 = Some(seq);
            fresh.push((event, false));
            continue;
        }
        let same = |e: &&(Event, bool)| e.0.id == event.id && e.0.tenant == event.tenant;
        let held_same = match fresh.iter().find(same) {
            Some((taken, _)) => Some(*taken == event),
            None => match lookup.get(tenant, node, seq) {
                Ok(None) => None,
                Ok(Some(held)) => Some(held == event),
                Err(StorageError::Corrupt(_)) => Some(false),
                Err(e) => return Err(failed(e)),
            },
        };
        match held_same {
            None => fresh.push((event, true)),
            Some(true) => {}
            Some(false) => {
                tracing::error!(node = %event.id.node, seq, "forwarded event differs from the one held; batch refused");
                return Err(HubError::Conflict {
                    node: event.id.node,
                    seq,
                });
            }
        }
    }
    let (late, appended): (Vec<_>, Vec<_>) = fresh.into_iter().partition(|(_, late)| *late);
    let events = |v: Vec<(Event, bool)>| v.into_iter().map(|(e, _)| e).collect();
    Ok((events(appended), events(late)))
}
