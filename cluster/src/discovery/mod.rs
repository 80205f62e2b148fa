//! LAN discovery (`cluster.discover`): a node announces itself — name, role,
//! cluster address, tenants, capabilities, capacity — to a multicast group
//! every `interval_ms`, and hands every node it hears to the gateway, which
//! dials it (capped, see `gateway/discovered.rs`). An announcement grants
//! nothing: swarmd's handshake (and TLS) gate the session as for any seed,
//! and the only address dialed is the datagram's sender's own.
//!
//! A boundary adapter like the mesh and the JetStream hub: it owns a real
//! UDP socket and the simulator does not run it.

mod socket;
mod table;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_actors::NodeCtx;
use swarmd_config::lan::DiscoverySection;
use swarmd_messages::advert::{Announcement, NodeAdvert};
use swarmd_messages::{Envelope, MemberInfo, SYSTEM_TENANT, TraceContext, decode, encode};
use swarmd_supervisor::{ActorSlot, ChildSpec};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::gateway::GatewayMsg;
pub use table::{DiscoveredNodes, Heard, MAX_DISCOVERED, MAX_NAMES_PER_SOURCE, Update};

/// Largest announcement sent or read (an advert in bounds is far smaller).
pub const MAX_ANNOUNCEMENT_BYTES: usize = 32 * 1024;
/// Datagrams read but not yet handled, at most; beyond, they are dropped
/// (and counted): the next round of announcements brings them again.
const MAX_PENDING: usize = 256;

#[derive(Clone)]
pub struct DiscoveryArgs {
    pub ctx: NodeCtx,
    pub section: DiscoverySection,
    /// The interface when none is configured: the one `cluster.listen` binds.
    pub listen_ip: IpAddr,
    pub me: MemberInfo,
    pub advert: watch::Receiver<NodeAdvert>,
    pub gateway: ActorSlot<GatewayMsg>,
    pub table: DiscoveredNodes,
    pub stats: DiscoveryStats,
}

/// Counts for `stats`.
#[derive(Clone, Default)]
pub struct DiscoveryStats(Arc<DiscoveryCounters>);

#[derive(Default)]
struct DiscoveryCounters {
    sent: AtomicU64,
    heard: AtomicU64,
    /// Undecodable, out of bounds, or beyond the table or the queue.
    refused: AtomicU64,
    pending: AtomicUsize,
}

impl DiscoveryStats {
    /// (announcements sent, heard, refused).
    pub fn counts(&self) -> (u64, u64, u64) {
        let c = &self.0;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        (get(&c.sent), get(&c.heard), get(&c.refused))
    }

    fn refused(&self) {
        self.0.refused.fetch_add(1, Ordering::Relaxed);
    }
}

pub fn discovery_child(args: DiscoveryArgs) -> ChildSpec {
    ChildSpec::for_actor("discovery", Discovery, args)
}

pub enum DiscoveryMsg {
    Announce,
    Heard(Vec<u8>, SocketAddr),
}

impl ractor::Message for DiscoveryMsg {}

#[derive(Clone)]
pub struct Discovery;

pub struct DiscoveryState {
    args: DiscoveryArgs,
    socket: Option<Arc<tokio::net::UdpSocket>>,
    /// What the socket was opened on: announcements go out of each.
    interfaces: Vec<Ipv4Addr>,
    receiver: Option<tokio::task::JoinHandle<()>>,
    failures: u32,
}

impl Actor for Discovery {
    type Msg = DiscoveryMsg;
    type State = DiscoveryState;
    type Arguments = DiscoveryArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<DiscoveryMsg>,
        args: DiscoveryArgs,
    ) -> Result<DiscoveryState, ActorProcessingErr> {
        // Datagrams queued for an earlier incarnation died with it.
        args.stats.0.pending.store(0, Ordering::Relaxed);
        myself.cast(DiscoveryMsg::Announce)?;
        myself.send_interval(args.section.interval(), || DiscoveryMsg::Announce);
        Ok(DiscoveryState {
            args,
            socket: None,
            interfaces: Vec::new(),
            receiver: None,
            failures: 0,
        })
    }

    async fn post_stop(
        &self,
        _: ActorRef<DiscoveryMsg>,
        state: &mut DiscoveryState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(task) = state.receiver.take() {
            task.abort();
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<DiscoveryMsg>,
        msg: DiscoveryMsg,
        state: &mut DiscoveryState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            DiscoveryMsg::Announce => {
                state.expire();
                state.announce(&myself).await;
            }
            DiscoveryMsg::Heard(bytes, from) => {
                state.args.stats.0.pending.fetch_sub(1, Ordering::Relaxed);
                state.heard(&bytes, from);
            }
        }
        Ok(())
    }
}

