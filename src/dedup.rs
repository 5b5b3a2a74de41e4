//! Deduplication of deliveries over a backend store.
//!
//! A key (route name + delivery key, from signed material only) moves
//! through three states: absent → **claimed** when a request starts
//! forwarding (for the upstream timeout plus a margin, so a crashed request
//! frees it); claimed → **delivered** when the upstream answers 2xx (kept for
//! the window); claimed → absent otherwise, so the provider's retry goes
//! through. A delivery is never dropped because an earlier attempt failed.

pub mod clock;
#[cfg(test)]
mod contract;
pub mod memory;
pub mod redis;
pub mod snapshot;
#[cfg(test)]
#[path = "../tests/support/redis_server.rs"]
pub(crate) mod test_redis;
pub mod throttle;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use self::throttle::Throttle;
pub use crate::gate::DedupKey;

/// What a claim attempt found.
#[derive(Debug)]
pub enum ClaimOutcome {
    /// The key was absent: this request owns it now.
    Claimed(Claim),
    /// Delivered within the window.
    Duplicate,
    /// Another request is delivering it right now.
    InFlight,
}

/// What became of a commit.
#[derive(Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    /// The key is remembered as delivered.
    Committed,
    /// The backend failed; the store keeps the commit and retries it in the
    /// background until it succeeds or the window passes.
    Deferred(BackendError),
}

/// One request's ownership of a key. Commit and release act only on the
/// claim that carries this token, never on a later owner's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    key: DedupKey,
    token: u64,
}

impl Claim {
    fn new(key: &DedupKey) -> Claim {
        // Zero marks "delivered" in Redis.
        Claim {
            key: key.clone(),
            token: rand::random::<u64>().max(1),
        }
    }

    pub fn key(&self) -> &DedupKey {
        &self.key
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    #[error("dedup backend did not answer in time")]
    Timeout,
    #[error("dedup backend unavailable: {0}")]
    Unavailable(String),
}

/// What a store can tell `/metrics` about itself; `None` where it cannot
/// tell cheaply.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StoreMetrics {
    /// Keys held (claims and deliveries).
    pub entries: Option<u64>,
    /// Deliveries evicted inside their window to stay within capacity.
    pub evictions: Option<u64>,
    /// Age of the oldest remembered delivery: the window actually held.
    pub oldest_delivery_age: Option<Duration>,
    pub deferred_commits: Option<DeferredCommits>,
}

/// Commits that failed and are retried in the background.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeferredCommits {
    /// Waiting for a retry now.
    pub pending: u64,
    /// Ever queued.
    pub queued: u64,
    /// Stored by a retry.
    pub committed: u64,
    /// Dropped, oldest first, because the queue was full.
    pub dropped: u64,
    /// Dropped because their window passed before the backend came back.
    pub expired: u64,
}

#[async_trait]
pub trait DedupStore: Send + Sync + 'static {
    /// Claims `key` for `claim_ttl` if it is absent.
    async fn claim(
        &self,
        key: &DedupKey,
        claim_ttl: Duration,
    ) -> Result<ClaimOutcome, BackendError>;
    /// Marks the key delivered for `window` while this claim holds it, or
    /// while nobody does (the claim expired before the upstream answered:
    /// the delivery still happened); never over another request's claim.
    async fn commit(&self, claim: &Claim, window: Duration) -> Result<CommitOutcome, BackendError>;
    /// Frees the claimed key.
    async fn release(&self, claim: &Claim) -> Result<(), BackendError>;
    /// Reachability, for `/readyz`.
    async fn ping(&self) -> Result<(), BackendError>;
    fn metrics(&self) -> StoreMetrics;
    fn backend_name(&self) -> &'static str;
}

/// What to do when the backend cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnBackendError {
    /// Forward without dedup (the receiver may see a retry twice).
    Forward,
    /// Answer 503 so the provider retries later.
    Reject,
}

