//! The TLS configuration: certificate verification always on, against the operating
//! system's trust store.
//!
//! - Windows: SChannel with the Windows certificate store; macOS: Security.framework with
//!   the keychains (both through native-tls, so the OS's own verifier decides).
//! - Linux and other Unix: rustls with the roots OpenSSL would load: the file named by
//!   `SSL_CERT_FILE`, else the system bundle; and the hashed certificates
//!   (`<8 hex digits>.<n>`) in the directories named by `SSL_CERT_DIR` (`:`-separated),
//!   else in the system directory. Only when neither variable is set and the system has no
//!   store at all (a minimal container) are the bundled Mozilla roots used instead.

#[cfg(not(any(windows, target_os = "macos")))]
use std::path::{Path, PathBuf};

/// Windows and macOS: the OS's TLS stack and its verifier with the system store.
#[cfg(any(windows, target_os = "macos"))]
pub(super) fn tls_config() -> ureq::tls::TlsConfig {
    ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::NativeTls)
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build()
}

/// Linux and other Unix: rustls with the roots OpenSSL would trust (see the module docs).
#[cfg(not(any(windows, target_os = "macos")))]
pub(super) fn tls_config() -> ureq::tls::TlsConfig {
    let roots = match openssl_roots() {
        Some(certs) => ureq::tls::RootCerts::new_with_certs(&certs),
        None => ureq::tls::RootCerts::WebPki,
    };
    ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(roots)
        .build()
}

/// The certificates OpenSSL's default verify paths would load, with `SSL_CERT_FILE` and
/// `SSL_CERT_DIR` replacing the default file and directories as they do for OpenSSL.
/// `None` only when neither variable is set and no system store exists.
#[cfg(not(any(windows, target_os = "macos")))]
fn openssl_roots() -> Option<Vec<ureq::tls::Certificate<'static>>> {
    let env_file = std::env::var_os("SSL_CERT_FILE");
    let env_dirs = std::env::var_os("SSL_CERT_DIR");
    let configured = env_file.is_some() || env_dirs.is_some();
    let file: Option<PathBuf> = match env_file {
        Some(file) => Some(file.into()),
        // probe() reads SSL_CERT_FILE too, but it is unset here.
        None => openssl_probe::probe().cert_file,
    };
    let dirs: Vec<PathBuf> = match env_dirs {
        Some(dirs) => std::env::split_paths(&dirs)
            .filter(|d| !d.as_os_str().is_empty())
            .collect(),
        None => openssl_probe::candidate_cert_dirs()
            .map(PathBuf::from)
            .collect(),
    };
    let mut ders = Vec::new();
    if let Some(file) = &file {
        ders.extend(rustls_native_certs::load_certs_from_paths(Some(file), None).certs);
    }
    for path in dirs.iter().flat_map(|dir| hashed_certificates(dir)) {
        ders.extend(rustls_native_certs::load_certs_from_paths(Some(&path), None).certs);
    }
    ders.sort_unstable_by(|a, b| a.as_ref().cmp(b.as_ref()));
    ders.dedup();
    if ders.is_empty() && !configured {
        return None;
    }
    Some(
        ders.into_iter()
            .map(|der| ureq::tls::Certificate::from_der(der.as_ref()).to_owned())
            .collect(),
    )
}

/// The files of `dir` OpenSSL would look a certificate up in, by subject hash
/// (`<hash>.<n>`), sorted; other files in the directory are not certificates it would use.
#[cfg(not(any(windows, target_os = "macos")))]
fn hashed_certificates(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut hashed: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| is_openssl_hash_name(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    hashed.sort();
    hashed
}

/// `3513523f.0`: eight lowercase hex digits, a dot, a decimal sequence number.
#[cfg_attr(any(windows, target_os = "macos"), allow(dead_code))]
fn is_openssl_hash_name(name: &str) -> bool {
    let Some((hash, n)) = name.split_once('.') else {
        return false;
    };
    hash.len() == 8
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_verification_is_always_on() {
        // No option, variable or platform turns it off (tests/tls_trust.rs shows the
        // refusal end to end).
        let config = tls_config();
        assert!(!config.disable_verification());
        #[cfg(any(windows, target_os = "macos"))]
        assert!(matches!(
            config.root_certs(),
            ureq::tls::RootCerts::PlatformVerifier
        ));
    }

    #[test]
    fn openssl_hashed_names() {
        for ok in ["3513523f.0", "00000000.12", "abcdef01.1"] {
            assert!(is_openssl_hash_name(ok), "{ok}");
        }
        for bad in [
            "3513523f",
            "3513523F.0",
            "3513523.0",
            "3513523f.r0",
            "ca.pem",
            "3513523f.0.pem",
        ] {
            assert!(!is_openssl_hash_name(bad), "{bad}");
        }
    }
}
