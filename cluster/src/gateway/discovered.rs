//! Dialers started for nodes heard by LAN discovery. An announcement is a
//! stranger's word: it may name any port on its sender's host (discovery
//! refuses any other host), so these dialers are capped in number and per
//! source, give up after a few failed attempts, and stop when their
//! announcement expires. Seeds and members learned from members are not
//! counted here: they redial for ever.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use swarmd_config::HostPort;
use swarmd_messages::MemberInfo;
use tracing::{debug, info};

use super::actor::GatewayState;
use crate::transport::DialOrigin;

/// Discovery-started dialers at once, at most.
pub const MAX_DISCOVERY_DIALERS: usize = 32;
/// Of those, from one source host at most.
pub const MAX_DIALERS_PER_SOURCE: usize = 2;
/// A discovery-started dialer stops after this many failed attempts in a row.
pub const DISCOVERY_GIVE_UP_AFTER: u32 = 5;

#[derive(Default)]
pub struct DiscoveryDials {
    by_addr: BTreeMap<SocketAddr, String>,
}

impl DiscoveryDials {
    /// Takes a slot for dialing `addr`, or says why not.
    pub fn admit(&mut self, addr: SocketAddr, node: &str) -> Result<(), &'static str> {
        if self.by_addr.contains_key(&addr) {
            return Err("already dialing");
        }
        if self.by_addr.len() >= MAX_DISCOVERY_DIALERS {
            return Err("too many discovery dialers");
        }
        let same_host = self.dialers_to(addr.ip());
        if same_host >= MAX_DIALERS_PER_SOURCE {
            return Err("too many discovery dialers to this host");
        }
        self.by_addr.insert(addr, node.to_string());
        Ok(())
    }

    pub fn forget(&mut self, addr: &SocketAddr) -> bool {
        self.by_addr.remove(addr).is_some()
    }

    pub fn len(&self) -> usize {
        self.by_addr.len()
    }

    fn dialers_to(&self, ip: IpAddr) -> usize {
        self.by_addr.keys().filter(|a| a.ip() == ip).count()
    }
}

impl GatewayState {
    /// A node heard on the LAN that this node should dial (see `learn`).
    pub(super) fn dial_discovered(&mut self, info: &MemberInfo) {
        let Ok(addr) = info.cluster_addr.parse::<SocketAddr>() else {
            debug!(member = %info.name, addr = %info.cluster_addr, "discovered address is not IP:port; not dialed");
            return;
        };
        if let Err(why) = self.discovery_dials.admit(addr, &info.name) {
            self.stats.refused_dials += 1;
            debug!(member = %info.name, %addr, why, "discovered node not dialed");
            return;
        }
        info!(member = %info.name, %addr, learned_by = "discovery", "dialing member");
        self.dialing.insert(info.cluster_addr.clone());
        (self.args.dial)(host_port(addr), DialOrigin::Discovery);
    }

    /// Announcements expired: their dialers stop, unless a session to the
    /// node is up (its dialer then still gives up once it cannot redial).
    pub(super) fn forget_discovered(&mut self, gone: &[MemberInfo]) {
        for info in gone {
            let Ok(addr) = info.cluster_addr.parse::<SocketAddr>() else {
                continue;
            };
            if self.outbox.session(&info.name).is_some() {
                continue;
            }
            if self.discovery_dials.forget(&addr) {
                self.dialing.remove(&info.cluster_addr);
                info!(member = %info.name, %addr, "no longer announced: its dialer stops");
                (self.args.stop_dial)(host_port(addr));
            }
        }
    }

    /// A discovery-started dialer gave up: its address may be dialed again
    /// if it is announced again.
    pub(super) fn dial_gave_up(&mut self, target: &HostPort) {
        if let Ok(addr) = target.to_string().parse::<SocketAddr>()
            && self.discovery_dials.forget(&addr)
        {
            self.dialing.remove(&addr.to_string());
        }
    }
}

fn host_port(addr: SocketAddr) -> HostPort {
    HostPort {
        host: addr.ip().to_string(),
        port: addr.port(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialers_are_capped_in_all_and_per_host() {
        let mut dials = DiscoveryDials::default();
        let a: SocketAddr = "10.0.0.1:1".parse().unwrap();
        assert!(dials.admit(a, "x").is_ok());
        assert!(dials.admit(a, "x").is_err(), "one dialer per address");
        assert!(dials.admit("10.0.0.1:2".parse().unwrap(), "y").is_ok());
        assert_eq!(
            dials.admit("10.0.0.1:3".parse().unwrap(), "z"),
            Err("too many discovery dialers to this host")
        );
        for host in 2..=MAX_DISCOVERY_DIALERS {
            let addr = SocketAddr::from(([10, 0, 1, host as u8], 1));
            let room = dials.len() < MAX_DISCOVERY_DIALERS;
            assert_eq!(dials.admit(addr, "n").is_ok(), room);
        }
        assert_eq!(dials.len(), MAX_DISCOVERY_DIALERS);
        assert!(dials.forget(&a));
        assert!(dials.admit("10.0.2.1:1".parse().unwrap(), "late").is_ok());
    }
}
