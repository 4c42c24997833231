//! GA4 names and values: the rules that make every name and value of an event valid
//! before it is queued, and the `usage_group` parameter ([`usage_group`]).
//!
//! # Why normalise
//!
//! The collect endpoint answers `2xx` even for events that break its limits, and then drops
//! them silently. So the library makes every name and value valid before it is queued,
//! by the rules below, rather than losing the event.
//!
//! # Event names ([`normalise_name`]) — the `action` of `send_event`
//!
//! Applied in this order:
//!
//! 1. Leading and trailing whitespace is trimmed.
//! 2. Every character other than ASCII `A-Z a-z 0-9 _` becomes `_` (one `_` per character,
//!    whatever its UTF-8 length). Only the first 40 characters are looked at.
//! 3. A name that is empty, does not start with an ASCII letter (this covers the reserved
//!    prefix `_`), or starts with a reserved prefix `firebase_`, `ga_` or `google_`
//!    (compared ignoring ASCII case) gets the prefix `e_`. The reserved prefix `gtag.`
//!    cannot survive step 2 (`.` becomes `_`).
//! 4. The result is cut to 40 characters.
//! 5. A name equal (ignoring ASCII case) to one of GA4's reserved event names
//!    ([`RESERVED_EVENT_NAMES`]: `error`, `session_start`, `first_open`, `page_view`,
//!    `click`, …) gets a trailing `_`; `error` becomes `error_`, as the Python client
//!    names its error events. No reserved name is longer than 39 characters, so the
//!    result still fits in 40.
//!
//! A name that is already valid is returned unchanged (copied), which includes the
//! library's own names `session`, `error_`, `stack_trace` and `accepted`. The rules are
//! idempotent: normalising a normalised name changes nothing.
//!
//! # Parameter values ([`normalise_value`]) — category, label, app name and version
//!
//! 1. Control characters (Unicode category `Cc`: `\0`–`\x1f`, `\x7f`, `\u{80}`–`\u{9f}`,
//!    which includes newline and tab) become a space. A stack trace therefore arrives as
//!    one line.
//! 2. The value is cut to its first 100 characters (Unicode scalar values, not bytes; the
//!    cut is always on a character boundary).
//!
//! Nothing else changes: no trimming, empty values stay empty. Only the first 101
//! characters of the input are ever examined, so a huge input costs no more than a short
//! one.
//!
//! `event_count` is the caller's `int64_t` as is. `client_id` and `session_id` are the
//! library's own UUIDs and are written as they are.

/// GA4's limit on event and parameter names, in characters.
pub const MAX_NAME_CHARS: usize = 40;
/// GA4's limit on parameter values, in characters.
pub const MAX_VALUE_CHARS: usize = 100;

/// Prefix given to a name that does not start with a letter or starts with a reserved prefix.
const NAME_PREFIX: &str = "e_";

/// Name prefixes GA4 reserves for itself (besides `_`, covered by "must start with a letter").
const RESERVED_PREFIXES: [&str; 4] = ["firebase_", "ga_", "google_", "gtag."];

/// Event names GA4 reserves for itself; a name equal to one of them gets a trailing `_`.
pub const RESERVED_EVENT_NAMES: &[&str] = &[
    "ad_activeview",
    "ad_click",
    "ad_exposure",
    "ad_impression",
    "ad_query",
    "ad_reward",
    "adunit_exposure",
    "app_background",
    "app_clear_data",
    "app_exception",
    "app_install",
    "app_remove",
    "app_store_refund",
    "app_store_subscription_cancel",
    "app_store_subscription_convert",
    "app_store_subscription_renew",
    "app_update",
    "app_upgrade",
    "click",
    "dynamic_link_app_open",
    "dynamic_link_app_update",
    "dynamic_link_first_open",
    "error",
    "first_open",
    "first_visit",
    "in_app_purchase",
    "notification_dismiss",
    "notification_foreground",
    "notification_open",
    "notification_receive",
    "os_update",
    "page_view",
    "screen_view",
    "session_start",
    "session_start_with_rollout",
    "user_engagement",
];

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn has_reserved_prefix(name: &str) -> bool {
    RESERVED_PREFIXES.iter().any(|prefix| {
        name.len() >= prefix.len()
            && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    })
}

