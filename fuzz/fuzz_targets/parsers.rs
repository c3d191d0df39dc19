//! Depot's text parsers on arbitrary bytes: see `depot_fuzz::parsers`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| depot_fuzz::parsers(data));
