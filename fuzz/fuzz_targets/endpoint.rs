//! `endpoint`: see `openvino_telemetry::fuzz::endpoint` for what is checked.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use openvino_telemetry::fuzz::{endpoint, Scratch};

static SCRATCH: OnceLock<Scratch> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let scratch = SCRATCH.get_or_init(|| Scratch::new("endpoint"));
    endpoint(scratch.path(), data);
});
