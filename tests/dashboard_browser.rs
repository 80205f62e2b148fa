//! The dashboard in a real headless Chromium against a real node: the map
//! shows every agent and they move, the event feed grows, and an emergency
//! stop clicked on the page stops them; a domain's agents are drawn from
//! the views they report. Screenshots land in `target/tmp/dashboard.png`
//! and `target/tmp/domains.png` for a reviewer.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use support::browser::Browser;
use support::console::{ENV, console};
use support::http::get;
use support::{Node, STARTUP, free_port};

const LIMIT: Duration = Duration::from_secs(60);

/// Agent id → cell, as the page's SVG draws it.
async fn drawn(browser: &Browser) -> BTreeMap<String, (i64, i64)> {
    let script = "return Array.from(document.querySelectorAll('#agents g.agent'))
        .map(g => [g.dataset.id, Number(g.dataset.x), Number(g.dataset.y)]);";
    let rows = browser.eval(script).await;
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                (r[1].as_i64().unwrap(), r[2].as_i64().unwrap()),
            )
        })
        .collect()
}

async fn number(browser: &Browser, script: &str) -> u64 {
    browser.eval(script).await.as_u64().unwrap_or(0)
}

async fn frames(browser: &Browser) -> u64 {
    number(browser, "return Number(document.body.dataset.frames);").await
}

