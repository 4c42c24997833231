//! Consent-first telemetry for OpenVINO native tools.
//!
//! Layers, one direction only: `ffi` → `telemetry` → the core modules.

pub mod consent;
pub mod crash;
pub mod dialog;
pub mod error;
pub mod event;
pub mod ffi;
pub mod files;
pub mod fork;
mod host;
pub mod identity;
mod scrub;
pub mod sender;
pub mod sent;
pub mod show;
pub mod spool;
pub mod stats;
pub mod store;
pub mod telemetry;
pub mod transport;

#[cfg(test)]
mod testing;

pub use consent::Consent;
pub use error::{Error, Result};
pub use sender::Counters;
pub use telemetry::{Options, Telemetry};
