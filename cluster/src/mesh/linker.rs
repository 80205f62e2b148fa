//! Links this node's mesh session to every member's, by the mesh identity
//! each advertises: the mesh forms with the cluster, edge to edge, with no
//! mesh settings. zenoh's gossip links peers too, but offers no loopback
//! locators; this does not depend on it.
//!
//! Each tick it tries the members that are up, advertise a session and are
//! not linked yet, one at a time (a member count is bounded), each try
//! bounded by `LINK_TIMEOUT`. Of a pair, the side with the smaller mesh id
//! dials (two dials at once make zenoh refuse one, loudly); the other side
//! dials too once a member stays unlinked for `FALLBACK_TICKS` (the smaller
//! side may not reach it). A link that drops is tried again next tick.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_actors::ctx::{MeshIdentity, PubSub};
use swarmd_supervisor::ChildSpec;
use tracing::{debug, info};

use crate::gateway::{ClusterHandle, MemberState};

/// How long one try to link a member may take.
pub const LINK_TIMEOUT: Duration = Duration::from_secs(5);
/// Ticks a member may stay unlinked before the larger id dials as well.
pub const FALLBACK_TICKS: u32 = 3;

#[derive(Clone)]
pub struct MeshLinkerArgs {
    pub mesh: Arc<dyn PubSub>,
    pub cluster: ClusterHandle,
    pub interval: Duration,
}

pub struct MeshLinker;

pub struct Tick;

impl ractor::Message for Tick {}

pub struct LinkerState {
    args: MeshLinkerArgs,
    /// Members linked at the last tick, to log changes once.
    linked: BTreeSet<String>,
    /// Ticks each member has stayed unlinked in a row.
    unlinked: BTreeMap<String, u32>,
}

pub fn mesh_linker_child(args: MeshLinkerArgs) -> ChildSpec {
    ChildSpec::new("mesh_linker", move |sup| {
        let args = args.clone();
        async move {
            let (linker, _) = Actor::spawn_linked(None, MeshLinker, args, sup).await?;
            Ok(linker.get_cell())
        }
    })
}

impl Actor for MeshLinker {
    type Msg = Tick;
    type State = LinkerState;
    type Arguments = MeshLinkerArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Tick>,
        args: MeshLinkerArgs,
    ) -> Result<LinkerState, ActorProcessingErr> {
        myself.send_interval(args.interval, || Tick);
        Ok(LinkerState {
            args,
            linked: BTreeSet::new(),
            unlinked: BTreeMap::new(),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Tick>,
        _tick: Tick,
        state: &mut LinkerState,
    ) -> Result<(), ActorProcessingErr> {
        state.link_members().await;
        Ok(())
    }
}

impl LinkerState {
    async fn link_members(&mut self) {
        let Some(own) = self.args.mesh.identity() else {
            return; // an in-process mesh has nothing to link
        };
        let Ok(members) = self.args.cluster.members().await else {
            return;
        };
        let linked_ids = self.args.mesh.linked().await;
        let mut linked = BTreeSet::new();
        for member in members.iter().filter(|m| m.state == MemberState::Up) {
            let Some(peer) = member.advert.as_ref().and_then(|a| a.mesh.as_ref()) else {
                continue;
            };
            if peer.id == own.id {
                continue;
            }
            let name = &member.info.name;
            let waited = self.unlinked.get(name).copied().unwrap_or(0);
            let dials = own.id < peer.id || waited >= FALLBACK_TICKS;
            let up = linked_ids.contains(&peer.id) || (dials && self.link(name, peer).await);
            if up {
                linked.insert(name.clone());
            }
        }
        let members: BTreeSet<&String> = members.iter().map(|m| &m.info.name).collect();
        self.unlinked
            .retain(|name, _| members.contains(name) && !linked.contains(name));
        for name in members.into_iter().filter(|n| !linked.contains(*n)) {
            *self.unlinked.entry(name.clone()).or_default() += 1;
        }
        for name in linked.difference(&self.linked) {
            info!(member = %name, "mesh linked");
        }
        for name in self.linked.difference(&linked) {
            info!(member = %name, "mesh link lost");
        }
        self.linked = linked;
    }

    async fn link(&self, name: &str, peer: &MeshIdentity) -> bool {
        match tokio::time::timeout(LINK_TIMEOUT, self.args.mesh.link(peer)).await {
            Ok(Ok(up)) => up,
            Ok(Err(e)) => {
                debug!(member = %name, error = %e, "cannot link the mesh");
                false
            }
            Err(_) => false,
        }
    }
}
