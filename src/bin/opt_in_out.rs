//! The `opt_in_out` command; its code is the library's `opt_in_out` module.

fn main() -> std::process::ExitCode {
    openvino_telemetry::opt_in_out::main()
}
