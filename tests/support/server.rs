//! The loopback test server: the `ovt_loopback` crate (tests/loopback), shared with the C++
//! tests and the benchmarks.
#[allow(unused_imports)] // not every test binary that has `mod support` starts a server
pub use ovt_loopback::{Mode, Request, Stats, TestServer};
