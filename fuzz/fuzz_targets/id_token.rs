//! An ID token: header parsing, signature check against a fixed public key, and every claim
//! check on its payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loginkit_core::Nonce;
use loginkit_core::jsonwebtoken::DecodingKey;

// The test-only key of loginkit-core's tests, never used outside tests.
const PUBLIC_PEM: &[u8] = include_bytes!("../../crates/loginkit-core/tests/fixtures/test-only-rsa.pub.pem");

fuzz_target!(|data: &[u8]| {
    let key = DecodingKey::from_rsa_pem(PUBLIC_PEM).expect("the test key parses");
    let nonce = Nonce::new("n-0S6_WzA2Mj".to_owned());
    let token = String::from_utf8_lossy(data);
    loginkit_core::fuzzing::id_token(&token, &key, Some(&nonce));
    loginkit_core::fuzzing::id_token(&token, &key, None);
});
