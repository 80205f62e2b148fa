//! Events as stored (a versioned envelope), and the posting lists that index them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
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

/// A tenant-scoped index entry: the seqs, all of `node`, sharing one index value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub node: String,
    pub seqs: Vec<u64>,
}

/// A node-log entry: the node's events of one batch as `(seq, tenant)`, in seq order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPosting {
    pub node: String,
    pub entries: Vec<(u64, String)>,
}

fn codec() -> bincode::config::Configuration {
    bincode::config::standard()
}

pub fn to_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(value, codec()).expect("postings always encode")
}

pub fn from_bytes<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StorageError> {
    bincode::serde::decode_from_slice(bytes, codec())
        .map(|(v, _)| v)
        .map_err(|e| StorageError::Corrupt(format!("undecodable index entry: {e}")))
}

/// Posting lists under construction, keyed by the key of their first seq.
#[derive(Default)]
struct Postings {
    /// Group (index key minus first seq) -> (full key, posting).
    tenant_scoped: BTreeMap<Vec<u8>, (Vec<u8>, Posting)>,
    logs: BTreeMap<Vec<u8>, (Vec<u8>, LogPosting)>,
}

impl Postings {
    fn add(&mut self, first_key: Vec<u8>, node: &str, seq: u64) {
        let group = first_key[..first_key.len() - 8].to_vec();
        let (_, posting) = self.tenant_scoped.entry(group).or_insert_with(|| {
            let posting = Posting {
                node: node.to_owned(),
                seqs: Vec::new(),
            };
            (first_key, posting)
        });
        posting.seqs.push(seq);
    }

    fn add_log(&mut self, event: &Event) {
        let first_key = keys::by_node(&event.id.node, event.id.seq);
        let group = first_key[..first_key.len() - 8].to_vec();
        let (_, log) = self.logs.entry(group).or_insert_with(|| {
            let log = LogPosting {
                node: event.id.node.clone(),
                entries: Vec::new(),
            };
            (first_key, log)
        });
        log.entries.push((event.id.seq, event.tenant.clone()));
    }
}

/// Adds `events` (in seq order per node) and their index entries to `batch`.
/// Writing the same events again writes the same keys and values, and the
/// forwarder always resends from its cursor: the hub relies on both.
pub fn put_events(batch: &mut Batch, events: &[Event]) -> Result<(), StorageError> {
    let encoded = events
        .iter()
        .map(|e| encode_event(e).map(|bytes| (e, bytes)))
        .collect::<Result<Vec<_>, _>>()?;
    put_encoded(batch, encoded);
    Ok(())
}

/// `put_events` for events the caller has already encoded.
pub fn put_encoded<'a>(batch: &mut Batch, events: impl IntoIterator<Item = (&'a Event, Vec<u8>)>) {
    let mut postings = Postings::default();
    for (event, bytes) in events {
        let (tenant, node, seq) = (&event.tenant, &event.id.node, event.id.seq);
        batch.insert(keys::event(tenant, node, seq), bytes);
        if let Some(agent) = &event.agent {
            postings.add(keys::by_agent(tenant, agent, node, seq), node, seq);
        }
        postings.add(
            keys::by_trace(tenant, &event.trace.trace_id, node, seq),
            node,
            seq,
        );
        postings.add(
            keys::by_kind(tenant, event.kind.name(), node, seq),
            node,
            seq,
        );
        postings.add(keys::by_time(tenant, event.time_us, node, seq), node, seq);
        postings.add_log(event);
    }
    for (key, posting) in postings.tenant_scoped.into_values() {
        batch.insert(key, to_bytes(&posting));
    }
    for (key, log) in postings.logs.into_values() {
        batch.insert(key, to_bytes(&log));
    }
}

pub fn u64_value(bytes: &[u8]) -> Result<u64, StorageError> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StorageError::Corrupt(format!("expected 8 bytes, found {}", bytes.len())))?;
    Ok(u64::from_be_bytes(array))
}
