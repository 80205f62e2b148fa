//! The cluster cookie, Erlang-style: generated once into the data dir with mode
//! 0600, and refused when group or others can read it.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use swarmd_actors::ctx::Entropy;

const COOKIE_LEN: usize = 32;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Where the cookie came from, for the startup log (never the cookie itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieSource {
    Environment,
    File,
    Generated,
}

/// `SWARMD_COOKIE` if given; else the file at `path`, created with a fresh
/// random cookie when `may_create` and it does not exist yet.
pub fn resolve(
    env_cookie: Option<String>,
    path: &Path,
    may_create: bool,
    entropy: &dyn Entropy,
) -> Result<(String, CookieSource), String> {
    if let Some(cookie) = env_cookie {
        return Ok((
            validated(cookie.trim(), "SWARMD_COOKIE")?,
            CookieSource::Environment,
        ));
    }
    match fs::metadata(path) {
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(format!(
                    "cookie file {} is readable by group or others (mode {mode:o}); run: chmod 600 {}",
                    path.display(),
                    path.display()
                ));
            }
            let text = fs::read_to_string(path)
                .map_err(|e| format!("cookie file {}: {e}", path.display()))?;
            Ok((
                validated(text.trim(), &path.display().to_string())?,
                CookieSource::File,
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && may_create => {
            let cookie = generate(entropy);
            write_new(path, &cookie)?;
            Ok((cookie, CookieSource::Generated))
        }
        Err(e) => Err(format!("cookie file {}: {e}", path.display())),
    }
}

fn validated(cookie: &str, origin: &str) -> Result<String, String> {
    if cookie.is_empty() {
        return Err(format!("{origin}: the cookie is empty"));
    }
    if cookie.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{origin}: the cookie must not contain whitespace"));
    }
    Ok(cookie.to_owned())
}

fn generate(entropy: &dyn Entropy) -> String {
    let mut bytes = [0u8; COOKIE_LEN];
    entropy.fill_bytes(&mut bytes);
    // 256 % 26 != 0 gives a bias of under 1 %, irrelevant for 150 bits of cookie.
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

fn write_new(path: &Path, cookie: &str) -> Result<(), String> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot create cookie file {}: {e}", path.display()))?;
    writeln!(file, "{cookie}")
        .and_then(|_| file.sync_all())
        .map_err(|e| format!("cannot write cookie file {}: {e}", path.display()))
}
