//! The agent factory and registry: agents from specs, in bulk, within the
//! node's `max_agents`, with the status of each.

mod common;

use common::{Floor, TENANT, eventually, reflex};
use swarmd_actors::fleet::{AgentFactory, AgentKinds};
use swarmd_messages::{SpawnRejected, SpawnSpec};
use swarmd_supervisor::Restart;
use swarmd_warehouse::agent::GRID_AGENT_KIND;

fn factory(floor: &Floor) -> AgentFactory {
    AgentFactory {
        ctx: floor.ctx.clone(),
        kinds: AgentKinds::builtin().with(GRID_AGENT_KIND, floor.kind()),
        directory: floor.directory.clone(),
        agents: floor.agents_slot.clone(),
        tenants: vec![TENANT.into()],
        placed: Default::default(),
        admission: Default::default(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_spec_of_a_tenant_the_node_does_not_serve_is_refused() {
    let floor = Floor::open(11, 4).await;
    let factory = factory(&floor);
    let mut spec = grid_spec("intruder");
    spec.tenant = "other".into();
    let refused = factory.create(&spec, Restart::Transient).await.unwrap_err();
    assert!(
        matches!(&refused, SpawnRejected::Spec(why) if why.contains("not served")),
        "{refused:?}"
    );
    assert!(!floor.directory.contains("intruder"));
    assert!(
        factory
            .create(&grid_spec("member"), Restart::Transient)
            .await
            .is_ok()
    );
}

fn grid_spec(id: &str) -> SpawnSpec {
    let mut spec = SpawnSpec::new(id, GRID_AGENT_KIND, TENANT);
    spec.squad = "alpha".into();
    spec.capabilities = vec!["move".into(), "carry".into()];
    spec
}

#[tokio::test(start_paused = true)]
async fn max_agents_refuses_the_next_spawn_with_a_clear_error() {
    let floor = Floor::open(11, 2).await;
    let factory = factory(&floor);
    let specs: Vec<SpawnSpec> = ["a1", "a2", "a3"].map(grid_spec).to_vec();
    let results = factory.start_all(&specs).await;

    assert!(results[0].1.is_ok() && results[1].1.is_ok(), "{results:?}");
    let refused = results[2].1.clone().unwrap_err();
    assert_eq!(refused, SpawnRejected::LimitReached(2));
    let message = refused.to_string();
    assert!(
        message.contains('2'),
        "the error names the limit: {message}"
    );
    assert!(
        !floor.directory.contains("a3"),
        "a refused agent is not addressable"
    );

    let status = factory.status().await.unwrap();
    let ids: Vec<&str> = status.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["a1", "a2"]);
    assert!(status.iter().all(|s| s.running && s.restarts == 0));
}

#[tokio::test(start_paused = true)]
async fn stop_all_frees_the_slots_and_the_names() {
    let floor = Floor::open(12, 2).await;
    let factory = factory(&floor);
    let specs: Vec<SpawnSpec> = ["b1", "b2"].map(grid_spec).to_vec();
    assert!(
        factory
            .start_all(&specs)
            .await
            .iter()
            .all(|(_, r)| r.is_ok())
    );
    eventually("both on the floor", || async {
        (floor.world().await.agents.len() == 2).then_some(())
    })
    .await;

    assert_eq!(factory.stop_all().await.unwrap(), 2);
    assert!(factory.status().await.unwrap().is_empty());
    assert!(!floor.directory.contains("b1"));
    eventually("both left the floor", || async {
        floor.world().await.agents.is_empty().then_some(())
    })
    .await;
    // The same names start again, and the limit counts only what runs.
    for spec in &specs {
        factory.create(spec, Restart::Transient).await.unwrap();
    }
    assert_eq!(factory.status().await.unwrap().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn bad_specs_are_refused_with_reasons() {
    let floor = Floor::open(13, 4).await;
    let factory = factory(&floor);
    let mut bad_param = grid_spec("c1");
    bad_param.params.insert("reflex_hz".into(), "fast".into());
    let mut unknown_kind = grid_spec("c2");
    unknown_kind.kind = "drone".into();
    let reserved = grid_spec("world");

    for (spec, expected) in [
        (bad_param, "reflex_hz"),
        (unknown_kind, "unknown kind"),
        (reserved, "reserved"),
    ] {
        let err = factory.create(&spec, Restart::Transient).await.unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
    let (w, _) = floor.spawn("c3", &[]).await;
    eventually("a good spec still runs", || async {
        reflex(&w).await.position
    })
    .await;
    let dup = factory.create(&grid_spec("c3"), Restart::Transient).await;
    assert!(dup.unwrap_err().to_string().contains("already runs"));
}
