//! Mission Control's credentials: bearer tokens, one per tenant, each a
//! 0600 file `<data-dir>/tokens/<tenant>.token`. The node writes the
//! `system` one on first start (like the cookie); `swarmd token create
//! --tenant T` writes a tenant's (a new one replaces the old: rotation), and
//! `swarmd token revoke --tenant T` removes it. A running node sees a new or
//! removed token at the next request (it rereads the directory when its
//! modification time changes).
//!
//! A token grants its tenant, nothing else: the file's name is the tenant.
//! Only SHA-256 digests of tokens are held in memory, so looking one up
//! takes the same time whichever byte of a wrong token differs.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use swarmd_actors::ctx::Entropy;
use swarmd_messages::{SYSTEM_TENANT, limits};
use tracing::warn;

use super::auth::{MAX_TOKEN_BYTES, read_token};

/// Tokens kept at most; files beyond are ignored (and logged).
pub const MAX_TOKENS: usize = 1024;
const TOKEN_BYTES: usize = 32;
const SUFFIX: &str = ".token";

/// Where a node's tokens live.
pub fn tokens_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("tokens")
}

/// The file holding `tenant`'s token.
pub fn token_path(dir: &Path, tenant: &str) -> PathBuf {
    dir.join(format!("{tenant}{SUFFIX}"))
}

#[derive(Debug, thiserror::Error)]
pub enum TokenStoreError {
    #[error("{0:?} is not a tenant name (letters, digits, '_', '.', '-'; at most 64 bytes)")]
    BadTenant(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no token for tenant {0:?}")]
    Missing(String),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> TokenStoreError + '_ {
    move |source| TokenStoreError::Io {
        path: path.to_owned(),
        source,
    }
}

fn check_tenant(tenant: &str) -> Result<(), TokenStoreError> {
    if limits::is_name(tenant, limits::MAX_NAME_BYTES) {
        Ok(())
    } else {
        Err(TokenStoreError::BadTenant(tenant.to_string()))
    }
}

/// Writes a fresh token for `tenant` (replacing any), 0600, and returns it.
pub fn create(dir: &Path, tenant: &str, entropy: &dyn Entropy) -> Result<String, TokenStoreError> {
    check_tenant(tenant)?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_error(dir))?;
    let mut raw = [0u8; TOKEN_BYTES];
    entropy.fill_bytes(&mut raw);
    let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let path = token_path(dir, tenant);
    // Written beside, then renamed: a reader never sees half a token.
    let partial = dir.join(format!(".{tenant}{SUFFIX}.partial"));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        .map_err(io_error(&partial))?;
    writeln!(file, "{token}")
        .and_then(|()| file.sync_all())
        .map_err(io_error(&partial))?;
    std::fs::rename(&partial, &path).map_err(io_error(&path))?;
    Ok(token)
}

/// The `system` token's file, written on first start; whether it was new.
pub fn ensure_system(
    dir: &Path,
    entropy: &dyn Entropy,
) -> Result<(PathBuf, bool), TokenStoreError> {
    let path = token_path(dir, SYSTEM_TENANT);
    if path.exists() {
        return Ok((path, false));
    }
    create(dir, SYSTEM_TENANT, entropy)?;
    Ok((path, true))
}

pub fn revoke(dir: &Path, tenant: &str) -> Result<(), TokenStoreError> {
    check_tenant(tenant)?;
    let path = token_path(dir, tenant);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(TokenStoreError::Missing(tenant.to_string()))
        }
        Err(e) => Err(io_error(&path)(e)),
    }
}

/// The tenants that have a token file, sorted.
pub fn tenants(dir: &Path) -> Result<Vec<String>, TokenStoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(dir)(e)),
    };
    let mut tenants: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| tenant_of_file(&e.file_name().to_string_lossy()))
        .collect();
    tenants.sort();
    Ok(tenants)
}

fn tenant_of_file(name: &str) -> Option<String> {
    let tenant = name.strip_suffix(SUFFIX)?;
    limits::is_name(tenant, limits::MAX_NAME_BYTES).then(|| tenant.to_string())
}

type Digest32 = [u8; 32];

fn digest(token: &str) -> Digest32 {
    Sha256::digest(token.as_bytes()).into()
}

