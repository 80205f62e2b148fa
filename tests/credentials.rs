//! Mission Control needs a token on every bind, and a token file must be
//! private. A tenant is a credential, not a label: a tenant's token sees and acts
//! only within its tenant whatever its requests say; a cookie holder's
//! requests are credited to the session they came on; a burst of HTTP
//! reads neither starves the console nor floods the audit.

mod support;

use serde_json::{Value, json};
use support::console::{ENV, console};
use support::http::{get, get_as, playground, post_json, post_json_as, request};
use support::{Node, eventually, free_port};

/// A `both` node serving tenants `default` (its boot agents) and `acme`
/// (one agent spawned here), with Mission Control on loopback.
async fn two_tenants(dir: &std::path::Path) -> (Node, String) {
    let config = support::write_file(
        dir,
        "node.toml",
        "[node]\ntenants = [\"default\", \"acme\"]\n",
    );
    let http = format!("127.0.0.1:{}", free_port());
    let args = ["--config", config.to_str().unwrap(), "--http", &http];
    let mut node = Node::start(&dir.join("data"), &args, &ENV);
    node.ready().await;
    let spawn = r#"spawn grid {"id": "acme-1", "tenant": "acme", "params": {"start": "2,2"}}"#;
    let (code, out, err) = console(&node.listen, &["-c", spawn]).await;
    assert_eq!(code, 0, "{out}{err}");
    (node, http)
}

async fn create_token(node: &Node, tenant: &str) -> String {
    let data = node.data_dir.to_str().unwrap();
    let args = ["token", "create", "--tenant", tenant, "--data-dir", data];
    let (status, out, err) = support::run(&args, &[]).await;
    assert!(status.success(), "{err}");
    assert!(err.contains(&format!("tokens/{tenant}.token")), "{err}");
    out.trim().to_string()
}

fn ids(agents: &Value) -> Vec<String> {
    agents
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {agents}"))
        .iter()
        .filter_map(|a| a["id"].as_str().map(str::to_string))
        .collect()
}

fn halted(agents: &Value, id: &str) -> Option<bool> {
    agents
        .as_array()?
        .iter()
        .find(|a| a["id"] == id)
        .and_then(|a| a["halted"].as_bool())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_token_sees_and_stops_only_its_own_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let (node, http) = two_tenants(dir.path()).await;
    let acme = create_token(&node, "acme").await;

    let everyone = eventually("both tenants' agents known", || async {
        let agents = get(&http, "/api/agents").await.json();
        let ids = ids(&agents);
        (ids.contains(&"acme-1".to_string()) && ids.contains(&"swarmd-1".to_string()))
            .then_some(agents)
    })
    .await;
    assert!(everyone.as_array().unwrap().len() >= 5, "{everyone}");

    let seen = get_as(&http, &acme, "/api/agents").await;
    assert_eq!(seen.status, 200, "{}", seen.text());
    assert_eq!(ids(&seen.json()), ["acme-1"], "{}", seen.text());
    let events = get_as(&http, &acme, "/api/events?limit=500").await.json();
    let events = events.as_array().unwrap();
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e["tenant"] == "acme"), "{events:?}");
    for refused in [
        "/api/events?tenant=default",
        "/api/missions",
        "/api/board",
        "/metrics",
    ] {
        let answer = get_as(&http, &acme, refused).await;
        assert_eq!(answer.status, 403, "{refused}: {}", answer.text());
    }

    // Another tenant's agent is out of reach, by name or by "all".
    let other = post_json_as(&http, &acme, "/api/estop", &json!({"agent": "swarmd-1"})).await;
    assert!(
        matches!(other.status, 400 | 403 | 404),
        "{}: {}",
        other.status,
        other.text()
    );
    let all = post_json_as(&http, &acme, "/api/estop", &json!({})).await;
    assert_eq!(all.status, 200, "{}", all.text());
    assert_eq!(all.json()["agents"], json!(["acme-1"]), "{}", all.text());
    eventually("acme-1 halted", || async {
        let agents = get(&http, "/api/agents").await.json();
        (halted(&agents, "acme-1") == Some(true)).then_some(())
    })
    .await;
    let agents = get(&http, "/api/agents").await.json();
    assert_eq!(halted(&agents, "swarmd-1"), Some(false), "{agents}");

    // The system token can.
    let system = post_json(&http, "/api/estop", &json!({"agent": "swarmd-1"})).await;
    assert_eq!(system.status, 200, "{}", system.text());
    eventually("swarmd-1 halted by the system token", || async {
        let agents = get(&http, "/api/agents").await.json();
        (halted(&agents, "swarmd-1") == Some(true)).then_some(())
    })
    .await;

    // A revoked token is refused at the next request.
    let data = node.data_dir.to_str().unwrap();
    let revoke = ["token", "revoke", "--tenant", "acme", "--data-dir", data];
    let (status, _, err) = support::run(&revoke, &[]).await;
    assert!(status.success(), "{err}");
    eventually("the revoked token refused", || async {
        (get_as(&http, &acme, "/api/agents").await.status == 401).then_some(())
    })
    .await;
}