impl DiscoveryState {
    /// The configured interface, else the one `cluster.listen` binds, else
    /// every LAN interface of the host.
    fn interfaces(&self) -> Vec<Ipv4Addr> {
        match (self.args.section.interface_addr(), self.args.listen_ip) {
            (Some(configured), _) => vec![configured],
            (None, IpAddr::V4(ip)) if !ip.is_unspecified() && !ip.is_loopback() => vec![ip],
            _ => socket::lan_interfaces(),
        }
    }

    /// The socket, opened (and its reader started) on first use or after a
    /// failure; a failure is logged the first time and at powers of two.
    fn socket(&mut self, myself: &ActorRef<DiscoveryMsg>) -> Option<Arc<tokio::net::UdpSocket>> {
        if let Some(socket) = &self.socket {
            return Some(socket.clone());
        }
        let (group, interfaces) = (self.args.section.group_addr(), self.interfaces());
        match socket::open(group, &interfaces) {
            Ok(socket) => {
                info!(%group, ?interfaces, "discovery: announcing on the LAN");
                self.interfaces = interfaces;
                let socket = Arc::new(socket);
                let reader = read_loop(socket.clone(), myself.clone(), self.args.stats.clone());
                self.receiver = Some(tokio::spawn(reader));
                self.socket = Some(socket.clone());
                self.failures = 0;
                Some(socket)
            }
            Err(e) => {
                let why = format!("cannot open the discovery socket on {interfaces:?}: {e}");
                self.failed(&why);
                None
            }
        }
    }

    fn failed(&mut self, why: &str) {
        self.failures = self.failures.saturating_add(1);
        if self.failures.is_power_of_two() {
            warn!(failures = self.failures, "discovery: {why}");
        }
    }

    async fn announce(&mut self, myself: &ActorRef<DiscoveryMsg>) {
        let Some(socket) = self.socket(myself) else {
            return;
        };
        let announcement = Announcement {
            member: self.args.me.clone(),
            advert: self.args.advert.borrow().clone(),
        };
        let envelope = Envelope::new(SYSTEM_TENANT, TraceContext::default(), announcement);
        let bytes = match encode(&envelope) {
            Ok(b) if b.len() <= MAX_ANNOUNCEMENT_BYTES => b,
            Ok(b) => return self.failed(&format!("announcement of {} bytes too big", b.len())),
            Err(e) => return self.failed(&e.to_string()),
        };
        let group = self.args.section.group_addr();
        let mut sent = 0;
        for interface in self.interfaces.clone() {
            match socket::send_on(&socket, interface, &bytes, group).await {
                Ok(()) => sent += 1,
                Err(e) => self.failed(&format!("cannot announce on {interface}: {e}")),
            }
        }
        if sent > 0 {
            self.args.stats.0.sent.fetch_add(1, Ordering::Relaxed);
        } else {
            // A socket that cannot send (its interface went away) is opened
            // anew, on the interfaces there are then.
            self.socket = None;
            if let Some(task) = self.receiver.take() {
                task.abort();
            }
        }
    }

    fn heard(&mut self, bytes: &[u8], from: SocketAddr) {
        let stats = &self.args.stats;
        let mut announcement = match decode::<Announcement>(bytes) {
            Ok(envelope) => envelope.payload,
            Err(e) => {
                stats.refused();
                debug!(%from, error = %e, "discovery: undecodable announcement");
                return;
            }
        };
        if let Some(why) = announcement.bounds_violation() {
            stats.refused();
            debug!(%from, %why, "discovery: announcement out of bounds");
            return;
        }
        let member = &mut announcement.member;
        if member.name == self.args.me.name {
            if member.incarnation != self.args.me.incarnation {
                warn!(%from, name = %member.name, "discovery: another node announces this node's name");
            }
            return;
        }
        if let Err(why) = reachable_address(member, from) {
            stats.refused();
            debug!(%from, name = %member.name, %why, "discovery: announcement refused");
            return;
        }
        stats.0.heard.fetch_add(1, Ordering::Relaxed);
        let member = member.clone();
        let now = self.args.ctx.clock.wall_now();
        match self.args.table.heard(announcement, from.ip(), now) {
            Update::Dropped => stats.refused(),
            update => {
                if update == Update::New {
                    info!(node = %member.name, addr = %member.cluster_addr, role = %member.role, "discovery: node found");
                }
                if let Some(gateway) = self.args.gateway.get() {
                    let _ = gateway.cast(GatewayMsg::Discovered(vec![member]));
                }
            }
        }
    }

    fn expire(&mut self) {
        let now = self.args.ctx.clock.wall_now();
        let gone = self
            .args
            .table
            .expire(now, self.args.section.expire_after());
        for member in &gone {
            info!(node = %member.name, "discovery: node no longer announced");
        }
        if !gone.is_empty()
            && let Some(gateway) = self.args.gateway.get()
        {
            let _ = gateway.cast(GatewayMsg::DiscoveryExpired(gone));
        }
    }
}

