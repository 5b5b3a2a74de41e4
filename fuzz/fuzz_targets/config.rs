//! Any text as a configuration: parsed or refused with errors, never a panic,
//! and never an error that repeats an environment value (the stand-in for a
//! secret here).
#![no_main]

use libfuzzer_sys::fuzz_target;

const SECRET: &str = "fuzz-secret-value-9f3b";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = |_: &str| Some(SECRET.to_owned());
    if let Err(errors) = hookgate::config::parse(text, &env) {
        assert!(!errors.to_string().contains(SECRET));
    }
});
