//! Bad files and environments that need mounts: a hidden account home, a read-only
//! directory, a full disk. Each runs inside `unshare -m`, which needs root and a root that is
//! a mount point (not a chroot, such as `fresh-check`'s), so they are ignored by default:
//! `scripts/test` runs them where a private mount namespace can be made and says so where
//! not (`cargo test --test hardening -- --ignored mounts::` runs them by hand).

use super::*;

/// The account database's home directory of the user running the tests.
fn passwd_home() -> PathBuf {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let passwd = fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 6 && f[2] == uid.to_string())
        .map(|f| PathBuf::from(f[5]))
        .expect("the test user is in /etc/passwd")
}

#[test]
#[ignore = "needs a private mount namespace (root; not in a chroot): scripts/test runs it where it can"]
fn home_unset_or_empty_falls_back_to_the_account_home_and_never_crashes() {
    let home = passwd_home();
    assert!(
        home.is_dir() && home != Path::new("/"),
        "the account home {} must be a directory other than / for this test",
        home.display()
    );
    let server = TestServer::start(Mode::Ok204);
    // Inside the namespace the account's home is an empty directory: no decision there.
    let empty_dir = scratch_dir("fake-home");
    let empty = empty_dir.path();
    let accepted_dir = scratch_dir("fake-home-accepted");
    let accepted = accepted_dir.path();
    directory::set_consent(&accepted.join("intel"), true).unwrap();
    let script = r#"
        mount --bind "$1" "$3" || { echo MOUNT-FAILED; exit 99; }
        for home in unset empty; do
            if [ $home = unset ]; then
                env -i "$4" --endpoint "$5" event:c:a:l:1 shutdown:10000
            else
                env -i HOME= "$4" --endpoint "$5" event:c:a:l:1 shutdown:10000
            fi
            echo "probe-exit-$home=$?"
        done
        echo "listing=$(ls -A "$3" | tr '\n' ' ')"
        umount "$3"
        mount --bind "$2" "$3" || { echo MOUNT-FAILED; exit 99; }
        env -i "$4" --endpoint "$5" event:c:fallback:l:1 shutdown:10000
        echo "probe-exit-accepted=$?"
    "#;
    let output = in_mount_namespace(
        script,
        &[
            empty.as_os_str(),
            accepted.as_os_str(),
            home.as_os_str(),
            probe().as_os_str(),
            server.url().as_ref(),
        ],
    );
    let out = text(&output);
    assert!(!out.contains("panicked"), "{out}");
    assert!(out.contains("probe-exit-unset=0"), "{out}");
    assert!(out.contains("probe-exit-empty=0"), "{out}");
    assert!(out.contains("probe-exit-accepted=0"), "{out}");
    // No decision in the account home: disabled, with the reason, and nothing created.
    assert_eq!(out.matches("enabled=false").count(), 2, "{out}");
    assert!(out.contains("reason=no consent was given"), "{out}");
    assert!(
        out.contains("listing= \n") || out.contains("listing=\n"),
        "{out}"
    );
    assert!(names_in(empty).is_empty());
    // A decision in the account home is honoured.
    assert!(out.contains("enabled=true"), "{out}");
    assert_eq!(labels_of(&server.events(), "fallback").len(), 1, "{out}");
}

#[test]
#[ignore = "needs a private mount namespace (root; not in a chroot): scripts/test runs it where it can"]
fn a_read_only_config_directory_degrades_with_reasons_and_writes_nothing() {
    let server = TestServer::start(Mode::Ok204);
    let with_id = accepted_dir("ro");
    let without_id = accepted_dir("ro-noid");
    fs::remove_file(without_id.join(CLIENT_ID_FILE)).unwrap();
    let before = (names_in(&with_id), names_in(&without_id));
    let script = r#"
        for d in "$1" "$2"; do
            mount --bind "$d" "$d" && mount -o remount,ro,bind "$d" "$d" \
                || { echo MOUNT-FAILED; exit 99; }
        done
        touch "$1/x" 2>/dev/null && echo STILL-WRITABLE
        "$3" --config-dir "$1" --endpoint "$4" event:c:ro:l:1 shutdown:10000 counters
        echo "probe-exit-1=$?"
        "$3" --config-dir "$1" --endpoint "$5" event:c:down:l:1 shutdown:300
        echo "probe-exit-2=$?"
        "$3" --config-dir "$2" --endpoint "$4" event:c:noid:l:1 shutdown:300
        echo "probe-exit-3=$?"
    "#;
    let down = closed_port_url();
    let output = in_mount_namespace(
        script,
        &[
            with_id.as_os_str(),
            without_id.as_os_str(),
            probe().as_os_str(),
            server.url().as_ref(),
            down.as_ref(),
        ],
    );
    let out = text(&output);
    assert!(!out.contains("STILL-WRITABLE"), "{out}");
    assert!(!out.contains("panicked"), "{out}");
    for n in 1..=3 {
        assert!(out.contains(&format!("probe-exit-{n}=0")), "{out}");
    }
    // With a client id: degraded (no usage count), but events are delivered.
    assert!(out.contains("enabled=true"), "{out}");
    assert!(
        out.contains("usage statistics unavailable") && out.contains("Read-only file system"),
        "{out}"
    );
    assert_eq!(labels_of(&server.events(), "ro").len(), 1, "{out}");
    assert!(out.contains("shutdown:300 TIMEOUT"), "{out}");
    // Without one: disabled, and the reason says why.
    assert!(out.contains("reason=no client id"), "{out}");
    assert!(labels_of(&server.events(), "noid").is_empty());
    assert_eq!((names_in(&with_id), names_in(&without_id)), before);
}

