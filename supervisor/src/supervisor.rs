//! The supervisor actor: it turns ractor's link events and the OTP child API
//! into calls on its [`SupervisorState`].

use std::time::Duration;

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, SupervisionEvent};

use crate::api::{Description, SupervisorError, SupervisorMsg};
use crate::child::{ChildCount, ChildKind, ChildSpec, Restart, Shutdown};
use crate::events::ExitReason;
use crate::slot::ActorSlot;
use crate::spec::{Strategy, SupervisorSpec, validate_child};
use crate::state::{AfterExit, Status, SupervisorState};

pub struct Supervisor;

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorSpec;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        spec: SupervisorSpec,
    ) -> Result<Self::State, ActorProcessingErr> {
        let name = spec.name.clone();
        spec.validate()
            .map_err(|e| format!("supervisor {name}: {e}"))?;
        let mut state = SupervisorState::new(spec);
        Box::pin(state.start_all(&myself))
            .await
            .map_err(|e| format!("supervisor {name}: {e}"))?;
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // Boxed, as the exit handler below: an idle supervisor's task is as
        // large as its biggest handler, and a node runs one per agent.
        Box::pin(handle(myself, msg, state)).await
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        Box::pin(on_supervision_event(myself, event, state)).await
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        tracing::info!(supervisor = %state.name(), "shutting down children in reverse start order");
        Box::pin(state.stop_all()).await;
        Ok(())
    }
}

async fn handle(
    myself: ActorRef<SupervisorMsg>,
    msg: SupervisorMsg,
    state: &mut SupervisorState,
) -> Result<(), ActorProcessingErr> {
    {
        match msg {
            SupervisorMsg::StartChild(spec, reply) => {
                let _ = reply.send(start_child(state, &myself, spec).await);
            }
            SupervisorMsg::TerminateChild(id, reply) => {
                let _ = reply.send(terminate_child(state, &id).await);
            }
            SupervisorMsg::RestartChild(id, reply) => {
                let _ = reply.send(restart_child(state, &myself, &id).await);
            }
            SupervisorMsg::DeleteChild(id, reply) => {
                let _ = reply.send(delete_child(state, &id));
            }
            SupervisorMsg::WhichChildren(reply) => {
                let _ = reply.send(state.children.iter().map(SupervisorState::info).collect());
            }
            SupervisorMsg::CountChildren(reply) => {
                let _ = reply.send(count(state));
            }
            SupervisorMsg::Describe(reply) => {
                let _ = reply.send(Description {
                    name: state.name().to_owned(),
                    strategy: state.spec.strategy,
                    children: state
                        .children
                        .iter()
                        .map(|c| (SupervisorState::info(c), SupervisorState::cell(c)))
                        .collect(),
                });
            }
            SupervisorMsg::RestartDue => state.restart_pending(&myself).await?,
        }
        Ok(())
    }
}

async fn on_supervision_event(
    myself: ActorRef<SupervisorMsg>,
    event: SupervisionEvent,
    state: &mut SupervisorState,
) -> Result<(), ActorProcessingErr> {
    let (who, reason) = match event {
        SupervisionEvent::ActorTerminated(cell, _, reason) => {
            let reason = match reason.as_deref() {
                Some("killed") => ExitReason::Killed,
                _ => ExitReason::Normal,
            };
            (cell.get_id(), reason)
        }
        SupervisionEvent::ActorFailed(cell, err) => {
            (cell.get_id(), ExitReason::Failed(err.to_string()))
        }
        _ => return Ok(()),
    };
    if let AfterExit::ShutDown = state.on_exit(&myself, who, reason).await? {
        myself.stop(Some("auto_shutdown".into()));
    }
    Ok(())
}

async fn start_child(
    state: &mut SupervisorState,
    me: &ActorRef<SupervisorMsg>,
    spec: ChildSpec,
) -> Result<ActorCell, SupervisorError> {
    validate_child(&spec).map_err(SupervisorError::InvalidSpec)?;
    if state.key_of(&spec.id).is_some() {
        return Err(SupervisorError::AlreadyPresent(spec.id));
    }
    if let Some(limit) = state.spec.max_children
        && state.children.len() >= limit
    {
        return Err(SupervisorError::MaxChildren(limit));
    }
    let id = spec.id.clone();
    let key = state.children.push(spec);
    state.start_at(me, key).await.map_err(|reason| {
        // Like OTP, a child whose start failed is not kept.
        state.children.remove(key);
        SupervisorError::StartFailed { id, reason }
    })
}

async fn terminate_child(state: &mut SupervisorState, id: &str) -> Result<(), SupervisorError> {
    let key = state
        .key_of(id)
        .ok_or_else(|| SupervisorError::NotFound(id.to_owned()))?;
    state.stop_at(key).await;
    state.children.set_status(key, Status::Terminated);
    let temporary = state
        .children
        .get(key)
        .is_some_and(|c| c.spec.restart == Restart::Temporary);
    if temporary || state.spec.strategy == Strategy::SimpleOneForOne {
        state.children.remove(key);
    }
    Ok(())
}

async fn restart_child(
    state: &mut SupervisorState,
    me: &ActorRef<SupervisorMsg>,
    id: &str,
) -> Result<ActorCell, SupervisorError> {
    let key = state
        .key_of(id)
        .ok_or_else(|| SupervisorError::NotFound(id.to_owned()))?;
    if state.children.get(key).is_some_and(|c| c.cell().is_some()) {
        return Err(SupervisorError::Running(id.to_owned()));
    }
    state
        .start_at(me, key)
        .await
        .map_err(|reason| SupervisorError::StartFailed {
            id: id.to_owned(),
            reason,
        })
}

fn delete_child(state: &mut SupervisorState, id: &str) -> Result<(), SupervisorError> {
    let key = state
        .key_of(id)
        .ok_or_else(|| SupervisorError::NotFound(id.to_owned()))?;
    let terminated = state
        .children
        .get(key)
        .map(|c| matches!(c.status(), Status::Terminated));
    if terminated != Some(true) {
        return Err(SupervisorError::Running(id.to_owned()));
    }
    state.children.remove(key);
    Ok(())
}

fn count(state: &SupervisorState) -> ChildCount {
    let mut count = ChildCount {
        specs: state.children.len(),
        ..ChildCount::default()
    };
    for child in state.children.iter() {
        if SupervisorState::cell(child).is_some() {
            count.active += 1;
        }
        if SupervisorState::is_supervisor(child) {
            count.supervisors += 1;
        } else {
            count.workers += 1;
        }
    }
    count
}

impl SupervisorSpec {
    /// This supervisor as a child of another. Like OTP, a supervisor child gets
    /// a long shutdown so its own children can stop in order.
    pub fn into_child(self) -> ChildSpec {
        self.into_child_in(ActorSlot::new())
    }

    /// Like [`into_child`](Self::into_child), keeping each incarnation's ref in
    /// `slot` for whoever starts children under it later.
    pub fn into_child_in(self, slot: ActorSlot<SupervisorMsg>) -> ChildSpec {
        let id = self.name.clone();
        let mut child = ChildSpec::new(id, move |parent| {
            let spec = self.clone();
            let slot = slot.clone();
            async move {
                let (sup, _) = Actor::spawn_linked(None, Supervisor, spec, parent).await?;
                slot.set(sup.clone());
                Ok(sup.get_cell())
            }
        })
        .shutdown(Shutdown::Timeout(Duration::from_secs(60)));
        child.kind = ChildKind::Supervisor;
        child
    }
}
