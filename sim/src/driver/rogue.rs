//! The rogue: a process that holds the cluster's cookie but is no member.
//! It opens a ractor_cluster session to a node over SimNet and writes to
//! that node's gateway what no honest node would: frames claiming another
//! member as their sender (with its own ticket, a made-up one, none),
//! ledger batches of events that are not its own, undecodable bytes and
//! oversized junk; and it opens raw links that speak garbage from the first
//! byte. Nothing it sends may be acted on: every frame is refused, no event
//! of its lands in a ledger, no member's state changes.

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use ractor_cluster::{NodeServer, NodeServerMessage};
use swarmd_actors::ctx::{Dialer, Entropy};
use swarmd_cluster::gateway::{GatewayMsg, gateway_name};
use swarmd_cluster::transport::hello::{self, Purpose};
use swarmd_cluster::transport::{DialedStream, session_name};
use swarmd_messages::{
    Envelope, Event, EventId, EventKind, MemberInfo, NO_TICKET, Request, Role, SYSTEM_TENANT,
    Ticket, TraceContext, WireFrame, WireMsg, decode, encode,
};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::cluster::{COOKIE, SimCluster, SimError};

/// The tenant of every event the rogue forges: none may reach a ledger.
pub const ROGUE_TENANT: &str = "rogue";
const NAME: &str = "rogue";
/// How long the rogue waits for its session and its ticket.
const SETTLE: Duration = Duration::from_secs(10);
/// The oversized junk: larger than any honest frame.
const JUNK_BYTES: usize = 1024 * 1024;

/// Stands in for the rogue's gateway: hands every frame it gets to the rogue.
struct Inbox;

impl Actor for Inbox {
    type Msg = GatewayMsg;
    type State = mpsc::Sender<WireFrame>;
    type Arguments = mpsc::Sender<WireFrame>;

    async fn pre_start(
        &self,
        _: ActorRef<GatewayMsg>,
        tx: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(tx)
    }

    async fn handle(
        &self,
        _: ActorRef<GatewayMsg>,
        msg: GatewayMsg,
        tx: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let GatewayMsg::Frame(bytes) = msg
            && let Ok(frame) = decode::<WireFrame>(&bytes)
        {
            // Bounded: the rogue reads only ticket offers; the rest may go.
            let _ = tx.try_send(frame.payload);
        }
        Ok(())
    }
}

pub struct Rogue {
    server: ActorRef<NodeServerMessage>,
    frames: mpsc::Receiver<WireFrame>,
    /// The ticket the target offered the rogue's session, once it came.
    ticket: Option<Ticket>,
    /// Frames sent that must be refused, and raw garbage links opened.
    pub forged: u64,
    pub garbage_links: u64,
}

impl Rogue {
    /// A rogue with the cookie and a node server of its own; not connected yet.
    pub async fn start() -> Result<Self, SimError> {
        let failed = |e: ractor::SpawnErr| SimError::Refused(format!("the rogue: {e}"));
        let (tx, frames) = mpsc::channel(64);
        Actor::spawn(Some(gateway_name(NAME)), Inbox, tx)
            .await
            .map_err(failed)?;
        let server = NodeServer::new(
            0,
            COOKIE.into(),
            session_name(NAME, 1),
            format!("sim-{NAME}"),
            None,
            None,
        )
        .with_listen_addr("127.0.0.1".parse().expect("an address"));
        let (server, _) = Actor::spawn(None, server, ()).await.map_err(failed)?;
        Ok(Self {
            server,
            frames,
            ticket: None,
            forged: 0,
            garbage_links: 0,
        })
    }

    /// One round against `target`, impersonating `victim`.
    pub async fn attack(
        &mut self,
        cluster: &SimCluster,
        target: &str,
        victim: &str,
        rng: &dyn Entropy,
    ) -> Result<(), SimError> {
        self.garbage_link(cluster, target, rng).await;
        let Some(gateway) = self.session(cluster, target).await else {
            return Ok(()); // the target is down or cut off: nothing reached it
        };
        let own = self.ticket().await.unwrap_or(NO_TICKET);
        let made_up: Ticket = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
        let lies = forgeries(victim, rng);
        let frames = [
            frame(victim, own, lies.clone()),
            frame(victim, made_up | 1, lies.clone()),
            frame(victim, NO_TICKET, vec![WireMsg::Heartbeat, lies[2].clone()]),
            frame(target, own, lies),
            junk(64 + (rng.next_u64() % 4096) as usize, rng),
            junk(JUNK_BYTES, rng),
        ];
        for bytes in frames {
            if gateway.cast(GatewayMsg::Frame(bytes)).is_ok() {
                self.forged += 1;
            }
        }
        Ok(())
    }

