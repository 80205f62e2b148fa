//! Leadership of the cloud tier from a key-value store with revisions
//! (DESIGN §18): one key, written create-if-absent to take the lease and
//! compare-and-set on its revision to renew it. Entries expire a TTL after
//! their last write on the store's clock, so a holder that stops renewing
//! loses the key on the store's clock alone, and another cloud's create
//! then succeeds.
//!
//! The fencing token is the revision the holder took the lease at: every
//! takeover writes a later revision, so a deposed holder's token is always
//! smaller than its successor's. A holder steps down when a renewal is
//! refused (another holds the key) or when it could not renew for half the
//! TTL (it lost the store): before the TTL ends, so two holders never
//! overlap on the store's clock.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{info, warn};

pub use swarmd_messages::advert::Leadership;

use super::{KvError, LeaseKv, Versioned};

type Store = Arc<dyn LeaseKv>;

/// What the key holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Holder {
    name: String,
    /// The revision the lease was taken at: the fencing token.
    token: u64,
}

#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub bucket: String,
    pub key: String,
    /// This contender's name.
    pub name: String,
    pub ttl: Duration,
    /// JetStream replicas of the bucket (1 on one server, 3 on a cluster).
    pub replicas: usize,
}

impl LeaseConfig {
    /// How often a holder renews, and a contender looks: a third of the TTL.
    pub fn renew_every(&self) -> Duration {
        self.ttl / 3
    }

    /// A holder that could not renew for this long steps down, at the
    /// first round after it (rounds keep a fixed cadence of a third of the
    /// TTL): by 2/3 of the TTL after its last renewal, well before the key
    /// expires on the server.
    pub fn step_down_after(&self) -> Duration {
        self.ttl / 2
    }

    /// How long one write to the bucket may take.
    pub fn write_limit(&self) -> Duration {
        self.ttl / 6
    }
}

/// Contends for the lease until `stop` is set, publishing every change of
/// leadership on `leadership`.
pub async fn contend(
    store: Store,
    config: LeaseConfig,
    leadership: watch::Sender<Leadership>,
    mut stop: watch::Receiver<bool>,
) {
    let mut held: Option<(u64, Instant)> = None; // (revision, last renewed)
    let mut rounds = tokio::time::interval(config.renew_every());
    rounds.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = rounds.tick() => {}
            _ = stop.changed() => break,
        }
        held = step(&store, &config, held, &leadership).await;
    }
    if let Some((revision, _)) = held {
        // Hand over at once rather than after the TTL.
        let _ = bounded(config.write_limit(), store.delete(&config.key, revision)).await;
        leadership.send_replace(Leadership::default());
    }
}

/// One round: renew the lease held, or take it if it is free; the lease
/// held afterwards.
async fn step(
    store: &Store,
    config: &LeaseConfig,
    held: Option<(u64, Instant)>,
    leadership: &watch::Sender<Leadership>,
) -> Option<(u64, Instant)> {
    let now = Instant::now();
    if let Some((revision, renewed)) = held {
        let token = leadership.borrow().token;
        if now.duration_since(renewed) >= config.step_down_after() {
            warn!(token, "lease not renewed for half its TTL: stepping down");
            leadership.send_replace(Leadership::default());
            return take_or_follow(store, config, leadership).await;
        }
        let value = encode(&config.name, token);
        match renew(store, config, value, revision).await {
            Renewal::Renewed(next) => return Some((next, now)),
            Renewal::Failed(why) => {
                warn!(token, %why, "lease not renewed; trying again");
                return Some((revision, renewed));
            }
            Renewal::Refused(why) => {
                warn!(token, %why, "lease lost: stepping down");
            }
        }
        leadership.send_replace(Leadership::default());
    }
    take_or_follow(store, config, leadership).await
}

async fn take_or_follow(
    store: &Store,
    config: &LeaseConfig,
    leadership: &watch::Sender<Leadership>,
) -> Option<(u64, Instant)> {
    match bounded(config.write_limit(), store.get(&config.key)).await {
        Ok(Some(Versioned { value, revision })) => {
            let holder: Option<Holder> = serde_json::from_slice(&value).ok();
            if holder.as_ref().is_some_and(|h| h.name == config.name) {
                return take_back(store, config, revision, leadership).await;
            }
            let seen = Leadership {
                leader: holder.as_ref().map(|h| h.name.clone()),
                token: holder.map_or(0, |h| h.token),
                mine: false,
            };
            leadership.send_if_modified(|l| std::mem::replace(l, seen.clone()) != seen);
            None
        }
        Ok(_) => take(store, config, leadership).await,
        Err(e) => {
            warn!(error = %e, "cannot read the lease");
            None
        }
    }
}

/// The key still names this contender though it no longer holds the lease
/// (it stepped down on a renewal that timed out but was written, or that
/// it could not make for half the TTL). It has stopped acting on it, so it
/// frees the key at the revision it read and contends again, under a new
/// token, rather than leave the tier leaderless until the key expires.
async fn take_back(
    store: &Store,
    config: &LeaseConfig,
    revision: u64,
    leadership: &watch::Sender<Leadership>,
) -> Option<(u64, Instant)> {
    assert!(
        !leadership.borrow().mine,
        "a stale lease is freed only when not held"
    );
    match bounded(config.write_limit(), store.delete(&config.key, revision)).await {
        Ok(()) => {
            info!(revision, "freed this node's stale lease: contending again");
            take(store, config, leadership).await
        }
        Err(e) => {
            warn!(error = %e, "this node's stale lease not freed");
            None
        }
    }
}

/// Create-if-absent, then stamp the token (the create's revision) in.
async fn take(
    store: &Store,
    config: &LeaseConfig,
    leadership: &watch::Sender<Leadership>,
) -> Option<(u64, Instant)> {
    let limit = config.write_limit();
    let create = store.create(&config.key, encode(&config.name, 0));
    let created = bounded(limit, create).await.ok()?;
    let stamp = store.update(&config.key, encode(&config.name, created), created);
    let stamped = bounded(limit, stamp).await.ok()?;
    info!(token = created, "lease taken: leading");
    leadership.send_replace(Leadership {
        leader: Some(config.name.clone()),
        token: created,
        mine: true,
    });
    Some((stamped, Instant::now()))
}

fn encode(name: &str, token: u64) -> Vec<u8> {
    let holder = Holder {
        name: name.to_string(),
        token,
    };
    serde_json::to_vec(&holder).expect("a holder encodes")
}

/// `call`, or `Unavailable` when it takes longer than `limit`.
async fn bounded<T>(
    limit: Duration,
    call: impl Future<Output = Result<T, KvError>>,
) -> Result<T, KvError> {
    tokio::time::timeout(limit, call)
        .await
        .unwrap_or_else(|_| Err(KvError::Unavailable(format!("no answer within {limit:?}"))))
}

enum Renewal {
    Renewed(u64),
    /// Another holds the key (the revision moved on): the lease is lost.
    Refused(String),
    /// No answer, or a failure that may pass: the lease may still be held.
    Failed(String),
}

/// Compare-and-set on the revision held, bounded by the write limit.
async fn renew(store: &Store, config: &LeaseConfig, value: Vec<u8>, revision: u64) -> Renewal {
    let update = store.update(&config.key, value, revision);
    match bounded(config.write_limit(), update).await {
        Ok(next) => Renewal::Renewed(next),
        Err(e @ KvError::WrongRevision(_)) => Renewal::Refused(e.to_string()),
        Err(e) => Renewal::Failed(e.to_string()),
    }
}
