//! Running on a LAN: `[cluster.discovery]` (how a node with
//! `cluster.discover = true` announces itself and finds others) and
//! `[resources]` (the memory and CPU budgets a node governs itself by).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscoverySection {
    /// The IPv4 multicast group and UDP port announcements go to.
    pub group: String,
    /// The IPv4 address of the interface to announce and listen on; empty:
    /// the address `cluster.listen` binds, when it names one, else every
    /// LAN interface of the host.
    pub interface: String,
    /// An announcement goes out this often.
    pub interval_ms: u64,
    /// A node not heard for this long is forgotten.
    pub expire_after_ms: u64,
}

impl Default for DiscoverySection {
    fn default() -> Self {
        Self {
            group: "239.255.70.97:4699".into(),
            interface: String::new(),
            interval_ms: 1000,
            expire_after_ms: 5000,
        }
    }
}

impl DiscoverySection {
    /// The group as a socket address; `validate` has checked it parses.
    pub fn group_addr(&self) -> SocketAddrV4 {
        self.group
            .parse()
            .expect("discovery.group was validated at load")
    }

    /// The interface's address; `None`: not configured.
    pub fn interface_addr(&self) -> Option<Ipv4Addr> {
        if self.interface.is_empty() {
            return None;
        }
        Some(
            self.interface
                .parse()
                .expect("discovery.interface was validated at load"),
        )
    }

    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }

    pub fn expire_after(&self) -> Duration {
        Duration::from_millis(self.expire_after_ms)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResourcesSection {
    /// The node's resident memory at most (MB); at it, new agents are
    /// refused and background work is shed. 0: no budget.
    pub max_memory_mb: u64,
    /// The node's CPU use at most (100 = one core); above it, the slow layers
    /// of the lowest-priority agents are slowed. 0: no budget.
    pub max_cpu_percent: u64,
    /// The governor measures RSS and CPU this often.
    pub sample_interval_ms: u64,
    /// How many times slower a throttled agent's slow layers run.
    pub throttle_factor: u64,
}

impl Default for ResourcesSection {
    fn default() -> Self {
        Self {
            max_memory_mb: 0,
            max_cpu_percent: 0,
            sample_interval_ms: 1000,
            throttle_factor: 10,
        }
    }
}

impl ResourcesSection {
    pub fn sample_interval(&self) -> Duration {
        Duration::from_millis(self.sample_interval_ms)
    }

    pub fn memory_budget_mb(&self) -> Option<u64> {
        (self.max_memory_mb > 0).then_some(self.max_memory_mb)
    }

    pub fn cpu_budget_percent(&self) -> Option<u64> {
        (self.max_cpu_percent > 0).then_some(self.max_cpu_percent)
    }
}

impl DiscoverySection {
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        let d = self;
        match d.group.parse::<SocketAddrV4>() {
            Ok(group) if group.ip().is_multicast() && group.port() != 0 => {}
            Ok(_) => {
                let why = format!("{:?} is not an IPv4 multicast group with a port", d.group);
                return Err(("cluster.discovery.group", why));
            }
            Err(_) => {
                let why = format!("{:?} is not IPV4:PORT, e.g. 239.255.70.97:4699", d.group);
                return Err(("cluster.discovery.group", why));
            }
        }
        if !d.interface.is_empty() && d.interface.parse::<Ipv4Addr>().is_err() {
            let why = format!("{:?} is not an IPv4 address", d.interface);
            return Err(("cluster.discovery.interface", why));
        }
        if d.expire_after_ms < 2 * d.interval_ms {
            return Err((
                "cluster.discovery.expire_after_ms",
                "must be at least 2 x cluster.discovery.interval_ms".into(),
            ));
        }
        Ok(())
    }
}
