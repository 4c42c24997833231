//! Generates the C header with cbindgen into OUT_DIR (tests/header.rs compares it with the
//! committed include/openvino_telemetry.h; `OVT_UPDATE_HEADER=1 cargo build` refreshes that
//! one) and the version constants src/ffi/version.rs includes, and sets the shared
//! library's link flags: SONAME libopenvino_telemetry.so.1, -z nodelete
//! (Linux); install name @rpath/libopenvino_telemetry.1.dylib (macOS).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    // cbindgen reads the whole crate, so any source file can change the header.
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed={UPDATE_HEADER}");
    link_flags();

    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it"));
    let version_rs = out.join("version.rs");
    write_if_changed(&version_rs, version_constants().as_bytes());
    let header = generate_header(&root, &version_rs);
    write_if_changed(&out.join("openvino_telemetry.h"), &header);
    if env::var(UPDATE_HEADER).is_ok_and(|v| v == "1") {
        write_if_changed(&root.join("include/openvino_telemetry.h"), &header);
    }
}

/// `OVT_UPDATE_HEADER=1 cargo build` refreshes the committed include/openvino_telemetry.h;
/// any other build leaves it alone (tests/header.rs fails while it is stale).
const UPDATE_HEADER: &str = "OVT_UPDATE_HEADER";

/// The shared library's link flags.
fn link_flags() {
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets it");
    if target_os == "linux" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libopenvino_telemetry.so.{major}");
        // The library runs a thread: it must never be unmapped by dlclose.
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    }
    if target_os == "macos" {
        // The install name a program records when it links the library: found through the
        // program's rpath, versioned by the major version like the Linux SONAME.
        println!(
            "cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libopenvino_telemetry.{major}.dylib"
        );
    }
}

/// The header's text. When cbindgen fails, a header that says why (and makes
/// tests/header.rs fail with it): the committed one is never touched by a failure.
fn generate_header(root: &Path, version_rs: &Path) -> Vec<u8> {
    // cbindgen has no string constants: the version string is written from Cargo's too.
    let version = env::var("CARGO_PKG_VERSION").expect("cargo sets it");
    let macros = format!(
        "\n{C99_CHECK}\n{}\n/** The library's version as a string (what ov_telemetry_version() returns). */\n#define OV_TELEMETRY_VERSION \"{version}\"\n{HAND_WRITTEN_MACROS}",
        constant_macros(root, version_rs)
    );
    let config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml is valid");
    let generated = cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .with_after_include(macros)
        .generate();
    match generated {
        Ok(bindings) => {
            let mut text = Vec::new();
            bindings.write(&mut text);
            text
        }
        Err(e) => {
            println!("cargo:warning=cbindgen could not generate the header: {e}");
            let why = e.to_string().replace(['\n', '"'], " ");
            format!("#error \"cbindgen could not generate the header: {why}\"\n").into_bytes()
        }
    }
}

fn write_if_changed(path: &Path, contents: &[u8]) {
    if fs::read(path).ok().as_deref() != Some(contents) {
        fs::write(path, contents)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}

/// The version constants as Rust source, from Cargo's package version. The crate includes
/// this file (src/ffi/version.rs) and cbindgen turns it into the header's macros, so the
/// numbers are written nowhere by hand.
fn version_constants() -> String {
    let part = |name: &str| -> u32 {
        let text = env::var(name).expect("cargo sets it");
        text.parse()
            .unwrap_or_else(|_| panic!("{name}={text} is not a number"))
    };
    let (major, minor, patch) = (
        part("CARGO_PKG_VERSION_MAJOR"),
        part("CARGO_PKG_VERSION_MINOR"),
        part("CARGO_PKG_VERSION_PATCH"),
    );
    assert!(
        major <= 4293 && minor < 1000 && patch < 1000,
        "OV_TELEMETRY_VERSION_NUMBER needs major <= 4293, minor and patch < 1000"
    );
    let number = major * 1_000_000 + minor * 1_000 + patch;
    format!(
        "/// The library's major version (Cargo.toml).
pub const OV_TELEMETRY_VERSION_MAJOR: u32 = {major};
/// The library's minor version (Cargo.toml).
pub const OV_TELEMETRY_VERSION_MINOR: u32 = {minor};
/// The library's patch version (Cargo.toml).
pub const OV_TELEMETRY_VERSION_PATCH: u32 = {patch};
/// The version as one number: MAJOR * 1000000 + MINOR * 1000 + PATCH (see
/// OV_TELEMETRY_MAKE_VERSION()).
pub const OV_TELEMETRY_VERSION_NUMBER: u32 = {number};
"
    )
}

/// The header's numeric macros, emitted by cbindgen from Rust constants: the version
/// constants above plus OV_TELEMETRY_ABI_VERSION (src/ffi/table.rs) and
/// OV_TELEMETRY_MAX_QUEUE_CAPACITY (src/ffi/options.rs).
fn constant_macros(root: &Path, version_rs: &Path) -> String {
    let mut config = cbindgen::Config {
        language: cbindgen::Language::C,
        documentation: true,
        documentation_style: cbindgen::DocumentationStyle::Doxy,
        no_includes: true,
        ..Default::default()
    };
    config.export.item_types = vec![cbindgen::ItemType::Constants];
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(version_rs)
        .with_src(root.join("src/ffi/table.rs"))
        .with_src(root.join("src/ffi/options.rs"))
        .generate()
        .expect("cbindgen can read the constants");
    let mut text = Vec::new();
    bindings.write(&mut text);
    String::from_utf8(text)
        .expect("cbindgen writes UTF-8")
        .trim()
        .to_string()
        + "\n"
}

/// The header's first check: C99 is the oldest C it compiles as.
const C99_CHECK: &str = r#"#if !defined(__cplusplus) && (!defined(__STDC_VERSION__) || __STDC_VERSION__ < 199901L)
#error "openvino_telemetry.h needs C99 or newer, or C++"
#endif
"#;

/// Macros that are code rather than numbers (so no Rust constant can stand for them).
const HAND_WRITTEN_MACROS: &str = r#"
/** A version as one number, the encoding of OV_TELEMETRY_VERSION_NUMBER and
 * ov_telemetry_version_number(); usable in #if. */
#define OV_TELEMETRY_MAKE_VERSION(major, minor, patch) \
  ((major) * 1000000u + (minor) * 1000u + (patch))

/** True when this header is version major.minor.patch or newer; usable in #if. For the
 * library actually loaded, compare ov_telemetry_version_number() with
 * OV_TELEMETRY_MAKE_VERSION(). */
#define OV_TELEMETRY_VERSION_AT_LEAST(major, minor, patch) \
  (OV_TELEMETRY_VERSION_NUMBER >= OV_TELEMETRY_MAKE_VERSION(major, minor, patch))

/** True when the table `api` (non-NULL, from ov_telemetry_get_api()) has the field `field`:
 * its struct_size covers it. Check every field marked "Since" before calling it. */
#define OV_TELEMETRY_API_HAS(api, field) \
  ((api)->struct_size >= offsetof(ov_telemetry_api_t, field) + sizeof((api)->field))
"#;
