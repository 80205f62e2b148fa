//! The gate between a connected stream and ractor_cluster: every stream a
//! node accepts or dials passes swarmd's handshake (`hello.rs`) first, and
//! what it proved is recorded under the stream's label. The gateway admits
//! a ready session only if the name ractor_cluster was told is the name
//! proven here (see `gateway/sessions.rs`); a session that never passed the
//! gate has no record and is refused.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ractor_cluster::NodeServerMessage;
use swarmd_actors::ctx::Connection;
use swarmd_actors::ctx::Entropy;

use super::hello::{self, HelloError, Proven, Purpose, SessionKey};
use super::sealed::Sealed;
use super::{DialedStream, ServerSlot};

/// Console sessions name themselves with this prefix; a member never does.
pub const CONSOLE_PREFIX: &str = "swarmd-console.";

/// Proofs kept for sessions not yet ready. Only a peer holding the cookie
/// adds one; beyond, the oldest goes (its session is then refused).
const MAX_PENDING: usize = 1024;

/// What each stream proved, by label, until its session closes.
#[derive(Clone, Default)]
pub struct ProvenPeers(Arc<Mutex<Proofs>>);

#[derive(Default)]
struct Proofs {
    by_label: BTreeMap<String, Proven>,
    order: VecDeque<String>,
}

impl ProvenPeers {
    pub fn record(&self, label: &str, proven: Proven) {
        let mut proofs = self.lock();
        if proofs.by_label.len() >= MAX_PENDING
            && let Some(oldest) = proofs.order.pop_front()
        {
            proofs.by_label.remove(&oldest);
        }
        if proofs.by_label.insert(label.to_string(), proven).is_none() {
            proofs.order.push_back(label.to_string());
        }
    }

    /// Whether the session labelled `label`, which told ractor_cluster it
    /// is `name`, proved exactly that name for `purpose`.
    pub fn check(&self, label: &str, name: &str, purpose: Purpose) -> Result<(), String> {
        let proofs = self.lock();
        match proofs.by_label.get(label) {
            None => Err("the connection never passed swarmd's handshake".into()),
            Some(p) if p.purpose != purpose => Err(format!(
                "the connection proved a {:?} session, not a {purpose:?} one",
                p.purpose
            )),
            Some(p) if p.name != name => Err(format!(
                "the connection proved the name {:?}, not {name:?}",
                p.name
            )),
            Some(_) => Ok(()),
        }
    }

    /// The key of the newest session proven under `name` for `purpose`.
    pub fn key_of(&self, name: &str, purpose: Purpose) -> Option<SessionKey> {
        let proofs = self.lock();
        proofs
            .order
            .iter()
            .rev()
            .filter_map(|label| proofs.by_label.get(label))
            .find(|p| p.name == name && p.purpose == purpose)
            .map(|p| p.key)
    }

    /// The purpose of the live session `sealed` names, if that session's
    /// key sealed it.
    pub fn unseal(&self, sealed: &Sealed<'_>) -> Option<Purpose> {
        let proofs = self.lock();
        proofs
            .by_label
            .values()
            .find(|p| p.name == sealed.session && sealed.sealed_by(&p.key))
            .map(|p| p.purpose)
    }

    pub fn forget(&self, label: &str) {
        let mut proofs = self.lock();
        if proofs.by_label.remove(label).is_some() {
            proofs.order.retain(|l| l != label);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Proofs> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A node's side of the handshake, for the streams it accepts and dials.
#[derive(Clone)]
pub struct SessionGate {
    pub cookie: Arc<str>,
    /// This node's name (not its session name: the incarnation is not proven).
    pub me: String,
    pub entropy: Arc<dyn Entropy>,
    pub proofs: ProvenPeers,
    pub server: ServerSlot,
    /// For the whole handshake; a peer slower than this is dropped.
    pub deadline: Duration,
}

impl SessionGate {
    /// Runs the accepting side on `connection` and, once the peer proved
    /// the cookie, hands the stream to the node server as `label`.
    pub async fn accept(&self, mut connection: Connection, label: String) -> Result<(), String> {
        let nonce = self.nonce();
        let admit = |name: &str, purpose: Purpose| admissible(name, purpose);
        let proven = tokio::time::timeout(
            self.deadline,
            hello::server(&mut connection, &self.cookie, &self.me, nonce, admit),
        )
        .await
        .map_err(|_| "the handshake timed out".to_string())?
        .map_err(|e| e.to_string())?;
        self.proofs.record(&label, proven);
        let server = self.server.get().ok_or("the node server is not running")?;
        let stream = DialedStream {
            connection,
            peer: label,
        };
        server
            .cast(NodeServerMessage::ConnectionOpenedExternal {
                stream: Box::new(stream),
                is_server: true,
            })
            .map_err(|e| format!("the node server is gone: {e}"))
    }

    /// Runs the dialing side as a member; records the server's proven name.
    pub async fn dial(&self, connection: &mut Connection, label: &str) -> Result<(), HelloError> {
        let nonce = self.nonce();
        let proven = tokio::time::timeout(
            self.deadline,
            hello::client(connection, &self.cookie, &self.me, Purpose::Member, nonce),
        )
        .await
        .map_err(|_| HelloError::Refused("the handshake timed out".into()))??;
        self.proofs.record(label, proven);
        Ok(())
    }

    fn nonce(&self) -> [u8; 32] {
        let mut nonce = [0u8; 32];
        self.entropy.fill_bytes(&mut nonce);
        nonce
    }
}

/// Consoles name themselves with [`CONSOLE_PREFIX`], members never do.
fn admissible(name: &str, purpose: Purpose) -> Result<(), String> {
    match (purpose, name.starts_with(CONSOLE_PREFIX)) {
        (Purpose::Member, false) | (Purpose::Console, true) => Ok(()),
        (Purpose::Member, true) => Err(format!("a member may not be named {name:?}")),
        (Purpose::Console, false) => Err(format!(
            "a console's name starts with {CONSOLE_PREFIX:?}, not {name:?}"
        )),
    }
}
