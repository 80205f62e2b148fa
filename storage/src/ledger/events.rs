//! Stored events by `(tenant, node, seq)`: from blocks, or from single-event
//! keys (a ledger written before blocks; events a hub received late). Blocks
//! of one tenant and node never overlap: an event is in the block with the
//! greatest first seq at or below its own, or stored alone.

use swarmd_messages::Event;

use super::block::Block;
use super::keys::{self, TREE};
use super::record::decode_event;
use crate::{Storage, StorageError};

/// Looks events up, keeping the last block read: the seqs a posting list or
/// a node log names usually share a block.
pub struct EventLookup<'a> {
    storage: &'a dyn Storage,
    /// The block last read, and the (tenant, node) prefix it belongs to.
    cached: Option<(Vec<u8>, Block)>,
}

impl<'a> EventLookup<'a> {
    pub fn new(storage: &'a dyn Storage) -> Self {
        Self {
            storage,
            cached: None,
        }
    }

    /// The event, or `None` if the ledger does not hold it.
    pub fn get(
        &mut self,
        tenant: &str,
        node: &str,
        seq: u64,
    ) -> Result<Option<Event>, StorageError> {
        let prefix = keys::blocks_of_node(tenant, node);
        let cached = self
            .cached
            .as_ref()
            .is_some_and(|(p, block)| *p == prefix && block.spans(seq));
        if !cached {
            self.cached = self.block_spanning(&prefix, tenant, node, seq)?;
        }
        if let Some(bytes) = self.cached.as_ref().and_then(|(_, b)| b.get(seq)) {
            return decode_event(bytes).map(Some);
        }
        let single = self.storage.get(TREE, &keys::event(tenant, node, seq))?;
        single.map(|bytes| decode_event(&bytes)).transpose()
    }

    /// As `get`, for an event an index or a log names: missing is corruption.
    pub fn indexed(&mut self, tenant: &str, node: &str, seq: u64) -> Result<Event, StorageError> {
        self.get(tenant, node, seq)?.ok_or_else(|| {
            StorageError::Corrupt(format!("an index points at missing event {node}/{seq}"))
        })
    }

    fn block_spanning(
        &self,
        prefix: &[u8],
        tenant: &str,
        node: &str,
        seq: u64,
    ) -> Result<Option<(Vec<u8>, Block)>, StorageError> {
        let below = keys::block(tenant, node, seq.saturating_add(1));
        match self.storage.last_below(TREE, &below)? {
            Some((key, value)) if key.starts_with(prefix) => {
                let block = Block::parse(value)?;
                Ok(block.spans(seq).then(|| (prefix.to_vec(), block)))
            }
            _ => Ok(None),
        }
    }

    /// The highest seq of `node` held for `tenant`: every seq above it is new.
    pub fn newest(&self, tenant: &str, node: &str) -> Result<Option<u64>, StorageError> {
        let blocks = keys::blocks_of_node(tenant, node);
        let in_blocks = match self.storage.last_below(TREE, &keys::prefix_end(&blocks))? {
            Some((key, value)) if key.starts_with(&blocks) => Some(Block::parse(value)?.last_seq()),
            _ => None,
        };
        let singles = keys::events_of_node(tenant, node);
        let single = match self.storage.last_below(TREE, &keys::prefix_end(&singles))? {
            Some((key, _)) if key.starts_with(&singles) => Some(keys::trailing_seq(&key)),
            _ => None,
        };
        Ok(in_blocks.max(single))
    }
}

