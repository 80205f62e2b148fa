//! A node's life: lock the data dir, resolve the cookie, open storage and the
//! mesh, start the root supervision tree, run until a signal, shut down in
//! reverse order, flush, exit.

pub mod cli;
mod cluster_tree;
mod cookie;
mod embed;
mod error;
mod ha;
pub mod logging;
pub(crate) mod recorder;
mod remote_tree;
mod signals;
mod storage_tree;
pub mod swarm;
mod systemd;
mod tree;

use std::process::ExitCode;
use std::sync::Arc;

use ractor::Actor;
use swarmd_actors::NodeCtx;
use swarmd_actors::ctx::{Clock, Dialer, Entropy, PubSub, Storage};
use swarmd_actors::fleet::{AgentFactory, AgentKinds};
use swarmd_cluster::seams as ctx;
use swarmd_config::NodeConfig;
use swarmd_storage::{DataDir, SledStorage};
use swarmd_supervisor::{Supervisor, event_channel};
use tracing::{error, info, warn};

pub use cookie::{CookieError, CookieSource, resolve as resolve_cookie};
pub use embed::NodeBuilder;
pub use error::StartError;
use signals::{Shutdown, ShutdownSignals};

use swarmd_cluster::gateway::ClusterHandle;
use swarmd_cluster::transport::ServerSlot;

/// Supervision events buffered for the ledger recorder before it lags.
const SUPERVISION_EVENTS: usize = 4096;

/// Exit code when a second signal cuts a shutdown short (128 + SIGINT, as shells report).
const EXIT_FORCED: i32 = 130;
/// How long closing the mesh session may take at shutdown.
const MESH_CLOSE_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);
/// How long the last storage flush may take at shutdown (acknowledged data
/// is already durable: this flushes what was not yet acknowledged).
const FINAL_FLUSH_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);
/// Exit code on SIGQUIT: no orderly shutdown (128 + SIGQUIT).
const EXIT_QUIT: i32 = 131;

/// Runs a node on a fresh multi-threaded runtime until it is told to stop.
/// Logging must be set up first.
pub fn run_blocking(node: NodeBuilder) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(node.run());
    // Anything still running (zenoh's tasks, sled's flusher) must not delay the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    code
}

pub async fn run(config: NodeConfig) -> ExitCode {
    run_with(config, AgentKinds::default()).await
}

/// [`run`], with the embedding program's agent kinds next to the built-in
/// ones (see [`NodeBuilder`]).
pub async fn run_with(config: NodeConfig, kinds: AgentKinds) -> ExitCode {
    // Signals first, so one sent the moment the node is ready is not lost.
    let mut signals = match ShutdownSignals::register() {
        Ok(s) => s,
        Err(e) => return startup_failed(StartError::Signals(e)),
    };
    let data_dir = match DataDir::lock(&config.node.data_dir) {
        Ok(d) => d,
        Err(e) => return startup_failed(e.into()),
    };
    let node = match Started::start_with(&config, &data_dir, kinds).await {
        Ok(node) => node,
        Err(e) => return startup_failed(e),
    };
    info!(
        node = %config.node.name,
        role = ?config.node.role,
        listen = %config.cluster.listen,
        data_dir = %data_dir.path().display(),
        "node ready"
    );
    println!("{}", ready_line(&config, data_dir.path()));
    systemd::ready();
    let watchdog = systemd::feed_watchdog(node.root.clone());

    let first = tokio::select! {
        signal = signals.next() => signal,
        _ = node.root.wait(None) => {
            error!("the root supervisor exited: too many failures below it");
            node.close().await;
            return ExitCode::FAILURE;
        }
    };
    if first == Shutdown::Quit {
        error!(signal = first.name(), "forcing exit");
        std::process::exit(EXIT_QUIT);
    }
    info!(signal = first.name(), "shutting down");
    let at = tokio::time::Instant::now();
    tokio::spawn(async move {
        let signal = signals.next_forcing(first, at).await;
        error!(
            signal = signal.name(),
            "second request during shutdown: forcing exit"
        );
        std::process::exit(if signal == Shutdown::Quit {
            EXIT_QUIT
        } else {
            EXIT_FORCED
        });
    });
    systemd::stopping();
    if let Some(feeding) = watchdog {
        feeding.abort();
    }
    node.shutdown(config.node.shutdown_timeout()).await
}

