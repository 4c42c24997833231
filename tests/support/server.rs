//! The loopback test server: the `ovt_loopback` crate (tests/loopback), shared with the C++
//! tests and the benchmarks.
pub use ovt_loopback::*;
