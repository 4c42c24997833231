//! The committed C header must be exactly what cbindgen generates from the sources, and
//! each function's documentation must say what STYLE.md asks of it.
//!
//! build.rs generates the header into OUT_DIR on every build that changes a source (it
//! never writes include/); this test compares that fresh generation with the committed
//! include/openvino_telemetry.h. Refresh that file with `OVT_UPDATE_HEADER=1 cargo build`.

const FRESH: &str = include_str!(concat!(env!("OUT_DIR"), "/openvino_telemetry.h"));
const FRESH_PATH: &str = concat!(env!("OUT_DIR"), "/openvino_telemetry.h");
const COMMITTED_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/include/openvino_telemetry.h");

fn committed() -> String {
    std::fs::read_to_string(COMMITTED_PATH)
        .unwrap_or_else(|e| panic!("cannot read {COMMITTED_PATH}: {e}"))
}

/// The lines that differ as a diff (`-` committed, `+` fresh, with their line numbers),
/// at most `max` of them: the longest common subsequence of lines is kept out.
fn diff(committed: &str, fresh: &str, max: usize) -> String {
    let (old, new): (Vec<&str>, Vec<&str>) = (committed.lines().collect(), fresh.lines().collect());
    // common[i][j]: length of the longest common subsequence of old[i..] and new[j..].
    let mut common = vec![vec![0u32; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            common[i][j] = if old[i] == new[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut lines) = (0, 0, Vec::new());
    while (i < old.len() || j < new.len()) && lines.len() < max {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            (i, j) = (i + 1, j + 1);
        } else if i < old.len() && (j == new.len() || common[i + 1][j] >= common[i][j + 1]) {
            lines.push(format!("{:>5} - {}", i + 1, old[i]));
            i += 1;
        } else {
            lines.push(format!("{:>5} + {}", j + 1, new[j]));
            j += 1;
        }
    }
    lines.join("\n")
}

#[test]
fn the_committed_header_is_up_to_date() {
    let committed = committed();
    assert!(
        committed == FRESH,
        "include/openvino_telemetry.h is stale; the fresh generation ({FRESH_PATH}) differs \
         (- committed, + fresh):\n{}\nRefresh it with `OVT_UPDATE_HEADER=1 cargo build` and \
         commit it.",
        diff(&committed, FRESH, 40)
    );
}

#[test]
fn the_diff_shows_only_what_changed() {
    assert_eq!(
        diff("a\nb\nc\n", "a\nB\nc\nd\n", 10),
        "    2 - b\n    2 + B\n    4 + d"
    );
    assert_eq!(diff("x\ny\n", "y\nx\n", 10), "    1 - x\n    2 + x");
    assert_eq!(diff("same\n", "same\n", 10), "");
}

/// Every function of the API with the phrases its own documentation must carry.
/// Ownership: "Caller owns the result; free it with …" for what the caller frees, "NULL is
/// a no-op" for the free functions, "must not free"/"never free" for static results.
const FUNCTIONS: [(&str, &[&str]); 31] = [
    (
        "ov_telemetry_options_create",
        &["Caller owns the result; free it with ov_telemetry_options_free()"],
    ),
    ("ov_telemetry_options_set_app", &[]),
    ("ov_telemetry_options_set_measurement_id", &[]),
    ("ov_telemetry_options_set_api_secret", &[]),
    ("ov_telemetry_options_set_consent_dialog", &[]),
    ("ov_telemetry_options_set_disable_in_ci", &[]),
    ("ov_telemetry_options_set_endpoint", &[]),
    ("ov_telemetry_options_set_config_dir", &[]),
    ("ov_telemetry_options_set_queue_capacity", &[]),
    ("ov_telemetry_options_set_crash_reports", &[]),
    (
        "ov_telemetry_options_free",
        &["NULL is a no-op", "Infallible"],
    ),
    (
        "ov_telemetry_init",
        &["Caller owns the result; free it with ov_telemetry_free()"],
    ),
    (
        "ov_telemetry_init_simple",
        &["Caller owns the result; free it with ov_telemetry_free()"],
    ),
    ("ov_telemetry_is_enabled", &["Infallible"]),
    ("ov_telemetry_send_event", &[]),
    ("ov_telemetry_send_error", &[]),
    ("ov_telemetry_send_stack_trace", &[]),
    ("ov_telemetry_start_session", &[]),
    ("ov_telemetry_end_session", &[]),
    ("ov_telemetry_flush", &[]),
    ("ov_telemetry_shutdown", &[]),
    ("ov_telemetry_free", &["NULL is a no-op", "Infallible"]),
    ("ov_telemetry_get_counters", &[]),
    ("ov_telemetry_get_consent", &["Infallible"]),
    ("ov_telemetry_set_consent", &[]),
    (
        "ov_telemetry_status_message",
        &["Never NULL; the caller must not free it", "Infallible"],
    ),
    (
        "ov_telemetry_last_error",
        &["the caller must not free it", "Never NULL", "Infallible"],
    ),
    ("ov_telemetry_crash_set_exception", &[]),
    (
        "ov_telemetry_version",
        &["Static; never NULL", "Infallible"],
    ),
    ("ov_telemetry_version_number", &["Infallible"]),
    (
        "ov_telemetry_get_api",
        &["Static: never free it", "Infallible"],
    ),
];

/// Free functions end the handle's life: they are not safe to call while another thread
/// uses the object, so they do not say "Thread-safe".
const NOT_THREAD_SAFE: [&str; 2] = ["ov_telemetry_options_free", "ov_telemetry_free"];

/// Whether and how long a call may block: each function says one of these.
const BLOCKING_PHRASES: [&str; 3] = ["Never blocks", "May block", "Blocks for at most"];

/// The declaration lines: code (not comments) at the start of a line, one a function.
fn declarations(header: &str) -> impl Iterator<Item = (usize, &str)> {
    header.lines().enumerate().filter(|(_, line)| {
        !line.starts_with([' ', '/', '#', '}'])
            && !line.starts_with("typedef")
            && line.contains('(')
    })
}

/// The function a declaration line declares.
fn declared_name(line: &str) -> &str {
    let before_args = line.split('(').next().unwrap_or_default();
    before_args.rsplit([' ', '*']).next().unwrap_or_default()
}

/// The documentation comment right above `name`'s declaration, or None if it is not
/// declared or has none.
fn doc_of(header: &str, name: &str) -> Option<String> {
    let (at, _) = declarations(header).find(|(_, line)| declared_name(line) == name)?;
    let lines: Vec<&str> = header.lines().take(at).collect();
    if lines.last()?.trim() != "*/" {
        return None;
    }
    let start = lines.iter().rposition(|line| line.trim() == "/**")?;
    Some(lines[start..].join("\n"))
}

/// A doc block as one line (the header wraps phrases across ` * ` lines).
fn unwrapped(doc: &str) -> String {
    doc.lines()
        .map(|line| {
            line.trim()
                .trim_start_matches("/**")
                .trim_start_matches('*')
                .trim()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn each_function_is_declared_with_its_phrases() {
    let header = FRESH;
    let mut missing = Vec::new();
    for (name, phrases) in FUNCTIONS {
        let Some(doc) = doc_of(header, name) else {
            missing.push(format!("{name} is not declared (or has no doc comment)"));
            continue;
        };
        let doc = unwrapped(&doc);
        if !BLOCKING_PHRASES.iter().any(|p| doc.contains(p)) {
            missing.push(format!("{name}: none of {BLOCKING_PHRASES:?}"));
        }
        let thread_safe = !NOT_THREAD_SAFE.contains(&name);
        for phrase in phrases.iter().chain(thread_safe.then_some(&"Thread-safe")) {
            if !doc.contains(phrase) {
                missing.push(format!("{name}: {phrase:?}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the header's documentation lacks:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_declared_function_is_in_the_list() {
    let declared: Vec<&str> = declarations(FRESH)
        .map(|(_, line)| declared_name(line))
        .collect();
    let listed: Vec<&str> = FUNCTIONS.iter().map(|(name, _)| *name).collect();
    let unlisted: Vec<&&str> = declared.iter().filter(|n| !listed.contains(n)).collect();
    assert!(unlisted.is_empty(), "not in FUNCTIONS: {unlisted:?}");
    assert_eq!(declared.len(), FUNCTIONS.len(), "{declared:?}");
}
