//! Tenant-scoped reads of the ledger. Every query names its tenant and every
//! key it reads starts with that tenant, so one tenant never sees another's events.

use std::sync::Arc;

use swarmd_messages::Event;

use super::keys::{self, TREE};
use super::record::decode_event;
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
                let rows = self.storage.scan(
                    TREE,
                    &keys::event(tenant, node, *from),
                    Some(&keys::event(tenant, node, *to)),
                    limit,
                )?;
                rows.iter().map(|(_, v)| decode_event(v)).collect()
            }
            Selector::Time { from_us, to_us } => self.through_index(
                &keys::time_from(tenant, *from_us),
                &keys::time_from(tenant, *to_us),
                limit,
            ),
            Selector::Agent(agent) => {
                self.through_prefix(&keys::agent_prefix(tenant, agent), limit)
            }
            Selector::Trace(trace_id) => {
                self.through_prefix(&keys::trace_prefix(tenant, trace_id), limit)
            }
            Selector::Kind(kind) => self.through_prefix(&keys::kind_prefix(tenant, kind), limit),
        }
    }

    fn through_prefix(&self, prefix: &[u8], limit: usize) -> Result<Vec<Event>, StorageError> {
        self.through_index(prefix, &keys::prefix_end(prefix), limit)
    }

    /// Index rows hold the event's key; each is resolved to the event.
    fn through_index(
        &self,
        from: &[u8],
        to: &[u8],
        limit: usize,
    ) -> Result<Vec<Event>, StorageError> {
        let rows = self.storage.scan(TREE, from, Some(to), limit)?;
        let mut events = Vec::with_capacity(rows.len());
        for (_, event_key) in rows {
            match self.storage.get(TREE, &event_key)? {
                Some(bytes) => events.push(decode_event(&bytes)?),
                None => {
                    return Err(StorageError::Corrupt(
                        "an index points at a missing event".into(),
                    ));
                }
            }
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
        self.through_index(
            &keys::by_node(node, from_seq),
            &keys::by_node(node, u64::MAX),
            limit,
        )
    }
}
