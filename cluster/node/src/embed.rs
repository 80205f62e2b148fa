//! A program embedding a node: it registers its own agent kinds next to the
//! built-in ones and runs the node as `swarmd` does (`swarmd` itself is
//! that program with nothing added). The same kinds run in the simulator
//! (`swarmd_sim::driver::Sim::kind`).
//!
//! ```no_run
//! # use swarmd_node::NodeBuilder;
//! # async fn main_(config: swarmd_config::NodeConfig, kind: swarmd_actors::fleet::ProbeKind) {
//! let exit = NodeBuilder::new(config).kind("my-kind", kind).run().await;
//! # }
//! ```

use std::process::ExitCode;

use swarmd_actors::domain::{Domain, DomainKind};
use swarmd_actors::fleet::{AgentKind, AgentKinds};
use swarmd_config::NodeConfig;
use swarmd_storage::DataDir;

use crate::{StartError, Started};

/// A node to start: its configuration and the program's agent kinds.
pub struct NodeBuilder {
    config: NodeConfig,
    kinds: AgentKinds,
    /// A kind registered twice: an error at start, not a silent replacement.
    twice: Option<String>,
}

impl NodeBuilder {
    pub fn new(config: NodeConfig) -> Self {
        Self {
            config,
            kinds: AgentKinds::default(),
            twice: None,
        }
    }

    /// Agents of `kind` can be spawned on this node as `name` (`spawn NAME
    /// {…}` at the console, a supervised spawn from the cloud, or `boot`).
    pub fn kind(mut self, name: &str, kind: impl AgentKind) -> Self {
        if self.kinds.names().iter().any(|n| n == name) {
            self.twice.get_or_insert_with(|| name.to_string());
        }
        self.kinds = self.kinds.with(name, kind);
        self
    }

    /// Agents of `domain` can be spawned on this node as `domain.name()`,
    /// and missions of its task kinds planned on it (DESIGN §16).
    pub fn domain<D: Domain>(mut self, domain: D) -> Self {
        let name = domain.name().to_string();
        let taken = self.kinds.names().contains(&name);
        let tasks = domain.task_kinds();
        let task_taken = tasks.iter().find(|k| self.kinds.task_kinds().contains(k));
        if taken || task_taken.is_some() {
            let what = task_taken.map_or(name, |k| format!("task {k}"));
            self.twice.get_or_insert(what);
        }
        self.kinds = DomainKind::new(domain).register(self.kinds);
        self
    }

    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The kinds registered so far, checked: none twice.
    pub fn kinds(&self) -> Result<AgentKinds, StartError> {
        match &self.twice {
            Some(name) => Err(StartError::Kinds(format!(
                "agent kind {name:?} is registered twice"
            ))),
            None => Ok(self.kinds.clone()),
        }
    }

    /// Runs the node until it is told to stop (SIGINT, SIGTERM), as `swarmd`
    /// does; logging must be set up first.
    pub async fn run(self) -> ExitCode {
        match self.kinds() {
            Ok(kinds) => crate::run_with(self.config, kinds).await,
            Err(e) => {
                tracing::error!("{e}");
                ExitCode::FAILURE
            }
        }
    }

    /// Starts the node on `data_dir` (locked by the caller) and hands back
    /// its handles, for a program that drives it itself.
    pub async fn start(self, data_dir: &DataDir) -> Result<Started, StartError> {
        let kinds = self.kinds()?;
        Started::start_with(&self.config, data_dir, kinds).await
    }
}
