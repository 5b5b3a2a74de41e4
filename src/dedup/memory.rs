//! The embedded backend: a bounded store of claims and delivered keys.
//!
//! - **Claims** (requests in flight) live in their own per-shard map. They
//!   are bounded by the requests in flight, never evicted, and expire on
//!   their own (an abandoned one is swept).
//! - **Deliveries** live in a per-shard map (digest → deadline) and, in the
//!   order they were written, in one queue shared by all shards. At
//!   `max_entries` the front of the queue — the least recently written
//!   delivery, the nearest to its expiry for one window — is evicted; a new
//!   delivery is never refused.
//!
//! A claim, a commit and a release each take one shard lock: a claim sees
//! the key's claim and delivery together, so a concurrent commit is seen as
//! a duplicate, never as absent. A commit then appends to the queue under
//! its own short lock (never while holding a shard lock: no lock-order
//! cycle), and removes the evicted keys from their shards.
//!
//! Why not moka (0.12.16), the first foundation: its LRU policy admits
//! every entry, but its only reads that return a value either reorder the
//! eviction queue (`get`: a retried delivery would outlive newer ones) or
//! lock the key (`and_compute_with`, the cost being removed here), and
//! `contains_key` judges expiry on moka's own clock, which tests cannot
//! move. It cannot tell the oldest entry's age either. Measured beside this
//! design, moka LRU with a separate claims map: ~2.0 µs and 286 B per key
//! (see BENCHMARKS.md for this store's figures).
//!
//! Keys are kept as the first 128 bits of their SHA-256 (keys come from
//! signed material, so a collision would need a SHA-256 prefix collision).
//! Deadlines are wall-clock milliseconds from a [`Clock`], so snapshots carry
//! them across a restart and tests move time by hand.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;

use super::clock::millis;
pub use super::clock::{Clock, ManualClock, SystemClock};
use super::throttle::Throttle;
use super::{
    BackendError, Claim, ClaimOutcome, CommitOutcome, DedupKey, DedupStore, StoreMetrics,
    WARN_EVERY,
};

/// Shards of the key maps: a map grows (rehashes) under its shard's lock
/// only, and 64 keeps each rehash small at a million keys.
const SHARDS: usize = 64;
/// Expired deliveries a commit removes from the front of the queue, beyond
/// the one it may evict: keeps up with one write each, bounded per request.
const EXPIRE_PER_WRITE: usize = 4;
/// Deliveries removed per pass when purging outside the request path.
const PURGE_BATCH: usize = 256;
/// Claims left behind (a guard dropped without a runtime) are swept when a
/// shard holds this many, or twice as many as after the last sweep.
const SWEEP_CLAIMS_FROM: usize = 64;

/// The first 128 bits of a key's SHA-256: what the store keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Digest(pub(super) [u64; 2]);

impl Digest {
    fn of(key: &DedupKey) -> Digest {
        let d = key.digest();
        Digest([
            u64::from_le_bytes(d[..8].try_into().expect("8 bytes")),
            u64::from_le_bytes(d[8..16].try_into().expect("8 bytes")),
        ])
    }

    fn shard(&self) -> usize {
        // Other bits than the map's own hash.
        (self.0[1] % SHARDS as u64) as usize
    }
}

impl Hash for Digest {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64(self.0[0]);
    }
}

/// A digest is already uniform: its first 64 bits are the hash.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Map<V> = HashMap<Digest, V, BuildHasherDefault<DigestHasher>>;

#[derive(Clone, Copy)]
struct Claimed {
    token: u64,
    expires_at: u64,
}

#[derive(Default)]
struct Shard {
    claims: Map<Claimed>,
    /// Delivered key → its deadline.
    delivered: Map<u64>,
    sweep_claims_at: usize,
}

/// A delivery in the write-order queue (and in snapshots). It still stands
/// while its shard maps the digest to this same deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Written {
    pub(super) digest: Digest,
    pub(super) written_at: u64,
    pub(super) expires_at: u64,
}

