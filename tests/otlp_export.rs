//! OTLP export against real processes: a cloud and an edge send their spans
//! to an OpenTelemetry collector running in the test (gRPC), where a mission
//! is one trace as it is in the ledgers; a collector that never answers
//! costs retries, never the swarm's work or its shutdown.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fake_opentelemetry_collector::{ExportedSpan, FakeCollectorServer};
use serde_json::{Value, json};
use support::console::{ENV, console, json_lines};
use support::http::{get, post_json};
use support::{Node, eventually, free_port, write_file};

const LIMIT: Duration = Duration::from_secs(60);

/// The fake collector, drained all the time: its queue holds 64 spans and
/// holds up the exporter's call while full.
struct Collector {
    endpoint: String,
    spans: Arc<Mutex<Vec<ExportedSpan>>>,
    drain: tokio::task::JoinHandle<()>,
}

impl Collector {
    async fn start() -> Self {
        let mut server = FakeCollectorServer::start()
            .await
            .expect("the collector listens");
        let endpoint = server.endpoint();
        let spans = Arc::new(Mutex::new(Vec::new()));
        let sink = spans.clone();
        let drain = tokio::spawn(async move {
            loop {
                let got = server.exported_spans(1, Duration::from_millis(50)).await;
                sink.lock().unwrap().extend(got);
            }
        });
        Self {
            endpoint,
            spans,
            drain,
        }
    }

    fn spans_in(&self, trace: &str) -> Vec<ExportedSpan> {
        let spans = self.spans.lock().unwrap();
        spans
            .iter()
            .filter(|s| s.trace_id == trace)
            .cloned()
            .collect()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.drain.abort();
    }
}

/// A span attribute's value. The collector keeps each as the Debug text of
/// its OTLP value, e.g. `Some(AnyValue { value: Some(StringValue("cloud")) })`.
fn attr(span: &ExportedSpan, key: &str) -> Option<String> {
    let text = span.attributes.get(key)?;
    let value = text
        .strip_prefix("Some(AnyValue { value: Some(")?
        .strip_suffix(") })")?;
    let (kind, inner) = value.split_once('(')?;
    let inner = inner.strip_suffix(')')?;
    match kind {
        "StringValue" => serde_json::from_str(inner).ok(),
        _ => Some(inner.to_string()),
    }
}

fn node_of(span: &ExportedSpan) -> String {
    attr(span, "swarmd.node").unwrap_or_default()
}

/// A cloud (with Mission Control on `http`) and an edge with its agents
/// known to the planner, both exporting to `endpoint`.
async fn cloud_and_edge(dir: &std::path::Path, http: &str, endpoint: &str) -> (Node, Node) {
    let otlp = ["--otlp-endpoint", endpoint];
    let mut cloud_args = vec!["--name", "cloud", "--role", "cloud", "--http", http];
    cloud_args.extend(otlp);
    let mut cloud = Node::start(&dir.join("cloud"), &cloud_args, &ENV);
    cloud.ready().await;
    let mut edge_args = vec!["--name", "edge-1", "--join", &cloud.listen, "--http", "off"];
    edge_args.extend(otlp);
    let mut edge = Node::start(&dir.join("edge"), &edge_args, &ENV);
    edge.ready().await;
    eventually("edge-1's agents known to the planner", || async {
        let agents = get(http, "/api/agents").await.json();
        let on_edge = agents.as_array()?;
        (on_edge.iter().filter(|a| a["node"] == "edge-1").count() >= 4).then_some(())
    })
    .await;
    (cloud, edge)
}

/// Submits a small cover mission and waits for it to complete; its trace id.
async fn completed_mission(http: &str) -> String {
    let sector = json!({"cover": {"sector": {"min": {"x": 0, "y": 0}, "max": {"x": 3, "y": 3}}}});
    let id = post_json(http, "/api/missions", &sector).await.json()["mission"].clone();
    eventually("the mission completed", || async {
        let missions = get(http, "/api/missions").await.json();
        let mine = missions.as_array()?.iter().find(|m| m["id"] == id)?.clone();
        (mine["state"] == "Completed").then(|| mine["trace_id"].as_str().unwrap().to_string())
    })
    .await
}

