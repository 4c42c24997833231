//! Consent-first telemetry for OpenVINO native tools.
//!
//! Layers, one direction only: `ffi` → `telemetry` → the core modules.

pub mod consent;
pub mod dialog;
pub mod error;
pub mod files;
pub mod identity;
pub mod spool;
pub mod stats;

#[cfg(test)]
mod testing;

pub use error::{Error, Result};
