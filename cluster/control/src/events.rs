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
    let limit = filter.limit.clamp(1, MAX_QUERY_LIMIT);
    let pick = Picked {
        reader,
        tenant,
        filter,
        trace,
        since_us,
    };
    let mut matching = match select {
        // The newest `limit` of the whole log: each index read is capped at
        // MAX_QUERY_LIMIT from its start, so read back from now, widening.
        Selector::Time { .. } if since_us.is_none() => pick.newest(now_us, limit)?,
        select => pick.matching(select)?,
    };
    // Index order within one microsecond is not seq order: order by time, node, seq.
    matching.sort_by_key(order);
    let skip = if forwards {
        0
    } else {
        matching.len().saturating_sub(limit)
    };
    Ok(matching.into_iter().skip(skip).take(limit).collect())
}

fn order(e: &Value) -> (Option<u64>, String, Option<u64>) {
    (
        e["time_us"].as_u64(),
        e["node"].to_string(),
        e["seq"].as_u64(),
    )
}

/// One `events` query's reader and filters.
struct Picked<'a> {
    reader: &'a LedgerReader,
    tenant: &'a str,
    filter: &'a EventFilter,
    trace: Option<[u8; 16]>,
    since_us: Option<u64>,
}

impl Picked<'_> {
    /// Reads what `select` gives and keeps what every filter matches.
    fn matching(&self, select: Selector) -> Result<Vec<Value>, ControlError> {
        let query = Query {
            tenant: self.tenant.to_string(),
            select,
            limit: MAX_QUERY_LIMIT,
        };
        let found = self
            .reader
            .query(&query)
            .map_err(|e| ControlError::Failed(e.to_string()))?;
        let filter = self.filter;
        Ok(found
            .iter()
            .filter(|e| filter.node.as_ref().is_none_or(|n| &e.id.node == n))
            .filter(|e| filter.kind.as_ref().is_none_or(|k| e.kind.name() == k))
            .filter(|e| {
                filter
                    .agent
                    .as_ref()
                    .is_none_or(|a| e.agent.as_ref() == Some(a))
            })
            .filter(|e| self.trace.is_none_or(|t| e.trace.trace_id == t))
            .filter(|e| self.since_us.is_none_or(|t| e.time_us >= t))
            .filter(|e| filter.since_seq.is_none_or(|s| e.id.seq >= s))
            .map(json::event)
            .collect())
    }

    /// Matches from the last second, ten seconds, … until `limit` are found
    /// or the window reaches the epoch (at most ~17 reads).
    fn newest(&self, now_us: u64, limit: usize) -> Result<Vec<Value>, ControlError> {
        let mut span_us: u64 = 1_000_000;
        loop {
            let from_us = now_us.saturating_sub(span_us);
            let to_us = u64::MAX;
            let found = self.matching(Selector::Time { from_us, to_us })?;
            if found.len() >= limit || from_us == 0 {
                return Ok(found);
            }
            span_us = span_us.saturating_mul(10);
        }
    }
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
    events.sort_by_key(order);
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use futures::future::join_all;
    use ractor::Actor;
    use swarmd_messages::{EventDraft, EventKind, TraceContext};
    use swarmd_storage::ledger::{WriterConfig, ledger_writer};
    use swarmd_storage::{SledStorage, Storage};
    use swarmd_supervisor::seams::Clock;
    use swarmd_supervisor::{Strategy, Supervisor, SupervisorSpec};

    use super::*;

    /// A tenth of a second later at every look (the writer looks once a batch).
    struct Stepping(AtomicU64);

    impl Clock for Stepping {
        fn wall_now(&self) -> SystemTime {
            UNIX_EPOCH + Duration::from_micros(self.0.fetch_add(100_000, Ordering::SeqCst))
        }
    }

    const START_US: u64 = 1_700_000_000_000_000;

    #[tokio::test]
    async fn the_newest_events_of_a_log_longer_than_one_index_read() {
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> =
            Arc::new(SledStorage::open(&dir.path().join("db"), 8 << 20).unwrap());
        let clock = Arc::new(Stepping(AtomicU64::new(START_US)));
        let (ledger, child) = ledger_writer(storage.clone(), clock.clone(), WriterConfig::new("n"));
        let spec = SupervisorSpec::new("storage", Strategy::RestForOne).child(child);
        let (_sup, _) = Actor::spawn(None, Supervisor, spec).await.unwrap();
        let total = MAX_QUERY_LIMIT + 2_000;
        for chunk in (0..total).collect::<Vec<_>>().chunks(100) {
            let appends = chunk.iter().map(|i| {
                ledger.append(EventDraft {
                    tenant: "t".into(),
                    agent: None,
                    trace: TraceContext::default(),
                    kind: EventKind::Signal {
                        status: format!("{i}"),
                        detail: String::new(),
                    },
                })
            });
            for acked in join_all(appends).await {
                acked.unwrap();
            }
        }
        let reader = LedgerReader::new(storage);
        let filter = EventFilter {
            limit: 5,
            ..EventFilter::default()
        };
        let now = clock.wall_now().duration_since(UNIX_EPOCH).unwrap();
        let newest = query(&reader, "t", &filter, now.as_micros() as u64).unwrap();
        // Appends in flight at once take seqs in the order they reach the
        // writer: the newest events are those of the highest seqs.
        let seqs: Vec<u64> = newest.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
        let next = ledger.durable_below();
        assert_eq!(seqs, (next - 5..next).collect::<Vec<_>>());
    }
}
