use std::sync::Arc;
use std::time::Duration;

use crate::child::{ChildSpec, Restart};
use crate::events::EventSender;
use crate::intensity::Intensity;
use crate::seams::Entropy;
pub use crate::strategy::{AutoShutdown, Strategy};

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
