//! Replay: rebuild an agent's state from its latest snapshot plus the events
//! after it, up to a point. The fold is the caller's.
//!
//! Library-only: no node runs a [`Snapshotter`] yet, and nothing in the node
//! calls [`replay`]; the console's `replay AGENT` will.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use swarmd_messages::{Event, EventId};
use tracing::warn;

use super::events::EventLookup;
use super::keys::{self, TREE};
use super::query::LedgerReader;
use super::record::{Posting, from_bytes, u64_value};
use crate::{Batch, Storage, StorageError};

/// How events change an agent's state. `apply` must be deterministic: replay
/// and the live agent must reach the same state from the same events.
pub trait Fold: Send + Sync + 'static {
    type State: Serialize + DeserializeOwned + Default + Clone + Send + 'static;
    fn apply(&self, state: &mut Self::State, event: &Event);
}

/// How far to replay. `Seq` is the agent's host node's sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upto {
    End,
    Seq(u64),
    TimeUs(u64),
}

impl Upto {
    fn includes(self, event: &Event) -> bool {
        match self {
            Upto::End => true,
            Upto::Seq(seq) => event.id.seq <= seq,
            Upto::TimeUs(t) => event.time_us <= t,
        }
    }
}

/// A folded state and the last event in it, with that event's time.
type Replayed<S> = (S, Option<(EventId, u64)>);

#[derive(Serialize, Deserialize)]
struct SnapshotRecord {
    state: Vec<u8>,
    last: EventId,
    last_time_us: u64,
}

const CHUNK: usize = 1000;
const MAX_SNAPSHOTS_SCANNED: usize = 10_000;

fn codec() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Folds `agent`'s events up to `upto` into a state, starting from the latest
/// snapshot at or before `upto`. Returns the state and the last event applied.
pub fn replay<F: Fold>(
    reader: &LedgerReader,
    fold: &F,
    tenant: &str,
    agent: &str,
    upto: Upto,
) -> Result<(F::State, Option<EventId>), StorageError> {
    let (state, last) = replay_to(reader, fold, tenant, agent, upto)?;
    Ok((state, last.map(|(id, _)| id)))
}

/// `replay`, also giving the time of the last event applied.
fn replay_to<F: Fold>(
    reader: &LedgerReader,
    fold: &F,
    tenant: &str,
    agent: &str,
    upto: Upto,
) -> Result<Replayed<F::State>, StorageError> {
    let storage = reader.storage();
    let (mut state, mut last) = latest_snapshot::<F>(&**storage, tenant, agent, upto)?;
    let prefix = keys::agent_prefix(tenant, agent);
    let end = keys::prefix_end(&prefix);
    // Index order is (node, seq): everything up to the snapshot's position is in it.
    let done_through = last
        .as_ref()
        .map(|(id, _)| keys::by_agent(tenant, agent, &id.node, id.seq));
    let mut from = match &done_through {
        Some(position) => match storage.last_below(TREE, &keys::after(position))? {
            Some((key, _)) if key.starts_with(&prefix) => key,
            _ => prefix.clone(),
        },
        None => prefix.clone(),
    };
    let mut lookup = EventLookup::new(&**storage);
    loop {
        let rows = storage.scan(TREE, &from, Some(&end), CHUNK)?;
        for (index_key, value) in &rows {
            let posting: Posting = from_bytes(value)?;
            for seq in posting.seqs {
                let position = keys::by_agent(tenant, agent, &posting.node, seq);
                if done_through.as_ref().is_some_and(|done| position <= *done) {
                    continue;
                }
                let event = lookup.indexed(tenant, &posting.node, seq)?;
                if !upto.includes(&event) {
                    return Ok((state, last));
                }
                fold.apply(&mut state, &event);
                last = Some((event.id, event.time_us));
            }
            from = keys::after(index_key);
        }
        if rows.len() < CHUNK {
            return Ok((state, last));
        }
    }
}

fn latest_snapshot<F: Fold>(
    storage: &dyn Storage,
    tenant: &str,
    agent: &str,
    upto: Upto,
) -> Result<Replayed<F::State>, StorageError> {
    let prefix = keys::snapshot_prefix(tenant, agent);
    let rows = storage.scan(
        TREE,
        &prefix,
        Some(&keys::prefix_end(&prefix)),
        MAX_SNAPSHOTS_SCANNED,
    )?;
    for (_, value) in rows.iter().rev() {
        let (record, _): (SnapshotRecord, _) = bincode::serde::decode_from_slice(value, codec())
            .map_err(|e| StorageError::Corrupt(format!("undecodable snapshot: {e}")))?;
        let fits = match upto {
            Upto::End => true,
            Upto::Seq(seq) => record.last.seq <= seq,
            Upto::TimeUs(t) => record.last_time_us <= t,
        };
        if fits {
            let (state, _) = bincode::serde::decode_from_slice(&record.state, codec())
                .map_err(|e| StorageError::Corrupt(format!("undecodable snapshot state: {e}")))?;
            return Ok((state, Some((record.last, record.last_time_us))));
        }
    }
    Ok((F::State::default(), None))
}

