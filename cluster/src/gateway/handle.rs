//! The API other actors use to reach other nodes. Every call is bounded by
//! the configured call timeout: a reply port dropped on the remote side is
//! never reported over the network, so waiting without a limit would hang.

use std::time::Duration;

use serde::Serialize;
use swarmd_messages::{Reply, Request, SpawnRejected, SpawnSpec, WireMsg, encode_payload};
use swarmd_supervisor::ActorSlot;
use tokio::sync::{broadcast, oneshot};

use super::{CallError, GatewayMsg, GatewayStats, MemberChange, MemberStatus, RemoteExit};

#[derive(Clone)]
pub struct ClusterHandle {
    gateway: ActorSlot<GatewayMsg>,
    changes: broadcast::Sender<MemberChange>,
    call_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpawnError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error(transparent)]
    Rejected(#[from] SpawnRejected),
}

/// An actor on another node, addressed through that node's directory.
#[derive(Clone)]
pub struct RemoteRef {
    pub node: String,
    pub name: String,
    cluster: ClusterHandle,
}

impl std::fmt::Debug for RemoteRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.node, self.name)
    }
}

impl RemoteRef {
    /// Sends `msg` (the remote actor's own message type) one way.
    pub fn cast<T: Serialize>(&self, msg: &T) -> Result<(), CallError> {
        let payload = encode_payload(msg).map_err(|e| CallError::Protocol(e.to_string()))?;
        self.cluster.cast(&self.node, &self.name, payload)
    }

    /// Sends each of `msgs` one way, in order, as one hand-off to the gateway.
    pub fn cast_batch<T: Serialize>(&self, msgs: &[T]) -> Result<(), CallError> {
        let payloads = msgs
            .iter()
            .map(|m| encode_payload(m).map_err(|e| CallError::Protocol(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        self.cluster.cast_batch(&self.node, &self.name, payloads)
    }

    /// Resolves with the actor's exit, or its node going down.
    pub async fn watch(&self) -> Result<oneshot::Receiver<RemoteExit>, CallError> {
        self.cluster.watch(&self.node, &self.name).await
    }
}

impl ClusterHandle {
    pub fn new(
        gateway: ActorSlot<GatewayMsg>,
        changes: broadcast::Sender<MemberChange>,
        call_timeout: Duration,
    ) -> Self {
        Self {
            gateway,
            changes,
            call_timeout,
        }
    }

    /// Membership changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<MemberChange> {
        self.changes.subscribe()
    }

    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }

    fn gateway(&self) -> Result<ractor::ActorRef<GatewayMsg>, CallError> {
        self.gateway.get().ok_or(CallError::Unavailable)
    }

    /// One-way, batched with whatever else goes to `node`. Like Erlang's `!`,
    /// a cast to a node without a session is dropped (and counted).
    pub fn cast(&self, node: &str, actor: &str, payload: Vec<u8>) -> Result<(), CallError> {
        let msg = WireMsg::Cast {
            to: actor.to_string(),
            payload,
        };
        let node = node.to_string();
        self.gateway()?
            .cast(GatewayMsg::Send { node, msg })
            .map_err(|_| CallError::Unavailable)
    }

    /// Like [`cast`](Self::cast) for many payloads to one actor, in order.
    pub fn cast_batch(
        &self,
        node: &str,
        actor: &str,
        payloads: Vec<Vec<u8>>,
    ) -> Result<(), CallError> {
        let msg = WireMsg::CastMany {
            to: actor.to_string(),
            payloads,
        };
        let node = node.to_string();
        self.gateway()?
            .cast(GatewayMsg::Send { node, msg })
            .map_err(|_| CallError::Unavailable)
    }

    pub async fn call(&self, node: &str, body: Request) -> Result<Reply, CallError> {
        let (reply, answer) = oneshot::channel();
        let node = node.to_string();
        self.gateway()?
            .cast(GatewayMsg::Call { node, body, reply })
            .map_err(|_| CallError::Unavailable)?;
        match tokio::time::timeout(self.call_timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(CallError::Unavailable),
            Err(_) => Err(CallError::Timeout(self.call_timeout)),
        }
    }

    /// Starts a child of `node`'s agents supervisor from `spec`.
    pub async fn spawn(&self, node: &str, spec: SpawnSpec) -> Result<RemoteRef, SpawnError> {
        match self.call(node, Request::Spawn(spec)).await? {
            Reply::Spawned(Ok(name)) => Ok(RemoteRef {
                node: node.to_string(),
                name,
                cluster: self.clone(),
            }),
            Reply::Spawned(Err(rejected)) => Err(rejected.into()),
            other => Err(CallError::Protocol(format!("{other:?}")).into()),
        }
    }

    pub async fn watch(
        &self,
        node: &str,
        actor: &str,
    ) -> Result<oneshot::Receiver<RemoteExit>, CallError> {
        let (notify, exit) = oneshot::channel();
        let (accepted, answer) = oneshot::channel();
        let msg = GatewayMsg::Watch {
            node: node.to_string(),
            actor: actor.to_string(),
            notify,
            accepted,
        };
        self.gateway()?
            .cast(msg)
            .map_err(|_| CallError::Unavailable)?;
        answer.await.map_err(|_| CallError::Unavailable)??;
        Ok(exit)
    }

    /// A reference to `node`'s actor `name`, without asking whether it runs.
    pub fn remote_ref(&self, node: &str, name: &str) -> RemoteRef {
        RemoteRef {
            node: node.to_string(),
            name: name.to_string(),
            cluster: self.clone(),
        }
    }

    pub async fn members(&self) -> Result<Vec<MemberStatus>, CallError> {
        let gateway = self.gateway()?;
        let ms = self.call_timeout.as_millis() as u64;
        ractor::call_t!(gateway, GatewayMsg::Members, ms).map_err(|_| CallError::Unavailable)
    }

    pub async fn stats(&self) -> Result<GatewayStats, CallError> {
        let gateway = self.gateway()?;
        let ms = self.call_timeout.as_millis() as u64;
        ractor::call_t!(gateway, GatewayMsg::Stats, ms).map_err(|_| CallError::Unavailable)
    }
}
