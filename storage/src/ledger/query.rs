//! Tenant-scoped reads of the ledger. Every query names its tenant and every
//! key it reads starts with that tenant, so one tenant never sees another's events.

use std::sync::Arc;

use swarmd_messages::Event;

use super::events::{EventLookup, seq_range};
use super::keys::{self, TREE};
use super::record::{LogPosting, Posting, from_bytes};
use crate::{Storage, StorageError};

/// No query returns more than this, whatever limit it asks for.
pub const MAX_QUERY_LIMIT: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// `from <= seq < to` of one node's events.
    Seq {
        node: String,
        from: u64,
        to: u64,
    },
    /// `from_us <= time < to_us`, all nodes.
    Time {
        from_us: u64,
        to_us: u64,
    },
    Agent(String),
    Trace([u8; 16]),
    /// One of `EventKind::NAMES`.
    Kind(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub tenant: String,
    pub select: Selector,
    pub limit: usize,
}

#[derive(Clone)]
pub struct LedgerReader {
    storage: Arc<dyn Storage>,
}

impl LedgerReader {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self { storage }
    }

    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// Events matching `query`, in key order of the chosen index, at most `limit`.
    pub fn query(&self, query: &Query) -> Result<Vec<Event>, StorageError> {
        let limit = query.limit.min(MAX_QUERY_LIMIT);
        let tenant = query.tenant.as_str();
        match &query.select {
            Selector::Seq { node, from, to } => {
                seq_range(&*self.storage, tenant, node, (*from, *to), limit)
            }
            Selector::Time { from_us, to_us } => self.through_index(
                tenant,
                &keys::time_from(tenant, *from_us),
                &keys::time_from(tenant, *to_us),
                limit,
            ),
            Selector::Agent(agent) => {
                self.through_prefix(tenant, &keys::agent_prefix(tenant, agent), limit)
            }
            Selector::Trace(trace_id) => {
                self.through_prefix(tenant, &keys::trace_prefix(tenant, trace_id), limit)
            }
            Selector::Kind(kind) => {
                self.through_prefix(tenant, &keys::kind_prefix(tenant, kind), limit)
            }
        }
    }

    fn through_prefix(
        &self,
        tenant: &str,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<Event>, StorageError> {
        self.through_index(tenant, prefix, &keys::prefix_end(prefix), limit)
    }

    /// Expands the posting lists in `from..to` into events, in index order.
    fn through_index(
        &self,
        tenant: &str,
        from: &[u8],
        to: &[u8],
        limit: usize,
    ) -> Result<Vec<Event>, StorageError> {
        let mut events = Vec::new();
        let mut lookup = EventLookup::new(&*self.storage);
        let mut from = from.to_vec();
        let mut chunk = FIRST_CHUNK;
        while events.len() < limit {
            let rows = self.storage.scan(TREE, &from, Some(to), chunk)?;
            for (_, value) in &rows {
                let posting: Posting = from_bytes(value)?;
                for seq in posting.seqs {
                    if events.len() == limit {
                        return Ok(events);
                    }
                    events.push(lookup.indexed(tenant, &posting.node, seq)?);
                }
            }
            match rows.last() {
                Some((key, _)) if rows.len() == chunk => from = keys::after(key),
                _ => break,
            }
            chunk = (chunk * 2).min(INDEX_CHUNK);
        }
        Ok(events)
    }

    /// Up to `limit` of `node`'s events from `from_seq` on, in seq order, any tenant.
    pub fn node_log(
        &self,
        node: &str,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<Event>, StorageError> {
        let prefix = keys::node_prefix(node);
        let end = keys::prefix_end(&prefix);
        // The posting that holds `from_seq` starts at or before it.
        let mut from = match self
            .storage
            .last_below(TREE, &keys::by_node(node, from_seq.saturating_add(1)))?
        {
            Some((key, _)) if key.starts_with(&prefix) => key,
            _ => prefix.clone(),
        };
        let mut events = Vec::new();
        let mut lookup = EventLookup::new(&*self.storage);
        let mut chunk = FIRST_CHUNK;
        while events.len() < limit {
            let rows = self.storage.scan(TREE, &from, Some(&end), chunk)?;
            for (_, value) in &rows {
                let log: LogPosting = from_bytes(value)?;
                for (seq, tenant) in log.entries.into_iter().filter(|(seq, _)| *seq >= from_seq) {
                    if events.len() == limit {
                        return Ok(events);
                    }
                    events.push(lookup.indexed(&tenant, node, seq)?);
                }
            }
            match rows.last() {
                Some((key, _)) if rows.len() == chunk => from = keys::after(key),
                _ => break,
            }
            chunk = (chunk * 2).min(INDEX_CHUNK);
        }
        Ok(events)
    }
}

/// Index rows read by the first storage scan of a query, doubled on each
/// further scan up to `INDEX_CHUNK`: a posting holds a whole commit batch,
/// so a small `limit` decodes a few postings, not `INDEX_CHUNK` of them.
const FIRST_CHUNK: usize = 4;
/// Index rows read per storage scan at most.
const INDEX_CHUNK: usize = 256;
