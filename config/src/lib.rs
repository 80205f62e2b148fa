//! Typed configuration of a swarmd node.
//!
//! Layers, lowest first: the embedded `default.toml`, an optional config file, then
//! overrides from `SWARMD_*` environment variables and CLI flags. Every error names
//! where the offending value came from, the dotted key, and what is wrong with it.

pub mod board;
mod bounds;
pub mod cloud;
mod endpoints;
mod error;
pub mod http;
pub mod hub;
pub mod lan;
mod layers;
pub mod map_file;
mod mesh;
mod model;
pub mod placement;
pub mod recipe;
pub mod telemetry;

pub use bounds::BOUNDS;
pub use error::ConfigError;
pub use layers::{Override, OverrideValue, load, load_file};
pub use model::{
    AgentsSection, ClusterSection, ControlSection, DEFAULT_MESH_PORT_OFFSET, HostPort, Layout,
    ListenAddr, LogFormat, LogSection, MeshSection, MissionsSection, NodeConfig, NodeSection, Role,
    StorageSection, TlsSection, WorldSection,
};

/// The defaults every node starts from, embedded into the binary.
pub const DEFAULT_TOML: &str = include_str!("../default.toml");
