//! What a node's mesh session is opened with: where it listens, whom it
//! connects to, and how its links are authenticated.
//!
//! Without `[mesh.tls]`, every link is authenticated with a key derived from
//! the cluster cookie (zenoh's user-password extension: the listener sends a
//! nonce, the connector answers HMAC(key, nonce)), so a stranger who reaches
//! the mesh port cannot join the horizontal plane. The links are not
//! encrypted: `[mesh.tls]` is for that.

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use swarmd_actors::ctx::MeshError;
use swarmd_config::{MeshSection, NodeConfig};

/// The user name every swarmd node presents on a cookie-authenticated mesh.
pub const MESH_USER: &str = "swarmd";
/// The user name prefix of a tenant's external agents (`agent.TENANT`):
/// they may speak the agent protocol of that tenant's agents, nothing else.
pub const AGENT_USER_PREFIX: &str = "agent.";
/// Where, in the data dir, the tenants' agent credentials are kept (mode 0600).
pub const AGENT_USERS_FILE: &str = "mesh-agent-users";
/// Where, in the data dir, the accepted mesh credential is kept (mode 0600).
pub const MESH_USERS_FILE: &str = "mesh-users";

#[derive(Debug, Clone)]
pub struct MeshPlan {
    pub section: MeshSection,
    pub tenants: Vec<String>,
    /// This node's name, carried on every sample it publishes so receivers
    /// can count traffic per node.
    pub node: String,
    pub listen: Vec<String>,
    pub connect: Vec<String>,
    pub auth: Option<MeshAuth>,
    /// The agent gateway, where external bodies and brains connect.
    pub agents: Option<GatewayPlan>,
}

/// The agent gateway: a zenoh listener of its own that admits only the
/// tenants' agent credentials, each to its tenant's agent protocol keys.
#[derive(Debug, Clone)]
pub struct GatewayPlan {
    pub listen: Vec<String>,
    pub tenants: Vec<String>,
    /// The agent credentials zenoh checks incoming links against (mode 0600).
    pub users_file: PathBuf,
    /// `[mesh.tls]`: then the gateway is mutual TLS too, and a body or brain
    /// needs a certificate from the mesh's CA as well as its credential.
    pub tls: Option<swarmd_config::TlsSection>,
}

#[derive(Debug, Clone)]
pub struct MeshAuth {
    pub password: String,
    /// The dictionary zenoh checks incoming links against.
    pub users_file: PathBuf,
}

impl MeshPlan {
    /// Exactly `section`'s endpoints, no link authentication: for tests and
    /// embedders that manage the mesh themselves.
    pub fn from_section(section: &MeshSection, tenants: &[String], node: &str) -> Self {
        Self {
            section: section.clone(),
            tenants: tenants.to_vec(),
            node: node.to_owned(),
            listen: section.listen.clone(),
            connect: section.connect.clone(),
            auth: None,
            agents: None,
        }
    }

    /// A node's plan: endpoints derived from the cluster's unless given,
    /// links authenticated with the cookie unless `[mesh.tls]` is set.
    pub fn for_node(config: &NodeConfig, cookie: &str, data_dir: &Path) -> Result<Self, MeshError> {
        let auth = match config.mesh.tls {
            Some(_) => None,
            None => Some(MeshAuth::from_cookie(cookie, data_dir)?),
        };
        let agents = match config.agents_listen().is_empty() {
            true => None,
            false => Some(GatewayPlan::from_cookie(config, cookie, data_dir)?),
        };
        Ok(Self {
            section: config.mesh.clone(),
            tenants: config.node.tenants.clone(),
            node: config.node.name.clone(),
            listen: config.mesh_listen(),
            connect: config.mesh_connect(),
            auth,
            agents,
        })
    }
}

impl MeshAuth {
    /// The mesh key of `cookie`, written where zenoh reads accepted users.
    pub fn from_cookie(cookie: &str, data_dir: &Path) -> Result<Self, MeshError> {
        let password = mesh_key(cookie);
        let users_file = data_dir.join(MESH_USERS_FILE);
        write_private(&users_file, &format!("{MESH_USER}:{password}\n"))
            .map_err(|e| MeshError::Transport(format!("{}: {e}", users_file.display())))?;
        Ok(Self {
            password,
            users_file,
        })
    }
}

impl GatewayPlan {
    /// Each served tenant's agent credential, written where the gateway's
    /// zenoh reads accepted users.
    pub fn from_cookie(
        config: &NodeConfig,
        cookie: &str,
        data_dir: &Path,
    ) -> Result<Self, MeshError> {
        let tenants = config.node.tenants.clone();
        let users: String = tenants
            .iter()
            .map(|t| agent_credential(cookie, t))
            .map(|(user, key)| format!("{user}:{key}\n"))
            .collect();
        let users_file = data_dir.join(AGENT_USERS_FILE);
        write_private(&users_file, &users)
            .map_err(|e| MeshError::Transport(format!("{}: {e}", users_file.display())))?;
        Ok(Self {
            listen: config.agents_listen(),
            tenants,
            users_file,
            tls: config.mesh.tls.clone(),
        })
    }
}

/// The user and password with which `tenant`'s external bodies and brains
/// join the mesh (`swarmd mesh credentials --tenant T` prints them): derived
/// from the cookie, so every node of the cluster accepts them, and never
/// the cookie itself or another tenant's.
pub fn agent_credential(cookie: &str, tenant: &str) -> (String, String) {
    let label = format!("swarmd mesh agent key v1\0{tenant}");
    (
        format!("{AGENT_USER_PREFIX}{tenant}"),
        hmac_hex(cookie, label.as_bytes()),
    )
}

/// HMAC-SHA256(cookie, label) in hex: the cookie itself never reaches zenoh.
fn mesh_key(cookie: &str) -> String {
    hmac_hex(cookie, b"swarmd mesh link key v1")
}

fn hmac_hex(cookie: &str, label: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(cookie.as_bytes()).expect("any key length");
    mac.update(label);
    let digest = mac.finalize().into_bytes();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mesh_key_depends_on_the_cookie_and_is_kept_private() {
        assert_eq!(mesh_key("a-cookie"), mesh_key("a-cookie"));
        assert_ne!(mesh_key("a-cookie"), mesh_key("b-cookie"));
        assert_eq!(mesh_key("a-cookie").len(), 64);
        let dir = tempfile::tempdir().unwrap();
        let auth = MeshAuth::from_cookie("a-cookie", dir.path()).unwrap();
        let text = std::fs::read_to_string(&auth.users_file).unwrap();
        assert_eq!(text, format!("swarmd:{}\n", auth.password));
        let (user, key) = agent_credential("a-cookie", "acme");
        assert_eq!(user, "agent.acme");
        assert_ne!(key, agent_credential("a-cookie", "other").1);
        assert_ne!(key, auth.password);
        assert!(!text.contains("a-cookie"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&auth.users_file)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