    /// A link to `target` that speaks garbage from its first byte.
    async fn garbage_link(&mut self, cluster: &SimCluster, target: &str, rng: &dyn Entropy) {
        let Some(member) = cluster.member(target) else {
            return;
        };
        let Some(addr) = member.config.cluster.advertise.clone() else {
            return;
        };
        let dialer = cluster.net.dialer(NAME);
        let Ok(mut link) = dialer.dial(&addr.host, addr.port, SETTLE).await else {
            return;
        };
        let mut bytes = vec![0u8; 256];
        bytes.iter_mut().for_each(|b| *b = rng.next_u64() as u8);
        // A length prefix that promises far more than will ever come.
        bytes[..8].copy_from_slice(&u64::MAX.to_be_bytes());
        if link.write_all(&bytes).await.is_ok() {
            self.garbage_links += 1;
        }
        let _ = link.shutdown().await;
    }

    /// The target's gateway, through a session of the rogue's own.
    async fn session(&self, cluster: &SimCluster, target: &str) -> Option<ActorRef<GatewayMsg>> {
        let addr = cluster.member(target)?.config.cluster.advertise.clone()?;
        if let Some(found) = self.proxy(target).await {
            return Some(found);
        }
        let mut connection = cluster
            .net
            .dialer(NAME)
            .dial(&addr.host, addr.port, SETTLE)
            .await
            .ok()?;
        // It holds the cookie: it passes swarmd's handshake under its own name.
        let nonce = [swarmd_messages::stable_hash(target) as u8; 32];
        hello::client(&mut connection, COOKIE, NAME, Purpose::Member, nonce)
            .await
            .ok()?;
        let stream = DialedStream {
            connection,
            peer: format!("sim-{target}"),
        };
        let opened = NodeServerMessage::ConnectionOpenedExternal {
            stream: Box::new(stream),
            is_server: false,
        };
        self.server.cast(opened).ok()?;
        let started = tokio::time::Instant::now();
        while started.elapsed() < SETTLE {
            if let Some(found) = self.proxy(target).await {
                return Some(found);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    async fn proxy(&self, target: &str) -> Option<ActorRef<GatewayMsg>> {
        let name = gateway_name(target);
        let sessions = ractor::call!(self.server, NodeServerMessage::GetSessions).ok()?;
        let proxy = sessions
            .values()
            .flat_map(|s| s.actor.get_children())
            .find(|c| c.get_name().as_deref() == Some(name.as_str()))?;
        Some(proxy.into())
    }

    /// The ticket the target offered the rogue's session, if it came.
    async fn ticket(&mut self) -> Option<Ticket> {
        if self.ticket.is_some() {
            return self.ticket;
        }
        let offer = async {
            while let Some(frame) = self.frames.recv().await {
                if let Some(WireMsg::Ticket { ticket, .. }) = frame.msgs.first() {
                    return Some(*ticket);
                }
            }
            None
        };
        self.ticket = tokio::time::timeout(SETTLE, offer).await.ok().flatten();
        self.ticket
    }
}

/// What the rogue claims as `victim`: a new incarnation of it, its view of
/// the members, and a ledger batch of events it never recorded.
fn forgeries(victim: &str, rng: &dyn Entropy) -> Vec<WireMsg> {
    let impostor = MemberInfo {
        name: victim.into(),
        role: Role::Edge,
        cluster_addr: format!("sim-{NAME}:4697"),
        incarnation: 999,
    };
    let events = (0..3)
        .map(|i| Event {
            id: EventId {
                node: victim.into(),
                seq: (1 << 62) + rng.next_u64() % 1_000_000 + i,
            },
            tenant: ROGUE_TENANT.into(),
            agent: None,
            trace: TraceContext::default(),
            time_us: 0,
            kind: EventKind::Signal {
                status: "forged".into(),
                detail: format!("by the rogue, as {victim}"),
            },
        })
        .collect();
    vec![
        WireMsg::Hello(impostor.clone()),
        WireMsg::Members(vec![impostor]),
        WireMsg::Request {
            id: rng.next_u64(),
            body: Request::Ledger(events),
        },
    ]
}

fn frame(from: &str, ticket: Ticket, msgs: Vec<WireMsg>) -> Vec<u8> {
    let frame = WireFrame {
        from: from.into(),
        incarnation: 999,
        ticket,
        msgs,
    };
    let envelope = Envelope::new(SYSTEM_TENANT, TraceContext::default(), frame);
    encode(&envelope).expect("a frame encodes")
}

fn junk(len: usize, rng: &dyn Entropy) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    for chunk in bytes.chunks_mut(8) {
        let word = rng.next_u64().to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
    bytes
}
