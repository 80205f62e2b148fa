//! `spawn`, `stop` and `replay`: agents through the node's factory and the
//! flight recorder.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use swarmd_messages::{Event, EventKind, SYSTEM_TENANT, SpawnSpec};
use swarmd_storage::ledger::{Fold, Upto, replay};
use swarmd_supervisor::Restart;

use super::facts::bad_json;
use super::{ControlArgs, ControlError, ControlReply, protocol::ReplayAt};

/// A spec as an operator writes it: `id` required, the rest defaulted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecInput {
    id: String,
    tenant: Option<String>,
    #[serde(default = "default_squad")]
    squad: String,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default)]
    params: BTreeMap<String, String>,
}

fn default_squad() -> String {
    "default".into()
}

pub async fn spawn(args: &ControlArgs, session: &str, kind: &str, spec: &Value) -> ControlReply {
    let spec = spec_of(args, session, kind, spec)?;
    args.factory
        .create(&spec, Restart::Permanent)
        .await
        .map_err(|e| ControlError::BadRequest(e.to_string()))?;
    Ok(json!({"spawned": spec.id, "node": args.node}))
}

/// The spec an operator's JSON describes, for a session of tenant `session`.
pub fn spec_of(
    args: &ControlArgs,
    session: &str,
    kind: &str,
    spec: &Value,
) -> Result<SpawnSpec, ControlError> {
    let input: SpecInput = serde_path_to_error::deserialize(spec.clone())
        .map_err(|e| bad_json("a spawn spec ({\"id\": ..., \"params\": {...}})", e))?;
    let tenant = match (session, input.tenant) {
        (SYSTEM_TENANT, Some(t)) => t,
        (SYSTEM_TENANT, None) => args.tenants.first().cloned().unwrap_or_default(),
        (own, Some(t)) if t != own => {
            let why = format!("a session of tenant {own:?} cannot spawn for tenant {t:?}");
            return Err(ControlError::Refused(why));
        }
        (own, _) => own.to_string(),
    };
    let spec = SpawnSpec {
        id: input.id,
        kind: kind.to_string(),
        tenant,
        squad: input.squad,
        capabilities: input.capabilities,
        params: input.params,
    };
    spec.check_bounds()
        .map_err(|e| ControlError::BadRequest(e.to_string()))?;
    Ok(spec)
}

pub async fn stop(args: &ControlArgs, session: &str, agent: &str) -> ControlReply {
    let visible = session == SYSTEM_TENANT
        || args.factory.placed.tenant_of(agent).as_deref() == Some(session);
    if !visible {
        return Err(ControlError::BadRequest(format!(
            "no agent {agent:?} of tenant {session:?} here"
        )));
    }
    args.factory
        .stop(agent)
        .await
        .map_err(|e| ControlError::BadRequest(e.to_string()))?;
    Ok(json!({"stopped": agent}))
}

/// An agent as the flight recorder tells it: its layers' last state
/// changes, its last decisions and its tasks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AgentHistory {
    pub events: u64,
    pub state: BTreeMap<String, String>,
    pub decisions: Vec<String>,
    pub tasks: BTreeMap<String, String>,
}

/// Decisions kept in a replayed history: the latest.
const DECISIONS_KEPT: usize = 20;

pub struct AgentFold;

impl Fold for AgentFold {
    type State = AgentHistory;

    fn apply(&self, history: &mut AgentHistory, event: &Event) {
        history.events += 1;
        match &event.kind {
            EventKind::StateChange { target, diff, .. } => {
                history.state.insert(target.clone(), diff.clone());
            }
            EventKind::Decision { rationale, .. } => {
                if history.decisions.len() == DECISIONS_KEPT {
                    history.decisions.remove(0);
                }
                history.decisions.push(rationale.clone());
            }
            EventKind::Task {
                mission,
                task,
                change,
                rationale,
            } => {
                let key = format!("{mission}/{task}");
                history
                    .tasks
                    .insert(key, format!("{change:?}: {rationale}"));
            }
            _ => {}
        }
    }
}

pub fn replay_agent(
    args: &ControlArgs,
    session: &str,
    agent: &str,
    at: Option<ReplayAt>,
) -> ControlReply {
    let tenant = match session {
        SYSTEM_TENANT => args
            .factory
            .placed
            .tenant_of(agent)
            .or_else(|| args.tenants.first().cloned()),
        own => Some(own.to_string()),
    }
    .unwrap_or_default();
    let upto = match at {
        None => Upto::End,
        Some(ReplayAt::Seq(seq)) => Upto::Seq(seq),
        Some(ReplayAt::AgoMs(ms)) => {
            Upto::TimeUs(super::facts::now_us(args).saturating_sub(ms.saturating_mul(1000)))
        }
    };
    let (history, last) = replay(&args.reader, &AgentFold, &tenant, agent, upto)
        .map_err(|e| ControlError::Failed(e.to_string()))?;
    if last.is_none() {
        return Err(ControlError::BadRequest(format!(
            "no events of agent {agent:?} in tenant {tenant:?}"
        )));
    }
    Ok(json!({
        "agent": agent,
        "tenant": tenant,
        "upto": last.map(|id| json!({"node": id.node, "seq": id.seq})),
        "history": history,
    }))
}
