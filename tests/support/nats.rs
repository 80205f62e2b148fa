//! A real `nats-server` with JetStream (Debian's package, installed when
//! missing, under the tests' apt lock), on a free port with its own store
//! directory; killed on drop. `restart` starts it again on the same store.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::{ensure_packages, free_port};

pub const NATS_SERVER: &str = "/usr/sbin/nats-server";
/// Startup and readiness of the server, at most.
const READY: Duration = Duration::from_secs(20);

pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
    store: PathBuf,
    auth: Option<(String, String)>,
    config: Option<PathBuf>,
}

impl NatsServer {
    /// A server storing under `dir`.
    pub async fn start(dir: &Path) -> Self {
        Self::start_with(dir, None).await
    }

    /// A server that admits only `user` with `password`.
    pub async fn start_with(dir: &Path, auth: Option<(&str, &str)>) -> Self {
        ensure_packages(&[NATS_SERVER], &["nats-server"]);
        let mut server = Self {
            child: None,
            port: free_port(),
            store: dir.to_path_buf(),
            auth: auth.map(|(u, p)| (u.to_string(), p.to_string())),
            config: None,
        };
        server.spawn().await;
        server
    }

    /// A server whose config file (in `dir`) holds `config` (an
    /// `authorization { ... }` block, say); port and store as for `start`.
    pub async fn start_with_config(dir: &Path, config: &str) -> Self {
        ensure_packages(&[NATS_SERVER], &["nats-server"]);
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join("nats-server.conf");
        std::fs::write(&path, config).unwrap();
        let mut server = Self {
            child: None,
            port: free_port(),
            store: dir.to_path_buf(),
            auth: None,
            config: Some(path),
        };
        server.spawn().await;
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) {
        let port = self.port.to_string();
        let store = self.store.display().to_string();
        let mut args = vec!["-js", "-a", "127.0.0.1", "-p", &port, "-sd", &store];
        if let Some((user, password)) = &self.auth {
            args.extend(["--user", user, "--pass", password]);
        }
        let config = self.config.as_ref().map(|c| c.display().to_string());
        if let Some(config) = &config {
            args.extend(["-c", config]);
        }
        let child = Command::new(NATS_SERVER)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + READY;
        let addr = format!("127.0.0.1:{}", self.port);
        while tokio::net::TcpStream::connect(&addr).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "nats-server not listening on {addr} within {READY:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown, no flush beyond what it synced.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("nats-server killed");
        }
    }

    /// Starts again on the same port and store.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "kill it first");
        self.spawn().await;
    }
}

/// Three `nats-server`s clustered on loopback with JetStream (streams
/// with `replicas = 3` are kept on all three).
pub struct NatsCluster {
    pub servers: Vec<NatsServer>,
}

impl NatsCluster {
    pub async fn start(dir: &Path) -> Self {
        let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let all_routes = routes
            .iter()
            .map(|p| format!("nats-route://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut servers = Vec::new();
        for (n, route) in routes.iter().enumerate() {
            // JetStream and its store come from the command line (`-js -sd`).
            let config = format!(
                "server_name: n{n}\n\
                 cluster {{ name: swarmd, listen: 127.0.0.1:{route}, routes: [{all_routes}] }}\n"
            );
            servers.push(NatsServer::start_with_config(&dir.join(format!("n{n}")), &config).await);
        }
        Self { servers }
    }

    /// Every server's URL, comma-separated, as `hub.jetstream.url` takes them.
    pub fn urls(&self) -> String {
        let urls: Vec<String> = self.servers.iter().map(NatsServer::url).collect();
        urls.join(",")
    }
}
