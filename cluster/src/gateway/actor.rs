use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_messages::{Envelope, Reply, Request, WireFrame, WireMsg, decode};
use swarmd_supervisor::{ActorSlot, ChildSpec};
use tracing::{debug, info, warn};

use super::calls::{Waited, Watched};
use super::membership::{MemberChange, MemberState, MembershipView};
use super::outbox::{Outbox, Queued, gateway_name};
use super::tickets::Tickets;
use super::{
    CallError, ExitCause, GatewayArgs, GatewayMsg, GatewayStats, MemberStatus, RemoteExit,
};

use std::time::Duration;
use tokio::time::Instant;

/// Heartbeat ticks between full gossip rounds (gossip also goes out on every join).
const GOSSIP_EVERY_TICKS: u64 = 10;

pub struct Gateway;

pub struct GatewayState {
    pub(super) args: GatewayArgs,
    pub(super) myself: ActorRef<GatewayMsg>,
    pub(super) view: MembershipView,
    pub(super) outbox: Outbox,
    pub(super) waited: Waited,
    pub(super) watched: Watched,
    pub(super) tickets: Tickets,
    next_id: u64,
    ticks: u64,
    flush_scheduled: bool,
    pub(super) stats: GatewayStats,
    /// Addresses a dialer was started for, so gossip starts each at most once.
    pub(super) dialing: std::collections::BTreeSet<String>,
    /// Of those, the ones discovery started (capped, see `discovered.rs`).
    pub(super) discovery_dials: super::discovery_dials::DiscoveryDials,
    /// What each member last advertised; forgotten when it goes down.
    adverts: std::collections::BTreeMap<String, swarmd_messages::advert::NodeAdvert>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

pub fn gateway_child(args: GatewayArgs, slot: ActorSlot<GatewayMsg>) -> ChildSpec {
    ChildSpec::new("gateway", move |sup| {
        let args = args.clone();
        let slot = slot.clone();
        async move {
            let name = gateway_name(&args.me.name);
            let (gateway, _) = Actor::spawn_linked(Some(name), Gateway, args, sup).await?;
            slot.set(gateway.clone());
            Ok(gateway.get_cell())
        }
    })
}

impl Actor for Gateway {
    type Msg = GatewayMsg;
    type State = GatewayState;
    type Arguments = GatewayArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<GatewayMsg>,
        args: GatewayArgs,
    ) -> Result<GatewayState, ActorProcessingErr> {
        let view = MembershipView::new(args.me.clone(), args.suspect_after, args.down_after);
        let outbox = Outbox::new(&args.me.name, args.me.incarnation);
        let tasks = vec![
            tokio::spawn(super::relay::relay_sessions(
                args.sessions.subscribe(),
                myself.clone(),
            )),
            tokio::spawn(super::relay::relay_exits(
                args.supervision.subscribe(),
                myself.clone(),
            )),
        ];
        myself.send_interval(args.heartbeat_interval, || GatewayMsg::Tick);
        myself.cast(GatewayMsg::Resync)?;
        let tickets = Tickets::new(args.ctx.entropy.as_ref());
        Ok(GatewayState {
            args,
            myself,
            view,
            outbox,
            waited: Waited::default(),
            watched: Watched::default(),
            tickets,
            next_id: 1,
            ticks: 0,
            flush_scheduled: false,
            stats: GatewayStats::default(),
            dialing: Default::default(),
            discovery_dials: Default::default(),
            adverts: Default::default(),
            tasks,
        })
    }

    async fn post_stop(
        &self,
        _: ActorRef<GatewayMsg>,
        state: &mut GatewayState,
    ) -> Result<(), ActorProcessingErr> {
        for task in state.tasks.drain(..) {
            task.abort();
        }
        Ok(())
    }

