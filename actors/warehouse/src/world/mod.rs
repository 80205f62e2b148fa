//! Worlds agents perceive and act on. A [`WorldAdapter`] is the agent's side:
//! it sends requests, and answers come back to the agent as `AgentMsg`s. The
//! built-in [`GridWorld`] runs in a [`WorldActor`] on the world host; agents
//! anywhere reach it through the [`Router`](swarmd_actors::router::Router).

mod actor;
mod grid;

use std::sync::Arc;

use swarmd_messages::swarm::{Address, Cell, WORLD_ACTOR, WorldMsg};

use swarmd_actors::router::{self, Router, SendError};

pub use actor::{WorldActor, WorldActorMsg, WorldArgs, WorldSnapshot, world_child};
pub use grid::{EnterRefused, GridConfig, GridWorld, floor_plan};
pub use swarmd_messages::swarm::Layout;

/// How an agent's reflex perceives and acts. Every request is answered, if
/// at all, by an `AgentMsg::Welcome` or `AgentMsg::Perceived` to the agent;
/// `Err` means the request surely did not go out.
pub trait WorldAdapter: Send + Sync + 'static {
    fn enter(&self, agent: &Address, preferred: Option<Cell>) -> Result<(), SendError>;
    fn sense(&self, agent: &str, request: u64) -> Result<(), SendError>;
    fn act(&self, agent: &str, request: u64, to: Cell) -> Result<(), SendError>;
    fn leave(&self, agent: &str);
}

/// The grid world on whichever node hosts it.
pub struct RoutedWorld(pub Arc<dyn Router>);

impl RoutedWorld {
    fn send(&self, msg: WorldMsg) -> Result<(), SendError> {
        let node = self.0.world_host().ok_or(SendError::NoHost("world host"))?;
        let to = Address {
            node,
            name: WORLD_ACTOR.to_string(),
        };
        router::cast(self.0.as_ref(), &to, &msg)
    }
}

impl WorldAdapter for RoutedWorld {
    fn enter(&self, agent: &Address, preferred: Option<Cell>) -> Result<(), SendError> {
        self.send(WorldMsg::Enter {
            agent: agent.clone(),
            preferred,
        })
    }

    fn sense(&self, agent: &str, request: u64) -> Result<(), SendError> {
        let agent = agent.to_string();
        self.send(WorldMsg::Sense { agent, request })
    }

    fn act(&self, agent: &str, request: u64, to: Cell) -> Result<(), SendError> {
        let agent = agent.to_string();
        self.send(WorldMsg::Move { agent, request, to })
    }

    fn leave(&self, agent: &str) {
        let agent = agent.to_string();
        let _ = self.send(WorldMsg::Leave { agent });
    }
}
