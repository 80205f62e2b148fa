use super::*;
use std::sync::atomic::{AtomicU64, Ordering};

/// A counter run through a mixer: enough variety for a floor plan.
struct Counting(AtomicU64);
impl Entropy for Counting {
    fn next_u64(&self) -> u64 {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
    }
    fn fill_bytes(&self, dest: &mut [u8]) {
        dest.fill(self.next_u64() as u8);
    }
}

fn address(name: &str) -> Address {
    Address {
        node: "n".into(),
        name: name.into(),
    }
}

fn world() -> (GridWorld, Counting) {
    let entropy = Counting(AtomicU64::new(1));
    (GridWorld::new(GridConfig::default()), entropy)
}

#[test]
fn the_same_seed_gives_the_same_floor() {
    let (a, _) = world();
    let (b, _) = world();
    assert_eq!(a.plan(), b.plan());
    assert!(!a.plan().obstacles.is_empty());
}

#[test]
fn two_agents_never_share_a_cell() {
    let (mut w, e) = world();
    let a = w.enter(address("a"), Some(Cell::new(1, 1)), &e).unwrap();
    let b = w.enter(address("b"), Some(Cell::new(1, 1)), &e).unwrap();
    assert_ne!(a, b, "the second agent is placed elsewhere");
    let refused = w.step("b", a).unwrap_err();
    let by = "a".to_string();
    assert_eq!(refused, MoveRefused::Taken { cell: a, by });
    assert_eq!(w.position("b"), Some(b));
}

#[test]
fn moves_are_one_step_onto_free_floor() {
    let (mut w, e) = world();
    let start = w.enter(address("a"), Some(Cell::new(0, 0)), &e).unwrap();
    assert_eq!(start, Cell::new(0, 0));
    let (from, to) = (start, Cell::new(2, 0));
    assert_eq!(w.step("a", to), Err(MoveRefused::NotAdjacent { from, to }));
    let off = Cell::new(-1, 0);
    assert_eq!(w.step("a", off), Err(MoveRefused::OffFloor(off)));
    w.step("a", Cell::new(1, 0)).unwrap();
    assert_eq!(w.position("a"), Some(Cell::new(1, 0)));
    let shelf = w.plan().obstacles[0];
    assert!(!w.is_free(Cell::new(1, 0)) && !w.is_free(shelf));
}

#[test]
fn perception_sees_only_what_is_near() {
    let (mut w, e) = world();
    w.enter(address("a"), Some(Cell::new(0, 0)), &e).unwrap();
    w.enter(address("b"), Some(Cell::new(1, 0)), &e).unwrap();
    w.enter(address("c"), Some(Cell::new(20, 10)), &e).unwrap();
    let p = w.perceive("a", 7, None).unwrap();
    assert_eq!(p.request, 7);
    assert_eq!(p.agents_near, vec![("b".to_string(), Cell::new(1, 0))]);
}

#[test]
fn a_crowd_perceives_what_a_scan_of_every_agent_finds() {
    let (mut w, e) = world();
    for i in 0..60 {
        w.enter(address(&format!("a{i:02}")), None, &e).unwrap();
    }
    let mut seen = 0;
    for (me, at) in w
        .agents()
        .map(|(n, c)| (n.to_string(), c))
        .collect::<Vec<_>>()
    {
        let scanned: Vec<(String, Cell)> = w
            .agents()
            .filter(|(n, c)| *n != me && c.distance(at) <= w.config.sense_radius)
            .map(|(n, c)| (n.to_string(), c))
            .collect();
        assert_eq!(
            w.perceive(&me, 0, None).unwrap().agents_near,
            scanned,
            "{me} at {at:?}"
        );
        seen += scanned.len();
    }
    assert!(seen > 0, "some agents are in sight of others");
}

#[test]
fn hazards_stay_under_the_cap_and_off_agents() {
    let (mut w, e) = world();
    w.enter(address("a"), None, &e).unwrap();
    for _ in 0..100 {
        w.shift_hazards(&e);
        assert!(w.hazards().count() <= GridConfig::default().max_hazards);
        assert!(w.hazards().all(|h| Some(h) != w.position("a")));
    }
}

#[test]
fn agents_naming_no_cell_enter_at_the_starts_in_order_then_near_a_taken_one() {
    let (first, second) = (Cell::new(5, 0), Cell::new(0, 1));
    let config = GridConfig {
        starts: vec![first, second, second],
        ..GridConfig::default()
    };
    let mut world = GridWorld::new(config);
    let entropy = Counting(AtomicU64::new(1));
    let named = Cell::new(2, 0);
    assert_eq!(
        world.enter(address("named"), Some(named), &entropy),
        Ok(named)
    );
    assert_eq!(world.enter(address("a"), None, &entropy), Ok(first));
    assert_eq!(world.enter(address("b"), None, &entropy), Ok(second));
    let c = world.enter(address("c"), None, &entropy).unwrap();
    assert_eq!(c.distance(second), 1, "next to the taken start: {c}");
    assert_eq!(
        world.enter(address("a"), None, &entropy),
        Ok(first),
        "a re-entry keeps its cell"
    );
}
