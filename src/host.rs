//! Host probing: the operating system and whether the process runs in a container, as the
//! `os` and `docker` parameters of every event report them.

use std::path::Path;

/// The `os` parameter: what Python's `platform.system()` says on this platform.
pub fn detect_os() -> &'static str {
    if cfg!(target_os = "linux") {
        "Linux"
    } else if cfg!(target_os = "windows") {
        "Windows"
    } else if cfg!(target_os = "macos") {
        "Darwin"
    } else if cfg!(target_os = "freebsd") {
        "FreeBSD"
    } else {
        std::env::consts::OS
    }
}

/// Whether this process runs in a Docker container: `/.dockerenv` exists, or `docker`
/// appears in `/proc/self/cgroup` or `/proc/self/mountinfo`. Reads two small files; call
/// it once, not per event.
pub fn detect_docker() -> bool {
    docker_markers(
        Path::new("/.dockerenv"),
        &[
            Path::new("/proc/self/cgroup"),
            Path::new("/proc/self/mountinfo"),
        ],
    )
}

fn docker_markers(dockerenv: &Path, files: &[&Path]) -> bool {
    dockerenv.exists()
        || files.iter().any(|path| {
            std::fs::read(path).is_ok_and(|bytes| bytes.windows(6).any(|w| w == b"docker"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_is_python_platform_system() {
        let expected = if cfg!(target_os = "linux") {
            "Linux"
        } else if cfg!(windows) {
            "Windows"
        } else if cfg!(target_os = "macos") {
            "Darwin"
        } else {
            return;
        };
        assert_eq!(detect_os(), expected);
    }

    #[test]
    fn docker_markers_detected() {
        let dir = std::env::temp_dir().join(format!("ovt-event-docker-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dockerenv = dir.join("dockerenv");
        let cgroup = dir.join("cgroup");
        let mountinfo = dir.join("mountinfo");
        let missing = dir.join("missing");
        std::fs::write(&cgroup, "0::/user.slice\n").unwrap();
        std::fs::write(&mountinfo, b"1 2 0:3 / / rw - overlay overlay \xff\n").unwrap();
        assert!(!docker_markers(
            &dockerenv,
            &[&cgroup, &mountinfo, &missing]
        ));
        std::fs::write(
            &mountinfo,
            "1 2 0:3 / / rw - overlay /var/lib/docker/overlay2/x\n",
        )
        .unwrap();
        assert!(docker_markers(&dockerenv, &[&cgroup, &mountinfo]));
        assert!(!docker_markers(&dockerenv, &[&cgroup]));
        std::fs::write(&cgroup, "0::/docker/abc\n").unwrap();
        assert!(docker_markers(&dockerenv, &[&cgroup]));
        std::fs::write(&dockerenv, "").unwrap();
        assert!(docker_markers(&dockerenv, &[&missing]));
        std::fs::remove_dir_all(&dir).unwrap();
        // The real probe runs without panicking wherever the tests run.
        let _ = detect_docker();
    }
}