#[test]
#[ignore = "needs a private mount namespace (root; not in a chroot): scripts/test runs it where it can"]
fn a_full_disk_degrades_and_leaves_no_partial_file() {
    let mount_point_dir = scratch_dir("tmpfs");
    let mount_point = mount_point_dir.path();
    let script = r#"
        M="$1"
        mount -t tmpfs -o size=64k,mode=0755 tmpfs "$M" || { echo MOUNT-FAILED; exit 99; }
        mkdir -m 700 "$M/intel"
        printf 1 > "$M/intel/openvino_telemetry"
        printf b05ef51d-3610-4440-bce3-6140be6d302c > "$M/intel/openvino_ga_cid"
        printf '{"usage_count": 41}' > "$M/intel/stats"
        dd if=/dev/zero of="$M/fill" bs=1k 2>/dev/null
        echo "free-kb=$(df -k "$M" | awk 'NR==2 {print $4}')"
        "$2" --config-dir "$M/intel" --endpoint "$3" event:c:a:l:1 error:c:msg shutdown:300 counters
        echo "probe-exit=$?"
        "$4" --opt_out --config-dir "$M/intel"
        echo "optout-exit=$?"
        echo "listing=$(ls -A "$M/intel" | tr '\n' ' ')"
        echo "stats=$(cat "$M/intel/stats")"
        echo "consent=$(cat "$M/intel/openvino_telemetry")"
    "#;
    let down = closed_port_url();
    let output = in_mount_namespace(
        script,
        &[
            mount_point.as_os_str(),
            probe().as_os_str(),
            down.as_ref(),
            opt_in_out().as_os_str(),
        ],
    );
    let out = text(&output);
    assert!(!out.contains("panicked"), "{out}");
    assert!(out.contains("free-kb=0"), "the disk was not full: {out}");
    assert!(out.contains("probe-exit=0"), "{out}");
    assert!(out.contains("enabled=true"), "{out}");
    assert!(out.contains("No space left on device"), "{out}");
    // Opting out needs one block for the new decision: it fails loudly, and the old
    // decision, like the old stats, survives intact; no temporary or partial file is left.
    assert!(out.contains("optout-exit=1"), "{out}");
    assert!(out.contains("opt_in_out: cannot write"), "{out}");
    assert!(out.contains("consent=1\n"), "{out}");
    assert!(out.contains(r#"stats={"usage_count": 41}"#), "{out}");
    let listing = line(&out, "listing=");
    assert!(!listing.contains(".tmp"), "{out}");
    for name in listing.split_whitespace() {
        assert!(
            ["openvino_ga_cid", "openvino_telemetry", "stats"].contains(&name),
            "unexpected {name}: {out}"
        );
    }
    // The namespace's tmpfs is gone with it.
    assert!(names_in(mount_point).is_empty());
}

/// A claimed spool whose events cannot be written back (full disk) must not be deleted:
/// README: "deletes the claim only when each of its events was delivered or spooled
/// again".
#[test]
#[ignore = "needs a private mount namespace (root; not in a chroot): scripts/test runs it where it can"]
fn spooled_events_survive_a_run_that_cannot_write_them_back() {
    let server = TestServer::start(Mode::Ok204);
    let mount_point_dir = scratch_dir("tmpfs-respool");
    let mount_point = mount_point_dir.path();
    let seed = temp_dir("respool-seed").join("spool");
    let now = now_micros();
    let events: Vec<(String, u64)> = (0..3).map(|i| (format!("kept{i}"), now - i)).collect();
    write_spool(seed.parent().unwrap(), &events);
    fs::rename(seed.parent().unwrap().join(SPOOL_FILE), &seed).unwrap();
    let script = r#"
        M="$1"
        mount -t tmpfs -o size=64k,mode=0755 tmpfs "$M" || { echo MOUNT-FAILED; exit 99; }
        mkdir -m 700 "$M/intel"
        printf 1 > "$M/intel/openvino_telemetry"
        printf b05ef51d-3610-4440-bce3-6140be6d302c > "$M/intel/openvino_ga_cid"
        cp "$2" "$M/intel/openvino_telemetry_spool.jsonl"
        dd if=/dev/zero of="$M/fill" bs=1k 2>/dev/null
        "$3" --config-dir "$M/intel" --endpoint "$4" event:c:lost:l:1 shutdown:300
        echo "full-exit=$?"
        echo "after-full=$(ls -A "$M/intel" | tr '\n' ' ')"
        rm "$M/fill"
        "$3" --config-dir "$M/intel" --endpoint "$5" shutdown:10000
        echo "free-exit=$?"
    "#;
    let down = closed_port_url();
    let output = in_mount_namespace(
        script,
        &[
            mount_point.as_os_str(),
            seed.as_os_str(),
            probe().as_os_str(),
            down.as_ref(),
            server.url().as_ref(),
        ],
    );
    let out = text(&output);
    assert!(
        out.contains("full-exit=0") && out.contains("free-exit=0"),
        "{out}"
    );
    assert_eq!(
        labels_of(&server.events(), "spooled"),
        ["kept0", "kept1", "kept2"],
        "{out}"
    );
}
