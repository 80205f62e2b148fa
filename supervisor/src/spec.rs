use std::sync::Arc;
use std::time::Duration;

use ractor::Actor;

use crate::api::SupervisorMsg;
use crate::child::{ChildKind, ChildSpec, Restart, Shutdown};
use crate::events::EventSender;
use crate::intensity::Intensity;
use crate::seams::Entropy;
use crate::slot::ActorSlot;
use crate::supervisor::Supervisor;

/// Which children restart when one of them exits and must be restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Only the child that exited.
    OneForOne,
    /// All children: the others are stopped in reverse order, then all start in order.
    OneForAll,
    /// The child that exited and every child started after it.
    RestForOne,
    /// OTP's `simple_one_for_one`: children are added at run time with
    /// `start_child`, restart one for one, and leave the supervisor when they
    /// stop for good. Where OTP has one template plus per-child arguments, each
    /// dynamic child here brings its own `ChildSpec`, whose start closure holds
    /// its arguments.
    SimpleOneForOne,
}

/// OTP 24's automatic shutdown on significant children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoShutdown {
    #[default]
    Never,
    /// The supervisor stops when any significant child exits on its own.
    AnySignificant,
    /// The supervisor stops when every significant child has exited on its own.
    AllSignificant,
}

/// Restart backoff, an extension of OTP (which restarts at once): restart
/// round `n` within the intensity period waits a delay drawn uniformly from
/// `[min/2, min(max, min * 2^n)]` with the supervisor's entropy. Delays are
/// tokio time, so the simulator's paused clock drives them.
#[derive(Clone)]
pub struct Backoff {
    pub min: Duration,
    pub max: Duration,
    pub entropy: Arc<dyn Entropy>,
}

#[derive(Clone)]
pub struct SupervisorSpec {
    /// Shown in logs, events and the tree snapshot.
    pub name: String,
    pub strategy: Strategy,
    pub intensity: Intensity,
    /// In start order.
    pub children: Vec<ChildSpec>,
    pub auto_shutdown: AutoShutdown,
    pub backoff: Option<Backoff>,
    /// `start_child` beyond this many children fails with `MaxChildren`.
    pub max_children: Option<usize>,
    pub events: Option<EventSender>,
}

impl SupervisorSpec {
    pub fn new(name: impl Into<String>, strategy: Strategy) -> Self {
        Self {
            name: name.into(),
            strategy,
            intensity: Intensity::default(),
            children: Vec::new(),
            auto_shutdown: AutoShutdown::Never,
            backoff: None,
            max_children: None,
            events: None,
        }
    }

    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.intensity = Intensity {
            max_restarts,
            period,
        };
        self
    }

    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }

    pub fn auto_shutdown(mut self, policy: AutoShutdown) -> Self {
        self.auto_shutdown = policy;
        self
    }

    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = Some(backoff);
        self
    }

    pub fn max_children(mut self, limit: usize) -> Self {
        self.max_children = Some(limit);
        self
    }

    pub fn events(mut self, sender: EventSender) -> Self {
        self.events = Some(sender);
        self
    }

    /// This supervisor as a child of another. Like OTP, a supervisor child gets
    /// a long shutdown so its own children can stop in order.
    pub fn into_child(self) -> ChildSpec {
        self.into_child_in(ActorSlot::new())
    }

    /// Like [`into_child`](Self::into_child), keeping each incarnation's ref in
    /// `slot` for whoever starts children under it later.
    pub fn into_child_in(self, slot: ActorSlot<SupervisorMsg>) -> ChildSpec {
        let id = self.name.clone();
        let mut child = ChildSpec::new(id, move |parent| {
            let spec = self.clone();
            let slot = slot.clone();
            async move {
                let (sup, _) = Actor::spawn_linked(None, Supervisor, spec, parent).await?;
                slot.set(sup.clone());
                Ok(sup.get_cell())
            }
        })
        .shutdown(Shutdown::Timeout(Duration::from_secs(60)));
        child.kind = ChildKind::Supervisor;
        child
    }

    /// The rules OTP checks before a supervisor starts.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let mut ids = std::collections::HashSet::new();
        for child in &self.children {
            if !ids.insert(child.id.as_str()) {
                return Err(format!("duplicate child id {:?}", child.id));
            }
            validate_child(child)?;
        }
        if let Some(limit) = self.max_children
            && self.children.len() > limit
        {
            return Err(format!(
                "{} children exceed max_children {limit}",
                self.children.len()
            ));
        }
        if let Some(b) = &self.backoff
            && (b.min.is_zero() || b.min > b.max)
        {
            return Err(format!(
                "backoff min {:?} must be > 0 and <= max {:?}",
                b.min, b.max
            ));
        }
        Ok(())
    }
}

pub(crate) fn validate_child(child: &ChildSpec) -> Result<(), String> {
    if child.significant && child.restart == Restart::Permanent {
        return Err(format!(
            "child {:?}: a permanent child cannot be significant",
            child.id
        ));
    }
    Ok(())
}
