//! `/api/live`: the dashboard's server-sent events. The world five times a
//! second; nodes, missions, the chosen node's tree and new events once a
//! second. Each is a read of the control actor as the token's tenant (the
//! control actor audits a repeated read once a window); a read that fails
//! becomes an `error` event and the stream goes on.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::OwnedSemaphorePermit;

use super::Http;
use super::api::{Caller, ask};
use super::error::ApiError;
use swarmd_control::{Command, EventFilter};

/// The world's refresh period: 5 a second.
const WORLD_EVERY: Duration = Duration::from_millis(200);
/// Everything else refreshes every this many world frames (1 s).
const SLOW_EVERY: u64 = 5;
/// New events sent per second at most (the newest, when more came).
const EVENTS_PER_POLL: usize = 200;
/// Each poll looks this far back by the node's clock (a poll is late at times).
const EVENTS_WINDOW_MS: u64 = 3_000;

/// An event's place in time order, and its identity.
type EventKey = (u64, String, u64);

fn event_key(e: &Value) -> EventKey {
    let node = e["node"].as_str().unwrap_or_default().to_string();
    (
        e["time_us"].as_u64().unwrap_or(0),
        node,
        e["seq"].as_u64().unwrap_or(0),
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveQuery {
    /// The node whose supervision tree to send; default this node.
    tree: Option<String>,
}

struct Feed {
    http: Arc<Http>,
    caller: Caller,
    tree: Option<String>,
    frame: u64,
    interval: tokio::time::Interval,
    /// Events sent that are still inside the window, by time and id.
    sent: BTreeSet<EventKey>,
    /// Pending events of this tick, sent one by one.
    queue: Vec<Event>,
    _permit: OwnedSemaphorePermit,
}

pub async fn stream(
    State(http): State<Arc<Http>>,
    caller: Caller,
    q: Result<Query<LiveQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let permit = http.live_streams.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many live streams open; close a dashboard tab",
        )
    })?;
    let mut interval = tokio::time::interval(WORLD_EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let feed = Feed {
        caller,
        http,
        tree: q.tree,
        frame: 0,
        interval,
        sent: BTreeSet::new(),
        queue: Vec::new(),
        _permit: permit,
    };
    let events = futures::stream::unfold(feed, |mut feed| async move {
        while feed.queue.is_empty() {
            feed.interval.tick().await;
            feed.queue = feed.next_frame().await;
            feed.queue.reverse();
        }
        let event = feed.queue.pop().expect("the queue is not empty");
        Some((Ok(event), feed))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

impl Feed {
    async fn read(&self, command: Command) -> Result<Value, ApiError> {
        let line = "live (dashboard)".to_string();
        ask(&self.http, &self.caller, line, command).await
    }

    async fn next_frame(&mut self) -> Vec<Event> {
        let mut out = vec![self.named("world", self.read(Command::World).await)];
        if self.frame.is_multiple_of(SLOW_EVERY) {
            out.push(self.named("nodes", self.read(Command::Nodes).await));
            out.push(self.named("missions", self.read(Command::Missions).await));
            let agents = Command::Agents { node: None };
            out.push(self.named("agents", self.read(agents).await));
            let tree = Command::Tree {
                node: self.tree.clone(),
            };
            out.push(self.named("tree", self.read(tree).await));
            let events = self.new_events().await;
            out.push(self.named("events", events));
        }
        self.frame += 1;
        out
    }

    fn named(&self, name: &str, data: Result<Value, ApiError>) -> Event {
        let (name, data) = match data {
            Ok(value) => (name, value),
            Err(e) => ("error", json!({"of": name, "error": format!("{e:?}")})),
        };
        Event::default()
            .event(name)
            .json_data(data)
            .unwrap_or_else(|_| Event::default().event("error").data("unencodable"))
    }

    /// The newest events of the last seconds not sent yet, oldest first.
    async fn new_events(&mut self) -> Result<Value, ApiError> {
        let filter = EventFilter {
            within_ms: Some(EVENTS_WINDOW_MS),
            limit: EVENTS_PER_POLL,
            ..EventFilter::default()
        };
        let found = self.read(Command::Events(filter)).await?;
        let mut fresh: Vec<Value> = found
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| !self.sent.contains(&event_key(e)))
            .collect();
        fresh.sort_by_key(event_key);
        // Keys older than the window cannot come back: forget them.
        if let Some(oldest) = found.as_array().and_then(|a| a.first()) {
            let horizon = event_key(oldest);
            self.sent = self.sent.split_off(&horizon);
        }
        self.sent.extend(fresh.iter().map(event_key));
        Ok(Value::Array(fresh))
    }
}
