use std::io::Write;
use std::path::PathBuf;

use swarmd_config::{ConfigError, LogFormat, Override, OverrideValue, Role, load, load_file};

fn file_with(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

fn invalid_parts(err: ConfigError) -> (String, String, String) {
    match err {
        ConfigError::Invalid {
            origin,
            key,
            reason,
        } => (origin, key, reason),
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

#[test]
fn embedded_defaults_describe_a_single_both_node() {
    let cfg = load(None, &[]).unwrap();
    assert_eq!(cfg.node.role, Role::Both);
    assert_eq!(cfg.node.data_dir, PathBuf::from("./swarmd-data"));
    assert_eq!(cfg.cluster.listen.to_string(), "127.0.0.1:4697");
    assert!(cfg.cluster.seeds.is_empty());
    assert_eq!(cfg.log.format, LogFormat::Human);
    assert_eq!(
        cfg.node.cookie_path(),
        PathBuf::from("./swarmd-data/cookie")
    );
}

#[test]
fn shipped_examples_are_valid() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let cloud = load_file(&root.join("cloud.toml")).unwrap();
    assert_eq!(cloud.node.role, Role::Cloud);
    let edge = load_file(&root.join("edge.toml")).unwrap();
    assert_eq!(edge.node.role, Role::Edge);
    assert_eq!(edge.cluster.seeds[0].to_string(), "cloud-1.example:4697");
}

#[test]
fn file_values_override_defaults_and_keep_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_with(&dir, "a.toml", "[node]\nname = \"edge-7\"\n");
    let cfg = load_file(&path).unwrap();
    assert_eq!(cfg.node.name, "edge-7");
    assert_eq!(cfg.node.role, Role::Both, "untouched keys keep defaults");
}

#[test]
fn bad_socket_address_names_file_key_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_with(
        &dir,
        "edge.toml",
        "[cluster]\nlisten = \"127.0.0.1:99999\"\n",
    );
    let err = load_file(&path).unwrap_err();
    let shown = err.to_string();
    let (origin, key, reason) = invalid_parts(err);
    assert!(origin.ends_with("edge.toml"), "{origin}");
    assert_eq!(key, "cluster.listen");
    assert_eq!(reason, "\"127.0.0.1:99999\" is not a socket address");
    assert!(
        shown.ends_with("edge.toml: cluster.listen: \"127.0.0.1:99999\" is not a socket address")
    );
}

#[test]
fn unknown_key_is_an_error_naming_its_full_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_with(
        &dir,
        "x.toml",
        "[cluster]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n",
    );
    let (origin, key, reason) = invalid_parts(load_file(&path).unwrap_err());
    assert!(origin.ends_with("x.toml"));
    assert_eq!(key, "cluster.lisen");
    assert!(reason.contains("unknown field `lisen`"), "{reason}");
}

#[test]
fn unknown_section_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_with(&dir, "x.toml", "[clustr]\nlisten = 1\n");
    let (_, key, reason) = invalid_parts(load_file(&path).unwrap_err());
    assert_eq!(key, "clustr");
    assert!(reason.contains("unknown field `clustr`"), "{reason}");
}

#[test]
fn wrong_type_and_bad_enum_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_with(&dir, "x.toml", "[node]\nrole = \"server\"\n");
    let (_, key, reason) = invalid_parts(load_file(&path).unwrap_err());
    assert_eq!(key, "node.role");
    assert!(
        reason.contains("cloud") && reason.contains("edge"),
        "{reason}"
    );

    let path = file_with(&dir, "y.toml", "[cluster]\nseeds = \"a:1\"\n");
    let (_, key, _) = invalid_parts(load_file(&path).unwrap_err());
    assert_eq!(key, "cluster.seeds");

    let path = file_with(&dir, "z.toml", "[cluster]\nseeds = [\"a:1\", \"nohost\"]\n");
    let (_, key, reason) = invalid_parts(load_file(&path).unwrap_err());
    assert!(key.starts_with("cluster.seeds"), "{key}");
    assert!(reason.contains("\"nohost\""), "{reason}");
}

#[test]
fn syntax_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_with(&dir, "broken.toml", "[node\nname = 1");
    match load_file(&path).unwrap_err() {
        ConfigError::Syntax { origin, .. } => assert!(origin.ends_with("broken.toml")),
        other => panic!("expected Syntax, got {other:?}"),
    }
    let missing = dir.path().join("missing.toml");
    assert!(matches!(load_file(&missing), Err(ConfigError::Read { .. })));
}

#[test]
fn overrides_win_over_the_file_and_errors_name_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_with(&dir, "a.toml", "[cluster]\nlisten = \"127.0.0.1:5000\"\n");
    let listen = |v: &str| Override {
        key: "cluster.listen",
        value: OverrideValue::Str(v.into()),
        origin: "--listen".into(),
    };
    let join = Override {
        key: "cluster.seeds",
        value: OverrideValue::List(vec!["h1:1".into(), "[::1]:2".into()]),
        origin: "--join".into(),
    };
    let cfg = load(Some(&path), &[listen("127.0.0.1:6000"), join]).unwrap();
    assert_eq!(cfg.cluster.listen.to_string(), "127.0.0.1:6000");
    assert_eq!(cfg.cluster.seeds[1].host, "::1");
    assert_eq!(cfg.cluster.seeds[1].to_string(), "[::1]:2");

    let err = load(Some(&path), &[listen("nope")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--listen: cluster.listen: \"nope\" is not a socket address"
    );
}

