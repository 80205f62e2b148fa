//! The mesh's endpoints: well formed, all TLS when `[mesh.tls]` is set, and
//! never open to the network by accident. Left empty, they are derived from
//! the cluster's: the mesh forms with the cluster, no settings needed.

use std::net::IpAddr;

use crate::NodeConfig;

type Refusal = (&'static str, String);

impl NodeConfig {
    pub(crate) fn validate_mesh(&self) -> Result<(), Refusal> {
        let m = &self.mesh;
        let endpoints = [
            ("mesh.listen", &m.listen),
            ("mesh.connect", &m.connect),
            ("mesh.agents_listen", &m.agents_listen),
        ];
        for (key, endpoints) in endpoints {
            for endpoint in endpoints {
                check_endpoint(key, endpoint, m.tls.is_some(), m.insecure)?;
            }
        }
        if m.listen.is_empty() && self.cluster.listen.0.port() != 0 {
            let port = u32::from(self.cluster.listen.0.port()) + u32::from(m.port_offset);
            if port > u32::from(u16::MAX) {
                let why = format!(
                    "the derived mesh port {port} is past 65535: set mesh.listen, or a smaller \
                     mesh.port_offset"
                );
                return Err(("mesh.port_offset", why));
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

impl NodeConfig {
    /// True when the mesh's endpoints come from the cluster's (neither
    /// `mesh.listen` nor `mesh.connect` given): its links are then
    /// authenticated with the cookie.
    pub fn mesh_derived(&self) -> bool {
        self.mesh.listen.is_empty() && self.mesh.connect.is_empty()
    }

    /// Where the mesh listens: `mesh.listen`, or the cluster's listen
    /// address with its port plus `mesh.port_offset` (port 0 stays 0).
    pub fn mesh_listen(&self) -> Vec<String> {
        if !self.mesh.listen.is_empty() {
            return self.mesh.listen.clone();
        }
        let mut at = self.cluster.listen.0;
        if at.port() != 0 {
            at.set_port(at.port().saturating_add(self.mesh.port_offset));
        }
        vec![format!("{}/{at}", self.mesh_protocol())]
    }

    /// Whom the mesh connects to: `mesh.connect`, or every seed's mesh
    /// endpoint by the same rule (zenoh's gossip links the rest).
    pub fn mesh_connect(&self) -> Vec<String> {
        if !self.mesh.connect.is_empty() {
            return self.mesh.connect.clone();
        }
        let protocol = self.mesh_protocol();
        let seeds = self.cluster.seeds.iter();
        seeds
            .map(|seed| {
                let port = seed.port.saturating_add(self.mesh.port_offset);
                match seed.host.contains(':') {
                    true => format!("{protocol}/[{}]:{port}", seed.host),
                    false => format!("{protocol}/{}:{port}", seed.host),
                }
            })
            .collect()
    }

    /// Where the agent gateway listens: `mesh.agents_listen`. Empty: the
    /// node opens no gateway, and no external body or brain can join it.
    pub fn agents_listen(&self) -> Vec<String> {
        self.mesh.agents_listen.clone()
    }

    fn mesh_protocol(&self) -> &'static str {
        if self.mesh.tls.is_some() {
            "tls"
        } else {
            "tcp"
        }
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

    fn load(toml: &str) -> Result<NodeConfig, crate::ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, toml).unwrap();
        crate::layers::load_file(&path)
    }

    fn config(toml: &str) -> NodeConfig {
        load(toml).unwrap()
    }

    #[test]
    fn with_no_mesh_settings_the_mesh_follows_the_cluster() {
        let c = config(
            "[cluster]\nlisten = \"10.0.0.2:4697\"\nseeds = [\"10.0.0.1:4697\", \"cloud:5000\"]\n",
        );
        assert!(c.mesh_derived());
        assert_eq!(c.mesh_listen(), ["tcp/10.0.0.2:5697"]);
        assert_eq!(c.mesh_connect(), ["tcp/10.0.0.1:5697", "tcp/cloud:6000"]);
        let explicit = config(
            "[cluster]\nseeds = [\"10.0.0.1:4697\"]\n[mesh]\nconnect = [\"tcp/127.0.0.1:7000\"]\n",
        );
        let mut tls = c.clone();
        tls.mesh.tls = Some(crate::TlsSection {
            cert: "node.pem".into(),
            key: "node.key".into(),
            ca: "ca.pem".into(),
        });
        assert_eq!(tls.mesh_listen(), ["tls/10.0.0.2:5697"]);
        assert_eq!(tls.mesh_connect()[0], "tls/10.0.0.1:5697");
        assert!(!explicit.mesh_derived());
        assert_eq!(explicit.mesh_connect(), ["tcp/127.0.0.1:7000"]);
        assert_eq!(explicit.mesh_listen(), ["tcp/127.0.0.1:5697"]);
    }

    #[test]
    fn a_derived_port_past_65535_is_refused_with_the_way_out() {
        let err = load("[cluster]\nlisten = \"127.0.0.1:65000\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mesh.port_offset") && err.contains("mesh.listen"),
            "{err}"
        );
    }

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
