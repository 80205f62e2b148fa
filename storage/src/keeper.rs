use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_supervisor::seams::Clock;
use tracing::{error, info, warn};

use crate::Storage;
use crate::ledger::{RetentionPolicy, enforce_retention, persisted_cursor};

/// Owns the node's storage within the supervision tree. It starts first and
/// stops last, so its `post_stop` flush is the last write of a clean shutdown.
/// On an interval it enforces the hot tier's retention policy.
#[derive(Clone)]
pub struct StorageKeeper;

#[derive(Clone)]
pub struct KeeperArgs {
    pub storage: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
    pub retention: RetentionPolicy,
    pub retention_interval: Duration,
    /// On an edge: this node's name. Its events the cloud has not acked yet
    /// are never deleted.
    pub forwarding_node: Option<String>,
    /// Set by the node's governor over its memory budget: retention passes wait.
    pub shedding: Shedding,
}

/// Background work the node's governor pauses over its memory budget
/// (retention passes, span export). While on, a pass due is skipped and
/// counted; it runs again at its next interval once the flag is off.
#[derive(Clone, Default)]
pub struct Shedding(Arc<ShedState>);

#[derive(Default)]
struct ShedState {
    on: AtomicBool,
    skipped: AtomicU64,
}

impl Shedding {
    pub fn set(&self, on: bool) {
        self.0.on.store(on, Ordering::Relaxed);
    }

    pub fn is_on(&self) -> bool {
        self.0.on.load(Ordering::Relaxed)
    }

    /// Whether a pass due now is to be skipped (counted when it is).
    pub fn skips(&self) -> bool {
        let on = self.is_on();
        if on {
            self.0.skipped.fetch_add(1, Ordering::Relaxed);
        }
        on
    }

    /// Passes skipped so far.
    pub fn skipped(&self) -> u64 {
        self.0.skipped.load(Ordering::Relaxed)
    }
}

pub enum KeeperMsg {
    EnforceRetention,
}

impl ractor::Message for KeeperMsg {}

impl Actor for StorageKeeper {
    type Msg = KeeperMsg;
    type State = KeeperArgs;
    type Arguments = KeeperArgs;

    async fn pre_start(
        &self,
        me: ActorRef<KeeperMsg>,
        args: KeeperArgs,
    ) -> Result<KeeperArgs, ActorProcessingErr> {
        me.send_after(args.retention_interval, || KeeperMsg::EnforceRetention);
        Ok(args)
    }

    async fn handle(
        &self,
        me: ActorRef<KeeperMsg>,
        _msg: KeeperMsg,
        args: &mut KeeperArgs,
    ) -> Result<(), ActorProcessingErr> {
        if args.shedding.skips() {
            info!("retention pass shed: the node is at its memory budget");
        } else if let Err(e) = enforce(args).await {
            warn!(error = %e, "retention pass failed; retrying next interval");
        }
        me.send_after(args.retention_interval, || KeeperMsg::EnforceRetention);
        Ok(())
    }

    async fn post_stop(
        &self,
        _me: ActorRef<KeeperMsg>,
        args: &mut KeeperArgs,
    ) -> Result<(), ActorProcessingErr> {
        match args.storage.flush().await {
            Ok(()) => info!("storage flushed"),
            Err(e) => error!(error = %e, "storage flush on shutdown failed"),
        }
        Ok(())
    }
}

async fn enforce(args: &KeeperArgs) -> Result<(), crate::StorageError> {
    let now_us = args
        .clock
        .wall_now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    let unacked_from = match &args.forwarding_node {
        Some(node) => Some((node.clone(), persisted_cursor(&*args.storage, node)?)),
        None => None,
    };
    let protect = |id: &swarmd_messages::EventId| {
        unacked_from
            .as_ref()
            .is_some_and(|(node, cursor)| id.node == *node && id.seq >= *cursor)
    };
    let report = enforce_retention(&*args.storage, now_us, args.retention, &protect).await?;
    if report.deleted > 0 {
        info!(
            deleted = report.deleted,
            kept = report.kept,
            bytes = report.bytes_kept,
            "retention pass"
        );
    }
    Ok(())
}