/// Deliveries in write order, in fixed chunks: growing never copies the
/// queue (at a million keys, a doubling copy would stall every commit).
#[derive(Default)]
struct WriteOrder {
    chunks: VecDeque<Vec<Written>>,
    /// Entries of the first chunk already taken.
    head: usize,
    len: usize,
    /// Entries ever taken: an entry's position in the queue's history is
    /// `popped` + its index, so a copy can resume after the lock was let go.
    popped: u64,
}

const CHUNK: usize = 1024;

impl WriteOrder {
    fn push(&mut self, w: Written) {
        match self.chunks.back_mut() {
            Some(last) if last.len() < CHUNK => last.push(w),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(w);
                self.chunks.push_back(chunk);
            }
        }
        self.len += 1;
    }

    fn front(&self) -> Option<&Written> {
        self.chunks.front().and_then(|c| c.get(self.head))
    }

    fn pop(&mut self) -> Option<Written> {
        let first = self.chunks.front()?;
        let w = *first.get(self.head)?;
        self.head += 1;
        self.len -= 1;
        self.popped += 1;
        if self.head == first.len() && (first.len() == CHUNK || self.len == 0) {
            self.chunks.pop_front();
            self.head = 0;
        }
        Some(w)
    }

    fn iter(&self) -> impl Iterator<Item = &Written> {
        self.chunks
            .iter()
            .enumerate()
            .flat_map(|(i, c)| c[if i == 0 { self.head } else { 0 }..].iter())
    }

    /// Appends to `out` up to `max` entries from position `from` (or from
    /// the front, if those were taken since); returns the next position.
    fn copy_from(&self, from: u64, max: usize, out: &mut Vec<Written>) -> u64 {
        let start = from.saturating_sub(self.popped) as usize;
        let end = (start + max).min(self.len);
        for i in start..end {
            let at = self.head + i;
            out.push(self.chunks[at / CHUNK][at % CHUNK]);
        }
        self.popped + end as u64
    }

    fn replace(&mut self, entries: impl IntoIterator<Item = Written>) {
        let popped = self.popped + self.len as u64;
        *self = WriteOrder {
            popped,
            ..WriteOrder::default()
        };
        for w in entries {
            self.push(w);
        }
    }
}

/// Deliveries a commit takes out of the queue, removed from their shards
/// after the queue's lock is released.
struct Taken {
    entries: [Option<Written>; EXPIRE_PER_WRITE + 1],
}

pub struct MemoryStore<C: Clock = SystemClock> {
    shards: Box<[Mutex<Shard>]>,
    order: Mutex<WriteOrder>,
    max_entries: usize,
    clock: C,
    evictions: AtomicU64,
    /// Evictions of deliveries younger than the window: warned about.
    short_window: Throttle,
    /// One snapshot written at a time.
    pub(super) saving: Mutex<()>,
}

