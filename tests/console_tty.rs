//! The interactive console in a pseudo-terminal: a command, tab completion
//! of a live agent's name, and history recalled after a restart.

mod support;

use expectrl::session::OsSession as Session;
use expectrl::{ControlCode, Expect};
use support::{Node, STARTUP};

const COOKIE: &str = "CONSOLETTYCOOKIEXQZJVKWPMBRTYHGFA";

fn open_console(addr: &str, home: &std::path::Path) -> Session {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_swarmd"));
    cmd.args(["console", addr])
        .env("SWARMD_COOKIE", COOKIE)
        .env("HOME", home)
        .env("TERM", "xterm")
        .env_remove("RUST_LOG");
    let mut console = Session::spawn(cmd).expect("a console in a pty");
    console.set_expect_timeout(Some(STARTUP));
    console.expect("swarmd> ").expect("the prompt");
    console
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_completion_of_a_live_name_and_history_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SWARMD_COOKIE", COOKIE)];
    let mut node = Node::start(&dir.path().join("node"), &["--name", "swarmd"], &env);
    node.ready().await;
    let addr = node.listen.clone();
    let home = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut console = open_console(&addr, &home);
        console.send_line("nodes").unwrap();
        console.expect("both").expect("nodes lists this node");
        console.expect("swarmd> ").unwrap();
        let spawn = r#"spawn grid {"id": "zed-1", "params": {"start": "5,5"}}"#;
        console.send_line(spawn).unwrap();
        console.expect("spawned  zed-1").expect("spawned");
        console.expect("swarmd> ").unwrap();
        // `ze` is completed from the live names, fetched after each command.
        console.send("estop ze").unwrap();
        console.send("\t").unwrap();
        console.send_line("").unwrap();
        // The answer, not the echo of what was typed.
        console
            .expect("agents  zed-1")
            .expect("the completed name reached the node");
        console.expect("swarmd> ").unwrap();
        // A follow runs in the background: the prompt is back at once, its
        // events print above it while the next command runs.
        console
            .send_line("events --follow --kind audit --limit 1")
            .unwrap();
        console.expect("(following").expect("the follower started");
        console.expect("swarmd> ").unwrap();
        console.send_line("stats").unwrap();
        console
            .expect("\"command\":\"stats\"")
            .expect("the follower printed the stats audit");
        console.expect("swarmd> ").unwrap();
        console.send(ControlCode::EndOfText).unwrap();
        console
            .expect("(stopped 1 follower)")
            .expect("Ctrl-C at the prompt stops it");
        // The next prompt first: input typed before the editor is reading
        // again may be discarded when it re-enters raw mode.
        console.expect("swarmd> ").unwrap();
        console.send(ControlCode::EndOfTransmission).unwrap();
        console.expect(expectrl::Eof).expect("Ctrl-D leaves");

        // A new console recalls earlier commands with the up arrow: the
        // third from the end was `estop zed-1`.
        let mut console = open_console(&addr, &home);
        console.send("\x1b[A\x1b[A\x1b[A").unwrap();
        console.send_line("").unwrap();
        console
            .expect("agents  zed-1")
            .expect("history recalled `estop zed-1`");
        console.expect("swarmd> ").unwrap();
        console.send(ControlCode::EndOfTransmission).unwrap();
        console.expect(expectrl::Eof).unwrap();
    })
    .await
    .unwrap();
    assert!(dir.path().join(".swarmd_history").exists());
}
