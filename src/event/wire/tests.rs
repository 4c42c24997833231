//! The request body and batching, against golden bodies and GA4's limits.

use std::sync::Arc;

use super::*;
use crate::event::{Extra, PrevState, COMMON_PARAMS, MAX_NAME_CHARS, MAX_PARAMS_PER_EVENT};

const CID: &str = "b05ef51d-3610-4440-bce3-6140be6d302c";
const SID: &str = "d0c07d56-3e3a-424a-b4f9-1f2179cc86b8";
const TS: u64 = 1_700_000_000_123_456;

fn common() -> Common {
    Common {
        client_id: CID.to_owned(),
        app_name: "peer_golden".to_owned(),
        app_version: "1.2.3".to_owned(),
        os: "Linux",
        docker: false,
        usage_count: Some(1),
    }
}

fn sid() -> Arc<str> {
    Arc::from(SID)
}

fn body_text(common: &Common, events: &[Event]) -> String {
    String::from_utf8(request_body(common, events)).unwrap()
}

/// The expected body of one event with the client data of `common()`, `SID` and `TS`.
fn golden(name: &str, category: &str, label: &str, count: i64) -> String {
    format!(
        concat!(
            r#"{{"client_id":"b05ef51d-3610-4440-bce3-6140be6d302c","non_personalized_ads":false,"#,
            r#""events":[{{"name":"{}","params":{{"event_category":"{}","event_label":"{}","#,
            r#""event_count":{},"session_id":"d0c07d56-3e3a-424a-b4f9-1f2179cc86b8","#,
            r#""app_name":"peer_golden","app_version":"1.2.3","os":"Linux","docker":"False","#,
            r#""usage_count":1,"usage_group":"first_usage"}},"timestamp_micros":1700000000123456}}]}}"#
        ),
        name, category, label, count
    )
}

// ---- golden bodies, one per kind ----

#[test]
fn golden_custom_event() {
    let e = Event::custom("cat", "act", "lbl", 3, sid(), TS).unwrap();
    let expected = r#"{"client_id":"b05ef51d-3610-4440-bce3-6140be6d302c","non_personalized_ads":false,"events":[{"name":"act","params":{"event_category":"cat","event_label":"lbl","event_count":3,"session_id":"d0c07d56-3e3a-424a-b4f9-1f2179cc86b8","app_name":"peer_golden","app_version":"1.2.3","os":"Linux","docker":"False","usage_count":1,"usage_group":"first_usage"},"timestamp_micros":1700000000123456}]}"#;
    assert_eq!(body_text(&common(), &[e]), expected);
}

#[test]
fn golden_fixed_events() {
    let undefined = "{prev_state:undefined, new_state: accepted}";
    let declined = "{prev_state:declined, new_state: accepted}";
    let cases = [
        (
            Event::session_start("cat", sid(), TS),
            golden("session", "cat", "start", 1),
        ),
        (
            Event::session_end("cat", sid(), TS),
            golden("session", "cat", "end", 1),
        ),
        (
            Event::error("cat", "cannot open ~/model.xml", sid(), TS),
            golden("error_", "cat", "cannot open ~/model.xml", 1),
        ),
        (
            Event::stack_trace("cat", "#0 main\n#1 start", sid(), TS),
            golden("stack_trace", "cat", "#0 main #1 start", 1),
        ),
        (
            Event::opt_in(PrevState::Undefined, sid(), TS),
            golden("accepted", "opt_in", undefined, 1),
        ),
        (
            Event::opt_in(PrevState::Declined, sid(), TS),
            golden("accepted", "opt_in", declined, 1),
        ),
    ];
    for (event, expected) in cases {
        assert_eq!(body_text(&common(), &[event]), expected);
    }
}

