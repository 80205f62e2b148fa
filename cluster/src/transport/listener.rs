//! swarmd accepts cluster connections itself, plain TCP or TLS: ractor_cluster's
//! own listener has no limit on connections that have not authenticated, no
//! deadline, and buffers frames of up to 16 MiB before authentication.
//!
//! Here a connection is pending until it passed TLS (if configured) and
//! swarmd's handshake (`gate.rs`), which reads at most a few hundred bytes.
//! At most [`MAX_PENDING`] are pending; a new one beyond evicts the oldest
//! (an idle stranger holds a slot for at most the deadline, and cannot keep
//! a genuine node, whose handshake takes a round trip, out). Only then does
//! the stream reach the node server.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_actors::ctx::Connection;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use super::{PeerCerts, SessionGate};

/// Connections accepted but not yet through the handshake, at most.
pub const MAX_PENDING: usize = 256;
/// Refusals logged one by one before only powers of two are.
const LOGGED_REFUSALS: u64 = 16;

#[derive(Clone)]
pub struct ListenerArgs {
    pub listen: SocketAddr,
    pub gate: SessionGate,
    /// With TLS: the acceptor, and where each peer's certificate is recorded.
    pub tls: Option<(TlsAcceptor, PeerCerts)>,
}

#[derive(Clone)]
pub struct ClusterListener;

impl Actor for ClusterListener {
    type Msg = ();
    type State = JoinHandle<()>;
    type Arguments = ListenerArgs;

    async fn pre_start(
        &self,
        _: ActorRef<()>,
        args: ListenerArgs,
    ) -> Result<JoinHandle<()>, ActorProcessingErr> {
        let listener = TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let tls = if args.tls.is_some() { " (TLS)" } else { "" };
        info!(listen = %args.listen, "cluster listener up{tls}");
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

/// The handshakes in progress, oldest first.
#[derive(Clone, Default)]
struct Pending(Arc<Mutex<PendingInner>>);

#[derive(Default)]
struct PendingInner {
    next: u64,
    tasks: BTreeMap<u64, AbortHandle>,
    evicted: u64,
    refused: u64,
}

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, PendingInner> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `handshake` in a slot of its own; when all are taken, the
    /// oldest is aborted. The lock is held until the task is recorded, so
    /// the task cannot finish (and remove itself) before it is there.
    fn spawn<F>(&self, handshake: impl FnOnce(Pending, u64) -> F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let mut p = self.lock();
        if p.tasks.len() >= MAX_PENDING
            && let Some((_, oldest)) = p.tasks.pop_first()
        {
            oldest.abort();
            p.evicted += 1;
            if p.evicted.is_power_of_two() {
                warn!(
                    evicted = p.evicted,
                    pending = MAX_PENDING,
                    "cluster listener full of unauthenticated connections: the oldest are dropped"
                );
            }
        }
        let id = p.next;
        p.next += 1;
        let task = tokio::spawn(handshake(self.clone(), id));
        p.tasks.insert(id, task.abort_handle());
    }

    fn finished(&self, id: u64, failed: Option<(&SocketAddr, &str)>) {
        let mut p = self.lock();
        p.tasks.remove(&id);
        if let Some((peer, why)) = failed {
            p.refused += 1;
            // The first few, then at powers of two: a flood cannot flood the log.
            if p.refused <= LOGGED_REFUSALS || p.refused.is_power_of_two() {
                warn!(%peer, error = %why, refused = p.refused, "cluster connection refused");
            } else {
                debug!(%peer, error = %why, "cluster connection refused");
            }
        }
    }
}

async fn accept_loop(listener: TcpListener, args: ListenerArgs) {
    let pending = Pending::default();
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors, typically: let some pending ones time out.
                warn!(error = %e, "cluster accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let args = args.clone();
        pending.spawn(|done, id| async move {
            let result = accept(tcp, peer, &args).await;
            done.finished(id, result.as_ref().err().map(|why| (&peer, why.as_str())));
        });
    }
}

async fn accept(tcp: TcpStream, peer: SocketAddr, args: &ListenerArgs) -> Result<(), String> {
    let _ = tcp.set_nodelay(true);
    let (connection, label): (Connection, String) = match &args.tls {
        None => (Box::new(tcp), format!("tcp:{peer}")),
        Some((acceptor, certs)) => {
            let stream = tokio::time::timeout(args.gate.deadline, acceptor.accept(tcp))
                .await
                .map_err(|_| "TLS handshake timed out".to_string())?
                .map_err(|e| format!("TLS handshake failed: {e}"))?;
            let cert = super::peer_certs::end_entity(stream.get_ref().1.peer_certificates())?;
            let label = format!("tls:{peer}");
            certs.record(&label, cert);
            (Box::new(stream), label)
        }
    };
    args.gate.accept(connection, label).await
}
