//! Loopback ports for test servers (gateways, receivers that must be
//! restarted on the same port, redis-server).
//!
//! A port found by binding `:0` and closing again is a race: until the server
//! binds it, the kernel may hand the same port to another test's `:0` bind or
//! to an outgoing connection, and a readiness probe then reaches the wrong
//! process. So ports come from below the kernel's ephemeral range (which
//! `:0` binds and outgoing connections draw from), from one counter per test
//! process (no port is handed out twice), starting at an offset derived from
//! the process id (concurrent test processes start far apart). Each port is
//! still checked free before it is handed out.
#![allow(dead_code)] // each including crate uses a different part

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// Below Linux's default ephemeral range (32768–60999).
const FIRST: u32 = 10_000;
const LAST: u32 = 32_000;

static NEXT: AtomicU32 = AtomicU32::new(0);

pub fn free_port() -> u16 {
    let span = LAST - FIRST;
    let start = FIRST + (std::process::id().wrapping_mul(2_654_435_761) % span);
    let _ = NEXT.compare_exchange(0, start, Ordering::SeqCst, Ordering::SeqCst);
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = FIRST + (n - FIRST) % span;
        if TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
            return port as u16;
        }
    }
    panic!("no free loopback port between {FIRST} and {LAST}");
}
