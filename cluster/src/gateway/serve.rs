//! Requests other nodes make of this one: spawn a child of `agents`, watch an
//! actor, store a ledger batch, echo. Slow work runs in a task that reports
//! back, so the gateway never waits on a supervisor or a disk.

use swarmd_messages::{
    LedgerRefused, Reply, Request, SpawnRejected, SpawnSpec, WatchRefused, WireMsg,
};
use swarmd_storage::ledger::HubError;
use swarmd_supervisor::Restart;
use tracing::{info, warn};

use super::GatewayMsg;
use super::actor::GatewayState;

impl GatewayState {
    pub(super) fn serve(&mut self, from: &str, id: u64, body: Request) {
        match body {
            Request::Echo(bytes) => self.reply(from, id, Reply::Echo(bytes)),
            Request::Spawn(spec) => self.spawn(from, id, spec),
            Request::Watch { watch, actor } => {
                let reply = if !self.args.directory.contains(&actor) {
                    Err(WatchRefused::NoSuchActor(actor))
                } else if self.watched.add(&actor, from, watch) {
                    Ok(())
                } else {
                    Err(WatchRefused::TooManyWatches)
                };
                self.reply(from, id, Reply::Watching(reply));
            }
            Request::Unwatch { watch } => self.watched.remove(from, watch),
            Request::Ledger(events) => self.store_ledger(from, id, events),
        }
    }

    fn reply(&mut self, node: &str, id: u64, body: Reply) {
        self.send(node, WireMsg::Reply { id, body });
    }

    fn spawn(&mut self, from: &str, id: u64, spec: SpawnSpec) {
        let factory = self.args.factory.clone();
        let owned = self.args.owned.clone();
        let gateway = self.myself.clone();
        let node = from.to_string();
        info!(%node, agent = %spec.id, kind = %spec.kind, "remote spawn requested");
        tokio::spawn(async move {
            // Remote children are temporary here: the requesting node owns
            // their restart policy (and may choose another node).
            let result = factory.create(&spec, Restart::Temporary).await;
            if result.is_ok() {
                owned.insert(&spec.id, &node, &spec.tenant);
            }
            let _ = gateway.cast(GatewayMsg::Spawned {
                node,
                id,
                name: spec.id,
                result,
            });
        });
    }

    pub(super) fn spawned(
        &mut self,
        node: &str,
        id: u64,
        name: &str,
        result: Result<(), SpawnRejected>,
    ) {
        if let Err(e) = &result {
            warn!(%node, agent = %name, error = %e, "remote spawn refused");
        }
        self.reply(node, id, Reply::Spawned(result.map(|()| name.to_string())));
    }

    fn store_ledger(&mut self, from: &str, id: u64, events: Vec<swarmd_messages::Event>) {
        let Some(hub) = self.args.hub.clone() else {
            let why = LedgerRefused::NotAHub;
            return self.reply(from, id, Reply::LedgerStored(Err(why)));
        };
        if let Some(e) = events.iter().find(|e| e.id.node != from) {
            let why = LedgerRefused::NotItsEvents {
                sender: from.to_string(),
                owner: e.id.node.clone(),
            };
            return self.reply(from, id, Reply::LedgerStored(Err(why)));
        }
        let gateway = self.myself.clone();
        let node = from.to_string();
        tokio::spawn(async move {
            let stored = hub.deliver(events).await.map_err(|e| match e {
                HubError::Conflict { node, seq } => LedgerRefused::Conflict { node, seq },
                HubError::Invalid { seq, why } => LedgerRefused::Invalid { seq, why },
                other => LedgerRefused::Storage(other.to_string()),
            });
            let msg = WireMsg::Reply {
                id,
                body: Reply::LedgerStored(stored),
            };
            let _ = gateway.cast(GatewayMsg::Send { node, msg });
        });
    }
}
