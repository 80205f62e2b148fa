//! League of Robot Runners instances in the simulator: `swarm-sim lorr`
//! runs a walled instance made for this repository (`tests/lorr/`, the
//! LoRR 2024 file format: linearized cells, multi-errand tasks) with
//! negotiation on and off, every checker passing; a run reveals no more
//! tasks than the instance allows; a bad instance is a clear error naming
//! the file and line.

use std::path::{Path, PathBuf};
use std::process::Command;

use swarmd_messages::swarm::Cell;

fn instance() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lorr/walled_16.json")
}

/// `swarm-sim ARGS`: whether it succeeded, its exit code and what it printed.
fn swarm_sim(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_swarm-sim"))
        .args(args)
        .output()
        .expect("swarm-sim runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    (
        out.status.code(),
        text + &String::from_utf8_lossy(&out.stderr),
    )
}

fn field(text: &str, name: &str) -> u64 {
    text.split_whitespace()
        .find_map(|f| f.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[test]
fn the_instance_loads_as_written() {
    let instance = swarmd_sim::lorr::load(&instance()).unwrap();
    assert_eq!((instance.floor.width, instance.floor.height), (32, 20));
    assert_eq!(instance.starts.len(), 16);
    // The agents file's first cell, 297 = 9 * 32 + 9.
    assert_eq!(instance.starts[0], Cell::new(9, 9));
    assert_eq!(instance.workload.tasks.len(), 1000);
    assert_eq!(instance.workload.revealed, 24, "1.5 x a team of 16");
    let errands: Vec<usize> = instance.workload.tasks.iter().map(Vec::len).collect();
    assert!(errands.contains(&1) && errands.contains(&3), "{errands:?}");
}

#[test]
fn a_walled_instance_runs_with_negotiation_on_and_off_and_every_checker_passes() {
    let problem = instance();
    let (code, report) = swarm_sim(&["lorr", problem.to_str().unwrap(), "--steps", "300"]);
    assert_eq!(code, Some(0), "{report}");
    for on in ["on", "off"] {
        let row = report
            .lines()
            .find(|l| l.starts_with(&format!("{on} ")))
            .unwrap_or_else(|| panic!("no row for {on}: {report}"));
        let cols: Vec<&str> = row.split_whitespace().collect();
        let (tasks, errands): (u64, u64) = (cols[1].parse().unwrap(), cols[2].parse().unwrap());
        assert!(tasks > 0, "{row}");
        assert!(errands > tasks, "some tasks have several errands: {row}");
        assert_eq!((cols[5], cols[6]), ("0", "PASS"), "{row}");
    }
}

#[test]
fn a_run_reveals_no_more_tasks_than_the_instance_allows() {
    let problem = instance();
    let args = [
        "--lorr",
        problem.to_str().unwrap(),
        "--scenario",
        "warehouse",
    ];
    let (code, report) = swarm_sim(&[&args[..], &["--sim-secs", "30"]].concat());
    assert_eq!(code, Some(0), "{report}");
    let (planned, ended) = (
        field(&report, "missions_planned"),
        field(&report, "missions_ended"),
    );
    assert!(ended > 0, "{report}");
    assert!(
        planned <= ended + 24,
        "{planned} planned, {ended} ended: at most 24 revealed at once"
    );
    assert!(field(&report, "tasks_in_run") <= field(&report, "tasks_done"));
}

/// The instance copied into `dir`, with `edit` applied to the file named.
fn edited(dir: &Path, file: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let from = instance().parent().unwrap().to_path_buf();
    for sub in ["maps", "agents", "tasks"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    for name in [
        "walled_16.json",
        "maps/walled-32-20.map",
        "agents/walled_16.agents",
        "tasks/walled-32-20.tasks",
    ] {
        let text = std::fs::read_to_string(from.join(name)).unwrap();
        let text = if name == file { edit(text) } else { text };
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir.join("walled_16.json")
}

/// An edit of one file's text.
type Edit = fn(String) -> String;

#[test]
fn a_bad_instance_is_a_clear_error_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Edit, &str); 4] = [
        (
            "tasks/walled-32-20.tasks",
            |t| t.replacen("\n1000\n", "\n1000\n0,33\n", 1),
            "line 3: cell 0 (0,0) is a wall",
        ),
        (
            "tasks/walled-32-20.tasks",
            |t| t.replacen("\n1000\n", "\n1000\n33,x\n", 1),
            "line 3: \"x\" is not a cell number",
        ),
        (
            "walled_16.json",
            |t| t.replace("\"teamSize\": 16", "\"teamSize\": 17"),
            "16 agents for a team of 17",
        ),
        (
            "agents/walled_16.agents",
            |t| t.replacen("\n16\n", "\n16\n999999\n", 1),
            "cell 999999 is off the 32x20 map",
        ),
    ];
    for (file, edit, expected) in cases {
        let problem = edited(dir.path(), file, edit);
        let (code, report) = swarm_sim(&["lorr", problem.to_str().unwrap()]);
        assert_eq!(code, Some(2), "{file}: {report}");
        assert!(
            report.contains(expected),
            "{file}: {expected:?} in {report}"
        );
    }
}