/// The trace is whole in the collector: one root (the cloud's plan), every
/// other span's parent exported too, and the edge's end of its task in it.
fn whole(spans: &[ExportedSpan]) -> bool {
    let ids: BTreeSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let parents_known = spans
        .iter()
        .all(|s| s.parent_span_id.is_empty() || ids.contains(s.parent_span_id.as_str()));
    let edge_finished = spans.iter().any(|s| {
        node_of(s) == "edge-1" && attr(s, "rationale").is_some_and(|r| r.contains("finished: Done"))
    });
    parents_known && edge_finished
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mission_is_one_trace_in_the_collector_from_the_clouds_plan_to_the_edges_actions() {
    let collector = Collector::start().await;
    let dir = tempfile::tempdir().unwrap();
    let http = format!("127.0.0.1:{}", free_port());
    let (cloud, _edge) = cloud_and_edge(dir.path(), &http, &collector.endpoint).await;
    let trace = completed_mission(&http).await;
    // The ledger holds the same spans: every event of the trace at the
    // cloud (its own and the edge's, forwarded) is exported, in time.
    let command = format!("trace {trace}");
    let (spans, recorded) = eventually("the whole trace exported", || async {
        let spans = collector.spans_in(&trace);
        let (code, out, err) = console(&cloud.listen, &["--json", "-c", &command]).await;
        assert_eq!(code, 0, "{err}");
        let recorded = json_lines(&out);
        let exported: BTreeSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
        let all_in = recorded
            .iter()
            .all(|e| exported.contains(e["span_id"].as_str().unwrap()));
        (whole(&spans) && all_in).then(|| (spans.clone(), recorded))
    })
    .await;
    assert!(recorded.iter().any(|e| e["node"] == "edge-1"));

    let roots: Vec<&ExportedSpan> = spans
        .iter()
        .filter(|s| s.parent_span_id.is_empty())
        .collect();
    assert_eq!(roots.len(), 1, "one root: {roots:?}");
    assert_eq!(
        (roots[0].name.as_str(), node_of(roots[0]).as_str()),
        ("mission.planned", "cloud")
    );
    // Parent links cross the nodes: the edge's records of the task are
    // children of the cloud's assignment of it.
    let assignments: BTreeMap<&str, &ExportedSpan> = spans
        .iter()
        .filter(|s| s.name == "task.assigned")
        .map(|s| (s.span_id.as_str(), s))
        .collect();
    assert!(
        assignments.values().all(|a| node_of(a) == "cloud"
            && a.parent_span_id == roots[0].span_id
            && attr(a, "agent").is_some()),
        "assignments are the cloud's, children of the plan: {assignments:?}"
    );
    let on_edge: Vec<&ExportedSpan> = spans.iter().filter(|s| node_of(s) == "edge-1").collect();
    assert!(!on_edge.is_empty());
    for span in &on_edge {
        let assignment = assignments
            .get(span.parent_span_id.as_str())
            .unwrap_or_else(|| panic!("an edge span outside any assignment: {span:?}"));
        assert_eq!(
            attr(span, "agent"),
            attr(assignment, "agent"),
            "the agent it was assigned to recorded it"
        );
    }

    // Under the same parents.
    let exported: BTreeMap<&str, &str> = spans
        .iter()
        .map(|s| (s.span_id.as_str(), s.parent_span_id.as_str()))
        .collect();
    for event in &recorded {
        let span = event["span_id"].as_str().unwrap();
        let parent = event["parent_span_id"].as_str().unwrap_or("");
        assert_eq!(
            exported.get(span),
            Some(&parent),
            "exported under another parent: {event}"
        );
    }
}

/// A collector that accepts connections and never answers.
fn black_hole() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    (listener, endpoint)
}

async fn stats(node: &Node) -> Value {
    let (code, out, err) = console(&node.listen, &["--json", "-c", "stats"]).await;
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(out.trim()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_never_answers_costs_retries_not_the_swarm() {
    let (_hole, endpoint) = black_hole();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[telemetry]\notlp_endpoint = \"{endpoint}\"\nexport_timeout_ms = 500\n\n[node]\nshutdown_timeout_ms = 5000\n"
    );
    let config = write_file(dir.path(), "node.toml", &text);
    let http = format!("127.0.0.1:{}", free_port());
    let args = ["--config", config.to_str().unwrap(), "--http", &http];
    let mut node = Node::start(&dir.path().join("node"), &args, &ENV);
    node.ready().await;
    eventually("agents known to the planner", || async {
        let agents = get(&http, "/api/agents").await.json();
        (agents.as_array()?.len() >= 4).then_some(())
    })
    .await;
    // Traced work to export: a mission planned and run on this node.
    let trace = completed_mission(&http).await;
    let failing = node
        .wait_for("the export failure logged", LIMIT, |v| {
            v["message"] == "OTLP export failed; the spans wait in the ledger"
        })
        .await;
    assert!(
        failing["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{failing}"
    );
    let before = stats(&node).await;
    assert!(
        before["otlp"]["failed_exports"].as_u64() >= Some(1),
        "{before}"
    );
    assert_eq!(before["otlp"]["exported"], 0, "{before}");
    // The swarm goes on recording meanwhile, and a second mission completes.
    let second = completed_mission(&http).await;
    assert_ne!(second, trace);
    let after = stats(&node).await;
    assert!(
        after["ledger"]["committed"].as_u64() > before["ledger"]["committed"].as_u64(),
        "recording went on: {before} -> {after}"
    );
    assert!(
        after["otlp"]["lag"].as_u64() >= Some(1),
        "the spans wait in the ledger: {after}"
    );

    let asked = tokio::time::Instant::now();
    node.signal(libc::SIGTERM);
    let status = node.exit().await;
    let took = asked.elapsed();
    assert!(status.success(), "a clean shutdown: {status:?}");
    assert!(
        took < Duration::from_secs(5),
        "shutdown within its timeout: {took:?}"
    );
}