    async fn handle(
        &self,
        _: ActorRef<GatewayMsg>,
        msg: GatewayMsg,
        state: &mut GatewayState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            GatewayMsg::Frame(bytes) => state.on_frame(&bytes).await,
            GatewayMsg::Tick => state.on_tick(),
            GatewayMsg::Flush => {
                state.flush_scheduled = false;
                state.outbox.flush();
            }
            GatewayMsg::Send { node, msg } => state.send(&node, msg),
            GatewayMsg::Call { node, body, reply } => state.call(&node, body, reply),
            GatewayMsg::Watch {
                node,
                actor,
                notify,
                accepted,
            } => state.watch(&node, &actor, notify, accepted),
            GatewayMsg::LocalExit { name, reason } => {
                state.args.owned.remove(&name);
                state.local_exit(&name, &reason)
            }
            GatewayMsg::Spawned {
                node,
                id,
                name,
                result,
            } => state.spawned(&node, id, &name, result),
            GatewayMsg::Session(event) => state.on_session(event, false),
            // Boxed, here and in `on_frame`: the rare resync's future would
            // otherwise be part of, and copied with, every message's.
            GatewayMsg::Resync => Box::pin(state.resync()).await,
            GatewayMsg::Members(reply) => {
                let _ = reply.send(state.members());
            }
            GatewayMsg::Discovered(members) => state.learn(&members, "discovery"),
            GatewayMsg::DiscoveryExpired(members) => state.forget_discovered(&members),
            GatewayMsg::DialGaveUp(target) => state.dial_gave_up(&target),
            GatewayMsg::Stats(reply) => {
                let (pending_calls, watches) = state.waited.len();
                let stats = GatewayStats {
                    dropped_outgoing: state.stats.dropped_outgoing + state.outbox.dropped,
                    pending_calls,
                    watches,
                    discovery_dialers: state.discovery_dials.len(),
                    ..state.stats.clone()
                };
                let _ = reply.send(stats);
            }
        }
        Ok(())
    }
}

/// How long a link may have been quiet and still skip this tick's heartbeat.
/// A peer then goes at most `interval + quiet` without a frame from this
/// node: at most half its suspicion window, and never over two intervals.
/// With the tightest valid config (suspect after two intervals) it is zero:
/// every tick sends one.
pub(super) fn heartbeat_quiet(interval: Duration, suspect_after: Duration) -> Duration {
    (suspect_after / 2).saturating_sub(interval).min(interval)
}

impl GatewayState {
    pub(super) fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Flushes once the mailbox has caught up: a self-cast lands behind every
    /// message already queued, so a burst of sends leaves as one frame.
    pub(super) fn schedule_flush(&mut self) {
        if !self.flush_scheduled {
            self.flush_scheduled = true;
            let _ = self.myself.cast(GatewayMsg::Flush);
        }
    }

    pub(super) fn send(&mut self, node: &str, msg: WireMsg) {
        if self.outbox.push(node, msg) != Queued::Yes {
            self.stats.dropped_outgoing += 1;
        }
        self.schedule_flush();
    }

    async fn on_frame(&mut self, bytes: &[u8]) {
        self.stats.frames_in += 1;
        let frame: WireFrame = match decode::<WireFrame>(bytes) {
            Ok(Envelope { payload, .. }) => payload,
            Err(e) => {
                self.stats.undecodable_frames += 1;
                let count = self.stats.undecodable_frames;
                warn!(error = %e, len = bytes.len(), count, "undecodable frame dropped");
                return;
            }
        };
        let (from, incarnation) = (frame.from.clone(), frame.incarnation);
        if self.outbox.session(&from).is_none() {
            // The frame overtook its session's ready event (they travel
            // different paths); learn the session from the node server.
            Box::pin(self.resync()).await;
        }
        let Some(msgs) = self.admit(frame) else {
            return;
        };
        let now = Instant::now();
        for msg in msgs {
            if let WireMsg::Hello(info) = msg {
                let changes = self.view.hello(info, now);
                self.apply(changes);
                continue;
            }
            if self.view.get(&from).is_none() {
                debug!(%from, "message before hello ignored");
                continue;
            }
            self.dispatch(&from, msg);
        }
        let changes = self.view.heard(&from, incarnation, now);
        self.apply(changes);
    }

