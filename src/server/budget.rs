//! What the webhook listener may hold at once: connections, and request
//! bytes being buffered. Both are checked before the work is taken on, so an
//! unauthenticated client can never make the gateway hold more than the
//! configured budget (plus a per-connection constant for the read buffer).
//!
//! At the limit, room is made by evicting the connection that has waited
//! longest in a read without receiving a byte (an idle keep-alive, a new
//! connection that says nothing, a head or a body that stopped arriving): a
//! sender that delivers promptly gets in, and slow or stalled clients
//! cannot hold the gateway. A connection whose request is being processed
//! is never evicted. A connection waiting for a request is evictable after
//! [`IDLE_EVICTION_GRACE`] (a sender writes its request as soon as it has
//! connected); one part-way through a request only after [`EVICTION_GRACE`]
//! without a byte, so an upload that keeps arriving is not cut off by a
//! flood of new connections.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// A request part-way read is never evicted within this of its last byte:
/// senders that deliver promptly finish their requests well within it.
pub const EVICTION_GRACE: Duration = Duration::from_secs(1);
/// A connection waiting for a request (new, or kept alive) is never evicted
/// within this of its last byte. Short, so a burst of silent connections
/// cannot keep a prompt sender out for long.
pub const IDLE_EVICTION_GRACE: Duration = Duration::from_millis(50);
const SHARDS: usize = 16;

#[derive(Debug)]
pub struct Budget {
    max_connections: usize,
    max_bytes: u64,
    /// A read younger than this is never evicted.
    grace: Duration,
    connections: AtomicUsize,
    bytes: AtomicU64,
    epoch: Instant,
    next_id: AtomicU64,
    watches: [Mutex<HashMap<u64, Arc<Watch>>>; SHARDS],
    /// Connections closed at once because the listener was full and no
    /// connection could be evicted.
    pub refused_connections: AtomicU64,
    /// Requests answered 503 because buffering their body would pass the budget.
    pub refused_bodies: AtomicU64,
    /// Connections evicted to make room.
    pub evicted: AtomicU64,
}

/// Where a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Waiting for a request (keep-alive, or a new connection).
    Idle = 0,
    /// Reading a request head.
    Head = 1,
    /// Reading a request body.
    Body = 2,
    /// Verifying, forwarding, answering: never evicted.
    Busy = 3,
}

/// One connection as the budget sees it.
#[derive(Debug)]
pub struct Watch {
    phase: AtomicU8,
    /// When the phase began or last received bytes, in ms since the
    /// budget's epoch.
    since: AtomicU64,
    /// Bytes its body holds of the budget.
    reserved: AtomicU64,
    evicted: AtomicBool,
    kill: Notify,
    epoch: Instant,
}

impl Watch {
    pub fn enter(&self, phase: Phase) {
        self.since
            .store(self.epoch.elapsed().as_millis() as u64, Relaxed);
        self.phase.store(phase as u8, Relaxed);
    }

    /// Bytes arrived: the connection is not stalled.
    pub fn progress(&self) {
        self.since
            .store(self.epoch.elapsed().as_millis() as u64, Relaxed);
    }

    pub fn phase(&self) -> Phase {
        match self.phase.load(Relaxed) {
            0 => Phase::Idle,
            1 => Phase::Head,
            2 => Phase::Body,
            _ => Phase::Busy,
        }
    }

    /// Resolves when the budget evicts this connection.
    pub async fn evicted(&self) {
        self.kill.notified().await
    }

    fn evict(&self) -> bool {
        if self.evicted.swap(true, Relaxed) {
            return false;
        }
        self.kill.notify_one();
        true
    }
}

impl Budget {
    pub fn new(max_connections: usize, max_bytes: u64) -> Arc<Budget> {
        Budget::with_grace(max_connections, max_bytes, EVICTION_GRACE)
    }

    pub fn with_grace(max_connections: usize, max_bytes: u64, grace: Duration) -> Arc<Budget> {
        Arc::new(Budget {
            max_connections,
            max_bytes,
            grace,
            connections: AtomicUsize::new(0),
            bytes: AtomicU64::new(0),
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            watches: Default::default(),
            refused_connections: AtomicU64::new(0),
            refused_bodies: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
        })
    }

