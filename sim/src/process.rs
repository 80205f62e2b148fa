//! Waiting on a seed's process, bounded: a run that hangs (a deadlock that
//! leaves a paused runtime with nothing to wake it) is killed and reported,
//! never waited on forever. Used by the sweep and by [`crate::check`].

use std::io::Read;
use std::process::{Child, Output};
use std::thread::JoinHandle;
use std::time::Duration;

/// Wall time one seed's run may take before it is killed.
pub const RUN_LIMIT: Duration = Duration::from_secs(600);

/// Waits for `child` at most `limit`, reading its pipes meanwhile (so a full
/// pipe never stalls it); `true` with the output when it had to be killed.
// The harness's own wall clock and pipe readers, outside any simulation.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
pub fn wait_with_limit(mut child: Child, limit: Duration) -> (Output, bool) {
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    let started = std::time::Instant::now();
    let mut killed = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= limit => {
                let _ = child.kill();
                killed = true;
                break child.wait().expect("a killed child is reaped");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("cannot wait on a seed's process: {e}"),
        }
    };
    let output = Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    (output, killed)
}

#[allow(clippy::disallowed_methods)] // a reader thread of the harness, not an actor
fn read_all<R: Read + Send + 'static>(pipe: Option<R>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn a_run_past_its_limit_is_killed_and_one_within_it_is_not() {
        let sleeper = Command::new("sleep")
            .arg("30")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let (out, killed) = wait_with_limit(sleeper, Duration::from_millis(200));
        assert!(killed && !out.status.success());
        let echo = Command::new("echo")
            .arg("done")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let (out, killed) = wait_with_limit(echo, Duration::from_secs(30));
        assert!(!killed && out.status.success());
        assert_eq!(out.stdout, b"done\n");
    }
}