impl MemoryStore<SystemClock> {
    pub fn new(max_entries: u64) -> Self {
        MemoryStore::with_clock(max_entries, SystemClock::default())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere leaves the maps consistent (every change is one
    // insert or remove): keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<C: Clock> MemoryStore<C> {
    pub fn with_clock(max_entries: u64, clock: C) -> Self {
        MemoryStore {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        sweep_claims_at: SWEEP_CLAIMS_FROM,
                        ..Shard::default()
                    })
                })
                .collect(),
            order: Mutex::default(),
            max_entries: usize::try_from(max_entries.max(1)).unwrap_or(usize::MAX),
            clock,
            evictions: AtomicU64::new(0),
            short_window: Throttle::new(WARN_EVERY),
            saving: Mutex::new(()),
        }
    }

    fn shard(&self, d: &Digest) -> MutexGuard<'_, Shard> {
        lock(&self.shards[d.shard()])
    }

    pub(super) fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    pub fn max_entries(&self) -> u64 {
        self.max_entries as u64
    }

    fn claim_now(&self, key: &DedupKey, ttl: Duration) -> ClaimOutcome {
        let d = Digest::of(key);
        let now = self.clock.now_ms();
        let mut shard = self.shard(&d);
        if shard.claims.get(&d).is_some_and(|c| c.expires_at > now) {
            return ClaimOutcome::InFlight;
        }
        if let Some(&expires_at) = shard.delivered.get(&d) {
            if expires_at > now {
                return ClaimOutcome::Duplicate;
            }
            // Its queue entry no longer matches and is dropped when reached.
            shard.delivered.remove(&d);
        }
        let claim = Claim::new(key);
        shard.claims.insert(
            d,
            Claimed {
                token: claim.token,
                expires_at: now + millis(ttl),
            },
        );
        if shard.claims.len() >= shard.sweep_claims_at {
            shard.claims.retain(|_, c| c.expires_at > now);
            shard.sweep_claims_at = (shard.claims.len() * 2).max(SWEEP_CLAIMS_FROM);
        }
        ClaimOutcome::Claimed(claim)
    }

    /// Marks the key delivered while `claim` holds it, or while nobody does
    /// (the claim expired before the upstream answered: the delivery still
    /// happened). Never over another request's live claim or delivery.
    fn commit_now(&self, claim: &Claim, window: Duration) {
        let d = Digest::of(&claim.key);
        let now = self.clock.now_ms();
        let written = Written {
            digest: d,
            written_at: now,
            expires_at: now + millis(window),
        };
        {
            let mut shard = self.shard(&d);
            match shard.claims.get(&d) {
                Some(c) if c.token == claim.token => {}
                Some(c) if c.expires_at > now => return,
                _ if shard.delivered.get(&d).is_some_and(|&e| e > now) => return,
                _ => {}
            }
            shard.claims.remove(&d);
            shard.delivered.insert(d, written.expires_at);
        }
        let taken = self.append(written);
        self.forget(&taken, millis(window), now);
    }

    /// Queues a delivery; takes out what no longer fits or has expired.
    fn append(&self, written: Written) -> Taken {
        let mut taken = Taken {
            entries: [None; EXPIRE_PER_WRITE + 1],
        };
        let mut order = lock(&self.order);
        order.push(written);
        let mut n = 0;
        while n < taken.entries.len() {
            let due = match order.front() {
                Some(front) => {
                    order.len > self.max_entries || front.expires_at <= written.written_at
                }
                None => false,
            };
            if !due {
                break;
            }
            taken.entries[n] = order.pop();
            n += 1;
        }
        taken
    }

    /// Removes deliveries taken out of the queue from their shards; counts
    /// the ones still live as evictions.
    fn forget(&self, taken: &Taken, window_ms: u64, now: u64) {
        for w in taken.entries.iter().flatten() {
            let mut shard = self.shard(&w.digest);
            if shard.delivered.get(&w.digest) != Some(&w.expires_at) {
                continue;
            }
            shard.delivered.remove(&w.digest);
            drop(shard);
            if w.expires_at > now {
                self.evictions.fetch_add(1, Relaxed);
                let held = now.saturating_sub(w.written_at);
                if held < window_ms {
                    if let Some(n) = self.short_window.hit() {
                        tracing::warn!(
                            max_entries = self.max_entries,
                            evicted = n,
                            "dedup memory store full: it remembers deliveries for {} only, \
                             less than dedup.window ({}); an older retry is forwarded again. \
                             Raise dedup.max_entries",
                            humantime::format_duration(Duration::from_secs(held / 1000)),
                            humantime::format_duration(Duration::from_secs(window_ms / 1000)),
                        );
                    }
                }
            }
        }
    }

    fn release_now(&self, claim: &Claim) {
        let d = Digest::of(&claim.key);
        let mut shard = self.shard(&d);
        if shard.claims.get(&d).is_some_and(|c| c.token == claim.token) {
            shard.claims.remove(&d);
        }
    }

    /// Removes expired deliveries from the front of the queue, in batches
    /// (the queue's lock is never held long).
    fn purge_expired(&self) {
        let now = self.clock.now_ms();
        loop {
            let mut batch = Vec::new();
            {
                let mut order = lock(&self.order);
                while batch.len() < PURGE_BATCH {
                    match order.front() {
                        Some(front) if front.expires_at <= now => batch.extend(order.pop()),
                        _ => break,
                    }
                }
            }
            let done = batch.len() < PURGE_BATCH;
            for w in batch {
                let mut shard = self.shard(&w.digest);
                if shard.delivered.get(&w.digest) == Some(&w.expires_at) {
                    shard.delivered.remove(&w.digest);
                }
            }
            if done {
                return;
            }
        }
    }

    /// Deliveries evicted to stay within `max_entries` while still inside
    /// their window.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Relaxed)
    }

    /// Age of the oldest delivery remembered: the window actually held. Below
    /// `dedup.window` while evictions happen, the store is too small.
    pub fn oldest_delivery_age(&self) -> Option<Duration> {
        self.purge_expired();
        let now = self.clock.now_ms();
        let order = lock(&self.order);
        order
            .front()
            .map(|w| Duration::from_millis(now.saturating_sub(w.written_at)))
    }

    /// Deliveries remembered (expired ones not yet removed included).
    pub fn deliveries(&self) -> u64 {
        lock(&self.order).len as u64
    }

    /// Claims held by requests in flight (expired ones not yet swept
    /// included).
    pub fn claims(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| lock(s).claims.len() as u64)
            .sum()
    }

    /// The deliveries still live, oldest first (for a snapshot). Copied a
    /// slice at a time: commits never wait for more than one slice.
    pub(super) fn live_deliveries(&self) -> Vec<Written> {
        const SLICE: usize = 4096;
        let now = self.clock.now_ms();
        let mut out = Vec::with_capacity(lock(&self.order).len);
        let mut next = 0;
        loop {
            let before = out.len();
            next = lock(&self.order).copy_from(next, SLICE, &mut out);
            if out.len() - before < SLICE {
                break;
            }
        }
        out.retain(|w| w.expires_at > now);
        out
    }

    /// Adds remembered deliveries (from a snapshot), keeping the write order
    /// and `max_entries`: the oldest that do not fit are left out. A key the
    /// store already holds (claimed or delivered) keeps its state.
    pub(super) fn restore(&self, entries: Vec<Written>) -> Restored {
        let now = self.clock.now_ms();
        let mut restored = Restored::default();
        // The queue's lock first, then shards: the order commits never take.
        let mut order = lock(&self.order);
        // (entry, from the snapshot)
        let mut all: Vec<(Written, bool)> = order.iter().map(|&w| (w, false)).collect();
        for w in entries {
            if w.expires_at <= now {
                restored.expired += 1;
                continue;
            }
            let mut shard = self.shard(&w.digest);
            if shard
                .claims
                .get(&w.digest)
                .is_some_and(|c| c.expires_at > now)
                || shard.delivered.get(&w.digest).is_some_and(|&e| e > now)
            {
                restored.present += 1;
                continue;
            }
            shard.delivered.insert(w.digest, w.expires_at);
            all.push((w, true));
        }
        all.sort_by_key(|(w, _)| w.written_at);
        let excess = all.len().saturating_sub(self.max_entries);
        for (w, loaded) in all.drain(..excess) {
            let mut shard = self.shard(&w.digest);
            if shard.delivered.get(&w.digest) == Some(&w.expires_at) {
                shard.delivered.remove(&w.digest);
                if loaded {
                    restored.over_capacity += 1;
                } else if w.expires_at > now {
                    self.evictions.fetch_add(1, Relaxed);
                }
            }
        }
        restored.loaded = all.iter().filter(|(_, loaded)| *loaded).count();
        order.replace(all.into_iter().map(|(w, _)| w));
        restored
    }
}

