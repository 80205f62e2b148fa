//! A Python virtual environment the tests create (once per machine, under a
//! lock) with `eclipse-zenoh` (and `wheel`, to build a local package) from
//! PyPI, and swarmd's own package
//! (actors/python) installed into it fresh by each test process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Keep in step with the zenoh crate (Cargo.lock) and actors/python/pyproject.toml.
pub const ZENOH: &str = "eclipse-zenoh==1.10.2";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's python, with the package installed.
pub fn python() -> PathBuf {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    READY.get_or_init(prepare).clone()
}

fn prepare() -> PathBuf {
    use std::os::fd::AsRawFd;
    let venv = root().join("target").join("pyenv");
    std::fs::create_dir_all(root().join("target")).unwrap();
    let lock = std::fs::File::create(root().join("target").join("pyenv.lock")).unwrap();
    // SAFETY: flock on a file descriptor we own; released when `lock` drops.
    let locked = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(locked, 0, "cannot lock the venv");
    let python = venv.join("bin").join("python");
    let zenoh_ready = |python: &Path| {
        Command::new(python)
            .args(["-c", "import zenoh, wheel"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !zenoh_ready(&python) {
        eprintln!("creating a Python venv with {ZENOH} for the tests…");
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
        run(Command::new(&python).args(["-m", "pip", "install", "--quiet", ZENOH, "wheel"]));
        assert!(
            zenoh_ready(&python),
            "zenoh still not importable in {venv:?}"
        );
    }
    let package = root().join("actors").join("python");
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--force-reinstall",
            "--no-build-isolation",
        ])
        .arg(&package));
    python
}

fn run(command: &mut Command) {
    let status = command.status().expect("the command starts");
    assert!(status.success(), "{command:?} failed: {status}");
}

/// A test script of tests/external.
pub fn script(name: &str) -> PathBuf {
    root().join("tests").join("external").join(name)
}
