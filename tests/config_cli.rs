//! The config layering and its errors, seen from the command line.

mod support;

use support::{Node, run, write_file};

#[tokio::test]
async fn bad_value_exits_nonzero_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "edge.toml",
        "[cluster]\nlisten = \"127.0.0.1:99999\"\n",
    );
    let file = file.to_str().unwrap();

    let (status, _, stderr) = run(&["--config", file], &[]).await;
    assert_eq!(status.code(), Some(2));
    assert!(
        stderr.contains(&format!(
            "{file}: cluster.listen: \"127.0.0.1:99999\" is not a socket address"
        )),
        "{stderr}"
    );

    let (status, _, stderr) = run(&["config", "check", file], &[]).await;
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("cluster.listen"), "{stderr}");
}

#[tokio::test]
async fn unknown_key_exits_nonzero_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "cloud.toml",
        "[node]\nname = \"c\"\ncolour = \"blue\"\n",
    );
    let file = file.to_str().unwrap();
    let (status, _, stderr) = run(&["--config", file], &[]).await;
    assert_eq!(status.code(), Some(2));
    assert!(
        stderr.contains(&format!("{file}: node.colour: unknown field `colour`")),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_node_does_not_start_on_a_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "x.toml", "[node]\nrole = \"satellite\"\n");
    let data = dir.path().join("data");
    let mut node = Node::start(&data, &["--config", file.to_str().unwrap()], &[]);
    assert_eq!(node.exit().await.code(), Some(2));
    assert!(!data.exists(), "a rejected config touches nothing on disk");
}

#[tokio::test]
async fn config_check_accepts_the_shipped_examples() {
    for example in ["config/examples/cloud.toml", "config/examples/edge.toml"] {
        let path = format!("{}/{example}", env!("CARGO_MANIFEST_DIR"));
        let (status, stdout, stderr) = run(&["config", "check", &path], &[]).await;
        assert_eq!(status.code(), Some(0), "{stderr}");
        assert!(stdout.contains("ok"));
    }
}

#[tokio::test]
async fn config_show_applies_file_env_and_flags_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "a.toml",
        "[node]\nname = \"from-file\"\nrole = \"cloud\"\n[cluster]\nlisten = \"127.0.0.1:1000\"\n",
    );
    let file = file.to_str().unwrap();
    let env = [("SWARMD_ROLE", "edge"), ("SWARMD_LISTEN", "127.0.0.1:2000")];
    let (status, stdout, stderr) = run(
        &[
            "--config",
            file,
            // A node's flags come before the subcommand.
            "--listen",
            "127.0.0.1:3000",
            "--join",
            "a:1",
            "--join",
            "b:2",
            "config",
            "show",
        ],
        &env,
    )
    .await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    let shown: toml::Table = stdout.parse().unwrap();
    assert_eq!(
        shown["node"]["name"].as_str(),
        Some("from-file"),
        "file over default"
    );
    assert_eq!(
        shown["node"]["role"].as_str(),
        Some("edge"),
        "env over file"
    );
    assert_eq!(
        shown["cluster"]["listen"].as_str(),
        Some("127.0.0.1:3000"),
        "flag over env"
    );
    let seeds: Vec<_> = shown["cluster"]["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(seeds, ["a:1", "b:2"]);
}

#[tokio::test]
async fn override_errors_name_the_flag_or_variable() {
    let (status, _, stderr) = run(&["config", "show"], &[("SWARMD_LISTEN", "nowhere")]).await;
    assert_eq!(status.code(), Some(2));
    assert!(
        stderr.contains("SWARMD_LISTEN: cluster.listen: \"nowhere\" is not a socket address"),
        "{stderr}"
    );

    let (status, _, stderr) = run(&["--join", "host-without-port", "config", "show"], &[]).await;
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("--join: cluster.seeds"), "{stderr}");
}

#[tokio::test]
async fn help_lists_the_working_flags() {
    let (status, stdout, _) = run(&["--help"], &[]).await;
    assert_eq!(status.code(), Some(0));
    for flag in [
        "--join",
        "--config",
        "--name",
        "--listen",
        "--role",
        "--data-dir",
        "--log",
        "--log-format",
    ] {
        assert!(stdout.contains(flag), "{flag} missing from:\n{stdout}");
    }
    assert!(stdout.contains("config"), "the config subcommand is listed");
}