    fn dispatch(&mut self, from: &str, msg: WireMsg) {
        match msg {
            WireMsg::Hello(_) | WireMsg::Heartbeat => {}
            WireMsg::Ticket { .. } | WireMsg::Confirm { .. } | WireMsg::Confirmed { .. } => {
                debug!(%from, "handshake message in a ticketed frame ignored");
            }
            WireMsg::Members(members) => self.learn(&members, "gossip"),
            WireMsg::Advert(advert) => self.on_advert(from, advert),
            WireMsg::Cast { to, payload } => {
                if let Err(e) = self.args.directory.deliver(&to, payload) {
                    self.stats.undeliverable_casts += 1;
                    debug!(%from, error = %e, "cast not delivered");
                }
            }
            WireMsg::CastMany { to, payloads } => {
                let count = payloads.len() as u64;
                match self.args.directory.deliver_all(&to, payloads) {
                    Ok(refused) => self.stats.undeliverable_casts += refused as u64,
                    Err(e) => {
                        self.stats.undeliverable_casts += count;
                        debug!(%from, error = %e, "casts not delivered");
                    }
                }
            }
            WireMsg::Request { id, body } => self.serve(from, id, body),
            WireMsg::Reply { id, body } => self.on_reply(id, body),
            WireMsg::Exited {
                watch,
                actor: _,
                reason,
            } => self.waited.exited(watch, ExitCause::Exited(reason)),
        }
    }

    fn on_reply(&mut self, id: u64, body: Reply) {
        if let Reply::Watching(Err(why)) = &body {
            self.waited
                .exited(id, ExitCause::NotRunning(why.to_string()));
            return;
        }
        if matches!(body, Reply::Watching(Ok(()))) {
            return;
        }
        if !self.waited.reply(id, body) {
            debug!(id, "reply to a call nobody waits for");
        }
    }

    fn on_tick(&mut self) {
        self.ticks += 1;
        let now = Instant::now();
        let changes = self.view.tick(now);
        self.apply(changes);
        let peers: Vec<String> = self.outbox.connected().cloned().collect();
        let gossip = self.ticks.is_multiple_of(GOSSIP_EVERY_TICKS);
        let quiet = heartbeat_quiet(self.args.heartbeat_interval, self.args.suspect_after);
        for peer in peers {
            if gossip {
                self.send(&peer, WireMsg::Members(self.view.up_infos()));
                self.send(&peer, self.advert());
            } else if self.outbox.needs_heartbeat(&peer, now, quiet) {
                self.send(&peer, WireMsg::Heartbeat);
            }
        }
        if self.outbox.has_queued() {
            // Frames waiting for a peer gateway's proxy to appear.
            self.schedule_flush();
        }
        for (node, watch) in self.waited.sweep() {
            let id = self.next_id();
            self.send(
                &node,
                WireMsg::Request {
                    id,
                    body: Request::Unwatch { watch },
                },
            );
        }
    }

    /// Starts dialers for members this node has not met, learned by `how`
    /// (gossip or LAN discovery). Of two members, the one with the smaller
    /// name dials, so each pair gets one session.
    pub(super) fn learn(&mut self, members: &[swarmd_messages::MemberInfo], how: &'static str) {
        let me = self.view.me().name.clone();
        for info in self.view.unknown(members) {
            let connected = self.outbox.session(&info.name).is_some();
            if connected || me > info.name || self.dialing.contains(&info.cluster_addr) {
                continue;
            }
            if how == "discovery" {
                self.dial_discovered(info);
                continue;
            }
            match info.cluster_addr.parse::<swarmd_config::HostPort>() {
                // Listening on every address and advertising none: only
                // discovery (from the datagram's source) knows where it is.
                Ok(addr) if ["0.0.0.0", "::"].contains(&addr.host.as_str()) => {
                    debug!(member = %info.name, addr = %info.cluster_addr, "member address unspecified; not dialed");
                }
                Ok(addr) => {
                    info!(member = %info.name, addr = %info.cluster_addr, learned_by = how, "dialing member");
                    self.dialing.insert(info.cluster_addr.clone());
                    (self.args.dial)(addr, crate::transport::DialOrigin::Member);
                }
                Err(e) => warn!(member = %info.name, error = %e, "member address unusable"),
            }
        }
    }

