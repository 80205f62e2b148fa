//! The edge's half of the split-brain rule (DESIGN §6): agents another node
//! spawned here (its remote supervisor owns them) are stopped when this node
//! has lost sight of that owner for half the placement grace and cannot see
//! a majority of members either. The owner moves such an agent only after
//! the whole grace and only while it sees a majority itself, so the two
//! copies never run at once: the minority side stops first.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_actors::NodeCtx;
use swarmd_actors::fleet::AgentFactory;
use swarmd_messages::{EventDraft, EventKind, PlacementChange, TraceContext};
use swarmd_supervisor::ChildSpec;
use tokio::time::Instant;
use tracing::warn;

use super::{ClusterHandle, MemberState, MemberStatus};

/// Agents spawned here by another node's remote supervisor: agent → owner.
/// Bounded by the node's agent limit (the factory refuses beyond it).
#[derive(Clone, Default)]
pub struct RemoteOwned(Arc<Mutex<BTreeMap<String, (String, String)>>>);

impl RemoteOwned {
    pub fn insert(&self, agent: &str, owner: &str, tenant: &str) {
        self.lock()
            .insert(agent.into(), (owner.into(), tenant.into()));
    }

    pub fn remove(&self, agent: &str) {
        self.lock().remove(agent);
    }

    /// `(agent, owner, tenant)` of every agent owned elsewhere.
    pub fn all(&self) -> Vec<(String, String, String)> {
        let owned = self.lock();
        owned
            .iter()
            .map(|(a, (o, t))| (a.clone(), o.clone(), t.clone()))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (String, String)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// True when this node and the `members` it sees up are a strict majority
/// of itself and every member it knows (`members` is the gateway's view,
/// which never lists this node).
pub fn majority(members: &[MemberStatus]) -> bool {
    let (mut total, mut up) = (1, 1);
    for m in members {
        total += 1;
        if m.state == MemberState::Up && m.connected {
            up += 1;
        }
    }
    up * 2 > total
}

#[derive(Clone)]
pub struct FenceArgs {
    pub ctx: NodeCtx,
    pub cluster: ClusterHandle,
    pub factory: AgentFactory,
    pub owned: RemoteOwned,
    /// Half the placement grace.
    pub after: Duration,
    pub interval: Duration,
}

pub struct Fence;

pub struct FenceTick;

impl ractor::Message for FenceTick {}

pub struct FenceState {
    args: FenceArgs,
    /// Owners out of sight, since when.
    unseen: HashMap<String, Instant>,
}

pub fn fence_child(args: FenceArgs) -> ChildSpec {
    ChildSpec::new("fence", move |sup| {
        let args = args.clone();
        async move {
            let (fence, _) = Actor::spawn_linked(None, Fence, args, sup).await?;
            Ok(fence.get_cell())
        }
    })
}

impl Actor for Fence {
    type Msg = FenceTick;
    type State = FenceState;
    type Arguments = FenceArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<FenceTick>,
        args: FenceArgs,
    ) -> Result<FenceState, ActorProcessingErr> {
        myself.send_interval(args.interval, || FenceTick);
        Ok(FenceState {
            args,
            unseen: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<FenceTick>,
        _tick: FenceTick,
        state: &mut FenceState,
    ) -> Result<(), ActorProcessingErr> {
        state.check().await;
        Ok(())
    }
}

impl FenceState {
    async fn check(&mut self) {
        // A deliberately broken build, to show the simulator's checker catch it.
        if cfg!(feature = "bug-no-fence") {
            return;
        }
        let owned = self.args.owned.all();
        if owned.is_empty() {
            self.unseen.clear();
            return;
        }
        let Ok(members) = self.args.cluster.members().await else {
            return;
        };
        let seen = |owner: &str| {
            members
                .iter()
                .any(|m| m.info.name == owner && m.state == MemberState::Up && m.connected)
        };
        let now = Instant::now();
        self.unseen.retain(|owner, _| !seen(owner));
        let me = self.args.ctx.node.to_string();
        let in_majority = majority(&members);
        for (agent, owner, tenant) in owned {
            if seen(&owner) {
                continue;
            }
            let since = *self.unseen.entry(owner.clone()).or_insert(now);
            if in_majority || now.duration_since(since) < self.args.after {
                continue;
            }
            warn!(%agent, %owner, "cut off from its supervisor and from a majority: stopping it");
            self.args.owned.remove(&agent);
            if let Err(e) = self.args.factory.stop(&agent).await {
                warn!(%agent, error = %e, "cannot stop a fenced agent");
            }
            self.record(&agent, &tenant, &me).await;
        }
    }

    async fn record(&self, agent: &str, tenant: &str, node: &str) {
        let draft = EventDraft {
            tenant: tenant.to_string(),
            agent: Some(agent.to_string()),
            trace: TraceContext::default(),
            kind: EventKind::Placement {
                agent: agent.to_string(),
                change: PlacementChange::Fenced {
                    node: node.to_string(),
                },
            },
        };
        if let Err(e) = self.args.ctx.ledger.append(draft).await {
            warn!(error = %e, "cannot record a fenced agent");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmd_messages::{MemberInfo, Role};

    fn member(name: &str, state: MemberState) -> MemberStatus {
        MemberStatus {
            info: MemberInfo {
                name: name.into(),
                role: Role::Edge,
                cluster_addr: "127.0.0.1:1".into(),
                incarnation: 1,
            },
            state,
            connected: state == MemberState::Up,
            advert: None,
        }
    }

    #[test]
    fn a_majority_counts_this_node_and_every_member_known() {
        let up = MemberState::Up;
        let down = MemberState::Down;
        assert!(majority(&[member("b", up), member("c", down)]));
        assert!(!majority(&[member("b", down), member("c", down)]));
        // Two of four is no majority: both halves of an even split stop.
        assert!(!majority(&[
            member("b", up),
            member("c", down),
            member("d", down)
        ]));
        // Alone, with no member known, a node is its own majority.
        assert!(majority(&[]));
        // One of two is not: with the cloud gone, a lone edge stops them.
        assert!(!majority(&[member("cloud", down)]));
    }
}
