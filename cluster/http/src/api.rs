//! `/api/*`: what the console prints, as JSON, through the node's `control`
//! actor. Reads and actions alike are `ControlRequest`s of a `system`
//! session whose principal names the HTTP client; every failure is a 4xx or
//! 5xx with a JSON `{"error": …}` body.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode, Uri};
use ractor::ActorRef;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Http;
pub use super::auth::Caller;
pub use super::error::ApiError;
use swarmd_control::protocol::DlqCommand;
use swarmd_control::{
    Command, ControlMsg, ControlReply, ControlRequest, EventFilter, control_name,
};

/// How long a command may wait for one of Mission Control's permits.
const PERMIT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// How long a command may take before the client gets a 504.
const CONTROL_TIMEOUT_MS: u64 = 10_000;
/// `/api/events` returns this many unless asked for fewer (or more, up to the ledger's cap).
const DEFAULT_EVENTS: usize = 200;

type ApiResult = Result<Json<Value>, ApiError>;

/// One command through the control actor, as the caller's tenant; under
/// Mission Control's own cap on commands in flight.
pub async fn ask(
    http: &Http,
    caller: &Caller,
    line: String,
    command: Command,
) -> Result<Value, ApiError> {
    let permit = http.commands.clone().acquire_owned();
    let _permit = match tokio::time::timeout(PERMIT_WAIT, permit).await {
        Ok(Ok(permit)) => permit,
        _ => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Mission Control has too many commands in flight; try again",
            ));
        }
    };
    let request = ControlRequest {
        tenant: caller.tenant.clone(),
        principal: caller.principal(),
        line,
        command,
    };
    let bytes = serde_json::to_vec(&request)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let control: ActorRef<ControlMsg> = ractor::registry::where_is(control_name(&http.node))
        .map(ActorRef::from)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the node's control actor is not running",
            )
        })?;
    let reply = ractor::call_t!(
        control,
        |reply| ControlMsg::Request(bytes, reply),
        CONTROL_TIMEOUT_MS
    )
    .map_err(|e| ApiError::new(StatusCode::GATEWAY_TIMEOUT, format!("control: {e}")))?;
    let reply: ControlReply = serde_json::from_slice(&reply)
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, format!("control's reply: {e}")))?;
    reply.map_err(ApiError::from)
}

async fn read(http: &Http, peer: &Caller, uri: &Uri, command: Command) -> ApiResult {
    let line = format!("GET {uri}");
    ask(http, peer, line, command).await.map(Json)
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeQuery {
    node: Option<String>,
}

type Peer = Caller;

pub async fn nodes(State(http): State<Arc<Http>>, peer: Peer, uri: Uri) -> ApiResult {
    read(&http, &peer, &uri, Command::Nodes).await
}

type NodeQ = Result<Query<NodeQuery>, QueryRejection>;

/// A read about one node (`?node=N`, default this one).
async fn read_node(
    http: &Http,
    peer: Peer,
    uri: &Uri,
    q: NodeQ,
    command: fn(Option<String>) -> Command,
) -> ApiResult {
    let node = query(q)?.node;
    read(http, &peer, uri, command(node)).await
}

pub async fn tree(State(http): State<Arc<Http>>, peer: Peer, uri: Uri, q: NodeQ) -> ApiResult {
    read_node(&http, peer, &uri, q, |node| Command::Tree { node }).await
}

pub async fn agents(State(http): State<Arc<Http>>, peer: Peer, uri: Uri, q: NodeQ) -> ApiResult {
    read_node(&http, peer, &uri, q, |node| Command::Agents { node }).await
}

pub async fn stats(State(http): State<Arc<Http>>, peer: Peer, uri: Uri, q: NodeQ) -> ApiResult {
    read_node(&http, peer, &uri, q, |node| Command::Stats { node }).await
}

pub async fn world(State(http): State<Arc<Http>>, peer: Peer, uri: Uri) -> ApiResult {
    read(&http, &peer, &uri, Command::World).await
}

pub async fn missions(State(http): State<Arc<Http>>, peer: Peer, uri: Uri) -> ApiResult {
    read(&http, &peer, &uri, Command::Missions).await
}

pub async fn board(State(http): State<Arc<Http>>, peer: Peer, uri: Uri) -> ApiResult {
    read(&http, &peer, &uri, Command::Board).await
}

/// `/api/events?tenant=&node=&agent=&kind=&trace=&since_seq=&limit=`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    tenant: Option<String>,
    node: Option<String>,
    agent: Option<String>,
    kind: Option<String>,
    trace: Option<String>,
    since_seq: Option<u64>,
    since_us: Option<u64>,
    limit: Option<usize>,
}

impl EventsQuery {
    pub fn filter(self) -> EventFilter {
        EventFilter {
            tenant: self.tenant,
            node: self.node,
            agent: self.agent,
            kind: self.kind,
            trace: self.trace,
            since_us: self.since_us,
            within_ms: None,
            since_seq: self.since_seq,
            limit: self.limit.unwrap_or(DEFAULT_EVENTS),
        }
    }
}