/// Where a node heard on the LAN is dialed: only ever the host its datagram
/// came from, so an announcement cannot point this node at a third party.
/// The address must be an IP literal (nothing is resolved); one listening
/// on every address (`0.0.0.0:P`) is reached at the datagram's source.
fn reachable_address(member: &mut MemberInfo, from: SocketAddr) -> Result<(), String> {
    let addr = member
        .cluster_addr
        .parse::<SocketAddr>()
        .map_err(|_| format!("{:?} is not IP:port", member.cluster_addr))?;
    if addr.port() == 0 {
        return Err("port 0".into());
    }
    if addr.ip().is_unspecified() {
        member.cluster_addr = SocketAddr::new(from.ip(), addr.port()).to_string();
        return Ok(());
    }
    if addr.ip() != from.ip() {
        return Err(format!(
            "it names {} but came from {}: only the sender's own address is dialed",
            addr.ip(),
            from.ip()
        ));
    }
    Ok(())
}

/// Reads datagrams into the actor's mailbox, at most `MAX_PENDING` waiting.
async fn read_loop(
    socket: Arc<tokio::net::UdpSocket>,
    actor: ActorRef<DiscoveryMsg>,
    stats: DiscoveryStats,
) {
    let mut buf = vec![0u8; MAX_ANNOUNCEMENT_BYTES + 1];
    loop {
        let (len, from) = match socket.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(e) => {
                debug!(error = %e, "discovery: receive failed");
                continue;
            }
        };
        if len > MAX_ANNOUNCEMENT_BYTES || stats.0.pending.load(Ordering::Relaxed) >= MAX_PENDING {
            stats.refused();
            continue;
        }
        stats.0.pending.fetch_add(1, Ordering::Relaxed);
        if actor
            .cast(DiscoveryMsg::Heard(buf[..len].to_vec(), from))
            .is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmd_messages::Role;

    #[test]
    fn an_unspecified_address_is_replaced_by_the_sender_s() {
        let mut member = MemberInfo {
            name: "a".into(),
            role: Role::Edge,
            cluster_addr: "0.0.0.0:4697".into(),
            incarnation: 1,
        };
        let from: SocketAddr = "10.9.0.3:4699".parse().unwrap();
        reachable_address(&mut member, from).unwrap();
        assert_eq!(member.cluster_addr, "10.9.0.3:4697");
    }

    #[test]
    fn only_the_sender_s_own_ip_literal_is_accepted() {
        let from: SocketAddr = "10.9.0.3:4699".parse().unwrap();
        let mut member = MemberInfo {
            name: "a".into(),
            role: Role::Edge,
            cluster_addr: "10.9.0.3:4697".into(),
            incarnation: 1,
        };
        reachable_address(&mut member, from).unwrap();
        assert_eq!(member.cluster_addr, "10.9.0.3:4697");
        for elsewhere in [
            "10.9.0.4:4697",
            "victim.example:80",
            "10.9.0.3:0",
            "10.9.0.3",
        ] {
            member.cluster_addr = elsewhere.into();
            let err = reachable_address(&mut member, from);
            assert!(err.is_err(), "{elsewhere} accepted");
            assert_eq!(member.cluster_addr, elsewhere, "refused yet rewritten");
        }
    }

    #[test]
    fn an_announcement_fits_a_datagram_with_lists_at_their_bounds() {
        use swarmd_messages::advert::{
            MAX_ADVERT_NAMES, MAX_MESH_LOCATORS, MeshIdentity, NodeProfile,
        };
        use swarmd_messages::limits::{MAX_CAPABILITIES, MAX_NAME_BYTES};
        let name = "n".repeat(MAX_NAME_BYTES);
        let announcement = Announcement {
            member: MemberInfo {
                name: name.clone(),
                role: Role::Edge,
                cluster_addr: "255.255.255.255:65535".into(),
                incarnation: u64::MAX,
            },
            advert: NodeAdvert {
                profile: NodeProfile {
                    tenants: vec![name.clone(); MAX_ADVERT_NAMES],
                    kinds: vec![name.clone(); MAX_ADVERT_NAMES],
                    squads: vec![name.clone(); MAX_ADVERT_NAMES],
                    capabilities: vec![name.clone(); MAX_CAPABILITIES],
                },
                mesh: Some(MeshIdentity {
                    id: "f".repeat(32),
                    locators: vec![
                        format!("tcp/{}", "l".repeat(2 * MAX_NAME_BYTES - 4));
                        MAX_MESH_LOCATORS
                    ],
                }),
                leads: None,
                ..NodeAdvert::default()
            },
        };
        let bytes = encode(&Envelope::new(
            SYSTEM_TENANT,
            TraceContext::default(),
            announcement,
        ))
        .unwrap();
        assert!(bytes.len() <= MAX_ANNOUNCEMENT_BYTES, "{}", bytes.len());
    }
}
