//! What the webhook listener may hold at once: connections, and request
//! bytes being buffered. Both are checked before the work is taken on, so an
//! unauthenticated client can never make the gateway hold more than the
//! configured budget (plus a per-connection constant for the read buffer).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

#[derive(Debug)]
pub struct Budget {
    max_connections: usize,
    max_bytes: u64,
    connections: AtomicUsize,
    bytes: AtomicU64,
    /// Connections closed at once because the listener was full.
    pub refused_connections: AtomicU64,
    /// Requests answered 503 because buffering their body would pass the budget.
    pub refused_bodies: AtomicU64,
}

impl Budget {
    pub fn new(max_connections: usize, max_bytes: u64) -> Arc<Budget> {
        Arc::new(Budget {
            max_connections,
            max_bytes,
            connections: AtomicUsize::new(0),
            bytes: AtomicU64::new(0),
            refused_connections: AtomicU64::new(0),
            refused_bodies: AtomicU64::new(0),
        })
    }

    /// A slot for one more connection, or `None` when the listener is full.
    pub fn connect(self: &Arc<Self>) -> Option<ConnectionSlot> {
        let taken = self.connections.fetch_update(Relaxed, Relaxed, |n| {
            (n < self.max_connections).then_some(n + 1)
        });
        match taken {
            Ok(_) => Some(ConnectionSlot(self.clone())),
            Err(_) => {
                self.refused_connections.fetch_add(1, Relaxed);
                None
            }
        }
    }

    /// Reserves `n` bytes for a request body, or `None` past the budget.
    pub fn reserve(self: &Arc<Self>, n: u64) -> Option<Reservation> {
        let mut r = Reservation {
            budget: self.clone(),
            held: 0,
        };
        r.grow_to(n).then_some(r)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Relaxed)
    }

    pub fn buffered(&self) -> u64 {
        self.bytes.load(Relaxed)
    }
}

/// One open connection; released when dropped.
#[derive(Debug)]
pub struct ConnectionSlot(Arc<Budget>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Relaxed);
    }
}

/// Bytes a request may buffer; released when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<Budget>,
    held: u64,
}

impl Reservation {
    /// Grows the reservation to `total` bytes; false (and unchanged) when
    /// that would pass the budget.
    pub fn grow_to(&mut self, total: u64) -> bool {
        if total <= self.held {
            return true;
        }
        let more = total - self.held;
        let max = self.budget.max_bytes;
        let ok = self
            .budget
            .bytes
            .fetch_update(Relaxed, Relaxed, |b| (b + more <= max).then_some(b + more))
            .is_ok();
        if ok {
            self.held = total;
        } else {
            self.budget.refused_bodies.fetch_add(1, Relaxed);
        }
        ok
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.bytes.fetch_sub(self.held, Relaxed);
    }
}

impl crate::metrics::Source for Budget {
    fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = write!(
            out,
            "# HELP hookgate_connections_open Client connections open on the webhook listener.\n\
             # TYPE hookgate_connections_open gauge\n\
             hookgate_connections_open {}\n\
             # HELP hookgate_connections_refused_total Connections closed at once: the listener held max_connections.\n\
             # TYPE hookgate_connections_refused_total counter\n\
             hookgate_connections_refused_total {}\n\
             # HELP hookgate_buffered_bytes Request bytes being buffered.\n\
             # TYPE hookgate_buffered_bytes gauge\n\
             hookgate_buffered_bytes {}\n\
             # HELP hookgate_over_budget_total Requests refused (503) because their body would pass max_buffered_bytes.\n\
             # TYPE hookgate_over_budget_total counter\n\
             hookgate_over_budget_total {}\n",
            self.connections(),
            self.refused_connections.load(Relaxed),
            self.buffered(),
            self.refused_bodies.load(Relaxed),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_and_bytes_are_capped_and_released() {
        let b = Budget::new(2, 100);
        let one = b.connect().unwrap();
        let _two = b.connect().unwrap();
        assert!(b.connect().is_none());
        drop(one);
        assert!(b.connect().is_some());
        assert_eq!(b.refused_connections.load(Relaxed), 1);

        let mut r = b.reserve(60).unwrap();
        assert!(b.reserve(50).is_none());
        assert!(!r.grow_to(101));
        assert!(r.grow_to(100));
        assert_eq!(b.buffered(), 100);
        drop(r);
        assert_eq!(b.buffered(), 0);
        assert!(b.reserve(100).is_some());
    }
}
