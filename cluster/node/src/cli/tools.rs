//! The operator's subcommands: `swarmd console` (a live node) and
//! `swarmd ledger` (a stopped node's data dir).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use swarmd_config::{HostPort, NodeConfig};
use swarmd_messages::SYSTEM_TENANT;
use swarmd_storage::ledger::LedgerReader;
use swarmd_storage::{DataDir, DataDirError, SledStorage};

use swarmd_console::{self as console, ConsoleOptions, parse};
use swarmd_control::{Command, EventFilter};

const EXIT_USAGE: u8 = 2;

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// The node to connect to, HOST:PORT [default: the config's cluster.listen]
    pub addr: Option<String>,
    /// Read the cluster cookie from FILE (else SWARMD_COOKIE, else <data-dir>/cookie)
    #[arg(long, value_name = "FILE")]
    pub cookie_file: Option<PathBuf>,
    /// Bind the session to one tenant: it sees and acts only within it
    #[arg(long, default_value = SYSTEM_TENANT)]
    pub tenant: String,
    /// Prove a tenant's token from FILE instead of the cookie (see `swarmd
    /// token`): the console then talks to Mission Control at the address
    /// [default: the config's http.listen] as that tenant
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Print each result as JSON Lines (an array: one element per line)
    #[arg(long)]
    pub json: bool,
    /// Run these `;`-separated commands and exit
    #[arg(short = 'c', value_name = "CMDS")]
    pub commands: Option<String>,
    /// History file of the interactive console [default: ~/.swarmd_history]
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Print each command's round trip to the node, in ms, to stderr
    #[arg(long)]
    pub timing: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Write a new token for a tenant (replacing its old one) and print it
    Create {
        #[arg(long)]
        tenant: String,
    },
    /// The tenants that have a token
    List,
    /// Remove a tenant's token: it stops working at the next request
    Revoke {
        #[arg(long)]
        tenant: String,
    },
}

/// `swarmd token ...` on the config's data dir; a running node sees the
/// change at its next request.
pub fn token(command: &TokenCommand, config: &NodeConfig) -> ExitCode {
    use swarmd_http::tokens;
    let dir = tokens::tokens_dir(&config.node.data_dir);
    let done = match command {
        TokenCommand::Create { tenant } => {
            tokens::create(&dir, tenant, &swarmd_cluster::seams::OsEntropy).map(|token| {
                let path = tokens::token_path(&dir, tenant);
                eprintln!("token for tenant {tenant} written to {}", path.display());
                println!("{token}");
            })
        }
        TokenCommand::List => tokens::tenants(&dir).map(|tenants| {
            for tenant in tenants {
                println!("{tenant}");
            }
        }),
        TokenCommand::Revoke { tenant } => {
            tokens::revoke(&dir, tenant).map(|()| eprintln!("token of tenant {tenant} revoked"))
        }
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => usage(&format!("token: {e}")),
    }
}

#[derive(Debug, Subcommand)]
pub enum MeshCommand {
    /// Print the credential with which a tenant's external bodies and
    /// brains join, and where (the node's agent gateway), as JSON
    Credentials {
        #[arg(long)]
        tenant: String,
        /// Read the cluster cookie from FILE (else SWARMD_COOKIE, else <data-dir>/cookie)
        #[arg(long, value_name = "FILE")]
        cookie_file: Option<PathBuf>,
    },
}

