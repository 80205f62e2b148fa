//! Mission Control over HTTP (DESIGN §10): the dashboard page, the JSON API
//! under `/api/` and `/metrics`. A client of the `control` actor like the
//! console: every command goes through it, so it is authorized and audited
//! the same way. The server runs under a supervised actor, `http`, that
//! binds at start (a bind that fails fails the node's start) and stops when
//! the server does, so its supervisor restarts it.

mod api;
mod auth;
mod capped;
mod error;
mod live;
mod metrics;
mod page;
pub mod tokens;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_supervisor::ChildSpec;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tracing::{info, warn};

pub use auth::{TokenError, read_token};
pub use metrics::MetricsSources;
pub use tokens::{TokenStore, tokens_dir};

/// A request body larger than this is refused (commands are small JSON).
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Live streams open at once at most; beyond, a new one is refused (503).
const MAX_LIVE_STREAMS: usize = 16;
/// Commands Mission Control has at the control actor at once at most;
/// beyond, a request is refused (503). The control actor keeps a pool of
/// its own for consoles and members, so HTTP cannot starve them.
const MAX_COMMANDS_IN_FLIGHT: usize = 8;
/// Connections open at once at most; beyond, a new one is closed at once.
pub const MAX_CONNECTIONS: usize = 256;

/// What the HTTP actor serves with.
#[derive(Clone)]
pub struct HttpArgs {
    pub node: String,
    pub listen: SocketAddr,
    /// Whether a failed bind fails the node's start (an address the operator
    /// gave); the default address is best effort (a second node on the host).
    pub required: bool,
    /// The bearer tokens a request may carry, each naming its tenant.
    pub tokens: Arc<TokenStore>,
    pub metrics: MetricsSources,
}

/// What every handler shares.
pub struct Http {
    pub node: String,
    tokens: Arc<TokenStore>,
    metrics: MetricsSources,
    live_streams: Arc<Semaphore>,
    commands: Arc<Semaphore>,
}

pub fn http_child(args: HttpArgs) -> ChildSpec {
    ChildSpec::new("http", move |sup| {
        let args = args.clone();
        async move {
            let (actor, _) = Actor::spawn_linked(None, HttpServer, args, sup).await?;
            Ok(actor.get_cell())
        }
    })
}

/// The router, for the actor and for tests that serve it themselves.
pub fn router(http: Arc<Http>) -> Router {
    Router::new()
        .route("/", get(page::index))
        .route("/metrics", get(metrics::scrape))
        .route("/api/live", get(live::stream))
        .route("/api/nodes", get(api::nodes))
        .route("/api/tree", get(api::tree))
        .route("/api/agents", get(api::agents))
        .route("/api/world", get(api::world))
        .route(
            "/api/missions",
            get(api::missions).post(api::submit_mission),
        )
        .route("/api/recipes", post(api::submit_recipe))
        .route("/api/dlq", get(api::dlq))
        .route("/api/board", get(api::board))
        .route("/api/dlq/replay", post(api::dlq_replay))
        .route("/api/events", get(api::events))
        .route("/api/stats", get(api::stats))
        .route("/api/estop", post(api::estop))
        .route("/api/resume", post(api::resume))
        .route("/api/control", post(api::control))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            http.clone(),
            auth::check,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(http)
}

pub struct HttpServer;

/// Stops the actor when the server task ends, so its supervisor restarts it.
pub enum HttpMsg {
    ServerEnded(String),
}

pub struct HttpState {
    server: Option<JoinHandle<()>>,
}

impl Actor for HttpServer {
    type Msg = HttpMsg;
    type State = HttpState;
    type Arguments = HttpArgs;

    async fn pre_start(
        &self,
        me: ActorRef<HttpMsg>,
        args: HttpArgs,
    ) -> Result<HttpState, ActorProcessingErr> {
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(listener) => listener,
            Err(e) if !args.required => {
                warn!(addr = %args.listen, error = %e, "Mission Control is off: its default address is taken (set http.listen or --http)");
                return Ok(HttpState { server: None });
            }
            Err(e) => return Err(format!("http.listen {}: {e}", args.listen).into()),
        };
        let bound = listener.local_addr()?;
        info!(addr = %bound, "Mission Control listening");
        let http = Arc::new(Http {
            node: args.node,
            tokens: args.tokens,
            metrics: args.metrics,
            live_streams: Arc::new(Semaphore::new(MAX_LIVE_STREAMS)),
            commands: Arc::new(Semaphore::new(MAX_COMMANDS_IN_FLIGHT)),
        });
        let app = router(http).into_make_service_with_connect_info::<capped::ClientAddr>();
        let listener = capped::CappedListener::new(listener, MAX_CONNECTIONS);
        let server = tokio::spawn(async move {
            let why = match axum::serve(listener, app).await {
                Ok(()) => "the server stopped".to_string(),
                Err(e) => e.to_string(),
            };
            let _ = me.cast(HttpMsg::ServerEnded(why));
        });
        Ok(HttpState {
            server: Some(server),
        })
    }

    async fn handle(
        &self,
        _: ActorRef<HttpMsg>,
        msg: HttpMsg,
        _: &mut HttpState,
    ) -> Result<(), ActorProcessingErr> {
        let HttpMsg::ServerEnded(why) = msg;
        warn!(%why, "Mission Control's server ended; its supervisor restarts it");
        Err(format!("Mission Control's server ended: {why}").into())
    }

    async fn post_stop(
        &self,
        _: ActorRef<HttpMsg>,
        state: &mut HttpState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(server) = &state.server {
            server.abort();
        }
        Ok(())
    }
}

impl ractor::Message for HttpMsg {}

/// The token of `http.token_file`, if set; checked before the node starts.
pub fn token_of(file: Option<&Path>) -> Result<Option<String>, TokenError> {
    file.map(read_token).transpose()
}
