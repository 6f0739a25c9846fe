//! Rows of a history store filled with arbitrary values (any SQLite type in
//! any column) and read back: `vigie history show` and `vigie diff` must
//! refuse a row they cannot read, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vigie_store::fuzz_load(data);
});