pub async fn events(
    State(http): State<Arc<Http>>,
    peer: Peer,
    uri: Uri,
    q: Result<Query<EventsQuery>, QueryRejection>,
) -> ApiResult {
    let filter = query(q)?.filter();
    read(&http, &peer, &uri, Command::Events(filter)).await
}

/// A request body, or why it could not be read (e.g. over the size limit).
pub type Body = Result<Bytes, BytesRejection>;

fn json_body(body: &Body) -> Result<Value, ApiError> {
    let body = body
        .as_ref()
        .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("undecodable JSON body: {e}"),
        )
    })
}

async fn act(http: &Http, peer: &Caller, line: String, command: Command) -> ApiResult {
    ask(http, peer, line, command).await.map(Json)
}

/// Any command, as the console sends it: `{"line": "...", "command": ...}`.
/// The tenant and principal are the token's, whatever the body says.
pub async fn control(State(http): State<Arc<Http>>, peer: Peer, body: Body) -> ApiResult {
    #[derive(Deserialize)]
    struct Asked {
        line: String,
        command: Command,
    }
    let asked: Asked = serde_json::from_value(json_body(&body)?).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{{\"line\": ..., \"command\": ...}}: {e}"),
        )
    })?;
    act(&http, &peer, asked.line, asked.command).await
}

/// The body is a mission as the console's `mission JSON` takes it.
pub async fn submit_mission(State(http): State<Arc<Http>>, peer: Peer, body: Body) -> ApiResult {
    let goal = json_body(&body)?;
    let line = format!("mission {goal}");
    act(&http, &peer, line, Command::Mission { goal }).await
}

/// The body is `{"recipe": "<the recipe file's TOML>", "squad": "S"}`
/// (actions take JSON only); the recipe is checked as `mission --recipe
/// FILE` checks it.
pub async fn submit_recipe(State(http): State<Arc<Http>>, peer: Peer, body: Body) -> ApiResult {
    let bad = |why: String| ApiError::new(StatusCode::BAD_REQUEST, why);
    let input: RecipeInput = serde_json::from_value(json_body(&body)?).map_err(|e| {
        bad(format!(
            "a recipe ({{\"recipe\": TOML, \"squad\": ...}}): {e}"
        ))
    })?;
    let recipe = swarmd_config::recipe::Recipe::parse("the request's recipe", &input.recipe)
        .and_then(|r| r.plan_without_files("the request's recipe"))
        .map_err(|e| bad(e.to_string()))?;
    let squad = input.squad;
    let line = format!("mission --recipe ({}) --squad {squad}", recipe.name);
    let source = "the request's recipe".to_string();
    let command = Command::Recipe {
        recipe,
        squad,
        source,
    };
    act(&http, &peer, line, command).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipeInput {
    recipe: String,
    #[serde(default = "default_squad")]
    squad: String,
}

fn default_squad() -> String {
    "default".into()
}

pub async fn dlq(State(http): State<Arc<Http>>, peer: Peer, uri: Uri) -> ApiResult {
    read(&http, &peer, &uri, Command::Dlq(DlqCommand::List)).await
}

/// `{"id": "RUN/STEP"}` replays one dead letter; `{"all": true}` every one.
pub async fn dlq_replay(State(http): State<Arc<Http>>, peer: Peer, body: Body) -> ApiResult {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Which {
        id: Option<String>,
        #[serde(default)]
        all: bool,
    }
    let which: Which = serde_json::from_value(json_body(&body)?).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{{\"id\": \"RUN/STEP\"}} or {{\"all\": true}}: {e}"),
        )
    })?;
    let id = match (which.id, which.all) {
        (Some(id), false) => Some(id),
        (None, true) => None,
        _ => {
            let why = "give either an id or all = true";
            return Err(ApiError::new(StatusCode::BAD_REQUEST, why));
        }
    };
    let line = format!("dlq replay {}", id.as_deref().unwrap_or("--all"));
    act(&http, &peer, line, Command::Dlq(DlqCommand::Replay { id })).await
}

/// `{"agent": "ID"}` for one agent; `{}` (or no body) for every agent.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentChoice {
    agent: Option<String>,
}

fn agent_choice(body: &Body) -> Result<Option<String>, ApiError> {
    let value = json_body(body)?;
    let choice: AgentChoice = serde_json::from_value(value).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("expected {{\"agent\": \"ID\"}} or {{}}: {e}"),
        )
    })?;
    Ok(choice.agent)
}

pub async fn estop(State(http): State<Arc<Http>>, peer: Peer, body: Body) -> ApiResult {
    let agent = agent_choice(&body)?;
    let line = format!("estop {}", agent.as_deref().unwrap_or("--all"));
    act(&http, &peer, line, Command::Estop { agent }).await
}

pub async fn resume(State(http): State<Arc<Http>>, peer: Peer, body: Body) -> ApiResult {
    let agent = agent_choice(&body)?;
    let line = format!("resume {}", agent.as_deref().unwrap_or("--all"));
    act(&http, &peer, line, Command::Resume { agent }).await
}

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no such page or API: {}", uri.path()),
    )
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} does not take {method}", uri.path()),
    )
}
