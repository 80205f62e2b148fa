//! The mesh's endpoints: well formed, all TLS when `[mesh.tls]` is set, and
//! never open to the network by accident.

use std::net::IpAddr;

use crate::NodeConfig;

type Refusal = (&'static str, String);

impl NodeConfig {
    pub(crate) fn validate_mesh(&self) -> Result<(), Refusal> {
        let m = &self.mesh;
        for (key, endpoints) in [("mesh.listen", &m.listen), ("mesh.connect", &m.connect)] {
            for endpoint in endpoints {
                check_endpoint(key, endpoint, m.tls.is_some(), m.insecure)?;
            }
        }
        if m.multicast_scouting && m.tls.is_none() && !m.insecure {
            let why = "multicast scouting without [mesh.tls] lets anyone on the LAN join \
                       the mesh: set [mesh.tls], or mesh.insecure = true on purpose";
            return Err(("mesh.multicast_scouting", why.into()));
        }
        Ok(())
    }
}

fn check_endpoint(
    key: &'static str,
    endpoint: &str,
    tls: bool,
    insecure: bool,
) -> Result<(), Refusal> {
    let Some((protocol, address)) = endpoint.split_once('/') else {
        let why = format!("{endpoint:?} is not a zenoh endpoint like tcp/HOST:PORT");
        return Err((key, why));
    };
    if tls && protocol != "tls" {
        let why = format!("{endpoint:?}: with [mesh.tls] every endpoint is tls/HOST:PORT");
        return Err((key, why));
    }
    if !tls && !insecure && !is_loopback(address) {
        let why = format!(
            "{endpoint:?} is a plain endpoint off loopback: anyone who reaches it can inject \
             peer states, hazards and yield requests. Set [mesh.tls], or mesh.insecure = true \
             to accept that on purpose"
        );
        return Err((key, why));
    }
    Ok(())
}

/// `HOST:PORT` (zenoh may append `#…` options) on a loopback IP or `localhost`.
fn is_loopback(address: &str) -> bool {
    let address = address.split(['#', '?']).next().unwrap_or(address);
    let host = match address.rsplit_once(':') {
        Some((host, _)) => host.trim_start_matches('[').trim_end_matches(']'),
        None => address,
    };
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_may_be_plain_unless_insecure_is_set() {
        for ok in ["tcp/127.0.0.1:7450", "tcp/[::1]:7450", "tcp/localhost:7450"] {
            assert!(
                check_endpoint("mesh.listen", ok, false, false).is_ok(),
                "{ok}"
            );
        }
        for open in [
            "tcp/0.0.0.0:7450",
            "tcp/10.0.0.2:7450",
            "tcp/edge-2:7450",
            "udp/[::]:1",
        ] {
            let (key, why) = check_endpoint("mesh.listen", open, false, false).unwrap_err();
            assert_eq!(key, "mesh.listen");
            assert!(why.contains("mesh.insecure"), "{why}");
            assert!(
                check_endpoint("mesh.listen", open, false, true).is_ok(),
                "{open}"
            );
        }
        assert!(check_endpoint("mesh.connect", "tls/10.0.0.2:7450", true, false).is_ok());
        assert!(check_endpoint("mesh.connect", "tcp/10.0.0.2:7450", true, true).is_err());
        assert!(check_endpoint("mesh.connect", "nonsense", false, true).is_err());
    }
}