/// The one line a person reads first: what runs, where, and what to try.
fn ready_line(config: &NodeConfig, data_dir: &std::path::Path) -> String {
    let http = match config.http_listen() {
        Some(addr) => format!(", Mission Control http://{addr}"),
        None => String::new(),
    };
    format!(
        "swarmd {} ready: node {} ({}), cluster {}{http}, data {} — try: swarmd console {}",
        env!("CARGO_PKG_VERSION"),
        config.node.name,
        config.node.role,
        config.cluster.listen,
        data_dir.display(),
        config.cluster.listen,
    )
}

fn startup_failed(reason: StartError) -> ExitCode {
    error!("{reason}");
    ExitCode::FAILURE
}

/// What a node touches the world through: production wires OS time and
/// entropy, sled, zenoh and TCP; the simulator wires its own.
pub struct Seams {
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
    pub storage: Arc<dyn Storage>,
    pub mesh: Arc<dyn PubSub>,
    pub dialer: Arc<dyn Dialer>,
    /// What the governor measures: the process's RSS and CPU.
    pub resources: Arc<dyn swarmd_governance::ResourceProbe>,
    /// The cloud tier's lease and state, on a cloud with `[cloud] ha`.
    pub cloud_tier: Option<swarmd_adapters::cloud_tier::CloudTier>,
}

use swarmd_cluster::mesh::MeshPlan;

/// A running node's handles, in the order they must be closed.
pub struct Started {
    pub root: ractor::ActorRef<swarmd_supervisor::SupervisorMsg>,
    mesh: Arc<dyn PubSub>,
    storage: Arc<dyn Storage>,
    /// How this node's actors reach other nodes.
    pub cluster: ClusterHandle,
    /// Creates, lists and stops this node's agents.
    pub factory: AgentFactory,
    /// The node server's current incarnation.
    pub server: ServerSlot,
    /// Where the simulator hands the streams it accepts for this node.
    pub gate: swarmd_cluster::transport::SessionGate,
    /// The world and mission planner, where this node runs them.
    pub cloud: swarm::CloudSlots,
    follow_membership: tokio::task::JoinHandle<()>,
}

impl Started {
    /// Starts a node in this process on the production seams (the binary's
    /// `run`, and tests that need a node of their own next to real `swarmd`
    /// processes).
    pub async fn start(config: &NodeConfig, data_dir: &DataDir) -> Result<Self, StartError> {
        Self::start_with(config, data_dir, AgentKinds::default()).await
    }

    /// [`start`](Self::start), with the embedding program's agent `kinds`.
    pub async fn start_with(
        config: &NodeConfig,
        data_dir: &DataDir,
        kinds: AgentKinds,
    ) -> Result<Self, StartError> {
        let entropy = ctx::OsEntropy;
        let env_cookie = std::env::var("SWARMD_COOKIE").ok();
        let may_create = config.node.cookie_file.is_none();
        let cookie_path = config.node.cookie_path();
        let (cookie, source) = cookie::resolve(env_cookie, &cookie_path, may_create, &entropy)?;
        info!(?source, path = %cookie_path.display(), "cookie loaded");
        let tokens = swarmd_http::tokens_dir(data_dir.path());
        let (token_path, created) = swarmd_http::tokens::ensure_system(&tokens, &entropy)
            .map_err(|e| StartError::Tokens(e.to_string()))?;
        info!(path = %token_path.display(), created, "Mission Control's system token");

        let cache = config.storage.cache_capacity_mb * 1024 * 1024;
        let path = data_dir.ledger_path();
        let storage = SledStorage::open(&path, cache)
            .map_err(|source| StartError::Storage { path, source })?;
        let seams = Seams {
            clock: Arc::new(ctx::SystemClock),
            entropy: Arc::new(entropy),
            storage: Arc::new(storage),
            mesh: swarmd_cluster::mesh::open(&MeshPlan::for_node(
                config,
                &cookie,
                data_dir.path(),
            )?)
            .await?,
            dialer: Arc::new(ctx::TcpDialer),
            resources: Arc::new(swarmd_governance::ProcResources),
            cloud_tier: config
                .runs_ha()
                .then(|| swarmd_adapters::jetstream::cloud_tier::cloud_tier(config)),
        };
        Self::start_on_with(config, cookie, seams, kinds).await
    }

