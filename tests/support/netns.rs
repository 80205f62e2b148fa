//! A LAN of network namespaces for discovery tests (CI runs as root): one
//! "switch" namespace holding bridges, and a namespace per host with one
//! veth (`eth0`, 10.77.B.H/24) on bridge B. Everything is deleted on drop.

use std::process::Command;

pub struct Lan {
    prefix: String,
    switch: String,
    namespaces: Vec<String>,
    bridges: Vec<u8>,
}

/// A host on the LAN: its namespace and address.
#[derive(Debug, Clone)]
pub struct Host {
    pub netns: String,
    pub ip: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Lan {
    /// A fresh LAN. Where namespaces cannot be made the test fails, unless
    /// `SWARMD_NETNS_OPTIONAL=1` says on purpose that a skip is acceptable
    /// here (then `None`, said loudly). CI never sets it.
    pub fn new() -> Option<Lan> {
        super::ensure_packages(&["/usr/sbin/ip"], &["iproute2"]);
        // Tests of one binary run side by side: each LAN its own names.
        static LANS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let lan = LANS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let prefix = format!("swd{}l{lan}", std::process::id());
        let switch = format!("{prefix}-sw");
        if let Err(e) = ip(&["netns", "add", &switch]) {
            let optional = std::env::var("SWARMD_NETNS_OPTIONAL").is_ok_and(|v| v == "1");
            assert!(
                optional,
                "cannot make a network namespace: {e} (set SWARMD_NETNS_OPTIONAL=1 to skip on purpose)"
            );
            eprintln!("\n*** SKIPPED: this kernel forbids network namespaces here ({e}) ***\n");
            return None;
        }
        Some(Lan {
            prefix,
            switch: switch.clone(),
            namespaces: vec![switch],
            bridges: Vec::new(),
        })
    }

    /// Host `host` on bridge `bridge` (made on first use).
    pub fn host(&mut self, bridge: u8, host: u8) -> Host {
        if !self.bridges.contains(&bridge) {
            let br = format!("br{bridge}");
            let sw = self.switch.as_str();
            ip(&["-n", sw, "link", "add", &br, "type", "bridge"]).unwrap();
            // No IGMP querier here: flood multicast instead of snooping it.
            ip(&[
                "-n",
                sw,
                "link",
                "set",
                &br,
                "type",
                "bridge",
                "mcast_snooping",
                "0",
            ])
            .unwrap();
            ip(&["-n", sw, "link", "set", &br, "up"]).unwrap();
            self.bridges.push(bridge);
        }
        let netns = format!("{}-b{bridge}h{host}", self.prefix);
        ip(&["netns", "add", &netns]).unwrap();
        self.namespaces.push(netns.clone());
        let port = format!("b{bridge}h{host}");
        let sw = self.switch.as_str();
        ip(&[
            "-n", sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &netns,
        ])
        .unwrap();
        ip(&[
            "-n",
            sw,
            "link",
            "set",
            &port,
            "master",
            &format!("br{bridge}"),
            "up",
        ])
        .unwrap();
        let addr = format!("10.77.{bridge}.{host}");
        ip(&[
            "-n",
            &netns,
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            "eth0",
        ])
        .unwrap();
        ip(&["-n", &netns, "link", "set", "eth0", "up"]).unwrap();
        ip(&["-n", &netns, "link", "set", "lo", "up"]).unwrap();
        Host { netns, ip: addr }
    }
}

impl Lan {
    /// Unplugs `host` from its bridge: it reaches no one, no one reaches it.
    pub fn cut(&self, host: &Host) {
        ip(&["-n", &self.switch, "link", "set", &port_of(host), "down"]).unwrap();
    }

    /// Plugs `host` back in.
    pub fn heal(&self, host: &Host) {
        ip(&["-n", &self.switch, "link", "set", &port_of(host), "up"]).unwrap();
    }
}

/// `swarmd console ADDR --json -c LINE` run inside `host`'s namespace, as
/// JSON rows; the console's stderr when it fails. Bounded by 20 s.
pub async fn console(
    host: &Host,
    port: u16,
    cookie: &str,
    line: &str,
) -> Result<Vec<serde_json::Value>, String> {
    let mut cmd = super::in_netns(&host.netns);
    let addr = format!("{}:{port}", host.ip);
    cmd.args(["console", &addr, "--json", "-c", line])
        .env("SWARMD_COOKIE", cookie);
    let out = tokio::time::timeout(std::time::Duration::from_secs(20), cmd.output())
        .await
        .expect("console in time")
        .expect("console runs");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(super::console::json_lines(&String::from_utf8_lossy(
        &out.stdout,
    )))
}

/// The switch-side end of `host`'s veth (`bBhH`, from its namespace's name).
fn port_of(host: &Host) -> String {
    let (_, port) = host.netns.rsplit_once('-').expect("a host namespace");
    port.to_string()
}

impl Drop for Lan {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}
