//! Admission: which open task a claimant gets. Within a partition the
//! policy orders tasks (FIFO: oldest first; SRPT: least remaining work
//! first, oldest among equals); across tenants, fair share gives the claim
//! to the tenant served least so far, so one tenant flooding the board
//! cannot starve another.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Admission {
    #[default]
    Fifo,
    /// Shortest remaining processing time first.
    Srpt,
}

impl Admission {
    pub fn name(self) -> &'static str {
        match self {
            Self::Fifo => "fifo",
            Self::Srpt => "srpt",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "fifo" => Some(Self::Fifo),
            "srpt" => Some(Self::Srpt),
            _ => None,
        }
    }

    /// The key open tasks are ordered by (then by posting order): higher
    /// priority first, then the policy's order.
    pub fn order(self, priority: u8, cost: u32) -> u64 {
        let within = match self {
            Self::Fifo => 0,
            Self::Srpt => u64::from(cost),
        };
        (u64::from(u8::MAX - priority) << 32) | within
    }
}

/// Claims granted per tenant: the fair-share ledger.
#[derive(Debug, Clone, Default)]
pub struct FairShare {
    served: BTreeMap<String, u64>,
}

impl FairShare {
    /// `tenants` ordered by claims granted so far, least served first.
    pub fn order<'a>(&self, tenants: &'a [String]) -> Vec<&'a String> {
        let mut out: Vec<&String> = tenants.iter().collect();
        out.sort_by_key(|t| (self.served(t), *t));
        out.dedup();
        out
    }

    pub fn served(&self, tenant: &str) -> u64 {
        self.served.get(tenant).copied().unwrap_or(0)
    }

    pub fn all(&self) -> &BTreeMap<String, u64> {
        &self.served
    }

    pub fn granted(&mut self, tenant: &str) {
        *self.served.entry(tenant.to_string()).or_default() += 1;
    }

    /// A tenant with nothing waiting comes back: it starts level with the
    /// least served tenant that has work, not with the credit of its idle
    /// time (which would let it starve the others in turn).
    pub fn backlogged(&mut self, tenant: &str, others_waiting: impl Iterator<Item = String>) {
        let floor = others_waiting.map(|t| self.served(&t)).min();
        if let Some(floor) = floor {
            let served = self.served.entry(tenant.to_string()).or_default();
            *served = (*served).max(floor);
        }
    }
}
