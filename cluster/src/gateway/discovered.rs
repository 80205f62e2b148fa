//! Dialers started for nodes heard by LAN discovery. An announcement is a
//! stranger's word: it may name any port on its sender's host (discovery
//! refuses any other host), so these dialers are capped in number and per
//! source, give up after a few failed attempts, and stop when their
//! announcement expires. Seeds and members learned from members are not
//! counted here: they redial for ever.

use std::net::SocketAddr;

use swarmd_config::HostPort;
use swarmd_messages::MemberInfo;
use tracing::{debug, info};

use super::actor::GatewayState;
use crate::transport::DialOrigin;

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
