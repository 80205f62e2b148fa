//! External brains in the simulator. A scripted brain stands in for a model
//! (a deterministic rule of the test's); its decisions go to the ledger as
//! any brain's do. A replay brain answers each situation with the answer
//! recorded for the same agent and decision sequence, so a run with a real
//! model (non-deterministic) replays per seed with the same answers: a
//! recorded miss is missed again, a recorded invalid answer is sent again.
//! [`divergence`] says where a replay asked about a situation its recording
//! did not.
//!
//! Both speak the agent protocol over the simulated mesh, joined as a node
//! of their own, exactly as an external process does over zenoh.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use swarmd_actors::ctx::PubSub;
use swarmd_actors::external::protocol::{IntentMsg, PROTOCOL_VERSION, SituationMsg, encode};
use swarmd_messages::{DomainAct, Event, EventKind};
use tokio::task::JoinHandle;

/// One brain decision, as the ledger has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub agent: String,
    pub seq: u64,
    /// The hash of the situation asked about.
    pub situation: String,
    /// `accepted`, `invalid: …` or `missed the deadline …`.
    pub outcome: String,
    /// What the brain answered (none when it missed).
    pub answer: Option<Value>,
    pub model: Option<String>,
    pub prompt_hash: Option<String>,
}

impl Decision {
    fn missed(&self) -> bool {
        self.outcome.starts_with("missed")
    }
}

/// A run's brain decisions, in ledger order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recording(pub Vec<Decision>);

impl Recording {
    /// The brain decisions among `events` (a node's ledger, or an export).
    pub fn from_events(events: &[Event]) -> Self {
        let decisions = events.iter().filter_map(|e| {
            let EventKind::Domain {
                act: DomainAct::Brain(b),
                detail,
                ..
            } = &e.kind
            else {
                return None;
            };
            let answer = (!b.outcome.starts_with("missed")).then(|| {
                serde_json::from_str(detail).unwrap_or_else(|_| Value::String(detail.clone()))
            });
            Some(Decision {
                agent: e.agent.clone().unwrap_or_default(),
                seq: b.seq,
                situation: b.situation.clone(),
                outcome: b.outcome.clone(),
                answer,
                model: b.model.clone(),
                prompt_hash: b.prompt_hash.clone(),
            })
        });
        Self(decisions.collect())
    }

    /// One decision per line, as JSON.
    pub fn to_jsonl(&self) -> String {
        let line = |d: &Decision| serde_json::to_string(d).expect("decisions serialize");
        self.0.iter().map(line).map(|l| l + "\n").collect()
    }

    pub fn from_jsonl(text: &str) -> Result<Self, String> {
        let lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let parsed =
            lines.map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)));
        parsed.collect::<Result<_, _>>().map(Self)
    }

    fn by_agent(&self) -> BTreeMap<&str, Vec<&Decision>> {
        let mut agents: BTreeMap<&str, Vec<&Decision>> = BTreeMap::new();
        for d in &self.0 {
            agents.entry(&d.agent).or_default().push(d);
        }
        agents
    }
}

/// Where one agent's replay left its recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    pub agent: String,
    /// The agent's decision (from 1) where it happened.
    pub decision: usize,
    pub why: String,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at decision {}: {}",
            self.agent, self.decision, self.why
        )
    }
}

/// Each agent's first decision where `replayed` left `recorded`: asked
/// about another situation, decided otherwise, or asked more or fewer.
pub fn divergence(recorded: &Recording, replayed: &Recording) -> Vec<Divergence> {
    let (theirs, ours) = (recorded.by_agent(), replayed.by_agent());
    let agents: std::collections::BTreeSet<&str> =
        theirs.keys().chain(ours.keys()).copied().collect();
    let none = Vec::new();
    agents
        .into_iter()
        .filter_map(|agent| {
            let (r, p) = (
                theirs.get(agent).unwrap_or(&none),
                ours.get(agent).unwrap_or(&none),
            );
            first_difference(r, p).map(|(decision, why)| Divergence {
                agent: agent.to_string(),
                decision,
                why,
            })
        })
        .collect()
}