    /// Starts the node's tree on `seams`, then its boot agents.
    pub async fn start_on(
        config: &NodeConfig,
        cookie: String,
        seams: Seams,
    ) -> Result<Self, StartError> {
        Self::start_on_with(config, cookie, seams, AgentKinds::default()).await
    }

    /// [`start_on`](Self::start_on), with the embedding program's agent
    /// `kinds` next to the built-in ones (a name taken twice is an error).
    pub async fn start_on_with(
        config: &NodeConfig,
        cookie: String,
        seams: Seams,
        kinds: AgentKinds,
    ) -> Result<Self, StartError> {
        let Seams {
            clock,
            entropy,
            storage,
            mesh,
            dialer,
            resources,
            cloud_tier,
        } = seams;
        // A failed flush makes nothing durable; this re-applies what it covered.
        #[cfg(not(feature = "bug-trust-failed-flush"))]
        let storage: Arc<dyn Storage> = Arc::new(swarmd_storage::Reapplying::new(storage));
        let (ledger, ledger_writer) =
            storage_tree::ledger_writer(storage.clone(), clock.clone(), entropy.as_ref(), config);
        let ctx = NodeCtx {
            node: config.node.name.as_str().into(),
            clock,
            entropy,
            storage: storage.clone(),
            ledger,
            mesh: mesh.clone(),
            dialer,
        };
        let (events, early_supervision) = event_channel(SUPERVISION_EVENTS);
        let wiring = tree::Wiring::new(&ctx, config, &cookie, resources, cloud_tier)?;
        let recorder = recorder::RecorderArgs {
            ledger: ctx.ledger.clone(),
            supervision: events.clone(),
            membership: wiring.changes.clone(),
            early: Arc::new(std::sync::Mutex::new(Some((
                early_supervision,
                wiring.changes.subscribe(),
            )))),
        };
        let storage_children = storage_tree::StorageChildren {
            ledger_writer,
            recorder,
        };
        let factory = wiring.factory(&ctx, config, &events, kinds)?;
        let spec = tree::root_spec(&ctx, config, storage_children, &events, &wiring, &factory);
        let (root, _) = Actor::spawn(None, Supervisor, spec).await?;
        wiring.root.set(root.clone());
        let follow_membership = wiring.router.follow_membership();
        swarm::report_boot(&factory.start_all(&swarm::boot_agents(config)).await);
        Ok(Self {
            root,
            mesh,
            storage,
            cluster: wiring.cluster,
            factory,
            server: wiring.server,
            gate: wiring.gate,
            cloud: wiring.cloud,
            follow_membership,
        })
    }

    /// The node dies at once, as on a power cut (the simulator's crash): the
    /// whole tree is killed and nothing is flushed.
    pub async fn kill(self) {
        self.follow_membership.abort();
        let limit = std::time::Duration::from_secs(10);
        if let Err(e) = self.root.kill_and_wait(Some(limit)).await {
            warn!(error = %e, "the killed tree did not stop in time");
        }
        self.close_mesh().await;
    }

    /// Stops the tree (children in reverse start order), then the mesh, then
    /// flushes storage one last time.
    pub async fn shutdown(self, limit: std::time::Duration) -> ExitCode {
        self.follow_membership.abort();
        let stopped = self
            .root
            .stop_and_wait(Some("shutdown".into()), Some(limit))
            .await;
        if let Err(e) = stopped {
            error!(?limit, error = %e, "supervision tree did not stop in time");
            return ExitCode::FAILURE;
        }
        let flushed = self.close().await;
        if flushed {
            info!("node stopped");
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }

    /// Closes the mesh, then flushes storage, each within its deadline:
    /// a hung peer or disk cannot hold the process past them.
    async fn close(&self) -> bool {
        self.close_mesh().await;
        match tokio::time::timeout(FINAL_FLUSH_LIMIT, self.storage.flush()).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                warn!(error = %e, "final storage flush failed");
                false
            }
            Err(_) => {
                warn!(limit = ?FINAL_FLUSH_LIMIT, "final storage flush did not finish in time");
                false
            }
        }
    }

    async fn close_mesh(&self) {
        if tokio::time::timeout(MESH_CLOSE_LIMIT, self.mesh.close())
            .await
            .is_err()
        {
            warn!(limit = ?MESH_CLOSE_LIMIT, "mesh session did not close in time; left behind");
        }
    }
}
