//! The agent factory and registry (seed 000): agents from specs, added to
//! this node's `agents` supervisor, started and stopped in bulk, with the
//! status of each. Remote spawns go through the same door.

use swarmd_messages::swarm::{MISSIONS_ACTOR, WORLD_ACTOR};
use swarmd_messages::{
    EventDraft, EventKind, GovernanceAction, SYSTEM_TENANT, SpawnRejected, SpawnSpec, TraceContext,
};
use swarmd_supervisor::{
    ActorSlot, ChildStatus, Restart, SupervisorError, SupervisorMsg, delete_child, start_child,
    terminate_child, which_children,
};

use super::{Admission, AgentKinds, LocalDirectory};
use crate::NodeCtx;

/// Names that belong to node services, not agents.
const RESERVED: [&str; 2] = [WORLD_ACTOR, MISSIONS_ACTOR];

#[derive(Clone)]
pub struct AgentFactory {
    pub ctx: NodeCtx,
    pub kinds: AgentKinds,
    pub directory: LocalDirectory,
    pub agents: ActorSlot<SupervisorMsg>,
    /// The tenants this node serves: a spec of any other is refused.
    pub tenants: Vec<String>,
    /// The tenant of each agent created here, for tenant-bound sessions.
    pub placed: AgentTenants,
    /// The capabilities on offer and the memory budget's word.
    pub admission: Admission,
}

/// Agent id → tenant, shared by the factory's clones. Bounded by the agents
/// supervisor's `max_children` (an entry goes when its agent is stopped).
#[derive(Clone, Default)]
pub struct AgentTenants(
    std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, String>>>,
);

impl AgentTenants {
    pub fn tenant_of(&self, agent: &str) -> Option<String> {
        self.lock().get(agent).cloned()
    }

    fn set(&self, agent: &str, tenant: &str) {
        self.lock().insert(agent.to_string(), tenant.to_string());
    }

    /// Agents created here and not stopped.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn forget(&self, agent: &str) {
        self.lock().remove(agent);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<String, String>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One agent as the registry sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStatus {
    pub id: String,
    pub running: bool,
    pub restarts: u32,
    pub last_failure: Option<String>,
}

impl AgentFactory {
    /// Creates and starts one agent. `restart` is its policy under `agents`;
    /// remote spawns use `Temporary`, since the requester owns their restarts.
    pub async fn create(&self, spec: &SpawnSpec, restart: Restart) -> Result<(), SpawnRejected> {
        if !self.tenants.contains(&spec.tenant) {
            let why = format!(
                "tenant {:?} is not served by this node (it serves {:?})",
                spec.tenant, self.tenants
            );
            return Err(SpawnRejected::Spec(why));
        }
        if RESERVED.contains(&spec.id.as_str()) {
            let why = format!("{:?} is reserved for a node service", spec.id);
            return Err(SpawnRejected::Spec(why));
        }
        if self.directory.contains(&spec.id) {
            let why = format!("an agent named {:?} already runs here", spec.id);
            return Err(SpawnRejected::Spec(why));
        }
        if let Err(refused) = self.admission.check(spec) {
            self.record_refusal(spec, &refused).await;
            return Err(refused);
        }
        let prepared = self.kinds.prepare(spec, &self.ctx)?;
        let agents = self
            .agents
            .get()
            .ok_or_else(|| SpawnRejected::Spec("the agents supervisor is not running".into()))?;
        // Registered before the start, so an immediate exit finds it to unregister.
        let registered = self.directory.register(&spec.id, prepared.endpoint);
        self.placed.set(&spec.id, &spec.tenant);
        match start_child(&agents, prepared.child.restart(restart)).await {
            Ok(_) => Ok(()),
            Err(e) => {
                if registered {
                    self.directory.unregister(&spec.id);
                    self.placed.forget(&spec.id);
                }
                Err(rejection(e))
            }
        }
    }

    /// A refusal by the memory budget is a governance action: recorded.
    async fn record_refusal(&self, spec: &SpawnSpec, refused: &SpawnRejected) {
        if !matches!(refused, SpawnRejected::OverBudget { .. }) {
            return;
        }
        let draft = EventDraft {
            tenant: SYSTEM_TENANT.into(),
            agent: Some(spec.id.clone()),
            trace: TraceContext::default(),
            kind: EventKind::Governance {
                action: GovernanceAction::SpawnRefused {
                    agent: spec.id.clone(),
                },
                detail: refused.to_string(),
            },
        };
        if let Err(e) = self.ctx.ledger.append(draft).await {
            tracing::warn!(error = %e, "governance event not recorded");
        }
    }

    /// Creates every spec in order; one refusal does not stop the others.
    pub async fn start_all(&self, specs: &[SpawnSpec]) -> Vec<(String, Result<(), SpawnRejected>)> {
        let mut results = Vec::with_capacity(specs.len());
        for spec in specs {
            let result = self.create(spec, Restart::Transient).await;
            results.push((spec.id.clone(), result));
        }
        results
    }

    /// Stops every agent on this node and forgets it (OTP's terminate then
    /// delete), so its name and its slot under `max_agents` are free again.
    /// Returns how many were running.
    pub async fn stop_all(&self) -> Result<usize, SupervisorError> {
        let agents = self.supervisor()?;
        let mut stopped = 0;
        for child in which_children(&agents).await? {
            let running = child.status == ChildStatus::Running;
            self.remove(&agents, &child.id).await?;
            stopped += usize::from(running);
        }
        Ok(stopped)
    }

    /// Stops one agent and forgets it; `NotFound` if there is none by that id.
    pub async fn stop(&self, id: &str) -> Result<(), SupervisorError> {
        let agents = self.supervisor()?;
        if !which_children(&agents).await?.iter().any(|c| c.id == id) {
            return Err(SupervisorError::NotFound(id.to_string()));
        }
        self.remove(&agents, id).await
    }

    async fn remove(
        &self,
        agents: &ractor::ActorRef<SupervisorMsg>,
        id: &str,
    ) -> Result<(), SupervisorError> {
        let gone = |r: Result<(), SupervisorError>| match r {
            Ok(()) | Err(SupervisorError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        };
        gone(terminate_child(agents, id).await)?;
        gone(delete_child(agents, id).await)?;
        self.directory.unregister(id);
        self.placed.forget(id);
        Ok(())
    }

    /// Every agent this node has, running or not.
    pub async fn status(&self) -> Result<Vec<AgentStatus>, SupervisorError> {
        let agents = self.supervisor()?;
        Ok(which_children(&agents)
            .await?
            .into_iter()
            .map(|c| AgentStatus {
                running: c.status == ChildStatus::Running,
                last_failure: c.last_failure,
                restarts: c.restarts,
                id: c.id,
            })
            .collect())
    }

    fn supervisor(&self) -> Result<ractor::ActorRef<SupervisorMsg>, SupervisorError> {
        self.agents.get().ok_or_else(|| {
            SupervisorError::Unavailable("the agents supervisor is not running".into())
        })
    }
}

fn rejection(e: SupervisorError) -> SpawnRejected {
    match e {
        SupervisorError::MaxChildren(n) => SpawnRejected::LimitReached(n),
        other => SpawnRejected::Spec(other.to_string()),
    }
}