/// What [`MemoryStore::restore`] did with the entries it was given.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Restored {
    pub(super) loaded: usize,
    pub(super) expired: usize,
    pub(super) present: usize,
    pub(super) over_capacity: usize,
}

#[async_trait]
impl<C: Clock> DedupStore for MemoryStore<C> {
    async fn claim(
        &self,
        key: &DedupKey,
        claim_ttl: Duration,
    ) -> Result<ClaimOutcome, BackendError> {
        Ok(self.claim_now(key, claim_ttl))
    }

    async fn commit(&self, claim: &Claim, window: Duration) -> Result<CommitOutcome, BackendError> {
        self.commit_now(claim, window);
        Ok(CommitOutcome::Committed)
    }

    async fn release(&self, claim: &Claim) -> Result<(), BackendError> {
        self.release_now(claim);
        Ok(())
    }

    async fn ping(&self) -> Result<(), BackendError> {
        Ok(())
    }

    fn metrics(&self) -> StoreMetrics {
        let oldest = self.oldest_delivery_age();
        StoreMetrics {
            entries: Some(self.deliveries() + self.claims()),
            evictions: Some(self.evictions()),
            oldest_delivery_age: oldest,
            deferred_commits: None,
        }
    }

    fn backend_name(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::dedup::contract::{self, claim, commit, deliver, probe, Subject, LONG};

    async fn subject() -> Subject {
        let clock = Arc::new(ManualClock::at(1_000));
        let store = Arc::new(MemoryStore::with_clock(1000, clock.clone()));
        let advance = move |by| {
            clock.advance(by);
            std::future::ready(())
        };
        Subject::new((store.clone(), store), Duration::from_secs(13), advance, ())
    }

    contract::contract_tests!(subject, rounds = 200);

    const TTL: Duration = Duration::from_secs(13);

    fn full_store(max: u64) -> (Arc<MemoryStore<Arc<ManualClock>>>, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::at(1_000));
        (Arc::new(MemoryStore::with_clock(max, clock.clone())), clock)
    }

