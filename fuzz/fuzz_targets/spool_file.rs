//! `spool_file`: see `openvino_telemetry::fuzz::spool_file` for what is checked.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use openvino_telemetry::fuzz::{spool_file, Scratch};

static SCRATCH: OnceLock<Scratch> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let scratch = SCRATCH.get_or_init(|| Scratch::new("spool_file"));
    spool_file(scratch.path(), data);
});
