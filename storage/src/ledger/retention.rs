//! The hot tier's limits, and export of events to JSON Lines.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::time::Duration;

use swarmd_messages::{Event, EventId};

use super::block::{Block, encode_block};
use super::keys::{self, INDEX_PREFIXES, LOG_PREFIX, TREE};
use super::query::{LedgerReader, MAX_QUERY_LIMIT, Query, Selector};
use super::record::{LogPosting, Posting, decode_event, from_bytes, to_bytes};
use crate::{Batch, Storage, StorageError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Events older than this are deleted...
    pub max_age: Duration,
    /// ...and then the oldest, until the events take at most this many
    /// bytes, shared fairly between tenants: a tenant within its max-min fair
    /// share loses nothing to another tenant's volume.
    pub max_bytes: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub deleted: u64,
    pub kept: u64,
    /// Bytes of keys and values of the events kept (indexes not counted).
    pub bytes_kept: u64,
}

const SCAN_CHUNK: usize = 4096;
const WRITE_CHUNK: usize = 1024;

/// One stored event, as retention sees it.
struct Row {
    time_us: u64,
    bytes: u64,
    /// The key of the block that holds it, or its own key.
    key: Vec<u8>,
    in_block: bool,
    id: EventId,
    tenant: String,
}

/// Max-min fair shares of `total` bytes: tenants under an equal share keep
/// all they have, and what they leave is split among the others.
fn fair_budgets(bytes_by_tenant: &HashMap<String, u64>, total: u64) -> HashMap<String, u64> {
    let mut sizes: Vec<(&String, u64)> = bytes_by_tenant.iter().map(|(t, b)| (t, *b)).collect();
    sizes.sort_by_key(|(tenant, bytes)| (*bytes, (*tenant).clone()));
    let mut left = total;
    let count = sizes.len() as u64;
    let mut budgets = HashMap::new();
    for (i, (tenant, bytes)) in sizes.into_iter().enumerate() {
        let share = left / (count - i as u64);
        let budget = bytes.min(share);
        left -= budget;
        budgets.insert(tenant.clone(), budget);
    }
    budgets
}

/// Deletes events beyond the policy, oldest first, except those `protect`
/// keeps (an edge protects what the hub has not acked yet), and prunes them
/// from the posting lists. The pass holds a small record per event in memory,
/// so its cost grows with the hot tier; run it on an interval, not per write.
pub async fn enforce_retention(
    storage: &dyn Storage,
    now_us: u64,
    policy: RetentionPolicy,
    protect: &(dyn Fn(&EventId) -> bool + Sync),
) -> Result<RetentionReport, StorageError> {
    let mut rows = all_events(storage)?;
    rows.sort_by_key(|r| r.time_us);
    let age_cutoff = now_us.saturating_sub(policy.max_age.as_micros() as u64);
    let mut doomed = Vec::new();
    let mut report = RetentionReport::default();
    // Age first, for every tenant alike.
    let mut young = Vec::with_capacity(rows.len());
    for row in rows {
        if row.time_us < age_cutoff && !protect(&row.id) {
            doomed.push(row);
        } else {
            young.push(row);
        }
    }
    // Then size: each tenant down to its fair share, oldest first.
    let mut held: HashMap<String, u64> = HashMap::new();
    for row in &young {
        *held.entry(row.tenant.clone()).or_default() += row.bytes;
    }
    let budgets = fair_budgets(&held, policy.max_bytes);
    let mut bytes: u64 = held.values().sum();
    for row in young {
        let tenant_bytes = held.get_mut(&row.tenant).expect("counted above");
        if *tenant_bytes > budgets[&row.tenant] && !protect(&row.id) {
            *tenant_bytes -= row.bytes;
            bytes -= row.bytes;
            doomed.push(row);
        } else {
            report.kept += 1;
        }
    }
    delete(storage, &doomed)?;
    report.deleted = doomed.len() as u64;
    let mut gone: Gone = HashMap::new();
    for row in doomed {
        gone.entry(row.id.node).or_default().insert(row.id.seq);
    }
    if !gone.is_empty() {
        prune_postings(storage, &gone)?;
    }
    storage.flush().await?;
    report.bytes_kept = bytes;
    Ok(report)
}

fn all_events(storage: &dyn Storage) -> Result<Vec<Row>, StorageError> {
    let mut rows = Vec::new();
    let mut add = |key: &[u8], in_block: bool, bytes: usize, event: Event| {
        rows.push(Row {
            time_us: event.time_us,
            bytes: bytes as u64,
            key: key.to_vec(),
            in_block,
            id: event.id,
            tenant: event.tenant,
        })
    };
    for_each_row(storage, keys::EVENT_PREFIX, |key, value| {
        add(key, false, key.len() + value.len(), decode_event(value)?);
        Ok(())
    })?;
    for_each_row(storage, keys::BLOCK_PREFIX, |key, value| {
        for (_, bytes) in Block::parse(value.to_vec())?.iter() {
            add(
                key,
                true,
                BLOCK_ENTRY_BYTES + bytes.len(),
                decode_event(bytes)?,
            );
        }
        Ok(())
    })?;
    Ok(rows)
}

/// What an event in a block takes besides its own bytes: its index entry.
const BLOCK_ENTRY_BYTES: usize = 12;

