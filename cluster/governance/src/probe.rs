//! What the governor measures: the process's resident memory and CPU time,
//! and the host's available memory. Production reads /proc; the simulator
//! plugs in a fixed probe, so a seed's run does not depend on the host.

use std::time::Duration;

/// One reading of the process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessSample {
    pub rss_bytes: u64,
    /// User + system CPU time since the process started.
    pub cpu_time: Duration,
    /// What the host could still give (MemAvailable); `None` when unknown.
    pub host_available_bytes: Option<u64>,
}

pub trait ResourceProbe: Send + Sync {
    fn sample(&self) -> ProcessSample;
}

/// This process, from /proc (Linux). A file that cannot be read reads as zero.
pub struct ProcResources;

impl ResourceProbe for ProcResources {
    fn sample(&self) -> ProcessSample {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        ProcessSample {
            rss_bytes: kb_field(&status, "VmRSS:").map_or(0, |kb| kb * 1024),
            cpu_time: cpu_time(&stat).unwrap_or_default(),
            host_available_bytes: kb_field(&meminfo, "MemAvailable:").map(|kb| kb * 1024),
        }
    }
}

/// Always the same reading (the simulator's).
#[derive(Default)]
pub struct FixedResources(pub ProcessSample);

impl ResourceProbe for FixedResources {
    fn sample(&self) -> ProcessSample {
        self.0
    }
}

/// `sysconf(_SC_CLK_TCK)` on every Linux this runs on.
pub const CLOCK_TICKS_PER_S: u64 = 100;

/// `Key:   1234 kB` lines of /proc/self/status and /proc/meminfo.
fn kb_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// utime + stime of /proc/self/stat (fields 14 and 15, counted after the
/// command's closing parenthesis, which may itself hold spaces).
pub fn cpu_time(stat: &str) -> Option<Duration> {
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let total = ticks(11)? + ticks(12)?;
    Some(Duration::from_millis(total * 1000 / CLOCK_TICKS_PER_S))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_reads_utime_and_stime_after_a_command_with_spaces() {
        let stat = "42 (my cmd) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0";
        assert_eq!(cpu_time(stat), Some(Duration::from_secs(3)));
        assert_eq!(cpu_time("garbage"), None);
    }

    #[test]
    fn this_process_has_resident_memory() {
        let sample = ProcResources.sample();
        assert!(sample.rss_bytes > 1024 * 1024, "{sample:?}");
        assert!(sample.host_available_bytes.is_some_and(|b| b > 0));
    }
}
