//! Consent-first telemetry for OpenVINO native tools.
//!
//! Layers, one direction only: `ffi` → `telemetry` → the core modules.

pub mod error;

pub use error::{Error, Result};