/// Deletes the doomed events: single keys go, blocks lose them (a block
/// left empty goes; one with survivors is rewritten under the same key).
fn delete(storage: &dyn Storage, doomed: &[Row]) -> Result<(), StorageError> {
    // Ordered, so a seed's storage ops come in the same order every run.
    let mut from_blocks: BTreeMap<&[u8], HashSet<u64>> = BTreeMap::new();
    let mut batch = Batch::default();
    for row in doomed {
        if row.in_block {
            from_blocks.entry(&row.key).or_default().insert(row.id.seq);
        } else {
            batch.remove(row.key.clone());
        }
        if batch.len() >= WRITE_CHUNK {
            storage.apply(TREE, std::mem::take(&mut batch))?;
        }
    }
    for (key, seqs) in from_blocks {
        let Some(value) = storage.get(TREE, key)? else {
            continue;
        };
        let block = Block::parse(value)?;
        let kept: Vec<(u64, &[u8])> = block
            .iter()
            .filter(|(seq, _)| !seqs.contains(seq))
            .collect();
        if kept.is_empty() {
            batch.remove(key.to_vec());
        } else {
            batch.insert(key.to_vec(), encode_block(kept.into_iter()));
        }
        if batch.len() >= WRITE_CHUNK {
            storage.apply(TREE, std::mem::take(&mut batch))?;
        }
    }
    storage.apply(TREE, batch)
}

/// Deleted seqs, by node.
type Gone = HashMap<String, HashSet<u64>>;

/// Removes deleted events from every posting list; empty lists go entirely.
fn prune_postings(storage: &dyn Storage, gone: &Gone) -> Result<(), StorageError> {
    let is_gone = |node: &str, seq: u64| gone.get(node).is_some_and(|seqs| seqs.contains(&seq));
    let mut batch = Batch::default();
    for prefix in INDEX_PREFIXES {
        for_each_row(storage, prefix, |key, value| {
            let rewritten = if prefix == LOG_PREFIX {
                let mut log: LogPosting = from_bytes(value)?;
                let before = log.entries.len();
                log.entries.retain(|(seq, _)| !is_gone(&log.node, *seq));
                (log.entries.len() != before)
                    .then(|| (!log.entries.is_empty()).then(|| to_bytes(&log)))
            } else {
                let mut posting: Posting = from_bytes(value)?;
                let before = posting.seqs.len();
                posting.seqs.retain(|seq| !is_gone(&posting.node, *seq));
                (posting.seqs.len() != before)
                    .then(|| (!posting.seqs.is_empty()).then(|| to_bytes(&posting)))
            };
            match rewritten {
                Some(Some(value)) => batch.insert(key.to_vec(), value),
                Some(None) => batch.remove(key.to_vec()),
                None => {}
            }
            if batch.len() >= WRITE_CHUNK {
                storage.apply(TREE, std::mem::take(&mut batch))?;
            }
            Ok(())
        })?;
    }
    storage.apply(TREE, batch)
}

/// Calls `visit` on every row whose key starts with `prefix`, reading in chunks.
fn for_each_row(
    storage: &dyn Storage,
    prefix: u8,
    mut visit: impl FnMut(&[u8], &[u8]) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let end = keys::prefix_end(&[prefix]);
    let mut from = vec![prefix];
    loop {
        let rows = storage.scan(TREE, &from, Some(&end), SCAN_CHUNK)?;
        for (key, value) in &rows {
            visit(key, value)?;
        }
        match rows.last() {
            Some((key, _)) if rows.len() == SCAN_CHUNK => from = keys::after(key),
            _ => return Ok(()),
        }
    }
}

/// Writes one node's events `from <= seq < to` of `tenant` as JSON Lines,
/// page by page. Returns how many were written. Library-only until
/// `swarmd ledger export` calls it.
pub fn export_jsonl(
    reader: &LedgerReader,
    tenant: &str,
    node: &str,
    from: u64,
    to: u64,
    out: &mut dyn Write,
) -> Result<u64, StorageError> {
    let mut next = from;
    let mut written = 0;
    while next < to {
        let page = reader.query(&Query {
            tenant: tenant.to_owned(),
            select: Selector::Seq {
                node: node.to_owned(),
                from: next,
                to,
            },
            limit: MAX_QUERY_LIMIT,
        })?;
        let Some(last) = page.last().map(|e| e.id.seq) else {
            break;
        };
        for event in &page {
            serde_json::to_writer(&mut *out, event).map_err(|e| StorageError::Io(e.to_string()))?;
            out.write_all(b"\n")
                .map_err(|e| StorageError::Io(e.to_string()))?;
        }
        written += page.len() as u64;
        next = last + 1;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fair_budgets_keep_small_tenants_whole_and_split_the_rest() {
        let held = HashMap::from([("big".to_string(), 900), ("small".to_string(), 50)]);
        let budgets = fair_budgets(&held, 500);
        assert_eq!(budgets["small"], 50);
        assert_eq!(budgets["big"], 450);
        let even = HashMap::from([("a".to_string(), 400), ("b".to_string(), 400)]);
        let budgets = fair_budgets(&even, 500);
        assert_eq!(budgets["a"] + budgets["b"], 500);
        assert!(budgets["a"].abs_diff(budgets["b"]) <= 1);
    }
}