#[test]
fn semantic_rules_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[node]\nname = \"a b\"\n", "node.name"),
        ("[node]\ntenants = []\n", "node.tenants"),
        (
            "[cluster]\ndial_backoff_min_ms = 9000\n",
            "cluster.dial_backoff_min_ms",
        ),
        ("[mesh]\nconnect = [\"127.0.0.1:7447\"]\n", "mesh.connect"),
        (
            "[storage]\ncache_capacity_mb = 0\n",
            "storage.cache_capacity_mb",
        ),
    ];
    for (i, (text, want_key)) in cases.iter().enumerate() {
        let path = file_with(&dir, &format!("c{i}.toml"), text);
        let (origin, key, _) = invalid_parts(load_file(&path).unwrap_err());
        assert_eq!(key, *want_key, "for {text:?}");
        assert!(origin.ends_with(&format!("c{i}.toml")), "{origin}");
    }
}

#[test]
fn effective_config_round_trips_through_toml() {
    let cfg = load(None, &[]).unwrap();
    let shown = toml::to_string(&cfg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = file_with(&dir, "shown.toml", &shown);
    assert_eq!(load_file(&path).unwrap(), cfg);
}

#[test]
fn an_unknown_enum_value_names_its_key_and_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_with(&dir, "a.toml", "[world]\nlayout = \"maze\"\n");
    let (_, key, reason) = invalid_parts(load_file(&path).unwrap_err());
    assert_eq!(key, "world.layout");
    assert!(
        reason.contains("warehouse") && reason.contains("hallway"),
        "{reason}"
    );
    let path = file_with(&dir, "b.toml", "[node]\nrole = \"fog\"\n");
    let (_, key, reason) = invalid_parts(load_file(&path).unwrap_err());
    assert_eq!(key, "node.role");
    assert!(reason.contains("edge"), "{reason}");
    let path = file_with(&dir, "c.toml", "[world]\nlayout = \"hallway\"\n");
    assert_eq!(
        load_file(&path).unwrap().world.layout,
        swarmd_config::Layout::Hallway
    );
}

#[test]
fn a_moving_ai_map_sets_the_floor_and_its_size() {
    let map = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("maps/warehouse-small.map");
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[world]\nmap = {:?}\nwidth = 10\n",
        map.display().to_string()
    );
    let cfg = load_file(&file_with(&dir, "a.toml", &text)).unwrap();
    let floor = cfg.world.floor.as_ref().expect("the map is read at load");
    assert_eq!((cfg.world.width, cfg.world.height), (32, 14));
    assert_eq!((floor.width, floor.height), (32, 14));
    assert_eq!(floor.obstacles.len(), 6 * 22);
    assert!(
        floor
            .docks
            .contains(&swarmd_messages::swarm::Cell::new(0, 5))
    );
    let shown = toml::to_string(&cfg).unwrap();
    assert_eq!(
        load_file(&file_with(&dir, "shown.toml", &shown)).unwrap(),
        cfg
    );
}

#[test]
fn a_malformed_map_is_refused_naming_the_map_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let map = file_with(
        &dir,
        "bad.map",
        "type octile\nheight 6\nwidth 8\nmap\n........\n..x.....\n",
    );
    let text = format!("[world]\nmap = {:?}\n", map.display().to_string());
    let config = file_with(&dir, "a.toml", &text);
    let (origin, key, reason) = invalid_parts(load_file(&config).unwrap_err());
    assert_eq!(key, "world.map");
    assert!(origin.ends_with("a.toml"), "{origin}");
    assert!(reason.contains("bad.map: line 6: column 3"), "{reason}");
    let missing = file_with(
        &dir,
        "b.toml",
        "[world]\nmap = \"/nonexistent/floor.map\"\n",
    );
    let (_, key, reason) = invalid_parts(load_file(&missing).unwrap_err());
    assert_eq!(key, "world.map");
    assert!(
        reason.contains("/nonexistent/floor.map: cannot read"),
        "{reason}"
    );
    let docks = file_with(&dir, "c.toml", "[world]\ndocks = [[0, 1]]\n");
    let (_, key, reason) = invalid_parts(load_file(&docks).unwrap_err());
    assert_eq!(
        (key.as_str(), reason.contains("set world.map")),
        ("world.docks", true)
    );
}

