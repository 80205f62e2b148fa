//! Mission Control over real HTTP against real `swarmd` processes: the JSON
//! API, operator actions and their audit, bad requests and `/metrics`
//! (its tokens: `tests/credentials.rs`).

mod support;

use serde_json::{Value, json};
use support::http::{get, playground, post_json, request};
use support::{Node, STARTUP, eventually, free_port};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_shows_the_boot_agents_on_the_floor_and_a_mission_completing() {
    let dir = tempfile::tempdir().unwrap();
    let (_node, addr) = playground(dir.path(), &[]).await;
    let world = get(&addr, "/api/world").await;
    assert_eq!(world.status, 200, "{}", world.text());
    let world = world.json();
    let (width, height) = (
        world["width"].as_i64().unwrap(),
        world["height"].as_i64().unwrap(),
    );
    let agents = eventually("the boot agents on the floor", || async {
        let agents = get(&addr, "/api/agents").await.json();
        let placed = agents
            .as_array()?
            .iter()
            .filter(|a| a["position"].is_string())
            .count();
        (placed >= 4).then_some(agents)
    })
    .await;
    for agent in agents.as_array().unwrap() {
        let at = agent["position"].as_str().unwrap();
        let (x, y) = at.trim_matches(['(', ')']).split_once(',').unwrap();
        let (x, y): (i64, i64) = (x.parse().unwrap(), y.parse().unwrap());
        assert!(
            (0..width).contains(&x) && (0..height).contains(&y),
            "{agent} off a {width}x{height} floor"
        );
    }
    let floor_agents = get(&addr, "/api/world").await.json()["agents"].clone();
    assert!(
        floor_agents.as_array().unwrap().len() >= 4,
        "{floor_agents}"
    );

    let sector = json!({"cover": {"sector": {"min": {"x": 0, "y": 0}, "max": {"x": 3, "y": 3}}}});
    let submitted = post_json(&addr, "/api/missions", &sector).await;
    assert_eq!(submitted.status, 200, "{}", submitted.text());
    let id = submitted.json()["mission"].as_u64().unwrap();
    let done = eventually("the mission completing", || async {
        let missions = get(&addr, "/api/missions").await.json();
        let mine = missions.as_array()?.iter().find(|m| m["id"] == id)?.clone();
        (mine["state"] == "Completed").then_some(mine)
    })
    .await;
    assert_eq!(done["progress"], 1.0, "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emergency_stop_from_the_api_halts_the_agents_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let (_node, addr) = playground(dir.path(), &[]).await;
    eventually("agents known to the planner", || async {
        let agents = get(&addr, "/api/agents").await.json();
        (agents.as_array()?.len() >= 4).then_some(())
    })
    .await;
    let stopped = post_json(&addr, "/api/estop", &json!({})).await;
    assert_eq!(stopped.status, 200, "{}", stopped.text());
    let targets = stopped.json()["agents"].as_array().unwrap().len();
    assert!(targets >= 4, "{}", stopped.text());
    eventually("every agent halted", || async {
        let agents = get(&addr, "/api/agents").await.json();
        agents
            .as_array()?
            .iter()
            .all(|a| a["halted"] == true)
            .then_some(())
    })
    .await;
    let resumed = post_json(&addr, "/api/resume", &json!({})).await;
    assert_eq!(resumed.status, 200, "{}", resumed.text());
    let audit = eventually("both actions audited", || async {
        let events = get(&addr, "/api/events?kind=audit&limit=100").await.json();
        let commands: Vec<Value> = events
            .as_array()?
            .iter()
            .map(|e| e["detail"]["Audit"].clone())
            .collect();
        let has = |c: &str| {
            commands
                .iter()
                .any(|a| a["command"] == c && a["outcome"] == "Done")
        };
        (has("estop --all") && has("resume --all")).then_some(commands)
    })
    .await;
    let by_http = audit
        .iter()
        .all(|a| a["principal"].as_str().unwrap() == "system/http@127.0.0.1");
    assert!(by_http, "{audit:?}");
    eventually("every agent moving again", || async {
        let agents = get(&addr, "/api/agents").await.json();
        agents
            .as_array()?
            .iter()
            .all(|a| a["halted"] == false)
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_a_json_4xx_and_the_node_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let (node, addr) = playground(dir.path(), &[]).await;
    let garbage = b"{\"cover\": nope".as_slice();
    let json_type = [("Content-Type", "application/json")];
    let cases = [
        ("POST", "/api/missions", &json_type[..], Some(garbage), 400),
        (
            "POST",
            "/api/missions",
            &json_type[..],
            Some(b"{\"dig\": {}}".as_slice()),
            400,
        ),
        ("POST", "/api/estop", &[][..], Some(b"{}".as_slice()), 415),
        (
            "POST",
            "/api/estop",
            &json_type[..],
            Some(b"{\"agent\": 7}".as_slice()),
            400,
        ),
        (
            "POST",
            "/api/resume",
            &json_type[..],
            Some(b"{\"agent\": \"nobody\"}".as_slice()),
            400,
        ),
        ("GET", "/api/estop", &[][..], None, 405),
        ("GET", "/api/events?limit=many", &[][..], None, 400),
        ("GET", "/api/events?colour=red", &[][..], None, 400),
        ("GET", "/api/events?trace=xyz", &[][..], None, 400),
        ("GET", "/api/nope", &[][..], None, 404),
    ];
    let bearer = format!("Bearer {}", node.http_token());
    for (method, path, headers, body, status) in cases {
        let mut headers = headers.to_vec();
        headers.push(("Authorization", bearer.as_str()));
        let answer = request(&addr, method, path, &headers, body).await;
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.text());
        let error = answer.json();
        assert!(
            error["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{method} {path}: {error}"
        );
    }
    let big = vec![b'x'; 128 * 1024];
    let authorized = [json_type[0], ("Authorization", bearer.as_str())];
    let answer = request(&addr, "POST", "/api/missions", &authorized, Some(&big)).await;
    assert_eq!(answer.status, 413, "{}", answer.text());
    let nodes = get(&addr, "/api/nodes").await;
    assert_eq!(nodes.status, 200, "{}", nodes.text());
    assert_eq!(nodes.json()[0]["state"], "up");
    // The node's own mesh session, as members link to it.
    let mesh = &nodes.json()[0]["mesh"];
    assert_eq!(mesh["connected"], true, "{mesh}");
    assert!(
        mesh["id"].as_str().is_some_and(|id| !id.is_empty()),
        "{mesh}"
    );
    assert!(
        mesh["locators"][0]
            .as_str()
            .is_some_and(|l| l.starts_with("tcp/127.0.0.1:")),
        "{mesh}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_valid_prometheus_text_and_move_as_the_swarm_works() {
    let dir = tempfile::tempdir().unwrap();
    let (_node, addr) = playground(dir.path(), &[]).await;
    let first = scrape(&addr).await;
    for family in [
        "swarmd_ledger_events_committed_total",
        "swarmd_ledger_commit_seconds_count",
        "swarmd_reflex_tick_lateness_seconds_bucket",
        "swarmd_layer_ticks_handled_total",
        "swarmd_supervisor_restarts_total",
        "swarmd_missions",
        "swarmd_process_resident_memory_bytes",
        "swarmd_process_cpu_seconds_total",
        "swarmd_gateway_frames_in_total",
    ] {
        assert!(
            first.iter().any(|(name, _)| name == family),
            "{family} missing"
        );
    }
    let committed = |samples: &[(String, f64)]| {
        samples
            .iter()
            .find(|(n, _)| n == "swarmd_ledger_events_committed_total")
            .map(|(_, v)| *v)
            .unwrap()
    };
    let before = committed(&first);
    let later = eventually("the ledger counter moving", || async {
        let now = scrape(&addr).await;
        (committed(&now) > before).then_some(now)
    })
    .await;
    let ticks = |samples: &[(String, f64)]| {
        samples
            .iter()
            .filter(|(n, _)| n == "swarmd_layer_ticks_handled_total")
            .map(|(_, v)| *v)
            .sum::<f64>()
    };
    assert!(ticks(&later) > ticks(&first), "reflex ticks counted");
}

/// `/metrics` as (name, value) samples, checked line by line against the
/// text format: every sample belongs to a declared family, every value parses.
async fn scrape(addr: &str) -> Vec<(String, f64)> {
    let answer = get(addr, "/metrics").await;
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = answer.text();
    let parsed = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .unwrap_or_else(|e| panic!("unparsable: {e}\n{text}"));
    let mut declared = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(declared.insert(name.to_string()), "{name} declared twice");
        } else if !line.starts_with('#') && !line.is_empty() {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
            let name = series.split('{').next().unwrap();
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{line}"
            );
            let family = ["_bucket", "_sum", "_count", "_total"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| declared.contains(*f)))
                .unwrap_or(name);
            assert!(
                declared.contains(family) || declared.contains(name),
                "{line}: no # TYPE"
            );
            assert!(value == "+Inf" || value.parse::<f64>().is_ok(), "{line}");
        }
    }
    assert!(parsed.samples.len() > 20, "{text}");
    // A histogram's +Inf bucket is its count.
    for line in text.lines().filter(|l| l.contains("_bucket{le=\"+Inf\"}")) {
        let (series, inf) = line.rsplit_once(' ').unwrap();
        let family = series.split("_bucket").next().unwrap();
        let count = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{family}_count ")))
            .unwrap_or_else(|| panic!("no {family}_count"));
        assert_eq!(inf, count, "{family}");
    }
    let samples: Vec<(String, f64)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.split('{').next()?.to_string(), value.parse().ok()?))
        })
        .collect();
    samples
}

