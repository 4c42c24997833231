//! `consent_file`: see `openvino_telemetry::fuzz::consent_file` for what is checked.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use openvino_telemetry::fuzz::{consent_file, Scratch};

static SCRATCH: OnceLock<Scratch> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let scratch = SCRATCH.get_or_init(|| Scratch::new("consent_file"));
    consent_file(scratch.path(), data);
});