/// What a request says about its tenant and principal is not believed: a
/// tenant's console asking as `system` stays its tenant, and the audit
/// names who proved what.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_tenant_or_principal_gets_the_credentials_own() {
    let dir = tempfile::tempdir().unwrap();
    let (node, http) = two_tenants(dir.path()).await;
    let acme = create_token(&node, "acme").await;
    let token_file = support::write_file(dir.path(), "acme.token", &acme);
    {
        use std::os::unix::fs::PermissionsExt;
        let private = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(&token_file, private).unwrap();
    }
    let token_file = token_file.to_str().unwrap();

    // A tenant's console (no cookie: its token, over Mission Control).
    let as_system = [
        "--token-file",
        token_file,
        "--tenant",
        "system",
        "--json",
        "-c",
        "agents",
    ];
    let (code, out, err) = support::run(&[&["console", &http][..], &as_system].concat(), &[]).await;
    assert!(code.success(), "{err}");
    let rows = support::console::json_lines(&out);
    let listed: Vec<&str> = rows.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(listed, ["acme-1"], "{out}");
    let machinery = [
        "--token-file",
        token_file,
        "--tenant",
        "system",
        "-c",
        "board",
    ];
    let (code, _, err) = support::run(&[&["console", &http][..], &machinery].concat(), &[]).await;
    assert!(!code.success());
    assert!(err.contains("bound to tenant \"acme\""), "{err}");

    // The same through the API, with a forged principal in the body.
    let forged = json!({"line": "nodes", "command": "nodes",
        "tenant": "system", "principal": "root@forged"});
    let answer = post_json_as(&http, &acme, "/api/control", &forged).await;
    assert_eq!(answer.status, 200, "{}", answer.text());

    // A cookie holder's console: its audit principal is its proven session.
    let (code, _, err) = console(&node.listen, &["-c", "stats"]).await;
    assert_eq!(code, 0, "{err}");

    let audit = eventually("the commands audited", || async {
        let events = get(&http, "/api/events?kind=audit&limit=200").await.json();
        let principals: Vec<String> = events
            .as_array()?
            .iter()
            .filter_map(|e| e["detail"]["Audit"]["principal"].as_str())
            .map(str::to_string)
            .collect();
        let board = principals
            .iter()
            .any(|p| p.starts_with("acme/http@127.0.0.1"));
        let stats = principals
            .iter()
            .any(|p| p.starts_with("system/console swarmd-console."));
        (board && stats).then_some(principals)
    })
    .await;
    assert!(
        audit.iter().all(|p| !p.contains("root@forged")),
        "{audit:?}"
    );
    assert!(
        !audit.iter().any(|p| p.starts_with("system/http")),
        "the tenant's requests were never system's: {audit:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_reads_neither_starves_the_console_nor_floods_the_audit() {
    let dir = tempfile::tempdir().unwrap();
    let (node, http) = two_tenants(dir.path()).await;
    let token = node.http_token();
    let burst: Vec<_> = (0..48)
        .map(|_| {
            let (http, token) = (http.clone(), token.clone());
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                for _ in 0..10 {
                    statuses.push(get_as(&http, &token, "/api/world").await.status);
                }
                statuses
            })
        })
        .collect();
    // The console's commands go through while the burst runs.
    let (code, out, err) = console(&node.listen, &["-c", "nodes; agents; board"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let mut served = 0;
    for task in burst {
        for status in task.await.unwrap() {
            assert!(matches!(status, 200 | 503), "{status}");
            served += usize::from(status == 200);
        }
    }
    assert!(served > 0, "none of the burst was served");
    let events = get(&http, "/api/events?kind=audit&limit=1000").await.json();
    let world_reads = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["detail"]["Audit"]["command"] == "GET /api/world")
        .count();
    assert_eq!(world_reads, 1, "one audit for a repeated read: {events}");
}

