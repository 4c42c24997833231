//! Generates include/openvino_telemetry.h with cbindgen (written only when it changed) and
//! sets the shared library's link flags: SONAME libopenvino_telemetry.so.1, -z nodelete
//! (Linux); install name @rpath/libopenvino_telemetry.1.dylib (macOS).

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");

    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets it");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libopenvino_telemetry.so.{major}");
        // The library runs a thread: it must never be unmapped by dlclose.
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    }
    if target_os == "macos" {
        // The install name a program records when it links the library: found through the
        // program's rpath, versioned by the major version like the Linux SONAME.
        let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets it");
        println!(
            "cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libopenvino_telemetry.{major}.dylib"
        );
    }

    let version = env::var("CARGO_PKG_VERSION").expect("cargo sets it");
    let macros = format!(
        "\n#define OV_TELEMETRY_VERSION_MAJOR {}\n#define OV_TELEMETRY_VERSION_MINOR {}\n#define OV_TELEMETRY_VERSION_PATCH {}\n#define OV_TELEMETRY_VERSION \"{}\"\n\n/** The ABI version of ov_telemetry_api_t this header describes (see ov_telemetry_get_api()). */\n#define OV_TELEMETRY_ABI_VERSION 1\n/** The largest capacity ov_telemetry_options_set_queue_capacity() accepts. */\n#define OV_TELEMETRY_MAX_QUEUE_CAPACITY 1000000\n",
        env::var("CARGO_PKG_VERSION_MAJOR").unwrap(),
        env::var("CARGO_PKG_VERSION_MINOR").unwrap(),
        env::var("CARGO_PKG_VERSION_PATCH").unwrap(),
        version
    );
    let config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml is valid");
    let header = match cbindgen::Builder::new()
        .with_crate(&root)
        .with_config(config)
        .with_after_include(macros)
        .generate()
    {
        Ok(bindings) => {
            let mut text = Vec::new();
            bindings.write(&mut text);
            text
        }
        Err(e) => {
            // Keep the checked-in header; the staleness test reports any difference.
            println!("cargo:warning=cbindgen could not generate the header: {e}");
            return;
        }
    };
    let path = root.join("include").join("openvino_telemetry.h");
    if fs::read(&path).ok().as_deref() != Some(header.as_slice()) {
        fs::create_dir_all(path.parent().unwrap()).expect("can create include/");
        fs::write(&path, &header).expect("can write the header");
    }
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it"));
    fs::write(out.join("openvino_telemetry.h"), &header).expect("can write to OUT_DIR");
}
