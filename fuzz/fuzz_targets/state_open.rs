//! The sealed-state opener: arbitrary text, and arbitrary bytes sealed with the right key so the
//! state's JSON is fuzzed behind the authentication.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loginkit_flow::Keys;

fuzz_target!(|data: &[u8]| {
    let keys = Keys::from_encoded(&"7".repeat(64)).expect("a fixed test key");
    loginkit_flow::fuzzing::state(&keys, data);
});