/// `node`'s events of `tenant` with `from <= seq < to`, in seq order, at most `limit`.
pub fn seq_range(
    storage: &dyn Storage,
    tenant: &str,
    node: &str,
    (from, to): (u64, u64),
    limit: usize,
) -> Result<Vec<Event>, StorageError> {
    let mut events = Vec::new();
    let singles = storage.scan(
        TREE,
        &keys::event(tenant, node, from),
        Some(&keys::event(tenant, node, to)),
        limit,
    )?;
    for (_, bytes) in &singles {
        events.push(decode_event(bytes)?);
    }
    let prefix = keys::blocks_of_node(tenant, node);
    let end = keys::block(tenant, node, to);
    // The block holding `from` starts at or before it.
    let mut start =
        match storage.last_below(TREE, &keys::block(tenant, node, from.saturating_add(1)))? {
            Some((key, _)) if key.starts_with(&prefix) => key,
            _ => keys::block(tenant, node, from),
        };
    let from_singles = events.len();
    while events.len() - from_singles < limit {
        let rows = storage.scan(TREE, &start, Some(&end), BLOCKS_PER_SCAN)?;
        let resume = match rows.last() {
            Some((key, _)) if rows.len() == BLOCKS_PER_SCAN => Some(keys::after(key)),
            _ => None,
        };
        for (_, value) in rows {
            let block = Block::parse(value)?;
            for (_, bytes) in block.iter().filter(|(seq, _)| (from..to).contains(seq)) {
                events.push(decode_event(bytes)?);
            }
        }
        match resume {
            Some(key) => start = key,
            None => break,
        }
    }
    // Singles may lie between blocks' seqs: merge, then keep the first `limit`.
    events.sort_by_key(|e| e.id.seq);
    events.truncate(limit);
    Ok(events)
}

/// Blocks read per storage scan of a seq range.
const BLOCKS_PER_SCAN: usize = 16;

#[cfg(test)]
mod tests {
    use swarmd_messages::{EventId, EventKind, TraceContext};

    use super::*;
    use crate::Batch;
    use crate::ledger::record::{put_events, put_events_alone};
    use crate::sled_store::SledStorage;

    fn event(tenant: &str, seq: u64) -> Event {
        Event {
            id: EventId {
                node: "n".into(),
                seq,
            },
            tenant: tenant.into(),
            agent: Some("a".into()),
            trace: TraceContext::default(),
            time_us: seq,
            kind: EventKind::Signal {
                status: "s".into(),
                detail: format!("{seq}"),
            },
        }
    }

    #[test]
    fn a_ledger_of_single_events_reads_on_beside_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SledStorage::open(dir.path(), 8 << 20).unwrap();
        // Written before blocks: 0..4 one key each. Then two commits of
        // blocks, with another tenant's events interleaved.
        let (old, first, second): (Vec<Event>, Vec<Event>, Vec<Event>) = (
            (0..4).map(|s| event("t", s)).collect(),
            (4..9)
                .map(|s| event(if s % 2 == 0 { "t" } else { "u" }, s))
                .collect(),
            (9..12).map(|s| event("t", s)).collect(),
        );
        let mut batch = Batch::default();
        put_events_alone(&mut batch, &old).unwrap();
        put_events(&mut batch, &first).unwrap();
        storage.apply(TREE, batch).unwrap();
        let mut batch = Batch::default();
        put_events(&mut batch, &second).unwrap();
        storage.apply(TREE, batch).unwrap();

        let mut lookup = EventLookup::new(&storage);
        for e in old.iter().chain(&first).chain(&second) {
            assert_eq!(
                lookup.get(&e.tenant, "n", e.id.seq).unwrap().as_ref(),
                Some(e)
            );
            let other = if e.tenant == "t" { "u" } else { "t" };
            assert_eq!(
                lookup.get(other, "n", e.id.seq).unwrap(),
                None,
                "tenant-scoped"
            );
        }
        assert_eq!(lookup.get("t", "n", 12).unwrap(), None);
        assert_eq!(lookup.newest("t", "n").unwrap(), Some(11));
        assert_eq!(lookup.newest("u", "n").unwrap(), Some(7));
        assert_eq!(lookup.newest("v", "n").unwrap(), None);

        let seqs = |from, to, limit| -> Vec<u64> {
            let events = seq_range(&storage, "t", "n", (from, to), limit).unwrap();
            events.iter().map(|e| e.id.seq).collect()
        };
        assert_eq!(seqs(0, u64::MAX, 100), vec![0, 1, 2, 3, 4, 6, 8, 9, 10, 11]);
        assert_eq!(seqs(2, 10, 4), vec![2, 3, 4, 6]);
        assert_eq!(
            seqs(7, 10, 100),
            vec![8, 9],
            "a range starting inside a block"
        );
    }
}