    /// A slot for one more connection. At the cap, the connection that has
    /// waited longest in a read is evicted to make room (the count may pass
    /// the cap by a sixteenth while evicted connections close); `None` when
    /// none can be.
    pub fn connect(self: &Arc<Self>) -> Option<ConnectionSlot> {
        let open = self.connections.fetch_add(1, Relaxed);
        if open >= self.max_connections {
            let overage = self.max_connections / 16 + 1;
            if open >= self.max_connections + overage || self.evict_oldest(|_| true).is_none() {
                self.connections.fetch_sub(1, Relaxed);
                self.refused_connections.fetch_add(1, Relaxed);
                return None;
            }
        }
        let id = self.next_id.fetch_add(1, Relaxed);
        let watch = Arc::new(Watch {
            phase: AtomicU8::new(Phase::Idle as u8),
            since: AtomicU64::new(self.epoch.elapsed().as_millis() as u64),
            reserved: AtomicU64::new(0),
            evicted: AtomicBool::new(false),
            kill: Notify::new(),
            epoch: self.epoch,
        });
        self.shard(id).insert(id, watch.clone());
        Some(ConnectionSlot {
            budget: self.clone(),
            id,
            watch,
        })
    }

    fn shard(&self, id: u64) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Watch>>> {
        self.watches[(id as usize) % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Evicts the connection that has waited longest in a read without a
    /// byte, past its grace, among those `eligible`; the one evicted.
    fn evict_oldest(&self, eligible: impl Fn(&Watch) -> bool) -> Option<Arc<Watch>> {
        let grace = self.grace.as_millis() as u64;
        let idle_grace = self.grace.min(IDLE_EVICTION_GRACE).as_millis() as u64;
        let now = self.epoch.elapsed().as_millis() as u64;
        let mut oldest: Option<(u64, Arc<Watch>)> = None;
        for shard in &self.watches {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            for w in shard.values() {
                let since = w.since.load(Relaxed);
                let phase = w.phase();
                let grace = if phase == Phase::Idle {
                    idle_grace
                } else {
                    grace
                };
                let waiting = phase != Phase::Busy
                    && !w.evicted.load(Relaxed)
                    && now.saturating_sub(since) >= grace
                    && eligible(w);
                if waiting && oldest.as_ref().is_none_or(|(s, _)| since < *s) {
                    oldest = Some((since, w.clone()));
                }
            }
        }
        match oldest {
            Some((_, w)) if w.evict() => {
                self.evicted.fetch_add(1, Relaxed);
                Some(w)
            }
            _ => None,
        }
    }

    /// Reserves `n` bytes for a request body. Past the budget, bodies that
    /// have been arriving longest are evicted until their bytes would cover
    /// it, and the reservation is retried for a moment; `None` if it still
    /// does not fit.
    pub async fn reserve(self: &Arc<Self>, n: u64) -> Option<Reservation> {
        let mut r = Reservation {
            budget: self.clone(),
            held: 0,
            watch: None,
        };
        if r.try_grow(n) {
            return Some(r);
        }
        let mut freed = 0;
        let missing = (self.bytes.load(Relaxed) + n).saturating_sub(self.max_bytes);
        while freed < missing {
            let stalled = |w: &Watch| w.phase() == Phase::Body && w.reserved.load(Relaxed) > 0;
            match self.evict_oldest(stalled) {
                Some(victim) => freed += victim.reserved.load(Relaxed).max(1),
                None => break,
            }
        }
        if freed > 0 {
            // The evicted connections release their bytes as they close.
            for _ in 0..50 {
                pingora::time::sleep(Duration::from_millis(5)).await;
                if r.try_grow(n) {
                    return Some(r);
                }
            }
        }
        self.refused_bodies.fetch_add(1, Relaxed);
        None
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
pub struct ConnectionSlot {
    budget: Arc<Budget>,
    id: u64,
    watch: Arc<Watch>,
}

impl ConnectionSlot {
    pub fn watch(&self) -> Arc<Watch> {
        self.watch.clone()
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.budget.shard(self.id).remove(&self.id);
        self.budget.connections.fetch_sub(1, Relaxed);
    }
}

/// Bytes a request may buffer; released when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<Budget>,
    held: u64,
    /// The connection whose body holds it, so an eviction knows its size.
    watch: Option<Arc<Watch>>,
}

impl Reservation {
    /// Ties the reservation to a connection (its size is then visible to
    /// eviction).
    pub fn held_by(&mut self, watch: Option<Arc<Watch>>) {
        if let Some(w) = &watch {
            w.reserved.store(self.held, Relaxed);
        }
        self.watch = watch;
    }

    fn try_grow(&mut self, total: u64) -> bool {
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
            if let Some(w) = &self.watch {
                w.reserved.store(total, Relaxed);
            }
        }
        ok
    }

    /// Grows the reservation to `total` bytes; false (and unchanged) when
    /// that would pass the budget.
    pub fn grow_to(&mut self, total: u64) -> bool {
        let ok = self.try_grow(total);
        if !ok {
            self.budget.refused_bodies.fetch_add(1, Relaxed);
        }
        ok
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.bytes.fetch_sub(self.held, Relaxed);
        if let Some(w) = &self.watch {
            w.reserved.store(0, Relaxed);
        }
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
             hookgate_over_budget_total {}\n\
             # HELP hookgate_connections_evicted_total Connections closed to make room: the longest waiting in a read.\n\
             # TYPE hookgate_connections_evicted_total counter\n\
             hookgate_connections_evicted_total {}\n",
            self.connections(),
            self.refused_connections.load(Relaxed),
            self.buffered(),
            self.refused_bodies.load(Relaxed),
            self.evicted.load(Relaxed),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_and_bytes_are_capped_and_released() {
        let b = Budget::new(2, 100);
        let one = b.connect().unwrap();
        let _two = b.connect().unwrap();
        // Both are younger than the grace: nothing to evict.
        assert!(b.connect().is_none());
        drop(one);
        assert!(b.connect().is_some());
        assert_eq!(b.refused_connections.load(Relaxed), 1);

        let mut r = b.reserve(60).await.unwrap();
        assert!(b.reserve(50).await.is_none());
        assert!(!r.grow_to(101));
        assert!(r.grow_to(100));
        assert_eq!(b.buffered(), 100);
        drop(r);
        assert_eq!(b.buffered(), 0);
        assert!(b.reserve(100).await.is_some());
    }

    #[tokio::test]
    async fn at_the_cap_the_longest_waiting_read_is_evicted_never_a_busy_one() {
        let b = Budget::with_grace(2, 100, Duration::ZERO);
        let busy = b.connect().unwrap();
        busy.watch().enter(Phase::Busy);
        let slow = b.connect().unwrap();
        slow.watch().enter(Phase::Head);
        let newcomer = b.connect().expect("room made by evicting the slow head");
        // The slow one is told; the busy one is not.
        tokio::time::timeout(Duration::from_secs(1), slow.watch().evicted())
            .await
            .expect("evicted");
        assert!(!busy.watch().evicted.load(Relaxed));
        assert_eq!(b.evicted.load(Relaxed), 1);
        // Once the evicted one has closed, the two left are busy: nothing
        // to evict, the next is refused.
        newcomer.watch().enter(Phase::Busy);
        drop(slow);
        assert!(b.connect().is_none());
        assert_eq!(b.refused_connections.load(Relaxed), 1);
    }

    #[tokio::test]
    async fn a_stalled_body_makes_room_for_a_new_one() {
        let b = Budget::with_grace(8, 100, Duration::ZERO);
        let stalled = b.connect().unwrap();
        stalled.watch().enter(Phase::Body);
        let mut held = b.reserve(80).await.unwrap();
        held.held_by(Some(stalled.watch()));
        let watch = stalled.watch();
        // The stalled connection closes when told, releasing its bytes.
        let closer = tokio::spawn(async move {
            watch.evicted().await;
            drop(held);
        });
        let fresh = b.reserve(60).await.expect("the stalled body was evicted");
        assert_eq!(b.buffered(), 60);
        closer.await.unwrap();
        drop(fresh);
        assert_eq!(b.buffered(), 0);
    }
}
