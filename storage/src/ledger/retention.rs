//! The hot tier's limits, and export of events to JSON Lines.

use std::io::Write;
use std::time::Duration;

use swarmd_messages::EventId;

use super::keys::{self, TREE};
use super::query::{LedgerReader, MAX_QUERY_LIMIT, Query, Selector};
use super::record::{decode_event, delete_event};
use crate::{Batch, Storage, StorageError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Events older than this are deleted...
    pub max_age: Duration,
    /// ...and then the oldest, until the events take at most this many bytes.
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
const DELETE_CHUNK: usize = 1024;

/// Deletes events beyond the policy, oldest first, except those `protect`
/// keeps (an edge protects what the hub has not acked yet). The scan holds a
/// small record per event in memory, so its cost grows with the hot tier.
pub async fn enforce_retention(
    storage: &dyn Storage,
    now_us: u64,
    policy: RetentionPolicy,
    protect: &dyn Fn(&EventId) -> bool,
) -> Result<RetentionReport, StorageError> {
    let mut rows = event_sizes(storage)?;
    rows.sort_by_key(|r| r.0);
    let mut bytes: u64 = rows.iter().map(|r| r.1).sum();
    let age_cutoff = now_us.saturating_sub(policy.max_age.as_micros() as u64);
    let mut doomed = Vec::new();
    let mut report = RetentionReport::default();
    for (time_us, size, key) in rows {
        let event = match storage.get(TREE, &key)? {
            Some(v) => decode_event(&v)?,
            None => continue,
        };
        let over = time_us < age_cutoff || bytes > policy.max_bytes;
        if over && !protect(&event.id) {
            bytes -= size;
            doomed.push(event);
        } else {
            report.kept += 1;
        }
    }
    for chunk in doomed.chunks(DELETE_CHUNK) {
        let mut batch = Batch::default();
        chunk.iter().for_each(|e| delete_event(&mut batch, e));
        storage.apply(TREE, batch)?;
        report.deleted += chunk.len() as u64;
    }
    storage.flush().await?;
    report.bytes_kept = bytes;
    Ok(report)
}

/// `(time_us, bytes, key)` of every event, read in chunks.
fn event_sizes(storage: &dyn Storage) -> Result<Vec<(u64, u64, Vec<u8>)>, StorageError> {
    let prefix = vec![b'e'];
    let end = keys::prefix_end(&prefix);
    let mut from = prefix;
    let mut out = Vec::new();
    loop {
        let rows = storage.scan(TREE, &from, Some(&end), SCAN_CHUNK)?;
        for (key, value) in &rows {
            let event = decode_event(value)?;
            out.push((event.time_us, (key.len() + value.len()) as u64, key.clone()));
        }
        match rows.last() {
            Some((key, _)) if rows.len() == SCAN_CHUNK => {
                from = key.clone();
                from.push(0);
            }
            _ => return Ok(out),
        }
    }
}

/// Writes one node's events `from <= seq < to` of `tenant` as JSON Lines,
/// page by page. Returns how many were written.
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