/// Stores `state` as the agent's state after event `last`.
pub fn write_snapshot<S: Serialize>(
    storage: &dyn Storage,
    tenant: &str,
    agent: &str,
    state: &S,
    last: &EventId,
    last_time_us: u64,
) -> Result<(), StorageError> {
    let state = bincode::serde::encode_to_vec(state, codec())
        .map_err(|e| StorageError::Corrupt(e.to_string()))?;
    let record = SnapshotRecord {
        state,
        last: last.clone(),
        last_time_us,
    };
    let value = bincode::serde::encode_to_vec(&record, codec())
        .map_err(|e| StorageError::Corrupt(e.to_string()))?;
    let mut batch = Batch::default();
    batch.insert(keys::snapshot(tenant, agent, &last.node, last.seq), value);
    storage.apply(TREE, batch)
}

/// Writes snapshots of every agent with new events, every `interval`, from a
/// persisted cursor over this node's log.
pub struct Snapshotter<F: Fold>(PhantomData<F>);

impl<F: Fold> Default for Snapshotter<F> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

pub struct SnapshotterArgs<F: Fold> {
    pub storage: Arc<dyn Storage>,
    pub fold: Arc<F>,
    pub node: String,
    pub interval: Duration,
}

pub struct SnapshotterState<F: Fold> {
    args: SnapshotterArgs<F>,
    reader: LedgerReader,
    cursor: u64,
}

pub enum SnapshotterMsg {
    Tick,
}

impl ractor::Message for SnapshotterMsg {}

fn snapshot_cursor_key(node: &str) -> Vec<u8> {
    keys::meta(&format!("snapshot_cursor/{node}"))
}

impl<F: Fold> Actor for Snapshotter<F> {
    type Msg = SnapshotterMsg;
    type State = SnapshotterState<F>;
    type Arguments = SnapshotterArgs<F>;

    async fn pre_start(
        &self,
        me: ActorRef<SnapshotterMsg>,
        args: SnapshotterArgs<F>,
    ) -> Result<Self::State, ActorProcessingErr> {
        let cursor = match args.storage.get(TREE, &snapshot_cursor_key(&args.node))? {
            Some(bytes) => u64_value(&bytes)?,
            None => 0,
        };
        me.send_after(args.interval, || SnapshotterMsg::Tick);
        Ok(SnapshotterState {
            reader: LedgerReader::new(args.storage.clone()),
            args,
            cursor,
        })
    }

    async fn handle(
        &self,
        me: ActorRef<SnapshotterMsg>,
        _tick: SnapshotterMsg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let Err(e) = state.snapshot_new_activity() {
            warn!(error = %e, "snapshot round failed; retrying next interval");
        }
        me.send_after(state.args.interval, || SnapshotterMsg::Tick);
        Ok(())
    }
}

impl<F: Fold> SnapshotterState<F> {
    /// One round: the agents seen in new log entries get a fresh snapshot.
    pub fn snapshot_new_activity(&mut self) -> Result<usize, StorageError> {
        let events = self
            .reader
            .node_log(&self.args.node, self.cursor, super::MAX_QUERY_LIMIT)?;
        let Some(last) = events.last().map(|e| e.id.seq) else {
            return Ok(0);
        };
        let mut agents: Vec<(String, String)> = events
            .iter()
            .filter_map(|e| e.agent.clone().map(|a| (e.tenant.clone(), a)))
            .collect();
        agents.sort();
        agents.dedup();
        for (tenant, agent) in &agents {
            let (state, last) =
                replay_to(&self.reader, &*self.args.fold, tenant, agent, Upto::End)?;
            if let Some((id, time_us)) = last {
                write_snapshot(&*self.args.storage, tenant, agent, &state, &id, time_us)?;
            }
        }
        let mut batch = Batch::default();
        batch.insert(
            snapshot_cursor_key(&self.args.node),
            (last + 1).to_be_bytes().to_vec(),
        );
        self.args.storage.apply(TREE, batch)?;
        self.cursor = last + 1;
        Ok(agents.len())
    }
}
