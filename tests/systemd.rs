//! swarmd under systemd: the shipped unit passes `systemd-analyze verify`
//! (Debian's systemd, installed when missing), and a real `swarmd` speaks
//! the notify protocol over a real `NOTIFY_SOCKET`: `READY=1` once the node
//! is up, `WATCHDOG=1` at half the watchdog interval while its root
//! supervisor runs, `STOPPING=1` on SIGTERM.

mod support;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

use support::console::COOKIE;

const UNIT: &str = "config/systemd/swarmd.service";

#[test]
fn the_shipped_unit_passes_systemd_analyze_verify() {
    support::ensure_packages(&["/usr/bin/systemd-analyze"], &["systemd"]);
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(UNIT)).unwrap();
    assert!(
        unit.contains("Type=notify") && unit.contains("WatchdogSec="),
        "{unit}"
    );
    // verify checks that ExecStart is executable: point it at this build.
    let unit = unit.replace("/usr/local/bin/swarmd", env!("CARGO_BIN_EXE_swarmd"));
    let path = dir.path().join("swarmd.service");
    std::fs::write(&path, unit).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Unknown or malformed directives are warnings, not failures: none allowed.
    assert!(stderr.trim().is_empty(), "{stderr}");
}

/// The next datagram on `socket`, waited for at most `limit`.
fn next_state(socket: &UnixDatagram, limit: Duration) -> String {
    socket.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    let len = socket.recv(&mut buf).expect("a notification in time");
    String::from_utf8_lossy(&buf[..len]).trim().to_string()
}

#[tokio::test]
async fn a_node_reports_ready_feeds_the_watchdog_and_says_it_is_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    let env = [
        ("SWARMD_COOKIE", COOKIE),
        ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
        ("WATCHDOG_USEC", "200000"),
    ];
    let mut node = support::Node::start(&dir.path().join("data"), &[], &env);
    let socket = tokio::task::spawn_blocking(move || {
        assert_eq!(next_state(&socket, support::STARTUP), "READY=1");
        for _ in 0..3 {
            assert_eq!(next_state(&socket, Duration::from_secs(5)), "WATCHDOG=1");
        }
        socket
    })
    .await
    .unwrap();
    node.signal(libc::SIGTERM);
    let stopping = tokio::task::spawn_blocking(move || {
        loop {
            let state = next_state(&socket, support::EXIT);
            if state != "WATCHDOG=1" {
                return state;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(stopping, "STOPPING=1");
    assert_eq!(node.exit().await.code(), Some(0));
}