#[test]
fn golden_without_usage_in_docker_with_two_events() {
    let c = Common {
        usage_count: None,
        docker: true,
        ..common()
    };
    let events = [
        Event::session_start("c", sid(), 1),
        Event::custom("c", "a", "l", -7, Arc::from("s2"), 2).unwrap(),
    ];
    let expected = concat!(
        r#"{"client_id":"b05ef51d-3610-4440-bce3-6140be6d302c","non_personalized_ads":false,"events":["#,
        r#"{"name":"session","params":{"event_category":"c","event_label":"start","event_count":1,"#,
        r#""session_id":"d0c07d56-3e3a-424a-b4f9-1f2179cc86b8","app_name":"peer_golden","app_version":"1.2.3","#,
        r#""os":"Linux","docker":"True"},"timestamp_micros":1},"#,
        r#"{"name":"a","params":{"event_category":"c","event_label":"l","event_count":-7,"#,
        r#""session_id":"s2","app_name":"peer_golden","app_version":"1.2.3","#,
        r#""os":"Linux","docker":"True"},"timestamp_micros":2}]}"#
    );
    assert_eq!(body_text(&c, &events), expected);
}

#[test]
fn wire_events_json_are_the_bodys_events_without_the_client_id() {
    let events = [
        Event::session_start("c", sid(), 1),
        Event::custom("c", "a", "l\"x", -7, Arc::from("s2"), 2).unwrap(),
    ];
    let lines = wire_events_json(&common(), &events);
    let body: serde_json::Value =
        serde_json::from_slice(&request_body(&common(), &events)).unwrap();
    let from_body: Vec<String> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    assert_eq!(lines, from_body);
    assert!(lines.iter().all(|l| !l.contains(CID)));
}

#[test]
fn body_escapes_json_and_normalises_app_values() {
    let c = Common {
        app_name: "app\n\"x\"\\".to_owned(),
        app_version: "v".repeat(150),
        ..common()
    };
    let e = Event::custom("ü\"", "act", "a\\b", 1, sid(), TS).unwrap();
    let body = body_text(&c, &[e]);
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
    let params = &parsed["events"][0]["params"];
    assert_eq!(params["app_name"], "app \"x\"\\");
    assert_eq!(params["app_version"], "v".repeat(100).as_str());
    assert_eq!(params["event_category"], "ü\"");
    assert_eq!(params["event_label"], "a\\b");
    let keys: Vec<&str> = parsed
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["client_id", "non_personalized_ads", "events"]);
}

#[test]
fn empty_request_body_is_valid_json() {
    assert_eq!(
        body_text(&common(), &[]),
        r#"{"client_id":"b05ef51d-3610-4440-bce3-6140be6d302c","non_personalized_ads":false,"events":[]}"#
    );
}

// ---- batching ----

fn small_events(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| Event::custom("cat", "act", &format!("l{i}"), 1, sid(), TS).unwrap())
        .collect()
}

fn big_event(label_bytes: usize) -> Event {
    // Built directly: constructors would cut the label to 100 characters.
    Event {
        label: "x".repeat(label_bytes),
        ..Event::session_start("cat", sid(), TS)
    }
}

#[test]
fn batch_sizes_caps_at_25_events() {
    assert_eq!(batch_sizes(&common(), &small_events(60)), [25, 25, 10]);
    assert_eq!(batch_sizes(&common(), &small_events(25)), [25]);
    assert_eq!(batch_sizes(&common(), &small_events(1)), [1]);
    assert!(batch_sizes(&common(), &[]).is_empty());
}

#[test]
fn batch_sizes_keeps_bodies_under_130_kb_and_fills_them() {
    let c = common();
    let events: Vec<Event> = (0..40).map(|i| big_event(20_000 + i * 97)).collect();
    let sizes = batch_sizes(&c, &events);
    assert_eq!(sizes.iter().sum::<usize>(), events.len());
    let mut at = 0;
    for (k, &n) in sizes.iter().enumerate() {
        assert!((1..=MAX_EVENTS_PER_REQUEST).contains(&n));
        let batch = &events[at..at + n];
        assert!(request_body(&c, batch).len() < MAX_BODY_BYTES);
        if k + 1 < sizes.len() {
            // One more event would have broken the limit.
            assert!(request_body(&c, &events[at..at + n + 1]).len() >= MAX_BODY_BYTES);
        }
        at += n;
    }
    assert!(
        sizes.len() > 1 && sizes[0] < MAX_EVENTS_PER_REQUEST,
        "{sizes:?}"
    );
}