/// `swarmd mesh credentials`: derived from the cookie, so it holds on every
/// node of the cluster; only for a tenant the node serves.
pub fn mesh(command: &MeshCommand, config: &NodeConfig) -> ExitCode {
    let MeshCommand::Credentials {
        tenant,
        cookie_file,
    } = command;
    if !config.node.tenants.contains(tenant) {
        return usage(&format!(
            "mesh credentials: this node does not serve tenant {tenant:?} (node.tenants: {:?})",
            config.node.tenants
        ));
    }
    if config.agents_listen().is_empty() {
        return usage(
            "mesh credentials: this node opens no agent gateway: set mesh.agents_listen \
             (e.g. [\"tcp/127.0.0.1:7460\"]) for external bodies and brains to join",
        );
    }
    let cookie = match cli_cookie(cookie_file.as_ref(), config) {
        Ok(cookie) => cookie,
        Err(e) => return usage(&format!("mesh credentials: {e}")),
    };
    let (user, password) = swarmd_cluster::mesh::agent_credential(&cookie, tenant);
    let answer = serde_json::json!({
        "tenant": tenant,
        "user": user,
        "password": password,
        "endpoints": config.agents_listen(),
        // With [mesh.tls], a certificate from the mesh's CA is needed too.
        "tls": config.mesh.tls.is_some(),
    });
    println!("{answer}");
    ExitCode::SUCCESS
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Print a stopped node's events (the console's `events` filters)
    Events {
        /// Print JSON Lines
        #[arg(long)]
        json: bool,
        /// The filters, as the console's `events` takes them
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        filters: Vec<String>,
    },
    /// Write a stopped node's events as JSON Lines to stdout
    Export {
        /// Only this tenant's [default: every tenant of the config, and system]
        #[arg(long)]
        tenant: Option<String>,
    },
}

pub fn console(args: &ConsoleArgs, config: &NodeConfig) -> ExitCode {
    let default_addr = match (&args.token_file, config.http_listen()) {
        (Some(_), Some(http)) => http.to_string(),
        _ => config.cluster.listen.to_string(),
    };
    let addr = match args
        .addr
        .as_deref()
        .unwrap_or(&default_addr)
        .parse::<HostPort>()
    {
        Ok(a) => a,
        Err(e) => return usage(&format!("console address: {e}")),
    };
    let credential = match &args.token_file {
        Some(file) => match swarmd_http::read_token(file) {
            Ok(token) => console::Credential::Token(token),
            Err(e) => return usage(&format!("console: {e}")),
        },
        None => match cookie_credential(args, config) {
            Ok(credential) => credential,
            Err(why) => return usage(&format!("console: {why}")),
        },
    };
    let history = args
        .history
        .clone()
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".swarmd_history")));
    console::run(ConsoleOptions {
        addr,
        credential,
        tenant: args.tenant.clone(),
        json: args.json,
        commands: args.commands.clone(),
        history,
        timing: args.timing,
    })
}

/// The cluster cookie a tool uses: `--cookie-file`, else SWARMD_COOKIE,
/// else the data dir's; never created.
fn cli_cookie(cookie_file: Option<&PathBuf>, config: &NodeConfig) -> Result<String, String> {
    let cookie_path = cookie_file
        .cloned()
        .unwrap_or_else(|| config.node.cookie_path());
    let env = std::env::var("SWARMD_COOKIE").ok();
    let entropy = swarmd_cluster::seams::OsEntropy;
    let (cookie, _) =
        crate::resolve_cookie(env, &cookie_path, false, &entropy).map_err(|e| e.to_string())?;
    Ok(cookie)
}

fn cookie_credential(
    args: &ConsoleArgs,
    config: &NodeConfig,
) -> Result<console::Credential, String> {
    let cookie = cli_cookie(args.cookie_file.as_ref(), config)?;
    let tls = config
        .cluster
        .tls
        .as_ref()
        .map(swarmd_cluster::transport::Tls::load)
        .transpose()
        .map_err(|e| e.to_string())?;
    Ok(console::Credential::Cookie { cookie, tls })
}

