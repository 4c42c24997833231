//! The C ABI. `extern "C"` only: pointer and UTF-8 validation, the panic boundary, status
//! codes, the thread-local last error and the `dlopen` function table. No logic lives
//! here; everything is delegated to [`crate::telemetry`] and [`crate::consent`].
//!
//! One file per C object. cbindgen writes the functions into the header in the order of the
//! `mod` lines below, and the types in the order the functions first use them (the blank
//! lines keep rustfmt from sorting them).
#![allow(non_camel_case_types)]

mod args;
mod boundary;
mod last_error;
mod status;

mod options;

mod handle;

mod counters;

mod consent;

mod misc;

mod version;

mod table;

#[cfg(test)]
mod tests;

pub use consent::*;
pub use counters::*;
pub use handle::*;
pub use misc::*;
pub use options::*;
pub use status::ov_telemetry_status_e;
pub use table::*;
pub use version::*;

use boundary::ffi_panic_boundary;
