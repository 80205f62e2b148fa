//! Leadership of the cloud tier from a JetStream key-value bucket (DESIGN
//! §18): one key, written create-if-absent to take the lease and
//! compare-and-set on its revision to renew it. The bucket's `max_age` is
//! the lease's TTL, so a holder that stops renewing loses the key on the
//! server's clock alone, and another cloud's create then succeeds.
//!
//! The fencing token is the revision the holder took the lease at: every
//! takeover writes a later revision of the bucket's stream, so a deposed
//! holder's token is always smaller than its successor's. A holder steps
//! down when a renewal is refused (another holds the key) or when it could
//! not renew for `ttl - margin` (it lost JetStream): before the TTL ends,
//! so two holders never overlap on the server's clock.

use std::time::Duration;

use async_nats::jetstream::kv::Store;
use async_nats::jetstream::stream;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{info, warn};

pub use swarmd_messages::advert::Leadership;

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

/// The lease bucket, made if missing. Its stream is made directly, as
/// `create_key_value` would make it: that call first asks for the account's
/// limits in a form older servers (Debian's 2.9) do not answer in.
pub async fn bucket(
    js: &async_nats::jetstream::Context,
    config: &LeaseConfig,
) -> Result<Store, String> {
    let stream = stream::Config {
        name: format!("KV_{}", config.bucket),
        subjects: vec![format!("$KV.{}.>", config.bucket)],
        max_messages_per_subject: 1,
        max_age: config.ttl,
        num_replicas: config.replicas.max(1),
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        ..stream::Config::default()
    };
    let why = |e: &dyn std::fmt::Display| format!("lease bucket {}: {e}", config.bucket);
    js.get_or_create_stream(stream).await.map_err(|e| why(&e))?;
    js.get_key_value(&config.bucket).await.map_err(|e| why(&e))
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
        let _ = store
            .delete_expect_revision(&config.key, Some(revision))
            .await;
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
    match store.entry(&config.key).await {
        Ok(Some(entry)) if entry.operation == async_nats::jetstream::kv::Operation::Put => {
            let holder: Option<Holder> = serde_json::from_slice(&entry.value).ok();
            if holder.as_ref().is_some_and(|h| h.name == config.name) {
                return take_back(store, config, entry.revision, leadership).await;
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
    let freed = store.delete_expect_revision(&config.key, Some(revision));
    match tokio::time::timeout(config.write_limit(), freed).await {
        Ok(Ok(())) => {
            info!(revision, "freed this node's stale lease: contending again");
            take(store, config, leadership).await
        }
        Ok(Err(e)) => {
            warn!(error = %e, "this node's stale lease not freed");
            None
        }
        Err(_) => {
            warn!("this node's stale lease not freed: no answer");
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
    let created = store
        .create(&config.key, encode(&config.name, 0))
        .await
        .ok()?;
    let stamped = store
        .update(&config.key, encode(&config.name, created), created)
        .await
        .ok()?;
    info!(token = created, "lease taken: leading");
    leadership.send_replace(Leadership {
        leader: Some(config.name.clone()),
        token: created,
        mine: true,
    });
    Some((stamped, Instant::now()))
}

fn encode(name: &str, token: u64) -> Bytes {
    let holder = Holder {
        name: name.to_string(),
        token,
    };
    Bytes::from(serde_json::to_vec(&holder).expect("a holder encodes"))
}

enum Renewal {
    Renewed(u64),
    /// Another holds the key (the revision moved on): the lease is lost.
    Refused(String),
    /// No answer, or a failure that may pass: the lease may still be held.
    Failed(String),
}

/// Compare-and-set on the revision held, bounded by the write limit.
async fn renew(store: &Store, config: &LeaseConfig, value: Bytes, revision: u64) -> Renewal {
    use async_nats::jetstream::kv::UpdateErrorKind;
    let update = store.update(&config.key, value, revision);
    match tokio::time::timeout(config.write_limit(), update).await {
        Ok(Ok(next)) => Renewal::Renewed(next),
        Ok(Err(e)) if e.kind() == UpdateErrorKind::WrongLastRevision => {
            Renewal::Refused(e.to_string())
        }
        Ok(Err(e)) => Renewal::Failed(e.to_string()),
        Err(_) => Renewal::Failed(format!("no answer within {:?}", config.write_limit())),
    }
}