/// Counters of dedup outcomes.
#[derive(Debug, Default)]
pub struct DedupStats {
    pub claimed: AtomicU64,
    pub delivered: AtomicU64,
    pub duplicate: AtomicU64,
    pub in_flight: AtomicU64,
    pub released: AtomicU64,
    pub backend_error: AtomicU64,
    pub bypassed: AtomicU64,
    /// Commits the backend failed, left to the store's background retry.
    pub commit_deferred: AtomicU64,
}

/// What the gateway should do with a verified request.
#[derive(Debug)]
pub enum Decision {
    /// Forward it; settle the guard with the upstream's outcome.
    Proceed(ClaimGuard),
    /// The backend failed and the policy is to forward without dedup (the
    /// warning is logged here, at most every 10 s with the count).
    Bypass,
    /// Already delivered: 200 with `X-Hookgate-Duplicate`.
    Duplicate,
    /// Being delivered: 409 with `Retry-After`.
    InFlight,
    /// The backend failed and the policy is to refuse: 503.
    Unavailable,
}

/// Repeated warnings are logged at most this often, with a count; every
/// event is counted in the metrics.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// Counters and the warnings' throttles, shared with the guards.
#[derive(Debug)]
struct Shared {
    stats: DedupStats,
    claim_failed: Throttle,
    commit_failed: Throttle,
    release_failed: Throttle,
}

/// The gateway's view of dedup: a store, a policy, and counters.
pub struct Dedup {
    store: Arc<dyn DedupStore>,
    on_error: OnBackendError,
    shared: Arc<Shared>,
}

impl Dedup {
    pub fn new(store: Arc<dyn DedupStore>, on_error: OnBackendError) -> Self {
        Dedup {
            store,
            on_error,
            shared: Arc::new(Shared {
                stats: DedupStats::default(),
                claim_failed: Throttle::new(WARN_EVERY),
                commit_failed: Throttle::new(WARN_EVERY),
                release_failed: Throttle::new(WARN_EVERY),
            }),
        }
    }

    pub async fn begin(&self, key: &DedupKey, claim_ttl: Duration) -> Decision {
        let stats = &self.shared.stats;
        match self.store.claim(key, claim_ttl).await {
            Ok(ClaimOutcome::Claimed(claim)) => {
                stats.claimed.fetch_add(1, Relaxed);
                Decision::Proceed(ClaimGuard {
                    store: self.store.clone(),
                    shared: self.shared.clone(),
                    claim: Some(claim),
                })
            }
            Ok(ClaimOutcome::Duplicate) => {
                stats.duplicate.fetch_add(1, Relaxed);
                Decision::Duplicate
            }
            Ok(ClaimOutcome::InFlight) => {
                stats.in_flight.fetch_add(1, Relaxed);
                Decision::InFlight
            }
            Err(e) => {
                stats.backend_error.fetch_add(1, Relaxed);
                if self.on_error == OnBackendError::Forward {
                    stats.bypassed.fetch_add(1, Relaxed);
                }
                if let Some(n) = self.shared.claim_failed.hit() {
                    let backend = self.store.backend_name();
                    match self.on_error {
                        OnBackendError::Forward => tracing::warn!(
                            backend,
                            bypassed = n,
                            "dedup backend error: {e}; forwarded {n} requests without dedup since the last warning"
                        ),
                        OnBackendError::Reject => tracing::warn!(
                            backend,
                            rejected = n,
                            "dedup backend error: {e}; answered {n} requests 503 since the last warning"
                        ),
                    }
                }
                match self.on_error {
                    OnBackendError::Forward => Decision::Bypass,
                    OnBackendError::Reject => Decision::Unavailable,
                }
            }
        }
    }

    pub fn stats(&self) -> &DedupStats {
        &self.shared.stats
    }

    pub fn store(&self) -> &Arc<dyn DedupStore> {
        &self.store
    }
}

