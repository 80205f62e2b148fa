//! With TLS, swarmd accepts cluster connections itself: it runs the TLS
//! handshake, records the certificate the peer presented (for the gateway's
//! name check, see `peer_certs.rs`) and hands the stream to the node server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use ractor_cluster::NodeServerMessage;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

use super::{DialedStream, PeerCerts, ServerSlot};

/// TLS handshakes in progress at most; a connection beyond waits in the
/// kernel's backlog.
const MAX_HANDSHAKES: usize = 64;

#[derive(Clone)]
pub struct TlsListenerArgs {
    pub listen: SocketAddr,
    pub acceptor: TlsAcceptor,
    pub certs: PeerCerts,
    pub server: ServerSlot,
    pub handshake_timeout: Duration,
}

#[derive(Clone)]
pub struct TlsListener;

impl Actor for TlsListener {
    type Msg = ();
    type State = JoinHandle<()>;
    type Arguments = TlsListenerArgs;

    async fn pre_start(
        &self,
        _: ActorRef<()>,
        args: TlsListenerArgs,
    ) -> Result<JoinHandle<()>, ActorProcessingErr> {
        let listener = TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        info!(listen = %args.listen, "cluster listener up (TLS)");
        Ok(tokio::spawn(accept_loop(listener, args)))
    }

    async fn post_stop(
        &self,
        _: ActorRef<()>,
        task: &mut JoinHandle<()>,
    ) -> Result<(), ActorProcessingErr> {
        task.abort();
        Ok(())
    }
}

async fn accept_loop(listener: TcpListener, args: TlsListenerArgs) {
    let permits = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        match listener.accept().await {
            Ok((tcp, peer)) => {
                let args = args.clone();
                tokio::spawn(async move {
                    if let Err(why) = accept(tcp, peer, &args).await {
                        warn!(%peer, error = %why, "cluster connection refused");
                    }
                    drop(permit);
                });
            }
            Err(e) => warn!(error = %e, "cluster accept failed"),
        }
    }
}

async fn accept(tcp: TcpStream, peer: SocketAddr, args: &TlsListenerArgs) -> Result<(), String> {
    let _ = tcp.set_nodelay(true);
    let stream = tokio::time::timeout(args.handshake_timeout, args.acceptor.accept(tcp))
        .await
        .map_err(|_| "TLS handshake timed out".to_string())?
        .map_err(|e| format!("TLS handshake failed: {e}"))?;
    let cert = super::peer_certs::end_entity(stream.get_ref().1.peer_certificates())?;
    let label = format!("tls:{peer}");
    args.certs.record(&label, cert);
    let server = args.server.get().ok_or("the node server is not running")?;
    let stream = DialedStream {
        connection: Box::new(stream),
        peer: label,
    };
    server
        .cast(NodeServerMessage::ConnectionOpenedExternal {
            stream: Box::new(stream),
            is_server: true,
        })
        .map_err(|e| format!("the node server is gone: {e}"))
}