#[test]
fn hub_and_telemetry_rules_name_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let js = "[hub]\nbackend = \"jetstream\"\n[hub.jetstream]\n";
    let cases = [
        (
            format!("{js}url = \"http://n:4222\"\n"),
            "hub.jetstream.url",
        ),
        (
            format!("{js}url = \"nats://a:4222, tcp://b\"\n"),
            "hub.jetstream.url",
        ),
        (
            format!("{js}stream = \"my.events\"\n"),
            "hub.jetstream.stream",
        ),
        (
            format!("{js}subject_prefix = \"a..b\"\n"),
            "hub.jetstream.subject_prefix",
        ),
        (format!("{js}replicas = 0\n"), "hub.jetstream.replicas"),
        (format!("{js}user = \"u\"\n"), "hub.jetstream.user"),
        (
            format!("{js}fetch_batch = 0\n"),
            "hub.jetstream.fetch_batch",
        ),
        (format!("{js}subjects = []\n"), "hub.jetstream.subjects"),
        (format!("{js}colour = \"red\"\n"), "hub.jetstream.colour"),
        ("[hub]\nbackend = \"kafka\"\n".to_string(), "hub.backend"),
        (
            "[telemetry]\notlp_endpoint = \"collector:4317\"\n".to_string(),
            "telemetry.otlp_endpoint",
        ),
        (
            "[telemetry]\nmax_batch = 0\n".to_string(),
            "telemetry.max_batch",
        ),
        (
            "[telemetry]\nprotocol = \"thrift\"\n".to_string(),
            "telemetry.protocol",
        ),
    ];
    for (i, (text, want_key)) in cases.iter().enumerate() {
        let path = file_with(&dir, &format!("h{i}.toml"), text);
        let err = load_file(&path).unwrap_err();
        assert!(
            err.to_string().contains(want_key),
            "{text:?} gave {err}, not naming {want_key}"
        );
    }
    // The default hub is the ledger, and a valid JetStream hub loads.
    let ok = file_with(
        &dir,
        "ok.toml",
        &format!("{js}url = \"nats://a:4222,tls://b:4222\"\nreplicas = 3\n"),
    );
    let config = load_file(&ok).unwrap();
    assert_eq!(config.hub.jetstream.replicas, 3);
    let shared =
        format!("{js}subjects = [\"swarmd.>\", \"other.>\"]\ncredentials = \"/etc/n.creds\"\n");
    let config = load_file(&file_with(&dir, "shared.toml", &shared)).unwrap();
    assert_eq!(config.hub.jetstream.subjects(), vec!["swarmd.>", "other.>"]);
    assert_eq!(
        config.hub.jetstream.credentials_file.as_deref(),
        Some(std::path::Path::new("/etc/n.creds"))
    );
}

#[test]
fn a_recipe_to_run_is_read_at_load_and_a_broken_one_names_its_step() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = "[recipe]\nname = \"r\"\n[[step]]\nname = \"a\"\ngoal = \"wait\"\nseconds = 1\n";
    let good = file_with(&dir, "good.toml", recipe);
    let text = format!("[missions]\nrecipe = {:?}\n", good.display().to_string());
    let config = load_file(&file_with(&dir, "node.toml", &text)).unwrap();
    let plan = config.missions.recipe_plan.expect("the recipe is read");
    assert_eq!((plan.name.as_str(), plan.steps.len()), ("r", 1));

    let bad = file_with(
        &dir,
        "bad.toml",
        &recipe.replace("seconds = 1", "seconds = -1"),
    );
    let text = format!("[missions]\nrecipe = {:?}\n", bad.display().to_string());
    let err = load_file(&file_with(&dir, "node2.toml", &text)).unwrap_err();
    let (_, key, reason) = invalid_parts(err);
    assert_eq!(key, "missions.recipe");
    assert!(
        reason.contains("bad.toml") && reason.contains("\"a\""),
        "{reason}"
    );
}

#[test]
fn discovery_and_resource_settings_are_checked_naming_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[cluster.discovery]\ngroup = \"10.0.0.1:4699\"\n",
            "cluster.discovery.group",
            "multicast",
        ),
        (
            "[cluster.discovery]\ngroup = \"nonsense\"\n",
            "cluster.discovery.group",
            "IPV4:PORT",
        ),
        (
            "[cluster.discovery]\ninterface = \"eth0\"\n",
            "cluster.discovery.interface",
            "IPv4",
        ),
        (
            "[cluster.discovery]\ninterval_ms = 1000\nexpire_after_ms = 1500\n",
            "cluster.discovery.expire_after_ms",
            "2 x",
        ),
        (
            "[resources]\nthrottle_factor = 1\n",
            "resources.throttle_factor",
            "outside",
        ),
        (
            "[resources]\nsample_interval_ms = 0\n",
            "resources.sample_interval_ms",
            "outside",
        ),
    ];
    for (i, (text, key, why)) in cases.into_iter().enumerate() {
        let file = file_with(&dir, &format!("c{i}.toml"), text);
        let (_, got, reason) = invalid_parts(load_file(&file).unwrap_err());
        assert_eq!(got, key, "{text}");
        assert!(reason.contains(why), "{key}: {reason}");
    }
    let ok =
        "[cluster]\ndiscover = true\n[resources]\nmax_memory_mb = 512\nmax_cpu_percent = 150\n";
    let config = load_file(&file_with(&dir, "ok.toml", ok)).unwrap();
    assert!(config.cluster.discover);
    assert_eq!(config.resources.memory_budget_mb(), Some(512));
    assert_eq!(config.resources.cpu_budget_percent(), Some(150));
}
