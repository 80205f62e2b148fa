//! `swarmd` command line: flags map onto config keys and override the file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use swarmd_config::{NodeConfig, Override, OverrideValue};

use crate::NodeBuilder;

mod tools;

/// Exit code for a configuration or usage error, as clap uses.
const EXIT_CONFIG: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "swarmd",
    version,
    about = "Run a swarmd node: a supervised, distributed multi-agent runtime",
    long_about = "Run a swarmd node. With no subcommand, starts a node and runs until SIGINT or \
                  SIGTERM. Settings layer as: embedded defaults < --config file < SWARMD_* \
                  environment < flags. SWARMD_COOKIE, if set, is the cluster cookie itself."
)]
pub struct Cli {
    #[command(flatten)]
    pub node: NodeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// A node's flags. Those a subcommand also takes (`--config`, `--data-dir`,
/// `--log`, `--log-format`) are global; the rest only start a node (or
/// shape `config show`) and come before any subcommand.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Config file (TOML), layered over the embedded defaults
    #[arg(long, global = true, env = "SWARMD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Node name, unique in the cluster [config: node.name]
    #[arg(long, env = "SWARMD_NAME")]
    pub name: Option<String>,
    /// Address the cluster listener binds [config: cluster.listen]
    #[arg(long, env = "SWARMD_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Seed node to join; repeat for several. Implies `--role edge` unless a
    /// role is given by flag or SWARMD_ROLE [config: cluster.seeds]
    #[arg(
        long,
        env = "SWARMD_JOIN",
        value_name = "HOST:PORT",
        value_delimiter = ','
    )]
    pub join: Vec<String>,
    /// cloud, edge or both [config: node.role]
    #[arg(long, env = "SWARMD_ROLE")]
    pub role: Option<String>,
    /// Data directory: ledger, cookie, lock [config: node.data_dir]
    #[arg(long, global = true, env = "SWARMD_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<String>,
    /// Log filter, e.g. "info,swarmd_cluster=debug"; wins over RUST_LOG [config: log.filter]
    #[arg(long = "log", global = true, env = "SWARMD_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// Mission Control's address (dashboard, /api, /metrics), or off;
    /// default 127.0.0.1:4680 on cloud and both nodes [config: http.listen]
    #[arg(long, env = "SWARMD_HTTP", value_name = "ADDR")]
    pub http: Option<String>,
    /// An OpenTelemetry collector to export spans to, e.g.
    /// http://127.0.0.1:4317 [config: telemetry.otlp_endpoint]
    #[arg(long, env = "SWARMD_OTLP_ENDPOINT", value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    /// Announce this node on the LAN and join the nodes found there, without
    /// seeds; the cookie still gates every join [config: cluster.discover]
    #[arg(long, env = "SWARMD_DISCOVER")]
    pub discover: bool,
    /// human or json [config: log.format]
    #[arg(long, global = true, env = "SWARMD_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check or show configuration
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The operator's REPL: look inside a live node, send messages, inject faults
    Console(tools::ConsoleArgs),
    /// Read a stopped node's flight recorder (its data dir)
    #[command(subcommand)]
    Ledger(tools::LedgerCommand),
    /// Mission recipes (steps with dependencies, retries and timeouts)
    #[command(subcommand)]
    Recipe(RecipeCommand),
    /// Mission Control's credentials: one bearer token per tenant, in the data dir
    #[command(subcommand)]
    Token(tools::TokenCommand),
    /// The mesh as external bodies and brains join it (the agent protocol)
    #[command(subcommand)]
    Mesh(tools::MeshCommand),
}

