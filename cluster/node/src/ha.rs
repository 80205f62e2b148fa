//! `cloud/leadership` (`[cloud] ha`, DESIGN §18): contends for the cloud
//! tier's lease (on JetStream; in the simulator, its in-memory store) and
//! acts on every change of hands. Taking the lease, it restores the
//! planner's state from the tier's log, then tells the
//! planner to lead with the lease's token; losing it, it tells the planner
//! to stand by. Either way it records the change in the ledger, puts the
//! lease in this node's advert (so edges follow the leader and `nodes`
//! shows it) and in `leadership` (the control plane and the planner's
//! storage read it).

use std::time::{Duration, UNIX_EPOCH};

use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_actors::NodeCtx;
use swarmd_actors::journal::Journal;
use swarmd_actors::missions::PlannerMsg;
use swarmd_adapters::cloud_tier::CloudTier;
use swarmd_messages::advert::{Lead, Leadership, NodeAdvert};
use swarmd_messages::{EventKind, LeadershipChange};
use swarmd_supervisor::{ActorSlot, ChildSpec};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// How long a stopping leader waits to hand the lease over.
const HAND_OVER_WAIT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct LeadershipArgs {
    pub ctx: NodeCtx,
    pub tenant: String,
    pub tier: CloudTier,
    /// Shared with the control plane and the planner's storage.
    pub leadership: watch::Sender<Leadership>,
    pub advert: watch::Sender<NodeAdvert>,
    pub planner: ActorSlot<PlannerMsg>,
}

pub enum LeadershipMsg {
    /// The lease as the contender saw it last.
    Seen(Leadership),
}

impl ractor::Message for LeadershipMsg {}

#[derive(Clone)]
pub struct LeadershipActor;

pub struct LeadershipState {
    args: LeadershipArgs,
    journal: Journal,
    last: Leadership,
    stop: watch::Sender<bool>,
    contender: JoinHandle<()>,
    watcher: JoinHandle<()>,
}

pub fn leadership_child(args: LeadershipArgs) -> ChildSpec {
    ChildSpec::for_actor("leadership", LeadershipActor, args)
}

impl Actor for LeadershipActor {
    type Msg = LeadershipMsg;
    type State = LeadershipState;
    type Arguments = LeadershipArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<LeadershipMsg>,
        args: LeadershipArgs,
    ) -> Result<LeadershipState, ActorProcessingErr> {
        let (stop, stopped) = watch::channel(false);
        let (seen, mut seeing) = watch::channel(Leadership::default());
        let contender = tokio::spawn(args.tier.clone().contend(seen, stopped));
        // Ends with the contender (its sender dropped).
        let watcher = tokio::spawn(async move {
            while seeing.changed().await.is_ok() {
                let now = seeing.borrow_and_update().clone();
                if myself.cast(LeadershipMsg::Seen(now)).is_err() {
                    return;
                }
            }
        });
        info!(ttl = ?args.tier.lease().ttl, bucket = %args.tier.lease().bucket, "contending for the cloud tier's lease");
        Ok(LeadershipState {
            journal: Journal::new(args.ctx.ledger.clone(), &args.tenant, "leadership"),
            args,
            last: Leadership::default(),
            stop,
            contender,
            watcher,
        })
    }

    async fn handle(
        &self,
        _: ActorRef<LeadershipMsg>,
        msg: LeadershipMsg,
        state: &mut LeadershipState,
    ) -> Result<(), ActorProcessingErr> {
        let LeadershipMsg::Seen(now) = msg;
        state.changed(now).await
    }

    async fn post_stop(
        &self,
        _: ActorRef<LeadershipMsg>,
        state: &mut LeadershipState,
    ) -> Result<(), ActorProcessingErr> {
        let _ = state.stop.send(true);
        let contender = &mut state.contender;
        if tokio::time::timeout(HAND_OVER_WAIT, contender)
            .await
            .is_err()
        {
            state.contender.abort();
        }
        state.watcher.abort();
        if state.last.mine {
            let reason = "the node is stopping: lease handed over".to_string();
            state.lost(Leadership::default(), reason).await;
        }
        Ok(())
    }
}

impl LeadershipState {
    async fn changed(&mut self, now: Leadership) -> Result<(), ActorProcessingErr> {
        if now == self.last {
            return Ok(());
        }
        match (self.last.mine, now.mine) {
            (false, true) => self.took(now).await?,
            (true, false) => {
                let reason =
                    "the lease was lost or the cloud tier's store could not be reached".to_string();
                self.lost(now, reason).await;
            }
            _ => self.follow(now),
        }
        Ok(())
    }

    /// Restores the planner's state, then leads. A restore that fails stops
    /// this actor: its supervisor restarts it, handing the lease over.
    async fn took(&mut self, now: Leadership) -> Result<(), ActorProcessingErr> {
        let restored = self.args.tier.restore(&*self.args.ctx.storage).await?;
        let me = &*self.args.ctx.node;
        let previous = self.last.leader.clone().filter(|l| l != me);
        let token = now.token;
        info!(
            token,
            ?previous,
            restored,
            "took the cloud tier's lease: leading"
        );
        let since_ms = self.wall_ms();
        self.args
            .advert
            .send_modify(|a| a.leads = Some(Lead { token, since_ms }));
        self.follow(now);
        let change = LeadershipChange::Took { previous, token };
        self.journal.record(EventKind::Leadership { change }).await;
        Ok(())
    }

    async fn lost(&mut self, now: Leadership, reason: String) {
        let token = self.last.token;
        warn!(token, %reason, "lost the cloud tier's lease: standing by");
        self.args.advert.send_modify(|a| a.leads = None);
        self.follow(now);
        let change = LeadershipChange::SteppedDown { token, reason };
        self.journal.record(EventKind::Leadership { change }).await;
    }

    /// Shares `now` (first with the planner's storage and the control
    /// plane, then the planner) and remembers it.
    fn follow(&mut self, now: Leadership) {
        self.args.leadership.send_replace(now.clone());
        if let Some(planner) = self.args.planner.get() {
            let _ = planner.cast(PlannerMsg::Lead(now.clone()));
        }
        self.last = now;
    }

    fn wall_ms(&self) -> u64 {
        let now = self.args.ctx.clock.wall_now();
        now.duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}
