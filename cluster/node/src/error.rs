//! Why a node could not start. Each error names what the operator must fix:
//! the file, the key or the resource.

use std::path::PathBuf;

use swarmd_actors::ctx::{MeshError, StorageError};
use swarmd_storage::DataDirError;

use super::cookie::CookieError;
use swarmd_cluster::transport::TlsError;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot install signal handlers: {0}")]
    Signals(#[source] std::io::Error),
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    Cookie(#[from] CookieError),
    #[error("cannot open storage at {}: {source}", path.display())]
    Storage {
        path: PathBuf,
        #[source]
        source: StorageError,
    },
    #[error("cannot open the zenoh mesh: {0}")]
    Mesh(#[from] MeshError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    HttpToken(#[from] swarmd_http::TokenError),
    #[error("Mission Control's tokens: {0}")]
    Tokens(String),
    #[error("node failed to start: {0}")]
    Tree(#[from] ractor::SpawnErr),
    #[error("the embedding program's agent kinds: {0}")]
    Kinds(String),
}