/// Owns a claim until it is settled: `commit` on an upstream 2xx, `release`
/// otherwise. Dropped unsettled (the request was cancelled), it releases the
/// claim in the background; without a runtime, the claim's TTL frees it.
#[derive(Debug)]
pub struct ClaimGuard {
    store: Arc<dyn DedupStore>,
    shared: Arc<Shared>,
    claim: Option<Claim>,
}

impl std::fmt::Debug for dyn DedupStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.backend_name())
    }
}

impl ClaimGuard {
    pub async fn commit(mut self, window: Duration) {
        let Some(claim) = self.claim.take() else {
            return;
        };
        let stats = &self.shared.stats;
        match self.store.commit(&claim, window).await {
            Ok(CommitOutcome::Committed) => {
                stats.delivered.fetch_add(1, Relaxed);
            }
            Ok(CommitOutcome::Deferred(e)) => {
                stats.backend_error.fetch_add(1, Relaxed);
                stats.commit_deferred.fetch_add(1, Relaxed);
                if let Some(n) = self.shared.commit_failed.hit() {
                    tracing::warn!(
                        deferred = n,
                        "dedup commit failed: {e}; {n} commits since the last warning are retried in the background until their window passes"
                    );
                }
            }
            Err(e) => {
                // Delivered, but not remembered: a retry may be forwarded again.
                stats.backend_error.fetch_add(1, Relaxed);
                if let Some(n) = self.shared.commit_failed.hit() {
                    tracing::warn!(
                        lost = n,
                        "dedup commit failed: {e}; {n} deliveries since the last warning are not remembered, a retry may be forwarded again"
                    );
                }
            }
        }
    }

    pub async fn release(mut self) {
        if let Some(claim) = self.claim.take() {
            release(&*self.store, &self.shared, &claim).await;
        }
    }
}

async fn release(store: &dyn DedupStore, shared: &Shared, claim: &Claim) {
    match store.release(claim).await {
        Ok(()) => {
            shared.stats.released.fetch_add(1, Relaxed);
        }
        Err(e) => {
            // The claim's TTL frees the key.
            shared.stats.backend_error.fetch_add(1, Relaxed);
            if let Some(n) = shared.release_failed.hit() {
                tracing::warn!(
                    failed = n,
                    "dedup release failed: {e}; {n} claims since the last warning expire by themselves"
                );
            }
        }
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        let Some(claim) = self.claim.take() else {
            return;
        };
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let store = self.store.clone();
            let shared = self.shared.clone();
            handle.spawn(async move { release(&*store, &shared, &claim).await });
        }
    }
}

