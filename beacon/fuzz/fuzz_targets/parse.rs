//! Fuzzes `wire::parse` and `Receiver::handle_datagram`: they must never panic, and anything
//! `parse` accepts must re-encode to the same bytes.
#![no_main]

use beacon::receiver::Receiver;
use beacon::wire::{Key, emit, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = Key::dev();
    if let Ok(packet) = parse(data, &key) {
        assert_eq!(emit(&packet, &key), data);
    }
    let mut rx = Receiver::new(key);
    for (i, chunk) in data.chunks(64).enumerate() {
        let _ = rx.handle_datagram(i as u64 * 100_000, chunk);
    }
    let _ = rx.handle_datagram(u64::MAX, data);
});
