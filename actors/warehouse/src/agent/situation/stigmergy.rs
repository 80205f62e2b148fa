//! Stigmergy in the Situation layer: the agent marks the cells it passes
//! (explored), the hazards it sees (hazard) and where it was held up — a
//! step the world refused, a peer it had to wait for (congested) — and
//! routes around cells its peers marked strongly congested whenever there
//! is another way. With `stigmergy` off it neither marks nor reads.

use std::collections::BTreeSet;

use swarmd_messages::peer::TagKind;
use swarmd_messages::swarm::Cell;

use super::SituationState;

/// A congested tag this strong (of `tags::MAX_INTENSITY`) is routed around:
/// one mark (400) steers for about a second as it fades to 300; repeated
/// marks keep a cell avoided. (500, two marks, steered too little to cut
/// refused moves in the warehouse.)
pub(super) const AVOID_AT: u32 = 300;

impl SituationState {
    pub(super) fn mark(&self, cell: Cell, kind: TagKind) {
        if self.w.settings.stigmergy {
            self.link.mark(self.w.name(), cell, kind);
        }
    }

    /// Refreshes the congested cells to route around.
    pub(super) fn read_tags(&mut self) {
        self.congested.clear();
        if self.w.settings.stigmergy {
            let strong = self.link.tagged(TagKind::Congested, AVOID_AT);
            self.congested.extend(strong);
        }
    }

    /// Marks what a perception shows: a new position, hazards not seen
    /// before, and a refused step (on the cell it was refused).
    pub(super) fn mark_observed(&self, position: Cell, hazards_near: &[Cell], refused: bool) {
        if self.position != Some(position) {
            self.mark(position, TagKind::Explored);
        }
        for h in hazards_near
            .iter()
            .filter(|h| !self.hazards.contains_key(h))
        {
            self.mark(*h, TagKind::Hazard);
        }
        if refused && let Some((cell, _)) = self.expected {
            self.mark(cell, TagKind::Congested);
        }
    }

    /// `next`, unless the agent must wait to take it (`held_up`): then the
    /// cell is marked congested and the agent holds.
    pub(super) fn step_unless(
        &self,
        next: Option<Cell>,
        held_up: impl Fn(Cell) -> bool,
    ) -> Option<Cell> {
        let next = next?;
        if held_up(next) {
            self.mark(next, TagKind::Congested);
            return None;
        }
        Some(next)
    }

    /// Cells to keep off when routing from `from` to `to`: strongly
    /// congested ones, but never the ends.
    pub(super) fn avoided(&self, from: Cell, to: Cell) -> Option<&BTreeSet<Cell>> {
        let any = self.congested.iter().any(|c| *c != from && *c != to);
        any.then_some(&self.congested)
    }
}