/// The tokens a node accepts: its tokens directory (reread when it
/// changes) and, if configured, `http.token_file` as a `system` token.
pub struct TokenStore {
    dir: PathBuf,
    configured_system: Option<Digest32>,
    loaded: Mutex<Loaded>,
}

#[derive(Default)]
struct Loaded {
    modified: Option<SystemTime>,
    tenants: HashMap<Digest32, String>,
}

impl TokenStore {
    pub fn new(dir: PathBuf, configured_system: Option<&str>) -> Self {
        Self {
            dir,
            configured_system: configured_system.map(digest),
            loaded: Mutex::default(),
        }
    }

    /// The tenant `token` grants, if any.
    pub fn tenant_of(&self, token: &str) -> Option<String> {
        if token.len() > MAX_TOKEN_BYTES as usize {
            return None;
        }
        let given = digest(token);
        if self.configured_system == Some(given) {
            return Some(SYSTEM_TENANT.to_string());
        }
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        let modified = std::fs::metadata(&self.dir).and_then(|m| m.modified()).ok();
        if modified.is_none() || modified != loaded.modified {
            *loaded = Loaded {
                modified,
                tenants: self.read_all(),
            };
        }
        loaded.tenants.get(&given).cloned()
    }

    fn read_all(&self) -> HashMap<Digest32, String> {
        let mut tenants = HashMap::new();
        let Ok(names) = self::tenants(&self.dir) else {
            return tenants;
        };
        for tenant in names.into_iter().take(MAX_TOKENS) {
            let path = token_path(&self.dir, &tenant);
            match read_token(&path) {
                Ok(token) => {
                    tenants.insert(digest(&token), tenant);
                }
                Err(e) => warn!(error = %e, "a token file is not used"),
            }
        }
        tenants
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use swarmd_cluster::seams::OsEntropy;

    #[test]
    fn a_token_grants_its_tenant_and_a_rotation_revokes_the_old_one() {
        let data = tempfile::tempdir().unwrap();
        let dir = tokens_dir(data.path());
        let (system_path, new) = ensure_system(&dir, &OsEntropy).unwrap();
        assert!(new);
        let mode = std::fs::metadata(&system_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!ensure_system(&dir, &OsEntropy).unwrap().1, "kept");
        let system = read_token(&system_path).unwrap();
        let acme = create(&dir, "acme", &OsEntropy).unwrap();
        let store = TokenStore::new(dir.clone(), Some("0123456789abcdef0123456789abcdef"));
        assert_eq!(store.tenant_of(&system).as_deref(), Some("system"));
        assert_eq!(store.tenant_of(&acme).as_deref(), Some("acme"));
        assert_eq!(
            store
                .tenant_of("0123456789abcdef0123456789abcdef")
                .as_deref(),
            Some("system")
        );
        assert_eq!(store.tenant_of("nope"), None);
        assert_eq!(tenants(&dir).unwrap(), ["acme", "system"]);

        let rotated = create(&dir, "acme", &OsEntropy).unwrap();
        assert_ne!(rotated, acme);
        // The directory's mtime may not move within one clock tick.
        store.loaded.lock().unwrap().modified = None;
        assert_eq!(store.tenant_of(&acme), None, "the old token is revoked");
        assert_eq!(store.tenant_of(&rotated).as_deref(), Some("acme"));

        revoke(&dir, "acme").unwrap();
        store.loaded.lock().unwrap().modified = None;
        assert_eq!(store.tenant_of(&rotated), None);
        assert!(matches!(
            revoke(&dir, "acme"),
            Err(TokenStoreError::Missing(_))
        ));
        assert!(matches!(
            create(&dir, "../etc", &OsEntropy),
            Err(TokenStoreError::BadTenant(_))
        ));
    }

    #[test]
    fn an_exposed_token_file_grants_nothing() {
        let data = tempfile::tempdir().unwrap();
        let dir = tokens_dir(data.path());
        let token = create(&dir, "acme", &OsEntropy).unwrap();
        let path = token_path(&dir, "acme");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let store = TokenStore::new(dir, None);
        assert_eq!(store.tenant_of(&token), None);
    }
}
