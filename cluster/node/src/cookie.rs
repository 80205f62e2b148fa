//! The cluster cookie, Erlang-style: generated once into the data dir with mode
//! 0600, and refused when group or others can read it.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use swarmd_actors::ctx::Entropy;

const COOKIE_LEN: usize = 32;
/// DESIGN §11: the cookie admits a node to the cluster; it must be hard to guess.
const MIN_COOKIE_BITS: f64 = 128.0;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// 32 random capitals have about 18 distinct; under 12 is a made-up cookie.
/// A generated cookie fails these checks about once in a million: it is
/// then drawn again, so a node never refuses the cookie it made.
const MIN_DISTINCT_CHARS: usize = 12;
const MAX_GENERATE_DRAWS: usize = 16;

/// Where the cookie came from, for the startup log (never the cookie itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieSource {
    Environment,
    File,
    Generated,
}

/// Why no cookie could be had.
#[derive(Debug, thiserror::Error)]
pub enum CookieError {
    #[error("cookie file {} is readable by group or others (mode {mode:o}); run: chmod 600 {}", path.display(), path.display())]
    Exposed { path: PathBuf, mode: u32 },
    #[error("cookie file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot create cookie file {}: {source}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{origin}: {why}")]
    Invalid { origin: String, why: &'static str },
}

/// `SWARMD_COOKIE` if given; else the file at `path`, created with a fresh
/// random cookie when `may_create` and it does not exist yet.
pub fn resolve(
    env_cookie: Option<String>,
    path: &Path,
    may_create: bool,
    entropy: &dyn Entropy,
) -> Result<(String, CookieSource), CookieError> {
    let read = |source| CookieError::Read {
        path: path.to_owned(),
        source,
    };
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
                let path = path.to_owned();
                return Err(CookieError::Exposed { path, mode });
            }
            let text = fs::read_to_string(path).map_err(read)?;
            Ok((
                validated(text.trim(), &path.display().to_string())?,
                CookieSource::File,
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && may_create => {
            let mut cookie = generate(entropy);
            for _ in 0..MAX_GENERATE_DRAWS {
                if weakness(&cookie).is_none() {
                    break;
                }
                cookie = generate(entropy);
            }
            write_new(path, &cookie)?;
            Ok((cookie, CookieSource::Generated))
        }
        Err(e) => Err(read(e)),
    }
}

fn validated(cookie: &str, origin: &str) -> Result<String, CookieError> {
    let invalid = |why| CookieError::Invalid {
        origin: origin.to_owned(),
        why,
    };
    if cookie.is_empty() {
        return Err(invalid("the cookie is empty"));
    }
    if cookie.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("the cookie must not contain whitespace"));
    }
    if let Some(why) = weakness(cookie) {
        return Err(invalid(why));
    }
    Ok(cookie.to_owned())
}

/// Why a cookie is guessable, if it is. A cookie is one string, so its
/// entropy cannot be measured, only bounded: by its length and alphabet
/// (at least 128 bits), and by the patterns a person would type — a
/// repeated phrase, few distinct characters, one character dominating.
fn weakness(cookie: &str) -> Option<&'static str> {
    let chars: Vec<char> = cookie.chars().collect();
    if entropy_bits(cookie) < MIN_COOKIE_BITS {
        return Some(
            "the cookie is too easy to guess (under 128 bits): use at least 28 random \
             letters, or remove it and let swarmd generate one",
        );
    }
    let periodic =
        (1..=chars.len() / 2).any(|p| chars.iter().skip(p).zip(&chars).all(|(a, b)| a == b));
    if periodic {
        return Some(
            "the cookie repeats a shorter pattern, so it has far fewer than 128 bits: use \
             random letters, or remove it and let swarmd generate one",
        );
    }
    let mut distinct = chars.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < MIN_DISTINCT_CHARS {
        return Some(
            "the cookie uses fewer than 12 distinct characters, so it has far fewer than \
             128 bits: use random letters, or remove it and let swarmd generate one",
        );
    }
    let most = distinct
        .iter()
        .map(|d| chars.iter().filter(|c| *c == d).count())
        .max()
        .unwrap_or(0);
    if most * 3 > chars.len() {
        return Some(
            "one character makes up over a third of the cookie, so it has far fewer than \
             128 bits: use random letters, or remove it and let swarmd generate one",
        );
    }
    None
}

