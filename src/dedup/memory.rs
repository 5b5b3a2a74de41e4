//! The embedded backend: a bounded moka cache. Each key's claim or delivery
//! expires on its own (claims short, deliveries after the window). Claims are
//! atomic per key through moka's `and_compute_with`.
//!
//! Keys are kept as the first 128 bits of their SHA-256, not as text: a
//! fixed 16 bytes instead of a heap string of up to 200 (keys come from
//! signed material, so a collision would need a SHA-256 prefix collision).
//!
//! Time comes from a [`Clock`]: an entry whose deadline has passed is treated
//! as absent even before moka evicts it, so tests can move time by hand.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::ops::compute::{CompResult, Op};
use moka::sync::Cache;
use moka::Expiry;

pub use super::clock::{Clock, ManualClock, SystemClock};
use super::{BackendError, Claim, ClaimOutcome, DedupKey, DedupStore};

/// A key's digest: what the cache stores in place of the key.
type KeyDigest = u128;

fn digest(key: &DedupKey) -> KeyDigest {
    let mut first = [0u8; 16];
    first.copy_from_slice(&key.digest()[..16]);
    u128::from_le_bytes(first)
}

/// 16 bytes per key beside the key's digest.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// The claim's token; 0 once delivered.
    token: u64,
    /// Deadline on the store's clock, in ms.
    expires_at: u64,
}

const DELIVERED: u64 = 0;

/// moka evicts an entry when its own deadline passes.
struct ByDeadline<C>(Arc<C>);

impl<C: Clock> Expiry<KeyDigest, Entry> for ByDeadline<C> {
    fn expire_after_create(&self, _: &KeyDigest, v: &Entry, _: Instant) -> Option<Duration> {
        Some(Duration::from_millis(
            v.expires_at.saturating_sub(self.0.now_ms()),
        ))
    }

    fn expire_after_update(
        &self,
        _: &KeyDigest,
        v: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(Duration::from_millis(
            v.expires_at.saturating_sub(self.0.now_ms()),
        ))
    }
}

pub struct MemoryStore<C: Clock = SystemClock> {
    cache: Cache<KeyDigest, Entry>,
    clock: Arc<C>,
}

impl MemoryStore<SystemClock> {
    pub fn new(max_entries: u64) -> Self {
        MemoryStore::with_clock(max_entries, SystemClock::default())
    }
}

impl<C: Clock> MemoryStore<C> {
    pub fn with_clock(max_entries: u64, clock: C) -> Self {
        let clock = Arc::new(clock);
        MemoryStore {
            cache: Cache::builder()
                .max_capacity(max_entries)
                .expire_after(ByDeadline(clock.clone()))
                .build(),
            clock,
        }
    }

    /// Runs moka's pending maintenance (evictions), for tests and metrics.
    pub fn run_pending_tasks(&self) {
        self.cache.run_pending_tasks();
    }

    fn claim_now(&self, key: &DedupKey, ttl: Duration) -> ClaimOutcome {
        let now = self.clock.now_ms();
        let claim = Claim::new(key);
        let fresh = Entry {
            token: claim.token,
            expires_at: now + ttl.as_millis() as u64,
        };
        let result = self
            .cache
            .entry(digest(key))
            .and_compute_with(|existing| match existing {
                Some(e) if e.value().expires_at > now => Op::Nop,
                _ => Op::Put(fresh),
            });
        match result {
            CompResult::Inserted(_) | CompResult::ReplacedWith(_) => ClaimOutcome::Claimed(claim),
            CompResult::Unchanged(e) if e.value().token == DELIVERED => ClaimOutcome::Duplicate,
            _ => ClaimOutcome::InFlight,
        }
    }

    /// Applies `op` to the entry only while it still holds `claim`.
    fn settle(&self, claim: &Claim, op: Op<Entry>) {
        let now = self.clock.now_ms();
        let mut op = Some(op);
        self.cache
            .entry(digest(&claim.key))
            .and_compute_with(|existing| match existing {
                Some(e) if e.value().token == claim.token && e.value().expires_at > now => {
                    op.take().unwrap_or(Op::Nop)
                }
                _ => Op::Nop,
            });
    }
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

    async fn commit(&self, claim: &Claim, window: Duration) -> Result<(), BackendError> {
        let delivered = Entry {
            token: DELIVERED,
            expires_at: self.clock.now_ms() + window.as_millis() as u64,
        };
        self.settle(claim, Op::Put(delivered));
        Ok(())
    }

    async fn release(&self, claim: &Claim) -> Result<(), BackendError> {
        self.settle(claim, Op::Remove);
        Ok(())
    }

    async fn ping(&self) -> Result<(), BackendError> {
        Ok(())
    }

    fn entry_count(&self) -> Option<u64> {
        Some(self.cache.entry_count())
    }

