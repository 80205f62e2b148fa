//! Benchmark maps as they are: most MovingAI maps have a walled border
//! (e.g. `warehouse-10-20-10-2-1`), so their docks lie along the inside of
//! the wall; `--docks` gives them by hand. A bad dock is a clear error.

use std::process::{Command, Output};

const WALLED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../config/maps/warehouse-walled.map"
);

fn swarm_sim(extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_swarm-sim"))
        .args(["--seed", "3", "--scenario", "warehouse", "--sim-secs", "20"])
        .args(["--agents", "2"])
        .args(extra)
        .output()
        .expect("swarm-sim runs")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

/// `name=N` in the tally line.
fn counted(out: &str, name: &str) -> u64 {
    let key = format!(" {name}=");
    let at = out
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {out}"));
    let rest = &out[at + key.len()..];
    rest.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn a_walled_map_runs_with_its_docks_along_the_wall_or_given() {
    for extra in [
        vec!["--map", WALLED],
        vec!["--map", WALLED, "--docks", "1,1;31,13"],
    ] {
        let out = swarm_sim(&extra);
        let all = text(&out);
        assert!(out.status.success(), "{extra:?}: {all}");
        assert!(all.contains("verdict=PASS"), "{all}");
        assert!(
            counted(&all, "missions_ended") > 0,
            "fetches to its docks end: {all}"
        );
    }
}

#[test]
fn a_dock_on_a_wall_or_garbage_is_a_clear_error() {
    let cases = [
        (
            vec!["--docks", "0,0"],
            "dock (0,0) (world.docks) is not a free cell",
        ),
        (vec!["--docks", "1;2"], "--docks: \"1\" is not a dock"),
    ];
    for (extra, says) in cases {
        let args: Vec<&str> = ["--map", WALLED].into_iter().chain(extra).collect();
        let out = swarm_sim(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(says), "{args:?}: {}", text(&out));
    }
    let out = swarm_sim(&["--docks", "1,1"]);
    assert_eq!(out.status.code(), Some(2), "--docks needs --map");
    assert!(text(&out).contains("--map"), "{}", text(&out));
}