/// An upper bound on the cookie's entropy: its length times the bits of an
/// alphabet made of the character classes it uses (lower, upper, digits,
/// other). A generated cookie (32 capitals) has 150 bits.
fn entropy_bits(cookie: &str) -> f64 {
    let class_size = |c: char| match c {
        'a'..='z' => (0, 26),
        'A'..='Z' => (1, 26),
        '0'..='9' => (2, 10),
        _ => (3, 32),
    };
    let mut used = [0u32; 4];
    for (class, size) in cookie.chars().map(class_size) {
        used[class] = size;
    }
    let alphabet: u32 = used.iter().sum();
    cookie.chars().count() as f64 * f64::from(alphabet.max(1)).log2()
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

fn write_new(path: &Path, cookie: &str) -> Result<(), CookieError> {
    let create = |source| CookieError::Create {
        path: path.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(create)?;
    writeln!(file, "{cookie}")
        .and_then(|_| file.sync_all())
        .map_err(create)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Entropy for Fixed {
        fn next_u64(&self) -> u64 {
            7
        }
        fn fill_bytes(&self, dest: &mut [u8]) {
            dest.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        }
    }

    /// 28 capitals: just over 128 bits.
    const LONG: &str = "QWERTYUIOPASDFGHJKLZXCVBNMQW";

    #[test]
    fn a_guessable_cookie_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cookie");
        for weak in [
            "SECRET",
            "QWERTYUIOPASDFGHJKLZXCVBNM",
            "0123456789012345678901234567",
            // Long and mixed enough for the alphabet bound, yet guessable.
            "changemechangemechangemechangeme",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "abababababababababababababababababababab",
            "password-password-password-password-123",
            "ABCDEFABCDEFABCDEFABCDEFABCDEFABCDEFXYZ",
            "QQQQQQQQQQWERTYUIOPASDFGHJKLZXCVBNMQQQQQQQQQ",
        ] {
            let err = resolve(Some(weak.into()), &path, true, &Fixed).unwrap_err();
            assert!(matches!(err, CookieError::Invalid { .. }), "{weak}: {err}");
            assert!(err.to_string().contains("128 bits"), "{err}");
        }
        assert!(resolve(Some(LONG.into()), &path, true, &Fixed).is_ok());
        assert!(entropy_bits("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF") > 150.0);
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn generates_once_with_owner_only_mode_then_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cookie");
        let (made, source) = resolve(None, &path, true, &Fixed).unwrap();
        assert_eq!(source, CookieSource::Generated);
        assert_eq!(made, "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF");
        assert_eq!(mode(&path), 0o600);
        let (read, source) = resolve(None, &path, true, &Fixed).unwrap();
        assert_eq!((read, source), (made, CookieSource::File));
    }

    #[test]
    fn environment_wins_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cookie");
        let env = format!(" {LONG}\n");
        let (cookie, source) = resolve(Some(env), &path, true, &Fixed).unwrap();
        assert_eq!((cookie.as_str(), source), (LONG, CookieSource::Environment));
        assert!(!path.exists());
        assert!(matches!(
            resolve(Some("  ".into()), &path, true, &Fixed),
            Err(CookieError::Invalid {
                why: "the cookie is empty",
                ..
            })
        ));
    }

    #[test]
    fn group_or_world_access_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cookie");
        fs::write(&path, format!("{LONG}\n")).unwrap();
        for bad in [0o640, 0o604, 0o660] {
            fs::set_permissions(&path, fs::Permissions::from_mode(bad)).unwrap();
            let err = resolve(None, &path, true, &Fixed).unwrap_err();
            assert!(
                matches!(err, CookieError::Exposed { mode, .. } if mode == bad),
                "{bad:o}: {err}"
            );
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(resolve(None, &path, true, &Fixed).unwrap().0, LONG);
    }

    #[test]
    fn a_configured_cookie_file_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing");
        let err = resolve(None, &path, false, &Fixed).unwrap_err();
        assert!(
            matches!(&err, CookieError::Read { source, .. } if source.kind() == io::ErrorKind::NotFound),
            "{err}"
        );
        assert!(!path.exists());
    }
}
