//! The metadata handler's reading of a binary: see `depot_fuzz::metadata`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| depot_fuzz::metadata(data));
