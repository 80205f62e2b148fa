//! Who may talk to Mission Control. Loopback binds go without a token (but
//! only under a loopback `Host`, so a page elsewhere cannot reach the node
//! by DNS rebinding); any other bind needs `http.token_file`, and then every
//! request but the page's static shell carries `Authorization: Bearer …`.
//! Actions (POST) take JSON only, which no cross-site form can send.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Http;
use super::api::ApiError;

/// A token shorter than this is refused (128 bits as hex).
const MIN_TOKEN_CHARS: usize = 32;
const MAX_TOKEN_BYTES: u64 = 4096;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("http.token_file {}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("http.token_file {} is readable by group or others (mode {mode:o}); run: chmod 600 {}", path.display(), path.display())]
    Exposed { path: PathBuf, mode: u32 },
    #[error("http.token_file {} holds a token of {chars} characters; at least {MIN_TOKEN_CHARS} are needed", path.display())]
    TooShort { path: PathBuf, chars: usize },
}

/// The token in `path`: a 0600 file of at most 4 KiB, whitespace trimmed.
pub fn read_token(path: &Path) -> Result<String, TokenError> {
    let unreadable = |reason: String| TokenError::Unreadable {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| unreadable(e.to_string()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(TokenError::Exposed {
            path: path.to_path_buf(),
            mode,
        });
    }
    if meta.len() > MAX_TOKEN_BYTES {
        return Err(unreadable(format!("over {MAX_TOKEN_BYTES} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
    let token = text.trim().to_string();
    if token.chars().count() < MIN_TOKEN_CHARS || token.contains(char::is_whitespace) {
        return Err(TokenError::TooShort {
            path: path.to_path_buf(),
            chars: token.chars().count(),
        });
    }
    Ok(token)
}

pub async fn check(State(http): State<Arc<Http>>, request: Request, next: Next) -> Response {
    match allowed(&http, &request) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

fn allowed(http: &Http, request: &Request) -> Result<(), ApiError> {
    let headers = request.headers();
    match &http.token {
        Some(token) if request.uri().path() != "/" => {
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            if !given.is_some_and(|g| same(g.as_bytes(), token.as_bytes())) {
                return Err(ApiError::unauthorized());
            }
        }
        Some(_) => {}
        None => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
            if !host.is_some_and(loopback_host) || !http.loopback {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "without http.token_file only loopback clients addressing a loopback host are served",
                ));
            }
        }
    }
    if request.method() == Method::POST {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "actions take a JSON body (Content-Type: application/json)",
            ));
        }
    }
    Ok(())
}

/// `localhost`, `127.0.0.1`, `[::1]`, with or without a port.
fn loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(':') && port.chars().all(|c| c.is_ascii_digit()) => {
            name
        }
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Compares in time that depends on the length only.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_with_and_without_ports() {
        for host in [
            "localhost",
            "localhost:4680",
            "127.0.0.1:4680",
            "[::1]:4680",
            "[::1]",
        ] {
            assert!(loopback_host(host), "{host}");
        }
        for host in [
            "evil.example:4680",
            "10.0.0.1",
            "127.0.0.1.evil.example",
            "",
        ] {
            assert!(!loopback_host(host), "{host}");
        }
    }

    #[test]
    fn a_token_file_must_be_private_and_long_enough() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "0123456789abcdef0123456789abcdef\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            read_token(&path),
            Err(TokenError::Exposed { mode: 0o644, .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            read_token(&path).unwrap(),
            "0123456789abcdef0123456789abcdef"
        );
        std::fs::write(&path, "short").unwrap();
        assert!(matches!(
            read_token(&path),
            Err(TokenError::TooShort { chars: 5, .. })
        ));
        let missing = dir.path().join("missing");
        assert!(matches!(
            read_token(&missing),
            Err(TokenError::Unreadable { .. })
        ));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
    }
}
