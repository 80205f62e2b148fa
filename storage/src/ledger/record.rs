//! Events as stored: a versioned envelope, plus the index entries that point at them.

use swarmd_messages::{Envelope, Event, decode, encode};

use super::keys;
use crate::{Batch, StorageError};

pub fn encode_event(event: &Event) -> Result<Vec<u8>, StorageError> {
    encode(&Envelope::new(event.tenant.clone(), event.trace, event))
        .map_err(|e| StorageError::Corrupt(format!("cannot encode event {:?}: {e}", event.id)))
}

pub fn decode_event(bytes: &[u8]) -> Result<Event, StorageError> {
    decode::<Event>(bytes)
        .map(|envelope| envelope.payload)
        .map_err(|e| StorageError::Corrupt(format!("undecodable event: {e}")))
}

/// Adds the event and every index entry for it to `batch`. Writing the same
/// event twice writes the same keys and values: the hub relies on that.
pub fn put_event(batch: &mut Batch, event: &Event) -> Result<usize, StorageError> {
    let (tenant, node, seq) = (&event.tenant, &event.id.node, event.id.seq);
    let key = keys::event(tenant, node, seq);
    let value = encode_event(event)?;
    let size = key.len() + value.len();
    if let Some(agent) = &event.agent {
        batch.insert(keys::by_agent(tenant, agent, node, seq), key.clone());
    }
    batch.insert(
        keys::by_trace(tenant, &event.trace.trace_id, node, seq),
        key.clone(),
    );
    batch.insert(
        keys::by_kind(tenant, event.kind.name(), node, seq),
        key.clone(),
    );
    batch.insert(keys::by_time(tenant, event.time_us, node, seq), key.clone());
    batch.insert(keys::by_node(node, seq), key.clone());
    batch.insert(key, value);
    Ok(size)
}

/// Removes the event and its index entries.
pub fn delete_event(batch: &mut Batch, event: &Event) {
    let (tenant, node, seq) = (&event.tenant, &event.id.node, event.id.seq);
    if let Some(agent) = &event.agent {
        batch.remove(keys::by_agent(tenant, agent, node, seq));
    }
    batch.remove(keys::by_trace(tenant, &event.trace.trace_id, node, seq));
    batch.remove(keys::by_kind(tenant, event.kind.name(), node, seq));
    batch.remove(keys::by_time(tenant, event.time_us, node, seq));
    batch.remove(keys::by_node(node, seq));
    batch.remove(keys::event(tenant, node, seq));
}

pub fn u64_value(bytes: &[u8]) -> Result<u64, StorageError> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StorageError::Corrupt(format!("expected 8 bytes, found {}", bytes.len())))?;
    Ok(u64::from_be_bytes(array))
}