fn is_reserved_name(name: &str) -> bool {
    RESERVED_EVENT_NAMES
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(name))
}

fn is_valid_name(s: &str) -> bool {
    s.len() <= MAX_NAME_CHARS
        && s.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !has_reserved_prefix(s)
        && !is_reserved_name(s)
}

/// Makes `s` a valid GA4 event name by the rules in the module documentation. Returns the
/// input copied when it is already valid; otherwise allocates one string of at most 41
/// bytes. Past the surrounding whitespace, looks at no more than 40 characters.
/// Never panics.
pub fn normalise_name(s: &str) -> String {
    if is_valid_name(s) {
        return s.to_owned();
    }
    let mut name = String::with_capacity(NAME_PREFIX.len() + MAX_NAME_CHARS + 1);
    name.extend(
        s.trim()
            .chars()
            .take(MAX_NAME_CHARS)
            .map(|c| if is_name_char(c) { c } else { '_' }),
    );
    let starts_with_letter = name.as_bytes().first().is_some_and(u8::is_ascii_alphabetic);
    if !starts_with_letter || has_reserved_prefix(&name) {
        name.insert_str(0, NAME_PREFIX);
        // Only ASCII is left, so every byte index is a character boundary.
        name.truncate(MAX_NAME_CHARS);
    }
    if is_reserved_name(&name) {
        name.push('_');
    }
    name
}

/// Makes `s` a valid GA4 parameter value by the rules in the module documentation: control
/// characters become spaces, and the value is cut to 100 characters. Returns the input
/// copied when it is already valid. Looks at no more than the first 101 characters.
/// Never panics.
pub fn normalise_value(s: &str) -> String {
    let mut end = s.len();
    let mut has_control = false;
    for (n, (i, c)) in s.char_indices().enumerate() {
        if n == MAX_VALUE_CHARS {
            end = i;
            break;
        }
        has_control |= c.is_control();
    }
    let kept = &s[..end];
    if !has_control {
        return kept.to_owned();
    }
    let mut value = String::with_capacity(kept.len());
    value.extend(kept.chars().map(|c| if c.is_control() { ' ' } else { c }));
    value
}

