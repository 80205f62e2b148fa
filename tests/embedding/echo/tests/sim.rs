//! The program's kind in the deterministic simulator, as on its nodes: the
//! cloud supervises an `echo` agent on an edge that crashes and comes back.

use std::time::Duration;

use swarmd::agents::EventKind;
use swarmd::sim::driver::Fault;

#[test]
fn an_echo_agent_is_kept_running_through_its_edges_crash() {
    swarmd::sim::check(1..=2, |mut sim| async move {
        sim.kind("echo", echo_swarm::Echo);
        sim.cloud("cloud").await.unwrap();
        sim.edge("edge-1", 1).await.unwrap();
        sim.supervise("e1", "echo").await.unwrap();
        let secs = Duration::from_secs;
        sim.at(secs(10), Fault::Crash("edge-1".into()));
        sim.at(secs(14), Fault::Restart("edge-1".into()));
        sim.run_for(secs(30)).await.unwrap();
        sim.drain(secs(30)).await.unwrap();
        let verdict = sim.verdict().await;
        let ledger = verdict.ledger("edge-1").expect("edge-1's disk");
        let log = ledger.node_log("edge-1", 0, 1_000_000).unwrap();
        let ups = log
            .iter()
            .filter(|e| e.agent.as_deref() == Some("e1"))
            .filter(|e| matches!(&e.kind, EventKind::Decision { rationale, .. } if rationale == "echo is up"))
            .count();
        assert!(
            ups >= 2,
            "e1 up before the crash and after the restart: {ups}"
        );
        verdict.assert_passed();
    });
}
