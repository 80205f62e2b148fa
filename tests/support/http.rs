//! A minimal HTTP/1.1 client over a real TCP socket, for Mission Control
//! and chromedriver: one request per connection, bodies by Content-Length
//! or chunked, bounded in size and time.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIMIT: Duration = Duration::from_secs(30);
const MAX_RESPONSE: usize = 32 * 1024 * 1024;

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text()))
    }
}

/// `method path` on `addr` (`HOST:PORT`) with `headers` and `body`.
pub async fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    tokio::time::timeout(LIMIT, exchange(addr, method, path, headers, body))
        .await
        .unwrap_or_else(|_| panic!("{method} {path} on {addr}: no answer in {LIMIT:?}"))
}

/// Mission Control's tokens by address, as `Node::ready` learned them.
static TOKENS: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

pub fn remember_token(addr: &str, token: &str) {
    let mut tokens = TOKENS.lock().unwrap_or_else(PoisonError::into_inner);
    tokens.insert(addr.to_string(), token.to_string());
}

fn bearer(addr: &str) -> Option<String> {
    let tokens = TOKENS.lock().unwrap_or_else(PoisonError::into_inner);
    tokens.get(addr).map(|t| format!("Bearer {t}"))
}

/// A GET with the node's system token, if `Node::ready` learned it.
pub async fn get(addr: &str, path: &str) -> Response {
    let auth = bearer(addr);
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    request(addr, "GET", path, &headers, None).await
}

/// A GET with `token`.
pub async fn get_as(addr: &str, token: &str, path: &str) -> Response {
    let auth = format!("Bearer {token}");
    request(addr, "GET", path, &[("Authorization", &auth)], None).await
}

/// A POST of JSON with the node's system token, if `Node::ready` learned it.
pub async fn post_json(addr: &str, path: &str, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap();
    let auth = bearer(addr);
    let mut headers = vec![("Content-Type", "application/json")];
    headers.extend(auth.iter().map(|a| ("Authorization", a.as_str())));
    request(addr, "POST", path, &headers, Some(&bytes)).await
}

/// A POST of JSON with `token`.
pub async fn post_json_as(addr: &str, token: &str, path: &str, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap();
    let auth = format!("Bearer {token}");
    let headers = [
        ("Content-Type", "application/json"),
        ("Authorization", &auth),
    ];
    request(addr, "POST", path, &headers, Some(&bytes)).await
}

async fn exchange(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let mut stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = body.unwrap_or_default();
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&chunk[..n]);
        assert!(
            raw.len() <= MAX_RESPONSE,
            "response over {MAX_RESPONSE} bytes"
        );
        if complete(&raw) {
            break;
        }
    }
    parse(&raw)
}

/// Whether `raw` holds a whole response (some servers keep the connection
/// open despite `Connection: close`).
fn complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let body = raw.len() - end - 4;
    if let Some(length) = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        return body >= length;
    }
    head.contains("transfer-encoding: chunked") && raw.ends_with(b"0\r\n\r\n")
}

fn parse(raw: &[u8]) -> Response {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(at) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&rest[..at]);
        let size =
            usize::from_str_radix(size.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = at + 2;
        body.extend_from_slice(&rest[start..(start + size).min(rest.len())]);
        rest = &rest[(start + size + 2).min(rest.len())..];
    }
    body
}

/// A `both` node (it plans and runs the boot agents) with Mission Control on a free port.
pub async fn playground(dir: &std::path::Path, extra: &[&str]) -> (super::Node, String) {
    let http = format!("127.0.0.1:{}", super::free_port());
    let mut args = vec!["--http", http.as_str()];
    args.extend_from_slice(extra);
    let mut node = super::Node::start(dir, &args, &[]);
    node.ready().await;
    node.wait_for("Mission Control listening", super::STARTUP, |v| {
        v["message"] == "Mission Control listening"
    })
    .await;
    (node, http)
}
