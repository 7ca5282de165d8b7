//! A provider's token-endpoint answer: status and content type from the first three bytes, the
//! body after them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [a, b, kind, body @ ..] = data else { return };
    let status = 100 + u16::from_be_bytes([*a, *b]) % 500;
    let content_type = match kind % 4 {
        0 => Some("application/json"),
        1 => Some("application/x-www-form-urlencoded"),
        2 => Some("text/plain; charset=utf-8"),
        _ => None,
    };
    loginkit_core::fuzzing::token_response(status, content_type, body);
});
