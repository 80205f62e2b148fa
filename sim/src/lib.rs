//! The deterministic simulator.
//!
//! One seed drives everything a simulated node can observe. This first part
//! gives the time and randomness seams: [`SimClock`] follows tokio's paused
//! virtual time from a fixed epoch, and [`SeededEntropy`] is a ChaCha stream
//! from the seed. SimNet, SimStorage, SimPubSub and the scenario runner follow.

mod clock;
mod entropy;

pub use clock::SimClock;
pub use entropy::SeededEntropy;
