//! A checker that cannot fail does not count. Built with the deliberately
//! broken disk (`--features bug-lose-acked`: every 20th flush loses an
//! acknowledged write), the simulator must fail, naming the lost events.
//!
//!     cargo test -p swarmd-sim --features bug-lose-acked --test broken_build
#![cfg(feature = "bug-lose-acked")]

use std::process::Command;

#[test]
fn the_hub_checker_catches_a_disk_that_loses_acked_writes() {
    for scenario in ["partition", "crash", "disk"] {
        let out = Command::new(env!("CARGO_BIN_EXE_swarm-sim"))
            .args(["--seed", "1", "--scenario", scenario, "--sim-secs", "30"])
            .output()
            .expect("swarm-sim runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            !out.status.success(),
            "{scenario}: the broken build passed:\n{stdout}"
        );
        assert!(stdout.contains("verdict=FAIL"), "{stdout}");
        assert!(stdout.contains("acked but missing at the hub"), "{stdout}");
        assert!(stdout.contains("re-run with the full trace"), "{stdout}");
    }
}