/// Waits, polling the page, until `ok` holds of what `look` returns.
async fn until<T>(what: &str, mut look: impl AsyncFnMut() -> T, ok: impl Fn(&T) -> bool) -> T {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let seen = look().await;
        if ok(&seen) {
            return seen;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_draws_the_swarm_live_and_its_emergency_stop_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let http = format!("127.0.0.1:{}", free_port());
    let mut node = Node::start(dir.path(), &["--http", &http], &[]);
    node.ready().await;
    node.wait_for("Mission Control", STARTUP, |v| {
        v["message"] == "Mission Control listening"
    })
    .await;
    let browser = Browser::start().await;
    browser.open(&format!("http://{http}/")).await;
    browser.sign_in(&node.http_token()).await;

    let agents = get(&http, "/api/world").await.json()["agents"]
        .as_array()
        .map_or(0, Vec::len);
    let first = until(
        "every agent drawn",
        async || drawn(&browser).await,
        |d| d.len() >= 4.max(agents),
    )
    .await;
    until(
        "the agents moving on the map",
        async || drawn(&browser).await,
        |now| {
            now.iter()
                .any(|(id, at)| first.get(id).is_some_and(|was| was != at))
        },
    )
    .await;
    let feed = "return document.querySelectorAll('#feed .event').length;";
    let early = number(&browser, feed).await;
    until(
        "the event feed growing",
        async || number(&browser, feed).await,
        |n| *n > early,
    )
    .await;

    // The page as an operator reads it at 1400 px: the map fills its panel,
    // no table scrolls sideways, and events read as sentences with their
    // JSON a click away.
    let layout = browser
        .eval(
            "const panel = document.getElementById('floor-panel').getBoundingClientRect();
             const floor = document.getElementById('floor').getBoundingClientRect();
             const sideways = ['floor', 'missions', 'nodes'].filter((id) => {
               const s = document.getElementById(id).parentElement;
               return s.scrollWidth > s.clientWidth + 1;
             });
             return { width: floor.width / panel.width, height: floor.height / panel.height, sideways,
                      sentences: Array.from(document.querySelectorAll('#feed .event summary')).map((s) => s.textContent) };",
        )
        .await;
    assert!(layout["width"].as_f64().unwrap() > 0.9, "{layout}");
    assert!(layout["height"].as_f64().unwrap() > 0.75, "{layout}");
    assert_eq!(layout["sideways"], serde_json::json!([]), "{layout}");
    let sentences = layout["sentences"].as_array().unwrap();
    assert!(!sentences.is_empty(), "{layout}");
    assert!(
        sentences
            .iter()
            .all(|s| !s.as_str().unwrap().contains("{\"")),
        "no raw JSON in the feed: {layout}"
    );
    browser.click("#feed .event summary").await;
    let json = until(
        "the first event's JSON shown on a click",
        async || {
            browser
                .eval("return document.querySelector('#feed .event pre').textContent;")
                .await
        },
        |v: &Value| v.as_str().is_some_and(|t| !t.is_empty()),
    )
    .await;
    let event: Value = serde_json::from_str(json.as_str().unwrap()).unwrap();
    assert!(
        event["kind"].is_string() && event["detail"].is_object(),
        "{event}"
    );

    // A mission's row filters the feed to its trace: the same trace `trace ID` prints.
    let active = "#missions tbody tr[data-state=\"Active\"]";
    let count = format!("return document.querySelectorAll('{active}').length;");
    until(
        "an active mission listed",
        async || number(&browser, &count).await,
        |n| *n > 0,
    )
    .await;
    browser.click(active).await;
    let trace = browser
        .eval("return document.getElementById('f-trace').value;")
        .await;
    let trace = trace.as_str().unwrap().to_string();
    assert_eq!(
        trace.len(),
        32,
        "the mission's trace id in the filter: {trace:?}"
    );
    let visible = "return Array.from(document.querySelectorAll('#feed .event')).filter(d => !d.hidden).map(d => d.dataset.trace);";
    let shown = until(
        "the mission's events in the feed",
        async || browser.eval(visible).await,
        |v: &Value| v.as_array().is_some_and(|a| !a.is_empty()),
    )
    .await;
    assert!(
        shown
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t == trace.as_str()),
        "{shown}"
    );
    browser
        .eval("document.getElementById('f-trace').value = ''; refilter(); return 0;")
        .await;

    browser.click("#estop-all").await;
    until(
        "the page's action answered",
        async || {
            browser
                .eval("return document.body.dataset.lastAction || '';")
                .await
        },
        |v| v == "ok",
    )
    .await;
    until(
        "every agent halted",
        async || get(&http, "/api/agents").await.json(),
        |agents: &Value| {
            agents
                .as_array()
                .is_some_and(|a| a.len() >= 4 && a.iter().all(|a| a["halted"] == true))
        },
    )
    .await;
    // Halted, the map stands still: ten more frames with no agent moved.
    let stopped = drawn(&browser).await;
    let at = frames(&browser).await;
    until(
        "ten more frames",
        async || frames(&browser).await,
        |f| *f >= at + 10,
    )
    .await;
    assert_eq!(
        drawn(&browser).await,
        stopped,
        "an agent moved after the emergency stop"
    );
    let halted_drawn = number(
        &browser,
        "return document.querySelectorAll('#agents g.agent.halted').length;",
    )
    .await;
    assert_eq!(
        halted_drawn as usize,
        stopped.len(),
        "the page marks every agent halted"
    );

    let png = browser.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    std::fs::write(&path, &png).unwrap();
    println!("screenshot: {}", path.display());
}

