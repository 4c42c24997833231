//! Unit-test shim: a new, empty directory under the system temp dir, made by `tempfile` and
//! kept (callers own it). Unit tests may use `tempfile` directly instead.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    let prefix = format!("ovt-{tag}-");
    tempfile::Builder::new()
        .prefix(&prefix)
        .tempdir()
        .unwrap()
        .keep()
}
