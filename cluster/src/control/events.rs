//! The flight recorder as `events` shows it: one selector picked for the
//! ledger's indexes, the other filters applied to what it returns. Shared
//! by the control actor and the offline `swarmd ledger events`.

use serde_json::Value;
use swarmd_storage::ledger::{LedgerReader, MAX_QUERY_LIMIT, Query, Selector};

use super::json;
use super::{ControlError, EventFilter};

/// Matching events of `tenant`, as JSON, oldest first: the newest
/// `filter.limit`, or with `since_*` the first `limit` from there on. At
/// most [`MAX_QUERY_LIMIT`] events are read per query.
pub fn query(
    reader: &LedgerReader,
    tenant: &str,
    filter: &EventFilter,
    now_us: u64,
) -> Result<Vec<Value>, ControlError> {
    let since_us = match filter.within_ms {
        Some(ms) => Some(now_us.saturating_sub(ms.saturating_mul(1000))),
        None => filter.since_us,
    };
    let trace = match &filter.trace {
        Some(hex) => Some(parse_trace(hex)?),
        None => None,
    };
    let select = if let Some(agent) = &filter.agent {
        Selector::Agent(agent.clone())
    } else if let Some(trace) = trace {
        Selector::Trace(trace)
    } else if let (Some(node), Some(from)) = (&filter.node, filter.since_seq) {
        Selector::Seq {
            node: node.clone(),
            from,
            to: u64::MAX,
        }
    } else if let Some(kind) = &filter.kind {
        Selector::Kind(kind.clone())
    } else {
        Selector::Time {
            from_us: since_us.unwrap_or(0),
            to_us: u64::MAX,
        }
    };
    let forwards = filter.since_us.is_some() || filter.since_seq.is_some();
    let query = Query {
        tenant: tenant.to_string(),
        select,
        limit: MAX_QUERY_LIMIT,
    };
    let found = reader
        .query(&query)
        .map_err(|e| ControlError::Failed(e.to_string()))?;
    let matching: Vec<Value> = found
        .iter()
        .filter(|e| filter.node.as_ref().is_none_or(|n| &e.id.node == n))
        .filter(|e| filter.kind.as_ref().is_none_or(|k| e.kind.name() == k))
        .filter(|e| {
            filter
                .agent
                .as_ref()
                .is_none_or(|a| e.agent.as_ref() == Some(a))
        })
        .filter(|e| trace.is_none_or(|t| e.trace.trace_id == t))
        .filter(|e| since_us.is_none_or(|t| e.time_us >= t))
        .filter(|e| filter.since_seq.is_none_or(|s| e.id.seq >= s))
        .map(json::event)
        .collect();
    let limit = filter.limit.clamp(1, MAX_QUERY_LIMIT);
    let skip = if forwards {
        0
    } else {
        matching.len().saturating_sub(limit)
    };
    Ok(matching.into_iter().skip(skip).take(limit).collect())
}

/// [`query`] over several tenants, merged in time order, keeping the same
/// window (the newest `limit`, or the first `limit` from `since_*`).
pub fn query_tenants(
    reader: &LedgerReader,
    tenants: &[String],
    filter: &EventFilter,
    now_us: u64,
) -> Result<Vec<Value>, ControlError> {
    let mut events = Vec::new();
    for tenant in tenants {
        events.extend(query(reader, tenant, filter, now_us)?);
    }
    events.sort_by_key(|e| {
        (
            e["time_us"].as_u64(),
            e["node"].to_string(),
            e["seq"].as_u64(),
        )
    });
    let limit = filter.limit.clamp(1, MAX_QUERY_LIMIT);
    if filter.since_us.is_some() || filter.since_seq.is_some() {
        events.truncate(limit);
    } else {
        events.drain(..events.len().saturating_sub(limit));
    }
    Ok(events)
}

fn parse_trace(hex: &str) -> Result<[u8; 16], ControlError> {
    let bad = || ControlError::BadRequest(format!("{hex:?} is not a trace id (32 hex digits)"));
    if hex.len() != 32 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut id = [0u8; 16];
    for (i, byte) in id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(id)
}