/// The `usage_group` parameter for a usage count, as the Python client computes it:
/// 1 → `first_usage`, 2–100 → `1-100_usages`, 101–1000 → `101-1000_usages`,
/// 1001–5000 → `1001-5000_usages`, above → `5000+_usages`. (0 cannot happen — every
/// initialisation with consent counts one usage — and is reported as `first_usage`.)
pub fn usage_group(count: u64) -> &'static str {
    match count {
        0..=1 => "first_usage",
        2..=100 => "1-100_usages",
        101..=1000 => "101-1000_usages",
        1001..=5000 => "1001-5000_usages",
        _ => "5000+_usages",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // ---- name normalisation, one test per rule ----

    #[test]
    fn name_valid_passes_through() {
        for name in [
            "act",
            "error_",
            "stack_trace",
            "session",
            "accepted",
            "A1_b2",
            "x",
        ] {
            assert_eq!(normalise_name(name), name);
        }
        let forty = format!("a{}", "b".repeat(39));
        assert_eq!(normalise_name(&forty), forty);
    }

    #[test]
    fn name_trims_whitespace() {
        assert_eq!(normalise_name("  act \t"), "act");
    }

    #[test]
    fn name_replaces_invalid_characters() {
        assert_eq!(normalise_name("my-event.v2"), "my_event_v2");
        assert_eq!(normalise_name("a b"), "a_b");
        assert_eq!(normalise_name("café"), "caf_");
        assert_eq!(normalise_name("a😀b"), "a_b");
        assert_eq!(normalise_name("x\0y"), "x_y");
    }

    #[test]
    fn name_not_starting_with_a_letter_gets_prefix() {
        assert_eq!(normalise_name("1st"), "e_1st");
        assert_eq!(normalise_name("_x"), "e__x");
        assert_eq!(normalise_name("éa"), "e__a");
        assert_eq!(normalise_name(""), "e_");
        assert_eq!(normalise_name("!!"), "e___");
    }

    #[test]
    fn name_with_reserved_prefix_gets_prefix() {
        assert_eq!(normalise_name("firebase_x"), "e_firebase_x");
        assert_eq!(normalise_name("ga_x"), "e_ga_x");
        assert_eq!(normalise_name("google_x"), "e_google_x");
        assert_eq!(normalise_name("GA_x"), "e_GA_x");
        assert_eq!(normalise_name("ga.x"), "e_ga_x");
        // "gtag." cannot survive the character rule; "gtag_" is not reserved.
        assert_eq!(normalise_name("gtag.x"), "gtag_x");
        // Not a prefix of the form "ga_": left alone.
        assert_eq!(normalise_name("gallery"), "gallery");
    }

    #[test]
    fn name_reserved_gets_trailing_underscore() {
        for &reserved in RESERVED_EVENT_NAMES {
            assert!(reserved.len() < MAX_NAME_CHARS);
            assert_eq!(normalise_name(reserved), format!("{reserved}_"));
        }
        assert_eq!(normalise_name("error"), "error_");
        assert_eq!(normalise_name("Session_Start"), "Session_Start_");
        assert_eq!(normalise_name("page view"), "page_view_");
        assert_eq!(normalise_name("session"), "session");
    }

    #[test]
    fn name_truncated_to_40_characters() {
        let long = "a".repeat(100);
        assert_eq!(normalise_name(&long), "a".repeat(40));
        let prefixed = normalise_name(&"1".repeat(100));
        assert_eq!(prefixed, format!("e_{}", "1".repeat(38)));
        assert_eq!(
            normalise_name(&"ü".repeat(100)),
            format!("e_{}", "_".repeat(38))
        );
    }

    #[test]
    fn name_normalisation_is_idempotent_and_always_valid() {
        let inputs = [
            "",
            " ",
            "error",
            "ga_",
            "_",
            "1",
            "a-b",
            "ÿ",
            "firebase_error",
            "e_",
            "x".repeat(41).as_str(),
            "page_view",
            "gtag.js",
            "😀😀😀",
            "A",
        ]
        .map(str::to_owned);
        for input in inputs {
            let once = normalise_name(&input);
            assert!(is_valid_name(&once), "{input:?} -> {once:?}");
            assert_eq!(normalise_name(&once), once, "{input:?}");
        }
    }

    // ---- value normalisation, one test per rule ----

    #[test]
    fn value_valid_passes_through() {
        for value in [
            "",
            " spaced ",
            "ünïcødé 😀",
            "{prev_state:undefined, new_state: accepted}",
        ] {
            assert_eq!(normalise_value(value), value);
        }
        let hundred = "é".repeat(100);
        assert_eq!(normalise_value(&hundred), hundred);
    }

    #[test]
    fn value_control_characters_become_spaces() {
        assert_eq!(
            normalise_value("a\nb\tc\rd\0e\u{7f}f\u{85}g\u{1b}[0m"),
            "a b c d e f g [0m"
        );
    }

    #[test]
    fn value_cut_to_100_characters_on_a_char_boundary() {
        assert_eq!(normalise_value(&"x".repeat(101)), "x".repeat(100));
        let wide = "é😀".repeat(80);
        let cut = normalise_value(&wide);
        assert_eq!(cut.chars().count(), 100);
        assert_eq!(cut, "é😀".repeat(50));
        // Both rules at once.
        assert_eq!(normalise_value(&"\n".repeat(300)), " ".repeat(100));
    }

    #[test]
    fn normalisation_of_huge_input_does_not_panic() {
        let huge = "ü\n".repeat(5_000_000);
        assert_eq!(normalise_value(&huge).chars().count(), 100);
        assert_eq!(normalise_name(&huge).len(), 40);
    }

    // ---- usage group ----

    #[test]
    fn usage_group_boundaries() {
        let cases = [
            (1, "first_usage"),
            (2, "1-100_usages"),
            (100, "1-100_usages"),
            (101, "101-1000_usages"),
            (1000, "101-1000_usages"),
            (1001, "1001-5000_usages"),
            (5000, "1001-5000_usages"),
            (5001, "5000+_usages"),
            (u64::MAX, "5000+_usages"),
        ];
        for (count, group) in cases {
            assert_eq!(usage_group(count), group, "{count}");
        }
    }
}
