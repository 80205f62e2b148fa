//! A real headless Chromium driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`), installed when missing: once per machine, under a
//! lock, so parallel tests do not race apt. No install, no test: it fails
//! loudly, it never skips.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::{Child, Command};

use super::free_port;
use super::http::{get, post_json, request};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const DRIVER: &str = "/usr/bin/chromedriver";
/// W3C WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Installs chromium and chromedriver with apt-get unless present.
pub fn ensure_chromium() {
    super::ensure_packages(&[CHROMIUM, DRIVER], &["chromium", "chromium-driver"]);
}

/// A chromedriver process and one browser session in it; both end on drop.
pub struct Browser {
    driver: Child,
    addr: String,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        ensure_chromium();
        let port = free_port();
        let driver = Command::new(DRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so the browsers it starts end with it.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let addr = format!("127.0.0.1:{port}");
        wait_ready(&addr).await;
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1000",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let answer = post_json(&addr, "/session", &caps).await;
        assert_eq!(answer.status, 200, "new session: {}", answer.text());
        let session = answer.json()["value"]["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        Browser {
            driver,
            addr,
            session,
            _profile: profile,
        }
    }

    async fn command(&self, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let answer = post_json(&self.addr, &path, &body).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text());
        answer.json()["value"].clone()
    }

    pub async fn open(&self, url: &str) {
        self.command("/url", json!({"url": url})).await;
    }

    /// Runs `script` (a function body) in the page; its return value.
    pub async fn eval(&self, script: &str) -> Value {
        self.command("/execute/sync", json!({"script": script, "args": []}))
            .await
    }

    /// As an operator does: the page asks for the token (its API answers
    /// 401 without one), the token is typed in and kept for the session.
    pub async fn sign_in(&self, token: &str) {
        let asked = "return getComputedStyle(document.getElementById('auth')).display;";
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        while self.eval(asked).await == "none" {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out: the page asks for a token"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        let typed = format!("document.getElementById('token').value = {token:?}; return true;");
        assert_eq!(self.eval(&typed).await, json!(true));
        self.click("#token-ok").await;
    }

    pub async fn click(&self, css: &str) {
        let found = self
            .command("/element", json!({"using": "css selector", "value": css}))
            .await;
        let id = found[ELEMENT].as_str().expect("an element").to_string();
        self.command(&format!("/element/{id}/click"), json!({}))
            .await;
    }

    /// A PNG of the page as it is now.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let path = format!("/session/{}/screenshot", self.session);
        let answer = get(&self.addr, &path).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        let b64 = answer.json()["value"].as_str().unwrap().to_string();
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64 PNG")
    }
}

impl Drop for Browser {
    /// Kills chromedriver and every browser process it started (killing
    /// the driver alone leaves Chromium running, orphaned).
    fn drop(&mut self) {
        if let Some(pid) = self.driver.id() {
            // SAFETY: kill(2) on the process group of our own child.
            unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
        }
        let _ = self.driver.start_kill();
    }
}

async fn wait_ready(addr: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            let status = request(addr, "GET", "/status", &[], None).await;
            if status.status == 200 && status.json()["value"]["ready"] == true {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "chromedriver not ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
