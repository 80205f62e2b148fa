//! Who may talk to Mission Control: every request but the page's static
//! shell carries `Authorization: Bearer TOKEN`, on every bind, loopback
//! included; the token names the request's tenant (see `tokens.rs`).
//! `/metrics` is the node's machinery: a `system` token only. Actions
//! (POST) take JSON only, which no cross-site form can send.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use swarmd_messages::SYSTEM_TENANT;

use super::Http;
use super::capped::ClientAddr;
use super::error::ApiError;

/// A token shorter than this is refused (128 bits as hex).
const MIN_TOKEN_CHARS: usize = 32;
pub const MAX_TOKEN_BYTES: u64 = 4096;

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

/// The credential a request proved: its tenant, for the control actor.
#[derive(Debug, Clone)]
pub struct Credential {
    pub tenant: String,
}

/// Who asks: the client's address and the tenant its token grants. A
/// handler taking it runs only behind [`check`].
#[derive(Debug, Clone)]
pub struct Caller {
    pub addr: std::net::SocketAddr,
    pub tenant: String,
}

impl Caller {
    /// The audit record's principal (the tenant goes beside it).
    pub fn principal(&self) -> String {
        format!("http@{}", self.addr.ip())
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, ApiError> {
        let addr = parts
            .extensions
            .get::<axum::extract::ConnectInfo<ClientAddr>>()
            .map(|c| c.0.0)
            .or_else(|| {
                parts
                    .extensions
                    .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                    .map(|c| c.0)
            })
            .unwrap_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
        let tenant = parts
            .extensions
            .get::<Credential>()
            .map(|c| c.tenant.clone())
            .ok_or_else(ApiError::unauthorized)?;
        Ok(Caller { addr, tenant })
    }
}

pub async fn check(State(http): State<Arc<Http>>, mut request: Request, next: Next) -> Response {
    match allowed(&http, &request) {
        Ok(Some(credential)) => {
            request.extensions_mut().insert(credential);
            next.run(request).await
        }
        Ok(None) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

fn allowed(http: &Http, request: &Request) -> Result<Option<Credential>, ApiError> {
    let headers = request.headers();
    let path = request.uri().path();
    if path == "/" {
        return Ok(None);
    }
    let tenant = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|given| http.tokens.tenant_of(given.trim()))
        .ok_or_else(ApiError::unauthorized)?;
    if path == "/metrics" && tenant != SYSTEM_TENANT {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "/metrics is the node's machinery: it needs the system token",
        ));
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
    Ok(Some(Credential { tenant }))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
