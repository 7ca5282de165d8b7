//! A callback's query string and `Cookie` header (split at the first newline), as the flow reads
//! them before any store or provider is involved.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loginkit_flow::Keys;

fuzz_target!(|data: &[u8]| {
    let keys = Keys::from_encoded(&"7".repeat(64)).expect("a fixed test key");
    let (query, cookie) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    loginkit_flow::fuzzing::callback(&keys, query, &String::from_utf8_lossy(cookie));
});
