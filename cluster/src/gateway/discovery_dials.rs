//! The slots for discovery-started dialers: capped in all and per source
//! host (see `discovered.rs` for when they are taken and given back).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

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
