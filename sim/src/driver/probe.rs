//! The driver as an appender: every step it appends one event to each
//! running node's flight recorder and keeps every `Ack` it gets back. An
//! acked event is a promise: the checkers later look for each one, at the
//! hub and on the node's own disk, after every node lost power.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use swarmd_messages::{EventDraft, EventId, EventKind, TraceContext};

use crate::cluster::SimCluster;

/// How long the driver waits for one ack; a slower one is not counted.
const ACK_WAIT: Duration = Duration::from_secs(20);
/// Appends in flight per node, at most: a stalled writer is not piled on.
const MAX_IN_FLIGHT: usize = 16;
pub const PROBE_TENANT: &str = "sim-probe";

/// One acked append, as the appender knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeAck {
    pub id: EventId,
    pub kind: EventKind,
}

#[derive(Default)]
pub struct Probe {
    sent: u64,
    acked: Arc<Mutex<Vec<ProbeAck>>>,
    in_flight: Arc<Mutex<std::collections::BTreeMap<String, usize>>>,
    /// Acks of disks since wiped, kept apart: only what they had forwarded must survive.
    pub retired: Vec<ProbeAck>,
}

impl Probe {
    /// One append to each running node; its ack is kept when it comes.
    pub fn append(&mut self, cluster: &SimCluster) {
        for (name, member) in cluster.members() {
            let Some(node) = &member.node else { continue };
            if !self.reserve(name) {
                continue;
            }
            self.sent += 1;
            let draft = EventDraft {
                tenant: PROBE_TENANT.into(),
                agent: None,
                trace: TraceContext::default(),
                kind: EventKind::Signal {
                    status: "probe".into(),
                    detail: format!("{name} #{}", self.sent),
                },
            };
            let kind = draft.kind.clone();
            let ledger = node.factory.ctx.ledger.clone();
            let (acked, in_flight, name) =
                (self.acked.clone(), self.in_flight.clone(), name.clone());
            tokio::spawn(async move {
                let ack = async { ledger.submit(draft).await?.await };
                if let Ok(Ok(id)) = tokio::time::timeout(ACK_WAIT, ack).await {
                    acked.lock().expect("probe").push(ProbeAck { id, kind });
                }
                *in_flight.lock().expect("probe").entry(name).or_default() -= 1;
            });
        }
    }

    fn reserve(&self, node: &str) -> bool {
        let mut in_flight = self.in_flight.lock().expect("probe");
        let n = in_flight.entry(node.to_string()).or_default();
        if *n >= MAX_IN_FLIGHT {
            return false;
        }
        *n += 1;
        true
    }

    /// The node's disk is replaced: its acks so far belong to the old disk.
    pub fn retire(&mut self, node: &str) {
        let mut acked = self.acked.lock().expect("probe");
        let (old, kept): (Vec<ProbeAck>, Vec<ProbeAck>) =
            acked.drain(..).partition(|a| a.id.node == node);
        *acked = kept;
        self.retired.extend(old);
    }

    /// Appends made, and the acks received.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    pub fn acked(&self) -> Vec<ProbeAck> {
        self.acked.lock().expect("probe").clone()
    }
}