/// A mission submitted on the cloud and worked by an edge's agent is one
/// trace: the cloud's planning records and the edge's agent records carry
/// the mission's trace id, each with a span of its own, and `trace ID` on
/// the cloud prints them in order, across both nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mission_is_one_trace_from_the_clouds_plan_to_the_edges_actions() {
    use support::console::{ENV, console, json_lines};
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let cloud_args = ["--name", "cloud", "--role", "cloud", "--http", &addr];
    let mut cloud = Node::start(&dir.path().join("cloud"), &cloud_args, &ENV);
    cloud.ready().await;
    let edge_args = ["--name", "edge-1", "--join", &cloud.listen];
    let mut edge = Node::start(&dir.path().join("edge"), &edge_args, &ENV);
    edge.ready().await;
    eventually("edge-1's agents known to the planner", || async {
        let agents = get(&addr, "/api/agents").await.json();
        let on_edge = agents
            .as_array()?
            .iter()
            .filter(|a| a["node"] == "edge-1")
            .count();
        (on_edge >= 4).then_some(())
    })
    .await;
    let sector = json!({"cover": {"sector": {"min": {"x": 0, "y": 0}, "max": {"x": 3, "y": 3}}}});
    let id = post_json(&addr, "/api/missions", &sector).await.json()["mission"].clone();
    let trace = eventually("the mission completed", || async {
        let missions = get(&addr, "/api/missions").await.json();
        let mine = missions.as_array()?.iter().find(|m| m["id"] == id)?.clone();
        (mine["state"] == "Completed").then(|| mine["trace_id"].as_str().unwrap().to_string())
    })
    .await;
    assert!(
        trace.len() == 32
            && trace
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{trace}"
    );
    // The logs name the trace too: the cloud's assignment as a traceparent,
    // the edge's end of the task by its trace id.
    let in_trace =
        |v: &Value, key: &str| v[key].as_str().is_some_and(|t| t.contains(trace.as_str()));
    cloud
        .wait_for("the assignment logged in the trace", STARTUP, |v| {
            v["message"] == "task assigned" && in_trace(v, "traceparent")
        })
        .await;
    edge.wait_for("the task's end logged in the trace", STARTUP, |v| {
        v["message"] == "task finished" && in_trace(v, "trace_id")
    })
    .await;
    let command = format!("trace {trace}");
    let events = eventually("the edge's records of the mission at the cloud", || async {
        let (code, out, _) = console(&cloud.listen, &["--json", "-c", &command]).await;
        let events = json_lines(&out);
        let from_edge = events.iter().any(|e| {
            e["node"] == "edge-1"
                && e["detail"]["Decision"]["rationale"]
                    .as_str()
                    .is_some_and(|r| r.contains("finished: Done"))
        });
        (code == 0 && from_edge).then_some(events)
    })
    .await;
    assert!(
        events.iter().all(|e| e["trace_id"] == trace.as_str()),
        "one trace"
    );
    let planned = events
        .iter()
        .any(|e| e["node"] == "cloud" && e["kind"] == "mission");
    assert!(planned, "the cloud's plan in the trace: {events:?}");
    let spans: std::collections::BTreeSet<&str> = events
        .iter()
        .map(|e| e["span_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        spans.len(),
        events.len(),
        "a span of its own for every record"
    );
    // Parent links: the cloud's plan is the root, its assignments children
    // of it, and everything the edge recorded a child of an assignment.
    let roots: Vec<&Value> = events
        .iter()
        .filter(|e| e["parent_span_id"].is_null())
        .collect();
    assert_eq!(roots.len(), 1, "one root: {events:?}");
    assert_eq!(
        (&roots[0]["node"], &roots[0]["kind"]),
        (&json!("cloud"), &json!("mission"))
    );
    let assignments: std::collections::BTreeSet<&str> = events
        .iter()
        .filter(|e| e["detail"]["Task"]["change"].get("Assigned").is_some())
        .map(|e| e["span_id"].as_str().unwrap())
        .collect();
    assert!(!assignments.is_empty(), "{events:?}");
    for event in events.iter().filter(|e| e["node"] == "edge-1") {
        let parent = event["parent_span_id"].as_str().unwrap_or_default();
        assert!(
            assignments.contains(parent),
            "an edge record outside any assignment: {event}"
        );
    }
    let times: Vec<u64> = events
        .iter()
        .map(|e| e["time_us"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
    let (code, out, _) = console(&edge.listen, &["--json", "-c", &command]).await;
    assert_eq!(code, 0);
    assert!(
        json_lines(&out).iter().any(|e| e["node"] == "edge-1"),
        "the edge's own ledger: {out}"
    );
}