fn first_difference(recorded: &[&Decision], replayed: &[&Decision]) -> Option<(usize, String)> {
    for (i, (r, p)) in recorded.iter().zip(replayed).enumerate() {
        if r.situation != p.situation {
            let after = match i {
                0 => "from the start".to_string(),
                _ => format!("after the answer to decision {i}"),
            };
            let why = format!(
                "asked about another situation than recorded ({} for {}): the run left \
                 the recording {after}",
                p.situation, r.situation
            );
            return Some((i + 1, why));
        }
        if r.missed() != p.missed() || r.answer != p.answer {
            let why = format!(
                "decided otherwise: recorded {:?}, replayed {:?}",
                r.outcome, p.outcome
            );
            return Some((i + 1, why));
        }
    }
    let (r, p) = (recorded.len(), replayed.len());
    (r != p).then(|| {
        let why = format!("{r} decisions recorded, {p} replayed");
        (r.min(p) + 1, why)
    })
}

/// A rule that decides on a situation (`None`: it does not answer).
pub type Rule = Arc<dyn Fn(&SituationMsg<Value>) -> Option<Value> + Send + Sync>;

/// How a simulated brain answers.
#[derive(Clone)]
pub enum Answering {
    /// By a rule of the test's, on the situation's JSON.
    Scripted(Rule),
    /// With the recorded answer for the same agent and decision.
    Replay(Recording),
}

/// Starts a brain for every agent of `tenant` reached through `mesh`.
pub fn start(mesh: Arc<dyn PubSub>, tenant: &str, answering: Answering) -> JoinHandle<()> {
    let key = format!("swarmd/{tenant}/agent/*/situation");
    let tenant = tenant.to_string();
    tokio::spawn(async move {
        let Ok(mut situations) = mesh.subscribe(&key).await else {
            return;
        };
        let mut replay = Replayer::default();
        while let Some(sample) = situations.recv().await {
            let Ok(s) = serde_json::from_slice::<SituationMsg<Value>>(&sample.payload) else {
                continue;
            };
            let (plan, model) = match &answering {
                Answering::Scripted(rule) => (rule(&s), Some("scripted".to_string())),
                Answering::Replay(recording) => match replay.next(recording, &s) {
                    Some(d) => (d.answer.clone(), d.model.clone()),
                    None => (None, None),
                },
            };
            let Some(plan) = plan else { continue };
            let answer = IntentMsg {
                v: PROTOCOL_VERSION,
                agent: s.agent.clone(),
                seq: s.seq,
                plan,
                from: Some("sim-brain".into()),
                model,
                prompt_hash: None,
                latency_ms: None,
            };
            let key = format!("swarmd/{tenant}/agent/{}/intent", s.agent);
            if let Some(bytes) = encode(&answer) {
                let _ = mesh.publish(&key, bytes).await;
            }
        }
    })
}

/// Which recorded decision answers a situation: the agent's decisions of
/// the same sequence number, in order (a restarted agent counts again).
#[derive(Default)]
struct Replayer {
    used: BTreeMap<(String, u64), usize>,
}

impl Replayer {
    fn next<'r>(
        &mut self,
        recording: &'r Recording,
        s: &SituationMsg<Value>,
    ) -> Option<&'r Decision> {
        let used = self.used.entry((s.agent.clone(), s.seq)).or_default();
        let found = recording
            .0
            .iter()
            .filter(|d| d.agent == s.agent && d.seq == s.seq)
            .nth(*used);
        *used += 1;
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(seq: u64, situation: &str, answer: &str) -> Decision {
        Decision {
            agent: "d1".into(),
            seq,
            situation: situation.into(),
            outcome: "accepted".into(),
            answer: Some(Value::String(answer.into())),
            model: None,
            prompt_hash: None,
        }
    }

    #[test]
    fn the_first_decision_that_differs_is_where_a_replay_diverged() {
        let recorded = Recording(vec![d(1, "a", "x"), d(2, "b", "y"), d(3, "c", "z")]);
        assert_eq!(divergence(&recorded, &recorded), []);
        let left = Recording(vec![d(1, "a", "x"), d(2, "B", "y"), d(3, "c", "z")]);
        let found = divergence(&recorded, &left);
        assert_eq!((found[0].agent.as_str(), found[0].decision), ("d1", 2));
        assert!(found[0].why.contains("another situation"), "{}", found[0]);
        let short = Recording(vec![d(1, "a", "x")]);
        assert_eq!(divergence(&recorded, &short)[0].decision, 2);
        let text = recorded.to_jsonl();
        assert_eq!(Recording::from_jsonl(&text).unwrap(), recorded);
        assert!(
            Recording::from_jsonl("{nope")
                .unwrap_err()
                .contains("line 1")
        );
    }
}
