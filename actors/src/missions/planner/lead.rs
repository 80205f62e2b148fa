//! The planner in the cloud tier (DESIGN §18): with `[cloud] ha` it plans
//! only while its cloud holds the lease. Taking the lease, it loads the
//! state its node restored from JetStream, as after a restart; losing it,
//! it drops that state and stands by, passing what agents send on to the
//! leader. Its assignments carry the lease's token.

use std::collections::BTreeMap;

use ractor::ActorProcessingErr;
use swarmd_messages::advert::Leadership;
use swarmd_messages::swarm::{Address, MISSIONS_ACTOR};
use tracing::{debug, info, warn};

use super::{MAX_MISSIONS, PlannerArgs, PlannerMsg, PlannerState};
use crate::board::{Board, BoardStore};
use crate::missions::book::{Mission, MissionState};
use crate::missions::recipe::RecipeRun;
use crate::missions::store::{MissionStore, RecipeStore};
use crate::router;

/// What the planner keeps on disk, loaded.
pub(super) struct Stored {
    pub missions: BTreeMap<u64, Mission>,
    pub recipes: BTreeMap<u64, RecipeRun>,
    pub board: Board,
}

impl Stored {
    pub fn empty(args: &PlannerArgs) -> Self {
        Self {
            missions: BTreeMap::new(),
            recipes: BTreeMap::new(),
            board: Board::new(args.board),
        }
    }

    pub fn load(
        args: &PlannerArgs,
        missions: &MissionStore,
        recipes: &RecipeStore,
        board: &BoardStore,
    ) -> Result<Self, ActorProcessingErr> {
        // Twice the limit: a crash between a save and a trim leaves a few more.
        let mut stored = Self {
            missions: missions.load(MAX_MISSIONS * 2)?,
            recipes: recipes.load(MAX_MISSIONS * 2)?,
            board: Board::new(args.board),
        };
        let limit = args.board.capacity.saturating_mul(4);
        board.load_into(&mut stored.board, limit)?;
        // A mission finished before a crash stays finished; active ones resume.
        let active = stored
            .missions
            .values()
            .filter(|m| m.state == MissionState::Active)
            .count();
        let on_board = stored.board.entries().count();
        let missions = stored.missions.len();
        info!(missions, active, on_board, "mission planner started");
        Ok(stored)
    }
}

impl PlannerState {
    /// True while this planner plans: always without `[cloud] ha`.
    pub(super) fn leads(&self) -> bool {
        self.lead.as_ref().is_none_or(|l| l.mine)
    }

    /// The fencing token its assignments carry (0 without `[cloud] ha`).
    pub(super) fn token(&self) -> u64 {
        self.lead.as_ref().map_or(0, |l| l.token)
    }

    pub(super) async fn on_lead(&mut self, lead: Leadership) -> Result<(), ActorProcessingErr> {
        let was_leading = self.lead.is_some() && self.leads();
        let token = lead.token;
        self.lead = Some(lead);
        match (was_leading, self.leads()) {
            (false, true) => {
                let stored = Stored::load(
                    &self.args,
                    &self.store,
                    &self.recipe_store,
                    &self.board_store,
                )?;
                self.missions = stored.missions;
                self.recipes = stored.recipes;
                self.board = stored.board;
                self.agents.clear();
                info!(token, "leading the cloud tier: planning");
            }
            (true, false) => {
                let stored = Stored::empty(&self.args);
                self.missions = stored.missions;
                self.recipes = stored.recipes;
                self.board = stored.board;
                self.agents.clear();
                warn!("the lease is gone: planning stopped, standing by");
            }
            _ => {}
        }
        Ok(())
    }

    /// A message while another cloud leads: what agents send goes on to the
    /// leader; operators' commands are refused (the control plane forwards
    /// them to the leader before they get here).
    pub(super) fn stand_by(&mut self, msg: PlannerMsg) {
        let leader = self.lead.as_ref().and_then(|l| l.leader.clone());
        let why = || match &leader {
            Some(node) => format!("this cloud stands by; {node} leads"),
            None => "no cloud leads right now: try again within the lease's TTL".to_string(),
        };
        match msg {
            PlannerMsg::Wire(wire) => match leader.filter(|l| **l != *self.args.ctx.node) {
                Some(node) => {
                    let to = Address {
                        node,
                        name: MISSIONS_ACTOR.to_string(),
                    };
                    if let Err(e) = router::cast(self.args.router.as_ref(), &to, &wire) {
                        debug!(error = %e, "not passed on to the leader");
                    }
                }
                None => debug!("no leader to pass an agent's message on to"),
            },
            PlannerMsg::Tick(due) => {
                self.ticker.handled(due, tokio::time::Instant::now());
            }
            PlannerMsg::SubmitRecipe { reply, .. } => {
                let _ = reply.send(Err(why()));
            }
            PlannerMsg::Replay { reply, .. } => {
                let _ = reply.send(Err(why()));
            }
            PlannerMsg::Missions(reply) => {
                let _ = reply.send(Vec::new());
            }
            PlannerMsg::Agents(reply) => {
                let _ = reply.send(Vec::new());
            }
            PlannerMsg::Recipes(reply) => {
                let _ = reply.send(Vec::new());
            }
            PlannerMsg::DeadLetters(reply) => {
                let _ = reply.send(Vec::new());
            }
            PlannerMsg::Board(reply) => {
                let _ = reply.send(self.board.view(0));
            }
            // No id to answer with: the caller's call fails and says so.
            PlannerMsg::Submit { .. } => warn!("{}: mission not accepted here", why()),
            PlannerMsg::Broadcast(_) | PlannerMsg::Release { .. } => {
                warn!("{}: not done here", why());
            }
            PlannerMsg::Lead(_) => unreachable!("handled first"),
        }
    }
}
