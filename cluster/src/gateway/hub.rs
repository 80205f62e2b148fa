//! The edge side of store-and-forward over the cluster: the forwarder's
//! [`Hub`] is whichever cloud member is up, reached with a ledger batch call.

use futures::future::BoxFuture;
use swarmd_messages::{Event, LedgerRefused, Reply, Request};
use swarmd_storage::ledger::{Hub, HubError};

use super::{ClusterHandle, MemberState};

pub struct ClusterHub {
    pub cluster: ClusterHandle,
}

impl Hub for ClusterHub {
    fn deliver(&self, events: Vec<Event>) -> BoxFuture<'static, Result<(), HubError>> {
        let cluster = self.cluster.clone();
        Box::pin(async move {
            let members = cluster
                .members()
                .await
                .map_err(|e| HubError::Unreachable(e.to_string()))?;
            let cloud = members
                .iter()
                .filter(|m| m.state == MemberState::Up && m.connected)
                .find(|m| m.info.role.runs_cloud())
                .ok_or_else(|| HubError::Unreachable("no cloud member is up".into()))?;
            match cluster
                .call(&cloud.info.name, Request::Ledger(events))
                .await
            {
                Ok(Reply::LedgerStored(Ok(()))) => Ok(()),
                Ok(Reply::LedgerStored(Err(LedgerRefused::Conflict { node, seq }))) => {
                    Err(HubError::Conflict { node, seq })
                }
                Ok(Reply::LedgerStored(Err(LedgerRefused::Invalid { seq, why }))) => {
                    Err(HubError::Invalid { seq, why })
                }
                Ok(Reply::LedgerStored(Err(why))) => Err(HubError::Failed(why.to_string())),
                Ok(other) => Err(HubError::Failed(format!("unexpected reply {other:?}"))),
                Err(e) => Err(HubError::Unreachable(e.to_string())),
            }
        })
    }
}