    pub(super) fn apply(&mut self, changes: Vec<MemberChange>) {
        for change in changes {
            let from = change.from.map(|s| s.to_string()).unwrap_or("new".into());
            info!(member = %change.node, incarnation = change.incarnation, %from, to = %change.to, "membership changed");
            match change.to {
                MemberState::Up => {
                    let gossip = WireMsg::Members(self.view.up_infos());
                    let peers: Vec<String> = self.outbox.connected().cloned().collect();
                    for peer in peers {
                        self.send(&peer, gossip.clone());
                    }
                }
                MemberState::Down => {
                    self.adverts.remove(&change.node);
                    let error = CallError::NodeDown(change.node.clone());
                    self.waited
                        .node_lost(&change.node, error, ExitCause::NodeDown);
                    self.watched.forget_node(&change.node);
                    if let Some(session) = self.outbox.session(&change.node) {
                        session.stop(Some("member down".into()));
                    }
                }
                MemberState::Suspect => {}
            }
            let _ = self.args.changes.send(change);
        }
    }

    fn members(&self) -> Vec<MemberStatus> {
        self.view
            .members()
            .map(|m| MemberStatus {
                info: m.info.clone(),
                state: m.state,
                connected: self.outbox.session(&m.info.name).is_some(),
                advert: self.adverts.get(&m.info.name).cloned(),
            })
            .collect()
    }

    /// This node's advert as it stands.
    pub(super) fn advert(&self) -> WireMsg {
        WireMsg::Advert(self.args.advert.borrow().clone())
    }

    fn on_advert(&mut self, from: &str, advert: swarmd_messages::advert::NodeAdvert) {
        if let Some(why) = advert.bounds_violation() {
            self.stats.refused_adverts += 1;
            warn!(%from, %why, "advert out of bounds ignored");
            return;
        }
        self.adverts.insert(from.to_string(), advert);
    }

    fn call(
        &mut self,
        node: &str,
        body: Request,
        reply: tokio::sync::oneshot::Sender<Result<Reply, CallError>>,
    ) {
        if let Err(e) = self.reachable(node) {
            let _ = reply.send(Err(e));
            return;
        }
        let id = self.next_id();
        match self.waited.add_call(id, node, reply) {
            Ok(()) => self.send(node, WireMsg::Request { id, body }),
            Err(reply) => {
                let _ = reply.send(Err(CallError::Overloaded));
            }
        }
    }

    fn watch(
        &mut self,
        node: &str,
        actor: &str,
        notify: tokio::sync::oneshot::Sender<RemoteExit>,
        accepted: tokio::sync::oneshot::Sender<Result<(), CallError>>,
    ) {
        if let Err(e) = self.reachable(node) {
            let _ = accepted.send(Err(e));
            return;
        }
        let id = self.next_id();
        if self.waited.add_watch(id, node, actor, notify).is_err() {
            let _ = accepted.send(Err(CallError::Overloaded));
            return;
        }
        let body = Request::Watch {
            watch: id,
            actor: actor.to_string(),
        };
        self.send(node, WireMsg::Request { id, body });
        let _ = accepted.send(Ok(()));
    }

    fn reachable(&self, node: &str) -> Result<(), CallError> {
        match self.view.get(node) {
            None => Err(CallError::UnknownNode(node.to_string())),
            Some(m) if m.state == MemberState::Down => Err(CallError::NodeDown(node.to_string())),
            Some(_) if self.outbox.session(node).is_none() => {
                Err(CallError::NodeDown(node.to_string()))
            }
            Some(_) => Ok(()),
        }
    }

    fn local_exit(&mut self, name: &str, reason: &str) {
        if !self.args.directory.unregister(name) {
            return;
        }
        for (node, watch) in self.watched.take(name) {
            let msg = WireMsg::Exited {
                watch,
                actor: name.to_string(),
                reason: reason.to_string(),
            };
            self.send(&node, msg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::heartbeat_quiet;
    use std::time::Duration;

    #[test]
    fn a_busy_link_skips_heartbeats_only_within_half_the_suspicion_window() {
        let ms = Duration::from_millis;
        // The simulator's 100 ms / 400 ms and the default 200 ms / 1 s:
        // a frame in the last interval stands in for the heartbeat.
        assert_eq!(heartbeat_quiet(ms(100), ms(400)), ms(100));
        assert_eq!(heartbeat_quiet(ms(200), ms(1000)), ms(200));
        // Between: the longest silence a peer sees is half its window.
        assert_eq!(heartbeat_quiet(ms(100), ms(300)), ms(50));
        // The tightest valid config heartbeats on every tick.
        assert_eq!(heartbeat_quiet(ms(100), ms(200)), Duration::ZERO);
    }
}
