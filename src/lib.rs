//! Consent-first telemetry for OpenVINO native tools.
//!
//! The public surface: [`Telemetry`] and [`Options`] (the Rust API), [`ffi`] (the C API,
//! callable from Rust too), [`directory`] (the shared files, read and changed under the
//! library's rules), [`dialog`] (the consent dialog, for a program that asks at its own
//! moment) and [`opt_in_out`] (the command). Everything else is internal; the
//! README's "Code map" says where each concern lives.
//!
//! Layers, one direction only: `ffi` → `telemetry` → the core modules.

pub mod dialog;
pub mod directory;
pub mod ffi;
pub mod opt_in_out;

mod consent;
mod crash;
mod error;
mod event;
mod files;
mod fork;
mod host;
mod identity;
mod scrub;
mod sender;
mod sent;
mod show;
mod spool;
mod stats;
mod store;
mod telemetry;
mod transport;

/// The checks behind the fuzz targets (`fuzz/`), compiled only for fuzzing and unit tests.
#[cfg(any(test, fuzzing))]
pub mod fuzz;

pub use consent::Consent;
pub use error::{Error, Result};
pub use sender::Counters;
pub use telemetry::{Options, Telemetry};
pub use telemetry::{DEFAULT_API_SECRET, OPT_IN_OUT_MEASUREMENT_ID};
