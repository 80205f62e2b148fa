//! Commands about another node go to that node's control actor, over the
//! cluster session to it (its proxy is a child of that session), sealed
//! with that session's key: the other node credits them to this node.

use std::time::Duration;

use ractor::{ActorCell, ActorRef};
use ractor_cluster::NodeServerMessage;

use super::{ControlArgs, ControlError, ControlMsg, ControlReply, ControlRequest, control_name};
use swarmd_cluster::transport::hello::Purpose;
use swarmd_cluster::transport::{node_name, sealed};

/// How long a forwarded command may take.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn to_node(args: &ControlArgs, node: &str, request: &ControlRequest) -> ControlReply {
    let proxy = find_proxy(args, node).await?;
    let key = args
        .proofs
        .key_of(node, Purpose::Member)
        .ok_or_else(|| ControlError::Unavailable(format!("no proven session to node {node:?}")))?;
    let json = serde_json::to_vec(request)
        .map_err(|e| ControlError::Failed(format!("cannot encode the request: {e}")))?;
    let sealed = sealed::seal(&key, &args.node, &json);
    let reply = proxy
        .call(
            |port| ControlMsg::Request(sealed, port),
            Some(FORWARD_TIMEOUT),
        )
        .await
        .map_err(|e| ControlError::Unavailable(format!("node {node:?}: {e}")))?
        .success_or(())
        .map_err(|_| ControlError::Unavailable(format!("node {node:?} did not answer")))?;
    serde_json::from_slice(&reply)
        .map_err(|e| ControlError::Failed(format!("node {node:?} answered garbage: {e}")))?
}

async fn find_proxy(args: &ControlArgs, node: &str) -> Result<ActorRef<ControlMsg>, ControlError> {
    let unknown = || ControlError::BadRequest(format!("no session to a node named {node:?}"));
    let server = args
        .server
        .get()
        .ok_or_else(|| ControlError::Unavailable("the node server is not running".into()))?;
    let sessions = ractor::call_t!(server, NodeServerMessage::GetSessions, 5_000)
        .map_err(|e| ControlError::Unavailable(format!("cannot list sessions: {e}")))?;
    let session = sessions
        .into_values()
        .find(|s| s.peer_name.as_ref().map(|n| node_name(&n.name)).as_deref() == Some(node))
        .ok_or_else(unknown)?;
    let name = control_name(node);
    let proxy: Option<ActorCell> = session
        .actor
        .get_children()
        .into_iter()
        .find(|c| c.get_name().as_deref() == Some(name.as_str()));
    proxy.map(ActorRef::from).ok_or_else(unknown)
}
