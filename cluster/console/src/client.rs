//! The console's connection: a hidden ractor_cluster client (its session
//! name starts with `swarmd-console.`, so the node never takes it for a
//! member) that calls the node's control actor.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ractor::{Actor, ActorCell, ActorRef};
use ractor_cluster::node::{NodeConnectionMode, NodeServerSessionInformation};
use ractor_cluster::{NodeEventSubscription, NodeServer, NodeServerMessage};
use swarmd_config::HostPort;

use swarmd_cluster::transport::Tls;
use swarmd_cluster::transport::hello::{self, Purpose, SessionKey};
use swarmd_cluster::transport::sealed;
use swarmd_control::{
    CONSOLE_PREFIX, ControlError, ControlMsg, ControlReply, ControlRequest, MAX_CONTROL_BYTES,
};

/// How long connecting (TCP, TLS, the cookie handshake) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one command may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Client {
    control: ActorRef<ControlMsg>,
    /// The node's name, from its control actor's.
    pub node: String,
    /// This console's session name and key: every request is sealed with them.
    session: String,
    key: SessionKey,
    _server: ActorRef<NodeServerMessage>,
}

/// Why a session never came up: set by the node server's events.
#[derive(Default, Clone)]
struct Refusal(Arc<Mutex<Option<String>>>);

impl NodeEventSubscription for Refusal {
    fn node_session_opened(&self, _: NodeServerSessionInformation) {}
    fn node_session_authenticated(&self, _: NodeServerSessionInformation) {}
    fn node_session_ready(&self, _: NodeServerSessionInformation) {}
    fn node_session_disconnected(&self, _: NodeServerSessionInformation) {
        let mut why = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        why.get_or_insert_with(|| {
            "the node closed the session: wrong cookie, TLS mismatch, or not a swarmd node".into()
        });
    }
}

impl Client {
    pub async fn connect(addr: &HostPort, cookie: &str, tls: Option<&Tls>) -> Result<Self, String> {
        tokio::time::timeout(CONNECT_TIMEOUT, Self::open(addr, cookie, tls))
            .await
            .map_err(|_| format!("no answer from {addr} within {CONNECT_TIMEOUT:?}"))?
    }

    async fn open(addr: &HostPort, cookie: &str, tls: Option<&Tls>) -> Result<Self, String> {
        let mut nonce = [0u8; 32];
        swarmd_actors::ctx::Entropy::fill_bytes(&swarmd_cluster::seams::OsEntropy, &mut nonce);
        let tag: String = nonce[..4].iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("{CONSOLE_PREFIX}{}-{tag}", std::process::id());
        let server = NodeServer::new(
            0,
            cookie.to_string(),
            name.clone(),
            "console".into(),
            None,
            Some(NodeConnectionMode::Isolated),
        )
        .with_listen_addr(std::net::IpAddr::from([127, 0, 0, 1]));
        let (server, _) = Actor::spawn(None, server, ())
            .await
            .map_err(|e| format!("cannot start the console's client: {e}"))?;
        let refusal = Refusal::default();
        let _ = server.cast(NodeServerMessage::SubscribeToEvents {
            id: "console".into(),
            subscription: Box::new(refusal.clone()),
        });
        let tcp = tokio::net::TcpStream::connect((addr.host.as_str(), addr.port))
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let mut connection: swarmd_actors::ctx::Connection = match tls {
            None => Box::new(tcp),
            Some(tls) => {
                let name = Tls::server_name(&addr.host).map_err(|e| format!("{addr}: {e}"))?;
                let stream = tls
                    .connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS handshake with {addr} failed: {e}"))?;
                Box::new(stream)
            }
        };
        swarmd_actors::ctx::Entropy::fill_bytes(&swarmd_cluster::seams::OsEntropy, &mut nonce);
        let proven = hello::client(&mut connection, cookie, &name, Purpose::Console, nonce)
            .await
            .map_err(|e| format!("{addr}: {e}"))?;
        let stream = swarmd_cluster::transport::DialedStream {
            connection,
            peer: format!("console:{addr}"),
        };
        ractor_cluster::client_connect_external(&server, Box::new(stream))
            .await
            .map_err(|e| format!("cannot open a session to {addr}: {e}"))?;
        let (control, node) = find_control(&server, &refusal).await?;
        Ok(Self {
            control,
            node,
            session: name,
            key: proven.key,
            _server: server,
        })
    }

    pub async fn call(&self, request: &ControlRequest) -> ControlReply {
        let bytes = serde_json::to_vec(request)
            .map_err(|e| ControlError::BadRequest(format!("unencodable request: {e}")))?;
        if bytes.len() > MAX_CONTROL_BYTES {
            return Err(ControlError::BadRequest(format!(
                "the command is over {MAX_CONTROL_BYTES} bytes"
            )));
        }
        let sealed = sealed::seal(&self.key, &self.session, &bytes);
        let reply = self
            .control
            .call(|port| ControlMsg::Request(sealed, port), Some(CALL_TIMEOUT))
            .await
            .map_err(|e| ControlError::Unavailable(format!("the node is gone: {e}")))?
            .success_or(())
            .map_err(|_| ControlError::Unavailable(format!("no reply within {CALL_TIMEOUT:?}")))?;
        serde_json::from_slice(&reply)
            .map_err(|e| ControlError::Failed(format!("undecodable reply: {e}")))?
    }
}

/// Waits for the node's control actor to be advertised on the session.
async fn find_control(
    server: &ActorRef<NodeServerMessage>,
    refusal: &Refusal,
) -> Result<(ActorRef<ControlMsg>, String), String> {
    let prefix = swarmd_control::control_name("");
    loop {
        if let Some(why) = refusal
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return Err(why);
        }
        let sessions = ractor::call_t!(server, NodeServerMessage::GetSessions, 1_000)
            .map_err(|e| format!("the console's client failed: {e}"))?;
        let found: Option<ActorCell> = sessions
            .values()
            .flat_map(|s| s.actor.get_children())
            .find(|c| c.get_name().is_some_and(|n| n.starts_with(&prefix)));
        if let Some(cell) = found {
            let node = cell.get_name().unwrap_or_default()[prefix.len()..].to_string();
            return Ok((ActorRef::from(cell), node));
        }
        // Bounded by the caller's connect timeout.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