#[derive(Debug, Subcommand)]
pub enum RecipeCommand {
    /// Validate a recipe file and print its steps in the waves they run in
    Check {
        /// The recipe (TOML)
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a config file (over the embedded defaults) and exit
    Check {
        /// The file to check
        file: PathBuf,
    },
    /// Print the effective config: defaults, file, environment and flags applied
    Show,
}

/// Entry point of the `swarmd` binary.
pub fn main() -> ExitCode {
    main_with(|node| node)
}

/// The `swarmd` command line (a node, or its tools) for a program that
/// registers its own agent kinds on the node it runs.
pub fn main_with(register: impl FnOnce(NodeBuilder) -> NodeBuilder) -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match &cli.command {
        Some(Command::Config(ConfigCommand::Check { file })) => config_check(file),
        Some(Command::Recipe(RecipeCommand::Check { file })) => tools::recipe_check(file),
        Some(Command::Config(ConfigCommand::Show)) => match effective_config(&cli.node, &matches) {
            Ok(config) => {
                print!("{}", toml::to_string(&config).expect("config serializes"));
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Some(Command::Console(args)) => match effective_config(&cli.node, &matches) {
            Ok(config) => tools::console(args, &config),
            Err(code) => code,
        },
        Some(Command::Ledger(command)) => match effective_config(&cli.node, &matches) {
            Ok(config) => tools::ledger(command, &config),
            Err(code) => code,
        },
        Some(Command::Token(command)) => match effective_config(&cli.node, &matches) {
            Ok(config) => tools::token(command, &config),
            Err(code) => code,
        },
        Some(Command::Mesh(command)) => match effective_config(&cli.node, &matches) {
            Ok(config) => tools::mesh(command, &config),
            Err(code) => code,
        },
        None => match effective_config(&cli.node, &matches) {
            Ok(config) => run_node(register(NodeBuilder::new(config)), cli.node.log.is_some()),
            Err(code) => code,
        },
    }
}

/// The file's values, and what a node would refuse at start on this
/// machine: a data dir that group or others may open.
fn config_check(file: &Path) -> ExitCode {
    match swarmd_config::load_file(file) {
        Ok(config) => match exposed_data_dir(&config.node.data_dir) {
            Some(why) => {
                eprintln!("{}: node.data_dir: {why}", file.display());
                ExitCode::from(EXIT_CONFIG)
            }
            None => {
                println!("{}: ok", file.display());
                ExitCode::SUCCESS
            }
        },
        Err(e) => {
            crate::cli::report(&e);
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn exposed_data_dir(dir: &Path) -> Option<String> {
    let mode = swarmd_storage::refused_mode(dir)?;
    Some(format!(
        "{} is open to group or others (mode {mode:o}) and already holds data; run: chmod 700 {}",
        dir.display(),
        dir.display()
    ))
}

fn effective_config(args: &NodeArgs, matches: &ArgMatches) -> Result<NodeConfig, ExitCode> {
    swarmd_config::load(args.config.as_deref(), &overrides(args, matches)).map_err(|e| {
        crate::cli::report(&e);
        ExitCode::from(EXIT_CONFIG)
    })
}

/// Flags and `SWARMD_*` variables as config overrides, each labelled with where it came from.
pub fn overrides(args: &NodeArgs, matches: &ArgMatches) -> Vec<Override> {
    let single = [
        ("name", "node.name", &args.name),
        ("listen", "cluster.listen", &args.listen),
        ("role", "node.role", &args.role),
        ("data_dir", "node.data_dir", &args.data_dir),
        ("log", "log.filter", &args.log),
        ("log_format", "log.format", &args.log_format),
        ("http", "http.listen", &args.http),
        (
            "otlp_endpoint",
            "telemetry.otlp_endpoint",
            &args.otlp_endpoint,
        ),
    ];
    let mut out: Vec<Override> = single
        .into_iter()
        .filter_map(|(id, key, value)| {
            let value = value.clone()?;
            Some(Override {
                key,
                value: OverrideValue::Str(value),
                origin: origin(matches, id),
            })
        })
        .collect();
    if args.discover {
        out.push(Override {
            key: "cluster.discover",
            value: OverrideValue::Bool(true),
            origin: origin(matches, "discover"),
        });
    }
    if !args.join.is_empty() {
        out.push(Override {
            key: "cluster.seeds",
            value: OverrideValue::List(args.join.clone()),
            origin: origin(matches, "join"),
        });
        // A node that joins adds its agents to the swarm; it does not plan a second one.
        if args.role.is_none() {
            out.push(Override {
                key: "node.role",
                value: OverrideValue::Str("edge".into()),
                origin: format!("{} (implies role edge)", origin(matches, "join")),
            });
        }
    }
    out
}

/// `SWARMD_X` when the value came from the environment, `--x` otherwise.
fn origin(matches: &ArgMatches, id: &str) -> String {
    let arg = Cli::command()
        .get_arguments()
        .find(|a| a.get_id() == id)
        .cloned()
        .expect("every override has a flag");
    let from_env = deepest_source(matches, id) == Some(ValueSource::EnvVariable);
    match (from_env, arg.get_env()) {
        (true, Some(env)) => env.to_string_lossy().into_owned(),
        _ => format!("--{}", arg.get_long().expect("override flags are long")),
    }
}

/// Global args may be recorded on the subcommand's matches rather than the top level.
fn deepest_source(matches: &ArgMatches, id: &str) -> Option<ValueSource> {
    let mut source = matches.value_source(id);
    let mut current = matches;
    while let Some((_, sub)) = current.subcommand() {
        let given = sub.try_get_raw(id).ok().flatten().is_some();
        if let Some(s) = given.then(|| sub.value_source(id)).flatten() {
            source = Some(s);
        }
        current = sub;
    }
    source
}

fn run_node(node: NodeBuilder, log_flag_given: bool) -> ExitCode {
    if let Err(e) = crate::logging::init(&node.config().log, log_flag_given) {
        report(&e);
        return ExitCode::from(2);
    }
    crate::run_blocking(node)
}

/// Prints a user-facing error before logging is set up. A broken stderr is ignored, not a panic.
pub(crate) fn report(error: &dyn std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "swarmd: {error}");
}
