//! Stigmergic tags (seed 003): marks agents leave on cells — explored,
//! hazard seen, congested — read by every agent of the tenant. A tag's
//! intensity (0..=`MAX_INTENSITY`) falls linearly to zero over its kind's
//! TTL since it was last marked; each mark adds `DEPOSIT` to what is left,
//! up to the maximum. Time is the caller's (the node's tokio clock, which
//! the simulator drives), so a seed decides every fade.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use swarmd_messages::peer::TagKind;
use swarmd_messages::swarm::Cell;
use tokio::time::Instant;

pub const MAX_INTENSITY: u32 = 1000;
/// What one mark adds.
pub const DEPOSIT: u32 = 400;
/// Tags kept per tenant and node, at most; beyond, the weakest goes.
pub const MAX_TAGS: usize = 4096;
/// Tags evicted together when the field is full (the weakest first).
const EVICT_AT_ONCE: usize = MAX_TAGS / 8;

/// How long a tag of `kind` lasts after its last mark.
pub fn ttl(kind: TagKind) -> Duration {
    match kind {
        TagKind::Explored => Duration::from_secs(30),
        TagKind::Hazard => Duration::from_secs(10),
        TagKind::Congested => Duration::from_secs(5),
    }
}

#[derive(Debug, Clone, Copy)]
struct Tag {
    /// Intensity when last marked.
    intensity: u32,
    marked: Instant,
}

impl Tag {
    fn at(&self, kind: TagKind, now: Instant) -> u32 {
        let ttl = ttl(kind).as_micros();
        let age = now.saturating_duration_since(self.marked).as_micros();
        if age >= ttl {
            return 0;
        }
        let left = u128::from(self.intensity) * (ttl - age) / ttl;
        u32::try_from(left).expect("at most the marked intensity")
    }
}

/// A tag as shown (console, dashboard).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagView {
    pub x: i32,
    pub y: i32,
    pub kind: TagKind,
    pub intensity: u32,
}

#[derive(Debug, Default)]
pub struct TagField {
    tags: BTreeMap<(Cell, TagKind), Tag>,
}

impl TagField {
    /// Marks `cell`: what is left of its tag, plus a deposit. Returns the new intensity.
    pub fn mark(&mut self, cell: Cell, kind: TagKind, now: Instant) -> u32 {
        let left = self.intensity(cell, kind, now);
        if left == 0 && self.tags.len() >= MAX_TAGS {
            self.forget_faded(now);
            if self.tags.len() >= MAX_TAGS {
                self.evict_weakest(now);
            }
        }
        let intensity = (left + DEPOSIT).min(MAX_INTENSITY);
        self.tags.insert(
            (cell, kind),
            Tag {
                intensity,
                marked: now,
            },
        );
        intensity
    }

    pub fn intensity(&self, cell: Cell, kind: TagKind, now: Instant) -> u32 {
        self.tags.get(&(cell, kind)).map_or(0, |t| t.at(kind, now))
    }

    /// Cells whose `kind` tag is at least `threshold` now.
    pub fn cells_at_least(&self, kind: TagKind, threshold: u32, now: Instant) -> Vec<Cell> {
        let strong = self
            .tags
            .iter()
            .filter(|((_, k), t)| *k == kind && t.at(*k, now) >= threshold);
        strong.map(|((c, _), _)| *c).collect()
    }

    /// Every tag still standing, strongest first within a kind.
    pub fn view(&self, now: Instant) -> Vec<TagView> {
        let mut out: Vec<TagView> = self
            .tags
            .iter()
            .map(|((c, k), t)| TagView {
                x: c.x,
                y: c.y,
                kind: *k,
                intensity: t.at(*k, now),
            })
            .filter(|v| v.intensity > 0)
            .collect();
        out.sort_by(|a, b| (a.kind, b.intensity, a.x, a.y).cmp(&(b.kind, a.intensity, b.x, b.y)));
        out
    }

    pub fn forget_faded(&mut self, now: Instant) {
        self.tags.retain(|(_, k), t| t.at(*k, now) > 0);
    }

    /// Evicts the weakest eighth at once, so a full field pays one sort per
    /// `MAX_TAGS / 8` marks, not a scan per mark.
    fn evict_weakest(&mut self, now: Instant) {
        let mut by_strength: Vec<(u32, Cell, TagKind)> = self
            .tags
            .iter()
            .map(|((c, k), t)| (t.at(*k, now), *c, *k))
            .collect();
        by_strength.sort_unstable();
        for (_, cell, kind) in by_strength.into_iter().take(EVICT_AT_ONCE) {
            self.tags.remove(&(cell, kind));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_fades_linearly_over_its_ttl_and_repeats_reinforce_it() {
        let t0 = Instant::now();
        let at = |s: f64| t0 + Duration::from_secs_f64(s);
        let cell = Cell::new(3, 4);
        let mut field = TagField::default();
        assert_eq!(field.mark(cell, TagKind::Congested, t0), 400);
        // Congested lasts 5 s: 20 % gone each second.
        assert_eq!(field.intensity(cell, TagKind::Congested, at(1.0)), 320);
        assert_eq!(field.intensity(cell, TagKind::Congested, at(2.5)), 200);
        assert_eq!(field.intensity(cell, TagKind::Congested, at(5.0)), 0);
        // Marked again at 2.5 s: what was left plus a deposit, fading from then.
        assert_eq!(field.mark(cell, TagKind::Congested, at(2.5)), 600);
        assert_eq!(field.intensity(cell, TagKind::Congested, at(5.0)), 300);
        assert_eq!(field.intensity(cell, TagKind::Congested, at(7.5)), 0);
        // Repeats saturate; kinds are separate, and explored lasts 30 s.
        for _ in 0..5 {
            field.mark(cell, TagKind::Explored, t0);
        }
        assert_eq!(field.intensity(cell, TagKind::Explored, t0), MAX_INTENSITY);
        assert_eq!(field.intensity(cell, TagKind::Explored, at(15.0)), 500);
        assert_eq!(
            field.cells_at_least(TagKind::Explored, 500, at(15.0)),
            [cell]
        );
        assert!(
            field
                .cells_at_least(TagKind::Congested, 1, at(8.0))
                .is_empty()
        );
        field.forget_faded(at(31.0));
        assert!(field.view(at(31.0)).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn tags_fade_on_the_runtime_clock_the_simulator_drives() {
        let mut field = TagField::default();
        let cell = Cell::new(1, 1);
        field.mark(cell, TagKind::Hazard, Instant::now());
        // Paused time moves only when told, as in a simulation.
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(field.intensity(cell, TagKind::Hazard, Instant::now()), 200);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(field.intensity(cell, TagKind::Hazard, Instant::now()), 0);
    }

    #[test]
    fn a_full_field_forgets_its_weakest_eighth() {
        let t0 = Instant::now();
        let mut field = TagField::default();
        for i in 0..MAX_TAGS as i32 {
            field.mark(Cell::new(i, 0), TagKind::Explored, t0);
        }
        field.mark(Cell::new(0, 0), TagKind::Explored, t0);
        let later = t0 + Duration::from_secs(1);
        field.mark(Cell::new(-1, -1), TagKind::Explored, later);
        assert_eq!(field.view(later).len(), MAX_TAGS - EVICT_AT_ONCE + 1);
        let left = |x| field.intensity(Cell::new(x, 0), TagKind::Explored, later) > 0;
        assert!(left(0), "the strongest stays");
        assert!(
            !left(1) && !left(EVICT_AT_ONCE as i32),
            "the weakest go, in cell order"
        );
        assert!(left(EVICT_AT_ONCE as i32 + 1));
    }
}
