use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A node's data directory, held exclusively for the life of this value.
///
/// The lock is an OS advisory lock on `<dir>/LOCK`, so it dies with the process:
/// a crashed node never leaves a stale lock behind. The holder's pid is written
/// into the file only to make the error message useful.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    _lock: File,
}

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("data dir {path}: cannot create it: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "data dir {path} is open to group or others (mode {mode:o}): it holds the cookie and the ledger; run: chmod 700 {path}"
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error("data dir {path} is in use by another swarmd{holder} (lock file {lock} is held)")]
    InUse {
        path: PathBuf,
        lock: PathBuf,
        holder: String,
    },
    #[error("data dir {path}: cannot lock {lock}: {source}")]
    Lock {
        path: PathBuf,
        lock: PathBuf,
        source: std::io::Error,
    },
}

impl DataDir {
    /// Creates the directory if needed and takes its lock, failing at once if
    /// another process holds it. Nothing in the directory is touched before the
    /// lock is held.
    ///
    /// The directory is owner-only (0700): created so, tightened to it while
    /// still empty (as `initdb` does), and refused once it holds anything
    /// while group or others may enter or read it.
    pub fn lock(path: &Path) -> Result<Self, DataDirError> {
        let create = |source| DataDirError::Create {
            path: path.to_owned(),
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(create)?;
        if let Some(mode) = exposed_mode(path).map_err(create)? {
            if !is_empty(path).map_err(create)? {
                let path = path.to_owned();
                return Err(DataDirError::Exposed { path, mode });
            }
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
                .map_err(create)?;
        }
        let lock_path = path.join("LOCK");
        let lock_err = |source| DataDirError::Lock {
            path: path.to_owned(),
            lock: lock_path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(lock_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(DataDirError::InUse {
                    path: path.to_owned(),
                    lock: lock_path.clone(),
                    holder: read_holder(&mut file),
                });
            }
            Err(TryLockError::Error(e)) => return Err(lock_err(e)),
        }
        file.set_len(0).map_err(lock_err)?;
        file.seek(SeekFrom::Start(0)).map_err(lock_err)?;
        writeln!(file, "{}", std::process::id()).map_err(lock_err)?;
        Ok(Self {
            path: path.to_owned(),
            _lock: file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the sled database lives.
    pub fn ledger_path(&self) -> PathBuf {
        self.path.join("ledger")
    }
}

/// The mode bits of a data directory that a node would refuse: group or
/// others may open it and it already holds something. `None` for a directory
/// that is owner-only, empty (a node tightens it) or absent.
pub fn refused_mode(path: &Path) -> Option<u32> {
    let mode = exposed_mode(path).ok()??;
    (!is_empty(path).ok()?).then_some(mode)
}

fn exposed_mode(path: &Path) -> std::io::Result<Option<u32>> {
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    Ok((mode & 0o077 != 0).then_some(mode))
}

fn is_empty(path: &Path) -> std::io::Result<bool> {
    Ok(std::fs::read_dir(path)?.next().is_none())
}

fn read_holder(file: &mut File) -> String {
    let mut text = String::new();
    match file.read_to_string(&mut text) {
        Ok(_) if !text.trim().is_empty() => format!(" (pid {})", text.trim()),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_fails_with_the_holder_pid_and_frees_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDir::lock(dir.path()).unwrap();
        let err = DataDir::lock(dir.path()).unwrap_err();
        let shown = err.to_string();
        assert!(matches!(err, DataDirError::InUse { .. }), "{shown}");
        assert!(
            shown.contains(&format!("pid {}", std::process::id())),
            "{shown}"
        );
        drop(first);
        DataDir::lock(dir.path()).expect("lock is free once the holder is gone");
    }

    #[test]
    fn creates_missing_directories() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b/c");
        let held = DataDir::lock(&nested).unwrap();
        assert_eq!(held.ledger_path(), nested.join("ledger"));
        assert!(nested.join("LOCK").exists());
    }

    #[test]
    fn an_empty_open_dir_is_tightened_and_one_holding_data_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let open = |p: &Path| std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        open(dir.path()).unwrap();
        assert_eq!(
            refused_mode(dir.path()),
            None,
            "an empty dir is not refused"
        );
        drop(DataDir::lock(dir.path()).unwrap());
        assert_eq!(mode(dir.path()), 0o700, "tightened while empty");

        open(dir.path()).unwrap();
        assert_eq!(refused_mode(dir.path()), Some(0o755));
        let err = DataDir::lock(dir.path()).unwrap_err();
        assert!(
            matches!(err, DataDirError::Exposed { mode: 0o755, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 700"), "{err}");
        assert_eq!(mode(dir.path()), 0o755, "a refused dir is left as it was");
    }
}