/// A member forwarding a command speaks for its caller, never as anyone
/// it likes: the node that runs the command credits it to the caller the
/// member proved *and* the member's own proven session name, whatever the
/// request's body claims.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_request_names_the_member_it_came_through() {
    let dir = tempfile::tempdir().unwrap();
    let config = support::write_file(
        dir.path(),
        "node.toml",
        "[node]\ntenants = [\"default\", \"acme\"]\n[agents]\nboot = 0\n",
    );
    let config = config.to_str().unwrap();
    let cloud_http = format!("127.0.0.1:{}", free_port());
    let args = [
        "--name",
        "cloud",
        "--role",
        "cloud",
        "--config",
        config,
        "--http",
        &cloud_http,
    ];
    let mut cloud = Node::start(&dir.path().join("cloud"), &args, &ENV);
    cloud.ready().await;
    let edge_http = format!("127.0.0.1:{}", free_port());
    let join = cloud.listen.clone();
    let args = [
        "--name", "edge-1", "--join", &join, "--config", config, "--http", &edge_http,
    ];
    let mut edge = Node::start(&dir.path().join("edge-1"), &args, &ENV);
    edge.ready().await;
    let acme = create_token(&edge, "acme").await;

    let forged = json!({"line": "agents --node cloud", "command": {"agents": {"node": "cloud"}},
        "tenant": "system", "principal": "root@forged"});
    let answer = eventually("the command forwarded to the cloud", || async {
        let answer = post_json_as(&edge_http, &acme, "/api/control", &forged).await;
        (answer.status == 200).then_some(answer)
    })
    .await;
    assert!(answer.json().is_array(), "{}", answer.text());

    let principal = eventually("the cloud's audit", || async {
        let events = get(&cloud_http, "/api/events?kind=audit&limit=200")
            .await
            .json();
        events
            .as_array()?
            .iter()
            // The cloud's own record (the edge's reaches the cloud's ledger too).
            .filter(|e| e["node"] == "cloud")
            .filter(|e| e["detail"]["Audit"]["command"] == "agents --node cloud")
            .find_map(|e| {
                e["detail"]["Audit"]["principal"]
                    .as_str()
                    .map(str::to_string)
            })
    })
    .await;
    println!("audited at the cloud as {principal:?}");
    assert!(principal.starts_with("acme/http@127.0.0.1"), "{principal}");
    assert!(principal.ends_with(" via node edge-1"), "{principal}");
    assert!(!principal.contains("root@forged"), "{principal}");
}

/// Loopback is no exemption: every route but the page's shell needs a
/// token (a local process or a web page the operator visits is not the
/// operator), and a wrong one is as good as none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_loopback_too_every_route_but_the_page_shell_needs_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let (node, addr) = playground(dir.path(), &[]).await;
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let page = request(&addr, "GET", "/", &[], None).await;
    assert_eq!(page.status, 200, "the page's shell holds no data");
    let reads = [
        "/api/nodes",
        "/api/tree",
        "/api/agents",
        "/api/world",
        "/api/missions",
        "/api/dlq",
        "/api/board",
        "/api/events",
        "/api/stats",
        "/api/live",
        "/metrics",
    ];
    let wrong = [("Authorization", "Bearer 7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2f")];
    for path in reads {
        let bare = request(&addr, "GET", path, &[], None).await;
        assert_eq!(bare.status, 401, "{path} with no token: {}", bare.text());
        assert_eq!(bare.header("WWW-Authenticate"), Some("Bearer"), "{path}");
        let guessed = request(&addr, "GET", path, &wrong, None).await;
        assert_eq!(guessed.status, 401, "{path} with a wrong token");
    }
    let json_type = [("Content-Type", "application/json")];
    for path in [
        "/api/estop",
        "/api/resume",
        "/api/missions",
        "/api/recipes",
        "/api/dlq/replay",
        "/api/control",
    ] {
        let bare = request(&addr, "POST", path, &json_type, Some(b"{}")).await;
        assert_eq!(bare.status, 401, "POST {path} with no token");
    }
    // The token the node wrote into its data dir (0600) opens them.
    use std::os::unix::fs::PermissionsExt;
    let file = node.data_dir.join("tokens/system.token");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", file.display());
    for path in ["/api/nodes", "/api/agents", "/metrics"] {
        let answer = support::http::get_as(&addr, &node.http_token(), path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_file_every_api_request_needs_the_token() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let token = "7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e";
    let file = support::write_file(dir.path(), "token", &format!("{token}\n"));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = support::write_file(
        dir.path(),
        "node.toml",
        &format!("[http]\ntoken_file = {:?}\n", file.display().to_string()),
    );
    let config = config.display().to_string();
    let (_node, addr) = playground(&dir.path().join("data"), &["--config", &config]).await;
    let page = get(&addr, "/").await;
    assert_eq!(page.status, 200, "the page's shell holds no data");
    for path in ["/api/agents", "/metrics", "/api/live"] {
        let bare = request(&addr, "GET", path, &[], None).await;
        assert_eq!(bare.status, 401, "{path} with no token");
        let wrong = [("Authorization", "Bearer 7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2f")];
        assert_eq!(
            request(&addr, "GET", path, &wrong, None).await.status,
            401,
            "{path}"
        );
    }
    let bearer = format!("Bearer {token}");
    let right = [("Authorization", bearer.as_str())];
    let agents = request(&addr, "GET", "/api/agents", &right, None).await;
    assert_eq!(agents.status, 200, "{}", agents.text());
    let estop = request(
        &addr,
        "POST",
        "/api/estop",
        &[("Content-Type", "application/json")],
        Some(b"{}"),
    )
    .await;
    assert_eq!(estop.status, 401, "an action without the token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_world_readable_token_file_stops_the_node_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = support::write_file(dir.path(), "token", "7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e\n");
    let config = support::write_file(
        dir.path(),
        "node.toml",
        &format!("[http]\ntoken_file = {:?}\n", file.display().to_string()),
    );
    let data = dir.path().join("data");
    let http = format!("127.0.0.1:{}", free_port());
    let args = [
        "--data-dir",
        data.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--http",
        &http,
    ];
    let (status, _, err) = support::run(&args, &[]).await;
    assert!(!status.success(), "{err}");
    assert!(err.contains("chmod 600"), "{err}");
}
