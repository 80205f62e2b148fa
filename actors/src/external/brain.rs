//! A brain that is an external process (an LLM planner, a person at a
//! tool): supervision tells it the situation and the task in hand, and it
//! answers with a decision. One question is out at a time; an answer that
//! comes late, or that the domain cannot read, is journaled as such and the
//! domain's own planner decides instead. The intent still goes down through
//! situation and the reflex: a brain can ask anything, the reflex's safety
//! rules have the last word.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use swarmd_messages::{BrainAnswer, DomainAct, stable_hash};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::debug;

use super::link::Link;
use super::protocol::{
    Channel, Decision, IntentMsg, MAX_JOURNALED_ANSWER, PROTOCOL_VERSION, SituationMsg, TaskView,
    bounded, decode, encode,
};
use super::rejections::Rejections;
use crate::domain::{Domain, Plan};

/// What the brain has to say now.
#[derive(Debug, PartialEq)]
pub enum Heard<I> {
    /// Its decision, accepted and journaled.
    Decided(Plan<I>),
    /// A question is out, within its deadline: keep the intent in force.
    Waiting,
    /// It missed the deadline or answered what the domain cannot read
    /// (journaled): the domain's planner decides.
    Fallback,
}

struct Asked {
    seq: u64,
    at: Instant,
    /// A hash of the situation asked about.
    situation: String,
}

pub struct RemoteBrain {
    link: Link,
    deadline: Duration,
    seq: u64,
    asked: Option<Asked>,
    /// The newest answer heard; an older one not yet read is replaced.
    answer: Arc<Mutex<Option<IntentMsg<Value>>>>,
    listener: JoinHandle<()>,
}

impl Drop for RemoteBrain {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl RemoteBrain {
    /// Listens for answers; `wake` is called on each, so supervision
    /// reads it at once rather than at its next tick.
    pub fn start(link: Link, deadline: Duration, wake: Arc<dyn Fn() + Send + Sync>) -> Self {
        let answer = Arc::new(Mutex::new(None));
        let rejections = Rejections::new(link.clone(), Channel::Intent);
        let listener = tokio::spawn(listen(link.clone(), answer.clone(), rejections, wake));
        Self {
            link,
            deadline,
            seq: 0,
            asked: None,
            answer,
            listener,
        }
    }

    /// The brain's word on `summary` and `task`: its decision if one came
    /// for the question out, else whether to wait or fall back. Asks a new
    /// question when none is out.
    pub fn hear<D: Domain>(
        &mut self,
        domain: &D,
        summary: &D::Summary,
        task: Option<TaskView>,
        trace: Option<String>,
    ) -> Heard<D::Intent> {
        let answer = self
            .answer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(asked) = &self.asked else {
            return match self.ask::<D>(summary, task, trace) {
                true => Heard::Waiting,
                false => Heard::Fallback,
            };
        };
        let latency = asked.at.elapsed();
        match answer.filter(|a| a.seq == asked.seq) {
            Some(answer) => {
                let asked = self.asked.take().expect("a question is out");
                self.judge(domain, &asked, answer, latency)
            }
            None if latency > self.deadline => {
                let asked = self.asked.take().expect("a question is out");
                let outcome = format!("missed the deadline of {:?}", self.deadline);
                self.journal(&asked, None, &outcome, latency, String::new());
                Heard::Fallback
            }
            None => Heard::Waiting,
        }
    }

    /// Publishes the situation; false when it cannot be asked (over the
    /// message limit), and the domain's planner must decide.
    fn ask<D: Domain>(
        &mut self,
        summary: &D::Summary,
        task: Option<TaskView>,
        trace: Option<String>,
    ) -> bool {
        self.seq += 1;
        let situation = situation_hash(summary, task.as_ref());
        let message = SituationMsg {
            v: PROTOCOL_VERSION,
            agent: self.link.agent.clone(),
            seq: self.seq,
            summary: summary.clone(),
            task,
            deadline_ms: self.deadline.as_millis() as u64,
            trace,
        };
        let Some(bytes) = encode(&message) else {
            debug!(agent = %self.link.agent, "situation over the message limit: not asked");
            return false;
        };
        self.asked = Some(Asked {
            seq: self.seq,
            at: Instant::now(),
            situation,
        });
        let (mesh, key) = (self.link.mesh.clone(), self.link.key(Channel::Situation));
        // Fire and forget: a lost question is a missed deadline.
        tokio::spawn(async move {
            if let Err(e) = mesh.publish(&key, bytes).await {
                debug!(%key, error = %e, "situation not published");
            }
        });
        true
    }

    fn judge<D: Domain>(
        &self,
        domain: &D,
        asked: &Asked,
        answer: IntentMsg<Value>,
        latency: Duration,
    ) -> Heard<D::Intent> {
        let text = answer.plan.to_string();
        let decision = serde_json::from_value::<Decision<D::Intent>>(answer.plan.clone());
        let plan = match decision {
            Ok(Decision::Go(intent)) => Plan::Go(intent),
            Ok(Decision::Done(_)) => Plan::Done,
            Ok(Decision::Failed(why)) => Plan::Failed(why),
            Err(e) => {
                let outcome = format!("invalid: not a decision of {}: {e}", domain.name());
                self.journal(asked, Some(&answer), &outcome, latency, text);
                return Heard::Fallback;
            }
        };
        self.journal(asked, Some(&answer), "accepted", latency, text);
        Heard::Decided(plan)
    }

    fn journal(
        &self,
        asked: &Asked,
        answer: Option<&IntentMsg<Value>>,
        outcome: &str,
        latency: Duration,
        text: String,
    ) {
        let act = DomainAct::Brain(Box::new(BrainAnswer {
            seq: asked.seq,
            situation: asked.situation.clone(),
            from: answer.and_then(|a| a.from.clone()),
            model: answer.and_then(|a| a.model.clone()),
            prompt_hash: answer.and_then(|a| a.prompt_hash.clone()),
            latency_us: latency.as_micros().min(u128::from(u64::MAX)) as u64,
            brain_ms: answer.and_then(|a| a.latency_ms),
            outcome: outcome.to_string(),
        }));
        self.link.record(act, bounded(&text, MAX_JOURNALED_ANSWER));
    }
}

/// A hash of what a brain is asked: the same situation, the same hash, on
/// any run of the same build.
fn situation_hash<S: serde::Serialize>(summary: &S, task: Option<&TaskView>) -> String {
    let text = serde_json::to_string(&(summary, task)).unwrap_or_default();
    format!("{:016x}", stable_hash(&text))
}

async fn listen(
    link: Link,
    answer: Arc<Mutex<Option<IntentMsg<Value>>>>,
    rejections: Rejections,
    wake: Arc<dyn Fn() + Send + Sync>,
) {
    let key = link.key(Channel::Intent);
    let mut answers = match link.mesh.subscribe(&key).await {
        Ok(s) => s,
        Err(e) => {
            debug!(%key, error = %e, "no mesh: the external brain cannot be heard");
            return;
        }
    };
    while let Some(sample) = answers.recv().await {
        match decode::<IntentMsg<Value>>(&sample.payload, &link.agent) {
            Ok(m) => {
                *answer.lock().unwrap_or_else(PoisonError::into_inner) = Some(m);
                wake();
            }
            Err(why) => rejections.refuse(&why, &sample.payload),
        }
    }
}