    fn backend_name(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(13);
    const WINDOW: Duration = Duration::from_secs(3600);

    fn store() -> (MemoryStore<Arc<ManualClock>>, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::default());
        (MemoryStore::with_clock(1000, clock.clone()), clock)
    }

    fn claimed(outcome: ClaimOutcome) -> Claim {
        match outcome {
            ClaimOutcome::Claimed(c) => c,
            other => panic!("expected a claim, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn claim_commit_release_state_machine() {
        let (s, _) = store();
        let c = claimed(s.claim(&DedupKey::for_tests("r:k"), TTL).await.unwrap());
        assert!(matches!(
            s.claim(&DedupKey::for_tests("r:k"), TTL).await.unwrap(),
            ClaimOutcome::InFlight
        ));
        s.commit(&c, WINDOW).await.unwrap();
        assert!(matches!(
            s.claim(&DedupKey::for_tests("r:k"), TTL).await.unwrap(),
            ClaimOutcome::Duplicate
        ));

        let c = claimed(s.claim(&DedupKey::for_tests("r:other"), TTL).await.unwrap());
        s.release(&c).await.unwrap();
        claimed(s.claim(&DedupKey::for_tests("r:other"), TTL).await.unwrap());
    }

    #[tokio::test]
    async fn claims_and_deliveries_expire() {
        let (s, clock) = store();
        claimed(s.claim(&DedupKey::for_tests("k"), TTL).await.unwrap());
        clock.advance(TTL - Duration::from_millis(1));
        assert!(matches!(
            s.claim(&DedupKey::for_tests("k"), TTL).await.unwrap(),
            ClaimOutcome::InFlight
        ));
        clock.advance(Duration::from_millis(1));
        let c = claimed(s.claim(&DedupKey::for_tests("k"), TTL).await.unwrap());

        s.commit(&c, WINDOW).await.unwrap();
        clock.advance(WINDOW - Duration::from_secs(1));
        assert!(matches!(
            s.claim(&DedupKey::for_tests("k"), TTL).await.unwrap(),
            ClaimOutcome::Duplicate
        ));
        clock.advance(Duration::from_secs(1));
        claimed(s.claim(&DedupKey::for_tests("k"), TTL).await.unwrap());
    }

    #[tokio::test]
    async fn a_stale_claim_never_touches_the_next_owner() {
        let (s, clock) = store();
        let old = claimed(s.claim(&DedupKey::for_tests("k"), TTL).await.unwrap());
        clock.advance(TTL);
        let new = claimed(s.claim(&DedupKey::for_tests("k"), TTL).await.unwrap());
        // The first request finishes late: neither its commit nor its release
        // may change the second request's claim.
        s.commit(&old, WINDOW).await.unwrap();
        assert!(matches!(
            s.claim(&DedupKey::for_tests("k"), TTL).await.unwrap(),
            ClaimOutcome::InFlight
        ));
        s.release(&old).await.unwrap();
        assert!(matches!(
            s.claim(&DedupKey::for_tests("k"), TTL).await.unwrap(),
            ClaimOutcome::InFlight
        ));
        s.commit(&new, WINDOW).await.unwrap();
        assert!(matches!(
            s.claim(&DedupKey::for_tests("k"), TTL).await.unwrap(),
            ClaimOutcome::Duplicate
        ));
        // An expired claim cannot be committed either.
        let late = claimed(s.claim(&DedupKey::for_tests("k2"), TTL).await.unwrap());
        clock.advance(TTL);
        s.commit(&late, WINDOW).await.unwrap();
        claimed(s.claim(&DedupKey::for_tests("k2"), TTL).await.unwrap());
    }

    #[tokio::test]
    async fn max_entries_bounds_the_cache() {
        let s = MemoryStore::new(100);
        for i in 0..1000 {
            let c = claimed(
                s.claim(&DedupKey::for_tests(&format!("k{i}")), TTL)
                    .await
                    .unwrap(),
            );
            s.commit(&c, WINDOW).await.unwrap();
        }
        s.run_pending_tasks();
        assert!(s.entry_count().unwrap() <= 100, "{:?}", s.entry_count());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_claims_of_one_key_have_one_winner() {
        let s = Arc::new(MemoryStore::new(1000));
        for round in 0..20 {
            let key = format!("race{round}");
            let tasks: Vec<_> = (0..50)
                .map(|_| {
                    let s = s.clone();
                    let key = DedupKey::for_tests(&key);
                    tokio::spawn(async move { s.claim(&key, TTL).await.unwrap() })
                })
                .collect();
            let mut winners = 0;
            for t in tasks {
                if let ClaimOutcome::Claimed(_) = t.await.unwrap() {
                    winners += 1;
                }
            }
            assert_eq!(winners, 1, "round {round}");
        }
    }
}
