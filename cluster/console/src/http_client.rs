//! A tenant's console: without the cookie, it sends each command to a
//! node's Mission Control (`POST /api/control`) with the tenant's bearer
//! token; the node runs it as that tenant, whatever the request says.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::json;
use swarmd_config::HostPort;

use super::client::{CALL_TIMEOUT, CONNECT_TIMEOUT};
use swarmd_control::{ControlError, ControlReply, ControlRequest, MAX_CONTROL_BYTES};

pub struct HttpClient {
    addr: HostPort,
    token: String,
    /// The node's name, from its `nodes` row for itself.
    pub node: String,
}

impl HttpClient {
    /// Checks the token against the node with one read, which names it.
    pub async fn connect(addr: &HostPort, token: String) -> Result<Self, String> {
        let mut client = Self {
            addr: addr.clone(),
            token,
            node: String::new(),
        };
        let probe = tokio::time::timeout(CONNECT_TIMEOUT, client.exchange("/api/nodes", None));
        let (status, bytes) = match probe.await {
            Err(_) => return Err(format!("no answer from {addr} within {CONNECT_TIMEOUT:?}")),
            Ok(result) => result?,
        };
        if status == StatusCode::UNAUTHORIZED {
            return Err(format!("{addr}: the node does not know this token"));
        }
        let rows: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{addr}: not Mission Control ({status}): {e}"))?;
        client.node = rows
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["self"] == true))
            .and_then(|r| r["name"].as_str())
            .ok_or_else(|| format!("{addr}: {status}: {rows}"))?
            .to_string();
        Ok(client)
    }

    pub async fn call(&self, request: &ControlRequest) -> ControlReply {
        let body = json!({"line": request.line, "command": request.command});
        let body = serde_json::to_vec(&body)
            .map_err(|e| ControlError::BadRequest(format!("unencodable request: {e}")))?;
        let exchange = self.exchange("/api/control", Some(body));
        let (status, bytes) = tokio::time::timeout(CALL_TIMEOUT, exchange)
            .await
            .map_err(|_| ControlError::Unavailable(format!("no reply within {CALL_TIMEOUT:?}")))?
            .map_err(ControlError::Unavailable)?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ControlError::Failed(format!("undecodable reply: {e}")))?;
        if status.is_success() {
            return Ok(value);
        }
        let why = value["error"]
            .as_str()
            .unwrap_or("no reason given")
            .to_string();
        Err(match status {
            StatusCode::FORBIDDEN => ControlError::Refused(strip(&why, "refused: ")),
            StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND => ControlError::BadRequest(why),
            s if s.is_server_error() => ControlError::Unavailable(why),
            _ => ControlError::Failed(format!("{status}: {why}")),
        })
    }

    async fn exchange(
        &self,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), String> {
        let addr = &self.addr;
        let tcp = tokio::net::TcpStream::connect((addr.host.as_str(), addr.port))
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| format!("{addr}: {e}"))?;
        tokio::spawn(connection);
        let method = if body.is_some() { "POST" } else { "GET" };
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, addr.to_string())
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("{addr}: {e}"))?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_CONTROL_BYTES)
            .collect()
            .await
            .map_err(|e| format!("{addr}: {e}"))?
            .to_bytes();
        Ok((status, bytes))
    }
}

fn strip(text: &str, prefix: &str) -> String {
    text.strip_prefix(prefix).unwrap_or(text).to_string()
}