/// CPU seconds `pid` has used so far (utime + stime).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let (_, rest) = stat.rsplit_once(')').unwrap();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// The server's cost of one open dashboard with 50 agents on the
/// narrow-aisle map, and the page's update rate. A measurement, not a gate:
/// `cargo test --release --test dashboard_browser -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run by hand"]
async fn dashboard_cost_with_50_agents() {
    const WINDOW: Duration = Duration::from_secs(20);
    let dir = tempfile::tempdir().unwrap();
    let map = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/maps/warehouse-narrow.map"
    );
    let config = support::write_file(
        dir.path(),
        "fifty.toml",
        &format!(
            "[agents]\nboot = 50\nmax_agents = 64\n[world]\nmap = {map:?}\n\
             [missions]\ndemo = false\ncontinuous = true\n"
        ),
    );
    let http = format!("127.0.0.1:{}", free_port());
    let args = ["--http", &http, "--config", config.to_str().unwrap()];
    let mut node = Node::start(&dir.path().join("data"), &args, &[]);
    node.ready().await;
    node.wait_for("Mission Control", STARTUP, |v| {
        v["message"] == "Mission Control listening"
    })
    .await;
    let pid = node.child.id().unwrap();
    until(
        "50 agents on the floor",
        async || get(&http, "/api/world").await.json(),
        |w: &Value| w["agents"].as_array().is_some_and(|a| a.len() == 50),
    )
    .await;
    let before = cpu_seconds(pid);
    tokio::time::sleep(WINDOW).await;
    let idle = (cpu_seconds(pid) - before) / WINDOW.as_secs_f64();

    let browser = Browser::start().await;
    browser.open(&format!("http://{http}/")).await;
    browser.sign_in(&node.http_token()).await;
    until(
        "50 agents drawn",
        async || drawn(&browser).await,
        |d| d.len() == 50,
    )
    .await;
    let (cpu0, frames0) = (cpu_seconds(pid), frames(&browser).await);
    tokio::time::sleep(WINDOW).await;
    let watched = (cpu_seconds(pid) - cpu0) / WINDOW.as_secs_f64();
    let rate = (frames(&browser).await - frames0) as f64 / WINDOW.as_secs_f64();
    let png = browser.screenshot().await;
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-50.png");
    std::fs::write(&path, &png).unwrap();
    println!("screenshot: {}", path.display());
    println!(
        "summary: agents=50 frames_per_s={rate:.2} node_cpu_pct_no_browser={:.1} node_cpu_pct_one_browser={:.1} dashboard_cpu_pct={:.1}",
        idle * 100.0,
        watched * 100.0,
        (watched - idle) * 100.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_draws_a_domain_from_the_views_its_agents_report() {
    let dir = tempfile::tempdir().unwrap();
    let http = format!("127.0.0.1:{}", free_port());
    let mut node = Node::start(dir.path(), &["--http", &http], &ENV);
    node.ready().await;
    for (id, home) in [("d1", "40,2"), ("d2", "100,2")] {
        let line = format!(r#"spawn drone {{"id": "{id}", "params": {{"home": "{home}"}}}}"#);
        let (code, out, err) = console(&node.listen, &["-c", &line]).await;
        assert_eq!(code, 0, "{out}{err}");
    }
    let browser = Browser::start().await;
    browser.open(&format!("http://{http}/")).await;
    browser.sign_in(&node.http_token()).await;
    let marks = "return Array.from(document.querySelectorAll('#domains svg[data-domain=drone] g.mark'))
        .map(g => [g.dataset.agent, g.querySelector('.body').getAttribute('points'), g.classList.contains('halted')]);";
    let before = until(
        "both drones drawn in the drone panel",
        async || browser.eval(marks).await,
        |m| m.as_array().is_some_and(|a| a.len() == 2),
    )
    .await;
    let mission = r#"mission {"task": {"kind": "deliver", "payload": {"to": [70, 90]}}}"#;
    let (code, out, err) = console(&node.listen, &["-c", mission]).await;
    assert_eq!(code, 0, "{out}{err}");
    until(
        "a drone flying on the map",
        async || browser.eval(marks).await,
        |now| now.as_array().is_some_and(|a| a.len() == 2) && *now != before,
    )
    .await;
    let caption = browser
        .eval("return document.querySelector('#domains figcaption').textContent;")
        .await;
    assert!(
        caption.as_str().unwrap().starts_with("drone: 2 agents"),
        "{caption}"
    );
    let scroll = "document.getElementById('domains-panel').scrollIntoView(); return true;";
    browser.eval(scroll).await;
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("domains.png");
    std::fs::write(&path, browser.screenshot().await).unwrap();
    browser.click("#estop-all").await;
    until(
        "both drones drawn held after the emergency stop",
        async || browser.eval(marks).await,
        |m| {
            m.as_array()
                .is_some_and(|a| a.len() == 2 && a.iter().all(|r| r[2] == true))
        },
    )
    .await;
}
