//! `swarmd console`: the operator's REPL. It connects to one node as a
//! hidden client and sends each command to that node's `control` actor.
//! Commands come from `-c`, from stdin when it is not a terminal, or from
//! a line editor with history and completion of commands and live names.

mod client;
mod editor;
mod follow;
mod help;
mod http_client;
pub mod parse;
mod render;

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use swarmd_config::HostPort;

pub use client::Client;
pub use http_client::HttpClient;
use parse::{COMMANDS, Parsed};
pub use render::event as event_line;

use swarmd_control::{Command, ControlReply, ControlRequest, EventFilter};

/// Exit code when the console cannot connect (wrong cookie, nothing listening).
pub const EXIT_UNREACHABLE: u8 = 2;

pub struct ConsoleOptions {
    pub addr: HostPort,
    pub credential: Credential,
    pub tenant: String,
    pub json: bool,
    pub commands: Option<String>,
    pub history: Option<std::path::PathBuf>,
    /// Print each command's round trip to stderr.
    pub timing: bool,
}

/// What the console proves itself with.
pub enum Credential {
    /// The cluster cookie (`system`): a cluster session to `addr`.
    Cookie {
        cookie: String,
        tls: Option<swarmd_cluster::transport::Tls>,
    },
    /// A tenant's token: Mission Control at `addr`.
    Token(String),
}

/// How commands reach the node.
pub enum Transport {
    Cluster(Client),
    Http(HttpClient),
}

impl Transport {
    async fn connect(addr: &HostPort, credential: &Credential) -> Result<Self, String> {
        match credential {
            Credential::Cookie { cookie, tls } => Client::connect(addr, cookie, tls.as_ref())
                .await
                .map(Transport::Cluster),
            Credential::Token(token) => HttpClient::connect(addr, token.clone())
                .await
                .map(Transport::Http),
        }
    }

    async fn call(&self, request: &ControlRequest) -> ControlReply {
        match self {
            Transport::Cluster(client) => client.call(request).await,
            Transport::Http(client) => client.call(request).await,
        }
    }

    fn node(&self) -> &str {
        match self {
            Transport::Cluster(client) => &client.node,
            Transport::Http(client) => &client.node,
        }
    }
}

/// What sends commands to the node on the session's behalf; cheap to clone
/// into a background follower.
#[derive(Clone)]
pub struct Caller {
    client: Arc<Transport>,
    tenant: String,
    principal: String,
    timing: bool,
}

pub struct Session {
    caller: Caller,
    json: bool,
    /// At the interactive prompt: where background followers print, and
    /// the followers running.
    background: Option<Background>,
}

struct Background {
    sink: follow::Sink,
    followers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

pub fn run(options: ConsoleOptions) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    let connected = runtime.block_on(Transport::connect(&options.addr, &options.credential));
    let client = match connected {
        Ok(c) => c,
        Err(why) => return fail(&format!("cannot connect to {}: {why}", options.addr)),
    };
    let caller = Caller {
        principal: format!("console@{}", std::process::id()),
        client: Arc::new(client),
        tenant: options.tenant.clone(),
        timing: options.timing,
    };
    let session = Session {
        caller,
        json: options.json,
        background: None,
    };
    let ok = match &options.commands {
        Some(script) => runtime.block_on(session.run_script(script.split(';'))),
        // Each line runs as it arrives, so a program driving the console
        // through a pipe sees each answer before it writes the next command.
        None if !std::io::stdin().is_terminal() => {
            let lines = std::io::stdin().lines().map_while(Result::ok);
            runtime.block_on(session.run_script(lines))
        }
        None => editor::interactive(&runtime, session, options.history.as_deref()),
    };
    runtime.shutdown_timeout(Duration::from_millis(200));
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn fail(why: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "swarmd console: {why}");
    ExitCode::from(EXIT_UNREACHABLE)
}

/// What a line did: go on, or leave the session.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
    Quit,
}

impl Session {
    /// Runs every line, each as the iterator yields it; true if none failed.
    async fn run_script(&self, lines: impl Iterator<Item = impl AsRef<str>>) -> bool {
        let mut ok = true;
        for line in lines {
            match self.run_line(line.as_ref()).await {
                Outcome::Ok => {}
                Outcome::Failed => ok = false,
                Outcome::Quit => break,
            }
        }
        ok
    }

    pub async fn run_line(&self, line: &str) -> Outcome {
        let (parsed, json) = match parse::parse_line(line) {
            Ok(p) => p,
            Err(e) => return error(&e.to_string()),
        };
        let json = json || self.json;
        match parsed {
            Parsed::Empty => Outcome::Ok,
            Parsed::Quit => Outcome::Quit,
            Parsed::Help(topic) => help(topic.as_deref()),
            Parsed::Trace(command) => match self.request(line, command.clone()).await {
                Ok(value) if json => print(&render::json_lines(&value)),
                Ok(value) => print(&render::trace(&value)),
                Err(e) => error(&e.to_string()),
            },
            Parsed::Run { command, follow } => {
                let result = self.request(line, command.clone()).await;
                let shown = match (&result, follow) {
                    (Ok(Value::Array(events)), true) => events.clone(),
                    _ => Vec::new(),
                };
                let outcome = show(&command, result, json);
                match (follow, command, outcome) {
                    (true, Command::Events(filter), Outcome::Ok) => {
                        self.follow(line, filter, shown, json).await
                    }
                    (_, _, outcome) => outcome,
                }
            }
        }
    }

