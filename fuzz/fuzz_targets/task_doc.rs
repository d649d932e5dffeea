//! cargo-fuzz target `task_doc`: the property is in fuzz/props.rs (shared with the stable
//! replay harness in tests/torture.rs).
#![no_main]

#[path = "../props.rs"]
mod props;

libfuzzer_sys::fuzz_target!(|data: &[u8]| props::task_doc(data));
