//! The `picshare` binary's library: configuration and wiring of the parts into a running server.

pub mod config;
pub mod startup;
pub mod telemetry;