    async fn request(&self, line: &str, command: Command) -> ControlReply {
        self.caller.send(line, command, true).await
    }

    /// Follows in the foreground until Ctrl-C (scripts), or in the
    /// background (the interactive prompt).
    async fn follow(
        &self,
        line: &str,
        filter: EventFilter,
        shown: Vec<Value>,
        json: bool,
    ) -> Outcome {
        let caller = self.caller.clone();
        let line = line.to_string();
        let Some(background) = &self.background else {
            let following = follow::follow(caller, line, filter, shown, json, follow::Sink::Stdout);
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => Outcome::Ok,
                done = following => match done {
                    Ok(()) => Outcome::Ok,
                    Err(e) => error(&e),
                },
            };
        };
        let sink = background.sink.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = follow::follow(caller, line, filter, shown, json, sink.clone()).await {
                let _ = writeln!(std::io::stderr(), "error: following stopped: {e}");
            }
        });
        let mut followers = background
            .followers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        followers.retain(|f| !f.is_finished());
        followers.push(task);
        let _ = writeln!(
            std::io::stderr(),
            "(following; Ctrl-C at the prompt stops it)"
        );
        Outcome::Ok
    }

    /// Stops every background follower; returns how many ran.
    pub fn stop_followers(&self) -> usize {
        let Some(background) = &self.background else {
            return 0;
        };
        let mut followers = background
            .followers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let running = followers.iter().filter(|f| !f.is_finished()).count();
        for f in followers.drain(..) {
            f.abort();
        }
        running
    }

    /// Prints follower output above the prompt from now on.
    pub fn print_above_prompt(
        &mut self,
        printer: Arc<Mutex<dyn rustyline::ExternalPrinter + Send>>,
    ) {
        self.background = Some(Background {
            sink: follow::Sink::Prompt(printer),
            followers: Mutex::default(),
        });
    }

    pub fn node(&self) -> &str {
        self.caller.client.node()
    }

    /// Names to complete: nodes and agents, fetched live.
    pub async fn live_names(&self) -> Vec<String> {
        let mut names = BTreeSet::new();
        for command in [Command::Nodes, Command::Agents { node: None }] {
            if let Ok(Value::Array(rows)) = self.caller.quiet("(completion)", command).await {
                for row in rows {
                    for key in ["name", "id"] {
                        if let Some(n) = row[key].as_str() {
                            names.insert(n.to_string());
                        }
                    }
                }
            }
        }
        names.into_iter().collect()
    }
}

impl Caller {
    async fn send(&self, line: &str, command: Command, timed: bool) -> ControlReply {
        let request = ControlRequest {
            tenant: self.tenant.clone(),
            principal: self.principal.clone(),
            line: line.trim().to_string(),
            command,
        };
        let started = tokio::time::Instant::now();
        let reply = self.client.call(&request).await;
        if self.timing && timed {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let _ = writeln!(std::io::stderr(), "({ms:.2} ms)");
        }
        reply
    }

    /// A read the operator did not type as such (a `--follow` poll, names
    /// for completion): not timed. The node audits a repeated read once a
    /// window.
    async fn quiet(&self, line: &str, command: Command) -> ControlReply {
        self.send(line, command, false).await
    }
}

fn show(command: &Command, result: ControlReply, json: bool) -> Outcome {
    match result {
        Ok(value) if json => print(&render::json_lines(&value)),
        Ok(value) => print(&render::human(command, &value)),
        Err(e) => error(&e.to_string()),
    }
}

fn print(text: &str) -> Outcome {
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return Outcome::Quit;
    }
    Outcome::Ok
}

fn error(why: &str) -> Outcome {
    let _ = writeln!(std::io::stderr(), "error: {why}");
    Outcome::Failed
}

fn help(topic: Option<&str>) -> Outcome {
    let text = match topic {
        None => {
            let mut text = String::from("commands (help CMD for one):\n");
            for (name, synopsis) in COMMANDS {
                let first = synopsis.lines().next().unwrap_or(name);
                text.push_str(&format!("  {first}\n"));
            }
            text
        }
        Some(cmd) => match COMMANDS.iter().find(|(name, _)| *name == cmd) {
            Some((_, synopsis)) => format!("{synopsis}\n"),
            None => return error(&format!("no command {cmd:?}; try `help`")),
        },
    };
    print(&text)
}