#[test]
fn batch_sizes_gives_an_oversized_event_its_own_batch() {
    let events = [big_event(10), big_event(200_000), big_event(10)];
    assert_eq!(batch_sizes(&common(), &events), [1, 1, 1]);
}

/// Why [`batch_sizes`] exists: 25 events from the constructors always fit one request
/// (49 kB at their widest: every value 100 characters of 4 bytes; serde_json escapes
/// nothing wider, control characters being gone), but 25 `crash` events whose 15 extra
/// values are as wide do not (204 kB), so the byte limit can cut a batch short.
#[test]
fn only_wide_crash_events_can_break_the_body_limit() {
    let wide = normalise_value(&"😀".repeat(200));
    let c = Common {
        app_name: wide.clone(),
        app_version: wide.clone(),
        usage_count: Some(u64::MAX),
        ..common()
    };
    let action = "a".repeat(MAX_NAME_CHARS);
    let plain = Event::custom(&wide, &action, &wide, i64::MIN, sid(), u64::MAX).unwrap();
    let plains = vec![plain.clone(); MAX_EVENTS_PER_REQUEST];
    assert!(request_body(&c, &plains).len() < MAX_BODY_BYTES / 2);
    assert_eq!(batch_sizes(&c, &plains), [MAX_EVENTS_PER_REQUEST]);

    let params = (0..MAX_PARAMS_PER_EVENT - COMMON_PARAMS)
        .map(|i| (format!("frame_{i}"), wide.clone()))
        .collect();
    let extra = Extra {
        app_name: wide.clone(),
        app_version: wide.clone(),
        params,
    };
    let crash = Event {
        extra: Some(Box::new(extra)),
        ..plain
    };
    let crashes = vec![crash; MAX_EVENTS_PER_REQUEST];
    assert!(request_body(&c, &crashes).len() > MAX_BODY_BYTES);
    assert_eq!(batch_sizes(&c, &crashes), [15, 10]);
    // What the worker takes off the queue: all 25 plain ones, 15 of the crash reports.
    assert_eq!(next_batch_len(&c, &plains), MAX_EVENTS_PER_REQUEST);
    assert_eq!(next_batch_len(&c, &crashes), 15);
    assert!(request_body(&c, &crashes[..15]).len() < MAX_BODY_BYTES);
}

/// The cheap bound that spares measuring a body is never below the body, for text JSON
/// writes wide (control characters of a line read back from disk, quotes, non-ASCII),
/// and ordinary events stay under the limit by the bound alone.
#[test]
fn the_body_bound_is_never_below_the_body() {
    let c = common();
    let mut event = Event::custom("c", "a", "l", 1, sid(), TS).unwrap();
    for label in [
        "",
        "plain",
        "\u{1}\u{1f}\"\\",
        "é😀\n\t",
        &"\u{7}".repeat(300),
    ] {
        event.label = label.to_string();
        for n in [1, 7, MAX_EVENTS_PER_REQUEST] {
            let events = vec![event.clone(); n];
            let body = request_body(&c, &events).len();
            assert!(body_len_bound(&c, &events) >= body, "{label:?} × {n}");
        }
    }
    let ordinary = vec![Event::custom("cat", "act", "label", 1, sid(), TS).unwrap(); 25];
    assert!(body_len_bound(&c, &ordinary) < MAX_BODY_BYTES);
}

#[test]
fn predicted_body_length_matches_serialisation() {
    let c = Common {
        usage_count: Some(4242),
        ..common()
    };
    let wire_common = WireCommon::new(&c);
    let events: Vec<Event> = (0..7)
        .map(|i| {
            Event::custom("ç\"at", "a", &"é\\".repeat(i * 7), i as i64 - 3, sid(), TS).unwrap()
        })
        .collect();
    let empty = json_len(&wire_body(&wire_common, &[]));
    let sum: usize = events
        .iter()
        .map(|e| json_len(&WireEvent::new(&wire_common, e)))
        .sum();
    assert_eq!(
        empty + sum + events.len() - 1,
        request_body(&c, &events).len()
    );
}
