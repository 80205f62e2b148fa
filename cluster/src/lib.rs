//! How swarmd nodes find, trust and talk to each other: the cluster
//! transport (swarmd's handshake before ractor_cluster, TLS, capped
//! listeners and dialers), the gateway (membership, tickets, placement,
//! remote spawn and supervision, the hub over the cluster), LAN discovery,
//! the zenoh mesh adapter, and the production seams (clock, entropy, TCP).

pub mod discovery;
pub mod gateway;
pub mod mesh;
pub mod seams;
pub mod transport;
