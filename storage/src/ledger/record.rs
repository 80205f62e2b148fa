//! Events as stored (a versioned envelope), and the posting lists that index them.

use serde::{Deserialize, Serialize};
use swarmd_messages::{CodecError, Envelope, Event, decode, encode};

use super::block::{encode_block, split_into_blocks};
use super::keys;
use crate::{Batch, StorageError};

pub fn encode_event(event: &Event) -> Result<Vec<u8>, StorageError> {
    encode(&Envelope::new(event.tenant.clone(), event.trace, event))
        .map_err(|e| StorageError::Corrupt(format!("cannot encode event {:?}: {e}", event.id)))
}

/// Decodes a stored event, of this wire version or of an older one (a
/// ledger written before the upgrade stays readable in place).
pub fn decode_event(bytes: &[u8]) -> Result<Event, StorageError> {
    let decoded = match decode::<Event>(bytes) {
        Err(CodecError::UnsupportedVersion { got: 1, .. }) => super::legacy::decode_v1(bytes),
        Err(CodecError::UnsupportedVersion { got: 2, .. }) => super::legacy::decode_v2(bytes),
        Err(CodecError::UnsupportedVersion { got: 3, .. }) => super::legacy_v3::decode_v3(bytes),
        // Versions 5 and 6 changed adverts and assignments (never stored) and
        // appended event kinds: events of 4 and 5 read as they are.
        Err(CodecError::UnsupportedVersion {
            got: got @ (4 | 5), ..
        }) => swarmd_messages::decode_version::<Event>(bytes, got).map(|envelope| envelope.payload),
        other => other.map(|envelope| envelope.payload),
    };
    decoded.map_err(|e| StorageError::Corrupt(format!("undecodable event: {e}")))
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

/// Which index a posting list belongs to, and its value there.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum IndexValue<'a> {
    Agent(&'a str),
    Trace(&'a [u8; 16]),
    Kind(&'static str),
    Time(u64),
}

/// Posting lists under construction: (tenant, index value, node) -> seqs.
/// Borrowed keys, so a batch allocates per posting list, not per event.
#[derive(Default)]
struct Postings<'a> {
    lists: std::collections::HashMap<(&'a str, IndexValue<'a>, &'a str), Vec<u64>>,
    logs: std::collections::HashMap<&'a str, Vec<(u64, String)>>,
}

impl<'a> Postings<'a> {
    fn add(&mut self, event: &'a Event) {
        let (tenant, node, seq) = (event.tenant.as_str(), event.id.node.as_str(), event.id.seq);
        let values = [
            Some(IndexValue::Trace(&event.trace.trace_id)),
            Some(IndexValue::Kind(event.kind.name())),
            Some(IndexValue::Time(event.time_us)),
            event.agent.as_deref().map(IndexValue::Agent),
        ];
        for value in values.into_iter().flatten() {
            self.lists
                .entry((tenant, value, node))
                .or_default()
                .push(seq);
        }
        self.logs
            .entry(node)
            .or_default()
            .push((seq, event.tenant.clone()));
    }

    fn write(self, batch: &mut Batch) {
        for ((tenant, value, node), seqs) in self.lists {
            let first = seqs[0];
            let key = match value {
                IndexValue::Agent(agent) => keys::by_agent(tenant, agent, node, first),
                IndexValue::Trace(trace) => keys::by_trace(tenant, trace, node, first),
                IndexValue::Kind(kind) => keys::by_kind(tenant, kind, node, first),
                IndexValue::Time(time) => keys::by_time(tenant, time, node, first),
            };
            let posting = Posting {
                node: node.to_owned(),
                seqs,
            };
            batch.insert(key, to_bytes(&posting));
        }
        for (node, entries) in self.logs {
            let log = LogPosting {
                node: node.to_owned(),
                entries,
            };
            batch.insert(keys::by_node(node, log.entries[0].0), to_bytes(&log));
        }
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

/// As `put_events`, each event under a key of its own (not in a block): for
/// events that arrive below seqs already held.
pub fn put_events_alone(batch: &mut Batch, events: &[Event]) -> Result<(), StorageError> {
    let mut postings = Postings::default();
    for event in events {
        let key = keys::event(&event.tenant, &event.id.node, event.id.seq);
        batch.insert(key, encode_event(event)?);
        postings.add(event);
    }
    postings.write(batch);
    Ok(())
}

/// One tenant's and node's encoded events of a batch: `(seq, bytes)`.
type EncodedRun = Vec<(u64, Vec<u8>)>;

/// `put_events` for events the caller has already encoded: each tenant's
/// and node's events go into blocks, in seq order.
pub fn put_encoded<'a>(batch: &mut Batch, events: impl IntoIterator<Item = (&'a Event, Vec<u8>)>) {
    let mut postings = Postings::default();
    let mut runs: Vec<((&str, &str), EncodedRun)> = Vec::new();
    for (event, bytes) in events {
        let owner = (event.tenant.as_str(), event.id.node.as_str());
        match runs.iter_mut().find(|(o, _)| *o == owner) {
            Some((_, run)) => run.push((event.id.seq, bytes)),
            None => runs.push((owner, vec![(event.id.seq, bytes)])),
        }
        postings.add(event);
    }
    for ((tenant, node), mut run) in runs {
        run.sort_by_key(|(seq, _)| *seq);
        for events in split_into_blocks(&run) {
            let block = encode_block(events.iter().map(|(seq, bytes)| (*seq, bytes.as_slice())));
            batch.insert(keys::block(tenant, node, events[0].0), block);
        }
    }
    postings.write(batch);
}

pub fn u64_value(bytes: &[u8]) -> Result<u64, StorageError> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StorageError::Corrupt(format!("expected 8 bytes, found {}", bytes.len())))?;
    Ok(u64::from_be_bytes(array))
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmd_messages::{EventId, EventKind, TraceContext};

    #[test]
    fn an_event_written_at_version_4_reads_after_the_upgrade() {
        let event = Event {
            id: EventId {
                node: "edge-1".into(),
                seq: 3,
            },
            tenant: "acme".into(),
            agent: Some("a1".into()),
            trace: TraceContext::default(),
            time_us: 5,
            kind: EventKind::Signal {
                status: "ok".into(),
                detail: "v4".into(),
            },
        };
        let mut envelope = Envelope::new("acme", event.trace, &event);
        envelope.version = 4;
        let bytes = encode(&envelope).unwrap();
        assert_eq!(decode_event(&bytes).unwrap(), event);
        envelope.version = 99;
        assert!(decode_event(&encode(&envelope).unwrap()).is_err());
    }
}