/// A subcommand lists (and takes) only the flags it uses: a node's own
/// flags come before any subcommand.
#[tokio::test]
async fn a_subcommand_takes_only_its_own_flags() {
    let (status, stdout, _) = run(&["ledger", "export", "--help"], &[]).await;
    assert_eq!(status.code(), Some(0));
    for own in ["--tenant", "--data-dir", "--config"] {
        assert!(stdout.contains(own), "{own} missing from:\n{stdout}");
    }
    for node_only in [
        "--join",
        "--http",
        "--discover",
        "--otlp-endpoint",
        "--listen",
        "--role",
    ] {
        assert!(!stdout.contains(node_only), "{node_only} listed:\n{stdout}");
    }
    let (status, _, stderr) = run(&["ledger", "export", "--join", "127.0.0.1:1"], &[]).await;
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--join"), "{stderr}");
}

#[tokio::test]
async fn recipe_check_prints_the_waves_or_names_the_file_step_and_key() {
    let example = format!(
        "{}/config/recipes/inspect-and-restock.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let (status, stdout, stderr) = run(&["recipe", "check", &example], &[]).await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("ok: 5 steps in 3 waves"), "{stdout}");
    assert!(
        stdout.contains("wave 2: inspect-west, inspect-east, restock"),
        "{stdout}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = write_file(
        dir.path(),
        "bad.toml",
        "[recipe]\nname = \"r\"\n[[step]]\nname = \"go\"\ngoal = \"wait\"\nsecs = 3\n",
    );
    let bad = bad.to_str().unwrap();
    let (status, _, stderr) = run(&["recipe", "check", bad], &[]).await;
    assert_eq!(status.code(), Some(2));
    assert!(
        stderr.contains(&format!("{bad}: step \"go\": secs: unknown key")),
        "{stderr}"
    );
    let cycle = write_file(
        dir.path(),
        "cycle.toml",
        "[recipe]\nname = \"r\"\n[[step]]\nname = \"a\"\ngoal = \"wait\"\nseconds = 1\nneeds = [\"b\"]\n[[step]]\nname = \"b\"\ngoal = \"wait\"\nseconds = 1\nneeds = [\"a\"]\n",
    );
    let (status, _, stderr) = run(&["recipe", "check", cycle.to_str().unwrap()], &[]).await;
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("cycle: a -> b -> a"), "{stderr}");
}

#[tokio::test]
async fn config_check_refuses_an_open_mesh_a_weak_cookie_and_an_exposed_data_dir() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let open_mesh = write_file(
        dir.path(),
        "mesh.toml",
        "[mesh]\nlisten = [\"tcp/0.0.0.0:7450\"]\n",
    );
    let (status, _, stderr) = run(&["config", "check", open_mesh.to_str().unwrap()], &[]).await;
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("mesh.listen") && stderr.contains("mesh.insecure"),
        "{stderr}"
    );
    let on_purpose = write_file(
        dir.path(),
        "insecure.toml",
        "[mesh]\nlisten = [\"tcp/0.0.0.0:7450\"]\ninsecure = true\n",
    );
    let (status, _, stderr) = run(&["config", "check", on_purpose.to_str().unwrap()], &[]).await;
    assert_eq!(status.code(), Some(0), "{stderr}");

    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // An empty open dir is tightened by the node (as initdb does); one that
    // already holds data may have leaked it, so it is refused.
    std::fs::write(data.join("notes"), "kept").unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let text = format!("[node]\ndata_dir = {:?}\n", data.display().to_string());
    let exposed = write_file(dir.path(), "data.toml", &text);
    let (status, _, stderr) = run(&["config", "check", exposed.to_str().unwrap()], &[]).await;
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("chmod 700"), "{stderr}");
    // The node itself refuses it too, and touches nothing inside.
    let (status, _, stderr) = run(
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    )
    .await;
    assert_ne!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("chmod 700"), "{stderr}");
    assert!(
        !data.join("cookie").exists(),
        "a refused data dir got a cookie"
    );

    let weak = [("SWARMD_COOKIE", "changemechangemechangemechangeme")];
    let (status, _, stderr) = run(
        &["--data-dir", dir.path().join("d2").to_str().unwrap()],
        &weak,
    )
    .await;
    assert_ne!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("repeats a shorter pattern"), "{stderr}");
}