impl crate::metrics::Source for Dedup {
    fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let s = &self.shared.stats;
        out.push_str("# HELP hookgate_dedup_total Dedup outcomes.\n");
        out.push_str("# TYPE hookgate_dedup_total counter\n");
        for (event, n) in [
            ("claimed", &s.claimed),
            ("delivered", &s.delivered),
            ("duplicate", &s.duplicate),
            ("in_flight", &s.in_flight),
            ("released", &s.released),
            ("backend_error", &s.backend_error),
            ("bypassed", &s.bypassed),
            ("commit_deferred", &s.commit_deferred),
        ] {
            let _ = writeln!(
                out,
                "hookgate_dedup_total{{event=\"{event}\"}} {}",
                n.load(Relaxed)
            );
        }
        let m = self.store.metrics();
        let mut metric = |name: &str, kind: &str, help: &str, value: &dyn std::fmt::Display| {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            );
        };
        if let Some(n) = m.entries {
            metric(
                "hookgate_dedup_entries",
                "gauge",
                "Keys held by the memory backend.",
                &n,
            );
        }
        if let Some(n) = m.evictions {
            metric(
                "hookgate_dedup_evictions_total",
                "counter",
                "Deliveries forgotten inside their window to stay within dedup.max_entries.",
                &n,
            );
        }
        if let Some(age) = m.oldest_delivery_age {
            metric(
                "hookgate_dedup_oldest_delivery_age_seconds",
                "gauge",
                "Age of the oldest remembered delivery: the window actually held.",
                &format_args!("{:.3}", age.as_secs_f64()),
            );
        }
        if let Some(d) = m.deferred_commits {
            metric(
                "hookgate_dedup_commits_pending",
                "gauge",
                "Failed commits waiting for a background retry.",
                &d.pending,
            );
            out.push_str("# HELP hookgate_dedup_deferred_commits_total Failed commits retried in the background, by outcome.\n");
            out.push_str("# TYPE hookgate_dedup_deferred_commits_total counter\n");
            for (outcome, n) in [
                ("queued", d.queued),
                ("committed", d.committed),
                ("dropped", d.dropped),
                ("expired", d.expired),
            ] {
                let _ = writeln!(
                    out,
                    "hookgate_dedup_deferred_commits_total{{outcome=\"{outcome}\"}} {n}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// A store whose backend is down when `down` is set: stands in for an
    /// unreachable Redis in the policy tests (the Redis tests use a real one).
    struct Flaky {
        inner: memory::MemoryStore,
        down: AtomicBool,
    }

    #[async_trait]
    impl DedupStore for Flaky {
        async fn claim(&self, key: &DedupKey, ttl: Duration) -> Result<ClaimOutcome, BackendError> {
            if self.down.load(Relaxed) {
                return Err(BackendError::Unavailable("down".into()));
            }
            self.inner.claim(key, ttl).await
        }
        async fn commit(
            &self,
            claim: &Claim,
            window: Duration,
        ) -> Result<CommitOutcome, BackendError> {
            self.inner.commit(claim, window).await
        }
        async fn release(&self, claim: &Claim) -> Result<(), BackendError> {
            self.inner.release(claim).await
        }
        async fn ping(&self) -> Result<(), BackendError> {
            Ok(())
        }
        fn metrics(&self) -> StoreMetrics {
            StoreMetrics::default()
        }
        fn backend_name(&self) -> &'static str {
            "flaky"
        }
    }

    fn flaky(down: bool) -> Arc<Flaky> {
        Arc::new(Flaky {
            inner: memory::MemoryStore::new(100),
            down: AtomicBool::new(down),
        })
    }

    #[tokio::test]
    async fn policies_decide_what_a_backend_error_means() {
        let forward = Dedup::new(flaky(true), OnBackendError::Forward);
        assert!(matches!(
            forward
                .begin(&DedupKey::for_tests("k"), Duration::from_secs(5))
                .await,
            Decision::Bypass
        ));
        assert_eq!(forward.stats().bypassed.load(Relaxed), 1);
        assert_eq!(forward.stats().backend_error.load(Relaxed), 1);
        // Every bypass is counted, though only one line per interval is logged.
        for _ in 0..191 {
            forward
                .begin(&DedupKey::for_tests("k"), Duration::from_secs(5))
                .await;
        }
        assert_eq!(forward.stats().bypassed.load(Relaxed), 192);

        let reject = Dedup::new(flaky(true), OnBackendError::Reject);
        assert!(matches!(
            reject
                .begin(&DedupKey::for_tests("k"), Duration::from_secs(5))
                .await,
            Decision::Unavailable
        ));
        assert_eq!(reject.stats().bypassed.load(Relaxed), 0);
    }

    #[tokio::test]
    async fn a_guard_commits_releases_and_counts() {
        let dedup = Dedup::new(flaky(false), OnBackendError::Reject);
        let ttl = Duration::from_secs(5);
        let Decision::Proceed(guard) = dedup.begin(&DedupKey::for_tests("a"), ttl).await else {
            panic!("first claim must proceed");
        };
        assert!(matches!(
            dedup.begin(&DedupKey::for_tests("a"), ttl).await,
            Decision::InFlight
        ));
        guard.commit(Duration::from_secs(60)).await;
        assert!(matches!(
            dedup.begin(&DedupKey::for_tests("a"), ttl).await,
            Decision::Duplicate
        ));

        let Decision::Proceed(guard) = dedup.begin(&DedupKey::for_tests("b"), ttl).await else {
            panic!("first claim must proceed");
        };
        guard.release().await;
        let Decision::Proceed(guard) = dedup.begin(&DedupKey::for_tests("b"), ttl).await else {
            panic!("a released key must be claimable again");
        };
        guard.release().await;

        let s = dedup.stats();
        assert_eq!(s.claimed.load(Relaxed), 3);
        assert_eq!(s.delivered.load(Relaxed), 1);
        assert_eq!(s.released.load(Relaxed), 2);
        assert_eq!(s.duplicate.load(Relaxed), 1);
        assert_eq!(s.in_flight.load(Relaxed), 1);
    }

    #[tokio::test]
    async fn a_dropped_guard_frees_its_key() {
        let dedup = Dedup::new(flaky(false), OnBackendError::Reject);
        let ttl = Duration::from_secs(60);
        match dedup.begin(&DedupKey::for_tests("c"), ttl).await {
            Decision::Proceed(guard) => drop(guard),
            other => panic!("{other:?}"),
        }
        // The release runs on the runtime; let it.
        for _ in 0..50 {
            if dedup.stats().released.load(Relaxed) == 1 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(matches!(
            dedup.begin(&DedupKey::for_tests("c"), ttl).await,
            Decision::Proceed(_)
        ));
    }

    #[test]
    fn renders_its_counters() {
        let dedup = Dedup::new(flaky(false), OnBackendError::Forward);
        dedup.stats().duplicate.fetch_add(3, Relaxed);
        let mut out = String::new();
        crate::metrics::Source::render(&dedup, &mut out);
        assert!(out.contains("hookgate_dedup_total{event=\"duplicate\"} 3"));
    }

    /// A store reporting every gauge, to check how each is rendered.
    struct Reporting;

    #[async_trait]
    impl DedupStore for Reporting {
        async fn claim(&self, _: &DedupKey, _: Duration) -> Result<ClaimOutcome, BackendError> {
            Ok(ClaimOutcome::InFlight)
        }
        async fn commit(&self, _: &Claim, _: Duration) -> Result<CommitOutcome, BackendError> {
            Ok(CommitOutcome::Committed)
        }
        async fn release(&self, _: &Claim) -> Result<(), BackendError> {
            Ok(())
        }
        async fn ping(&self) -> Result<(), BackendError> {
            Ok(())
        }
        fn metrics(&self) -> StoreMetrics {
            StoreMetrics {
                entries: Some(12),
                evictions: Some(7),
                oldest_delivery_age: Some(Duration::from_millis(90_500)),
                deferred_commits: Some(DeferredCommits {
                    pending: 2,
                    queued: 9,
                    committed: 5,
                    dropped: 1,
                    expired: 1,
                }),
            }
        }
        fn backend_name(&self) -> &'static str {
            "reporting"
        }
    }

    #[test]
    fn renders_what_the_store_reports() {
        let dedup = Dedup::new(Arc::new(Reporting), OnBackendError::Forward);
        let mut out = String::new();
        crate::metrics::Source::render(&dedup, &mut out);
        for line in [
            "hookgate_dedup_entries 12",
            "# TYPE hookgate_dedup_evictions_total counter",
            "hookgate_dedup_evictions_total 7",
            "hookgate_dedup_oldest_delivery_age_seconds 90.500",
            "hookgate_dedup_commits_pending 2",
            "hookgate_dedup_deferred_commits_total{outcome=\"queued\"} 9",
            "hookgate_dedup_deferred_commits_total{outcome=\"committed\"} 5",
            "hookgate_dedup_deferred_commits_total{outcome=\"dropped\"} 1",
            "hookgate_dedup_deferred_commits_total{outcome=\"expired\"} 1",
        ] {
            assert!(out.lines().any(|l| l == line), "{line:?} missing in\n{out}");
        }
    }
}
