//! The C API of the server, for the C++ tests: `cpp_tests/support/loopback_server.hpp`
//! declares these functions and wraps them in RAII classes.
//!
//! Safety, for every function: pointers are NULL or come from this API and are not yet
//! freed; `mode` is a NUL-terminated string; `body` points to `len` readable bytes.
#![allow(clippy::missing_safety_doc)]

use std::ffi::{c_char, CStr};
use std::panic::catch_unwind;
use std::time::Duration;

use crate::{count_events, Mode, TestServer};

/// A list of byte strings, freed with `ovt_loopback_strings_free`.
pub struct Strings(Vec<Vec<u8>>);

fn boxed(list: Vec<Vec<u8>>) -> *mut Strings {
    Box::into_raw(Box::new(Strings(list)))
}

unsafe fn mode(text: *const c_char) -> Option<Mode> {
    if text.is_null() {
        return None;
    }
    CStr::from_ptr(text).to_str().ok()?.parse().ok()
}

unsafe fn bytes<'a>(body: *const c_char, len: usize) -> &'a [u8] {
    match body.is_null() {
        true => &[],
        false => std::slice::from_raw_parts(body.cast(), len),
    }
}

/// A recording server on 127.0.0.1 in `mode` (the text form of `Mode`, e.g. "ok" or
/// "fail:1:500"); NULL when the mode is invalid or the server cannot start.
#[no_mangle]
pub unsafe extern "C" fn ovt_loopback_start(text: *const c_char) -> *mut TestServer {
    let Some(mode) = mode(text) else {
        return std::ptr::null_mut();
    };
    catch_unwind(|| TestServer::start(mode)).map_or(std::ptr::null_mut(), |server| {
        Box::into_raw(Box::new(server))
    })
}

/// Stops the server (joins its threads). NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn ovt_loopback_free(server: *mut TestServer) {
    if !server.is_null() {
        drop(Box::from_raw(server));
    }
}

#[no_mangle]
pub unsafe extern "C" fn ovt_loopback_port(server: *const TestServer) -> u16 {
    (*server).addr().port()
}

/// Whether `text` was a valid mode (the mode is unchanged otherwise).
#[no_mangle]
pub unsafe extern "C" fn ovt_loopback_set_mode(
    server: *const TestServer,
    text: *const c_char,
) -> bool {
    mode(text).map(|m| (*server).set_mode(m)).is_some()
}

#[no_mangle]
pub unsafe extern "C" fn ovt_loopback_connections(server: *const TestServer) -> usize {
    (*server).connections()
}

/// The requests received so far, after waiting up to `timeout_ms` for at least `min` of
/// them: five strings per request, method, target, the headers as "Name: value\r\n" lines,
/// body, and the status answered ("0": none).
#[no_mangle]
pub unsafe extern "C" fn ovt_loopback_requests(
    server: *const TestServer,
    min: usize,
    timeout_ms: u64,
) -> *mut Strings {
    let requests = (*server).wait_for_requests(min, Duration::from_millis(timeout_ms));
    let mut list = Vec::with_capacity(requests.len() * 5);
    for r in requests {
        let head: String = r
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}\r\n"))
            .collect();
        list.push(r.method.into_bytes());
        list.push(r.path_and_query.into_bytes());
        list.push(head.into_bytes());
        list.push(r.body);
        list.push(r.answered.unwrap_or(0).to_string().into_bytes());
    }
    boxed(list)
}

/// The `name` of each item of a JSON body's `events` array that has a string name.
#[no_mangle]
pub unsafe extern "C" fn ovt_loopback_event_names(body: *const c_char, len: usize) -> *mut Strings {
    let json: Option<serde_json::Value> = serde_json::from_slice(bytes(body, len)).ok();
    let events = json.as_ref().and_then(|j| j.get("events")?.as_array());
    let names = events
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("name")?.as_str());
    boxed(names.map(|n| n.as_bytes().to_vec()).collect())
}

/// The number of items of a JSON body's `events` array (0 when there is none).
#[no_mangle]
pub unsafe extern "C" fn ovt_loopback_count_events(body: *const c_char, len: usize) -> usize {
    count_events(bytes(body, len))
}

#[no_mangle]
pub unsafe extern "C" fn ovt_loopback_strings_len(list: *const Strings) -> usize {
    let list = &*list;
    list.0.len()
}

/// The `index`th string (not NUL-terminated; its length goes to `len`), valid until the list
/// is freed.
#[no_mangle]
pub unsafe extern "C" fn ovt_loopback_strings_get(
    list: *const Strings,
    index: usize,
    len: *mut usize,
) -> *const c_char {
    let list = &*list;
    let item = &list.0[index];
    *len = item.len();
    item.as_ptr().cast()
}

/// NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn ovt_loopback_strings_free(list: *mut Strings) {
    if !list.is_null() {
        drop(Box::from_raw(list));
    }
}