pub fn ledger(command: &LedgerCommand, config: &NodeConfig) -> ExitCode {
    let dir = match DataDir::lock(&config.node.data_dir) {
        Ok(dir) => dir,
        Err(e @ DataDirError::InUse { .. }) => {
            return usage(&format!(
                "{e}: the node is running; read its ledger live with `swarmd console -c 'events ...'`"
            ));
        }
        Err(e) => return usage(&e.to_string()),
    };
    let storage = match SledStorage::open(&dir.ledger_path(), 8 << 20) {
        Ok(s) => s,
        Err(e) => return usage(&format!("ledger {}: {e}", dir.ledger_path().display())),
    };
    let reader = LedgerReader::new(std::sync::Arc::new(storage));
    let (filter, json) = match command {
        LedgerCommand::Events { json, filters } => {
            match parse::parse_line(&format!("events {}", filters.join(" "))) {
                Ok((
                    parse::Parsed::Run {
                        command: Command::Events(f),
                        ..
                    },
                    also,
                )) => (f, *json || also),
                Ok(_) => return usage("ledger events: filters only"),
                Err(e) => return usage(&format!("ledger events: {e}")),
            }
        }
        LedgerCommand::Export { tenant } => {
            let filter = EventFilter {
                tenant: tenant.clone(),
                since_us: Some(0),
                limit: swarmd_control::protocol::MAX_EVENTS,
                ..EventFilter::default()
            };
            (filter, true)
        }
    };
    print_events(&reader, config, &filter, json)
}

fn print_events(
    reader: &LedgerReader,
    config: &NodeConfig,
    filter: &EventFilter,
    json: bool,
) -> ExitCode {
    let tenants: Vec<String> = match &filter.tenant {
        Some(t) => vec![t.clone()],
        None => config
            .node
            .tenants
            .iter()
            .cloned()
            .chain([SYSTEM_TENANT.to_string()])
            .collect(),
    };
    let now_us = std::time::SystemTime::UNIX_EPOCH
        .elapsed()
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    let events = match swarmd_control::events::query_tenants(reader, &tenants, filter, now_us) {
        Ok(events) => events,
        Err(e) => return usage(&format!("ledger: {e}")),
    };
    let mut out = std::io::stdout().lock();
    for e in &events {
        let line = if json {
            e.to_string()
        } else {
            swarmd_console::event_line(e)
        };
        if writeln!(out, "{line}").is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}

fn usage(why: &str) -> ExitCode {
    super::report(&why);
    ExitCode::from(EXIT_USAGE)
}

/// Reads each sandboxed step's module (beside the file) and loads it as a
/// step guest: one that does not compile or lacks `step_goal` is an error
/// naming the file, the step and the key.
fn check_guests(recipe: &swarmd_config::recipe::Recipe, file: &str) -> Result<(), String> {
    use swarmd_actors::missions::sandboxed;
    use swarmd_actors::sandbox::SandboxLimits;
    use swarmd_messages::recipe::StepGoal;
    let plan = recipe.plan(file).map_err(|e| e.to_string())?;
    for step in &plan.steps {
        if let StepGoal::Sandboxed { module } = &step.goal {
            sandboxed::check(module, SandboxLimits::default())
                .map_err(|why| format!("{file}: step {:?}: module: {why}", step.name))?;
        }
    }
    Ok(())
}

/// `swarmd recipe check FILE`: the steps in waves (a wave's steps run side
/// by side), or the error naming the file, the step and the key.
pub fn recipe_check(file: &std::path::Path) -> ExitCode {
    use swarmd_config::recipe::Recipe;
    let recipe = match Recipe::load(file) {
        Ok(recipe) => recipe,
        Err(e) => {
            super::report(&e);
            return ExitCode::from(super::EXIT_CONFIG);
        }
    };
    if let Err(why) = check_guests(&recipe, &file.display().to_string()) {
        super::report(&why);
        return ExitCode::from(super::EXIT_CONFIG);
    }
    let waves = recipe.waves();
    println!(
        "{}: ok: {} steps in {} waves (recipe {:?})",
        file.display(),
        recipe.steps.len(),
        waves.len(),
        recipe.name
    );
    for (i, wave) in waves.iter().enumerate() {
        println!("  wave {}: {}", i + 1, wave.join(", "));
    }
    for step in &recipe.steps {
        let mut who = String::new();
        if let Some(squad) = &step.squad {
            who += &format!(", squad {squad}");
        }
        if let Some(capability) = &step.capability {
            who += &format!(", needs {capability}");
        }
        println!(
            "  {}: {} (retries {}, timeout {} s, on failure {:?}{who})",
            step.name, step.goal, step.retries, step.timeout_s, step.on_failure
        );
    }
    ExitCode::SUCCESS
}