    #[tokio::test]
    async fn a_full_store_remembers_the_latest_deliveries() {
        let (s, clock) = full_store(1000);
        for i in 0..20_000 {
            deliver(&*s, &format!("d{i}"), LONG).await;
            clock.advance(Duration::from_millis(1));
        }
        for i in 19_100..20_000 {
            assert_eq!(probe(&*s, &format!("d{i}")).await, "duplicate", "d{i}");
        }
        assert_eq!(s.deliveries(), 1000);
        assert_eq!(s.evictions(), 19_000);
        // The oldest kept is d19000, written 1000 ms before the clock's now.
        assert_eq!(s.oldest_delivery_age(), Some(Duration::from_millis(1000)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn identical_claims_at_capacity_have_one_winner() {
        let (s, _) = full_store(1000);
        for i in 0..1000 {
            deliver(&*s, &format!("fill{i}"), LONG).await;
        }
        for round in 0..200 {
            let key = DedupKey::for_tests(&format!("race{round}"));
            // Other deliveries keep evicting while the claims race.
            let flood = tokio::spawn({
                let s = s.clone();
                async move {
                    for i in 0..50 {
                        deliver(&*s, &format!("flood{round}-{i}"), LONG).await;
                    }
                }
            });
            let racers: Vec<_> = (0..8)
                .map(|_| {
                    let (s, key) = (s.clone(), key.clone());
                    tokio::spawn(async move { s.claim_now(&key, TTL) })
                })
                .collect();
            let mut winners = Vec::new();
            for r in racers {
                if let ClaimOutcome::Claimed(c) = r.await.unwrap() {
                    winners.push(c);
                }
            }
            assert_eq!(winners.len(), 1, "round {round}");
            s.commit_now(&winners[0], LONG);
            flood.await.unwrap();
            assert!(matches!(s.claim_now(&key, TTL), ClaimOutcome::Duplicate));
        }
        assert_eq!(s.deliveries(), 1000);
        // Every one of the 200 x (50 + 1) deliveries beyond the fill evicted one.
        assert_eq!(s.evictions(), 200 * 51);
    }

    #[tokio::test]
    async fn a_claim_in_flight_survives_a_flood_of_deliveries() {
        let (s, _) = full_store(1000);
        let held = claim(&*s, "held", LONG).await;
        for i in 0..10_000 {
            deliver(&*s, &format!("flood{i}"), LONG).await;
        }
        assert_eq!(probe(&*s, "held").await, "in flight");
        commit(&*s, &held, LONG).await;
        assert_eq!(probe(&*s, "held").await, "duplicate");
        assert_eq!(s.evictions(), 9_001, "the commit evicted the oldest flood");
    }

    #[tokio::test]
    async fn evictions_and_the_oldest_delivery_age_are_exact() {
        let (s, clock) = full_store(3);
        let window = Duration::from_secs(60);
        for label in ["a", "b", "c"] {
            let c = claim(&*s, label, TTL).await;
            commit(&*s, &c, window).await;
            clock.advance(Duration::from_secs(10));
        }
        // Not full yet: nothing evicted, the oldest is a, 30 s old.
        assert_eq!(s.evictions(), 0);
        assert_eq!(s.oldest_delivery_age(), Some(Duration::from_secs(30)));
        let d = claim(&*s, "d", TTL).await;
        commit(&*s, &d, window).await;
        // a went; b (written at 10 s) is now the oldest, 20 s old.
        assert_eq!(s.evictions(), 1);
        assert_eq!(s.oldest_delivery_age(), Some(Duration::from_secs(20)));
        assert_eq!(probe(&*s, "a").await, "claimed");
        // Expiry is not eviction: at 75 s, b's window (10 + 60) has passed.
        clock.advance(Duration::from_secs(45));
        assert_eq!(s.oldest_delivery_age(), Some(Duration::from_secs(55)));
        let m = s.metrics();
        assert_eq!(m.evictions, Some(1));
        assert_eq!(m.oldest_delivery_age, Some(Duration::from_secs(55)));
        // c, d and the claim on a.
        assert_eq!(m.entries, Some(3));
        clock.advance(LONG);
        assert_eq!(s.oldest_delivery_age(), None);
        assert_eq!(s.evictions(), 1);
    }

    #[tokio::test]
    async fn claims_left_behind_are_swept() {
        let (s, clock) = full_store(1000);
        for i in 0..10_000 {
            claim(&*s, &format!("gone{i}"), Duration::from_secs(1)).await;
        }
        clock.advance(Duration::from_secs(2));
        for i in 0..10_000 {
            claim(&*s, &format!("live{i}"), TTL).await;
        }
        // Without sweeping, 20,000; a shard below its next sweep keeps a few.
        assert!(
            s.claims() <= 10_000 + (SHARDS * SWEEP_CLAIMS_FROM) as u64,
            "{}",
            s.claims()
        );
    }

    fn w(i: u64) -> Written {
        Written {
            digest: Digest([i, i]),
            written_at: i,
            expires_at: i + 1,
        }
    }

    #[test]
    fn the_write_order_queue_keeps_order_across_chunks() {
        let mut q = WriteOrder::default();
        for i in 0..(CHUNK as u64 * 2 + 10) {
            q.push(w(i));
        }
        for i in 0..(CHUNK as u64 + 5) {
            assert_eq!(q.pop(), Some(w(i)));
        }
        assert_eq!(q.len, CHUNK + 5);
        assert_eq!(q.iter().count(), q.len);
        assert_eq!(q.iter().next(), Some(&w(CHUNK as u64 + 5)));
        let rest: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(rest.len(), CHUNK + 5);
        assert_eq!(rest.last(), Some(&w(CHUNK as u64 * 2 + 9)));
        assert!(q.front().is_none() && q.chunks.is_empty());
        q.push(w(7));
        assert_eq!(q.pop(), Some(w(7)));
    }

    #[test]
    fn a_copy_resumes_where_it_stopped_though_the_front_moved() {
        let mut q = WriteOrder::default();
        for i in 0..3000 {
            q.push(w(i));
        }
        let mut out = Vec::new();
        let next = q.copy_from(0, 1500, &mut out);
        assert_eq!(next, 1500);
        // Meanwhile 2000 are taken and 100 added.
        for _ in 0..2000 {
            q.pop();
        }
        for i in 3000..3100 {
            q.push(w(i));
        }
        assert_eq!(q.copy_from(next, 5000, &mut out), 3100);
        let written: Vec<u64> = out.iter().map(|w| w.written_at).collect();
        let want: Vec<u64> = (0..1500).chain(2000..3100).collect();
        assert_eq!(written, want);
        assert_eq!(q.copy_from(3100, 10, &mut out), 3100, "nothing more");
    }
}
