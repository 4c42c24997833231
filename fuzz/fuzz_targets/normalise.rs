//! `normalise`: see `openvino_telemetry::fuzz::normalise` for what is checked.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use openvino_telemetry::fuzz::{normalise, Scratch};

static SCRATCH: OnceLock<Scratch> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let scratch = SCRATCH.get_or_init(|| Scratch::new("normalise"));
    normalise(scratch.path(), data);
});
