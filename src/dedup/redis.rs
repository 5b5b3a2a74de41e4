//! The shared backend, for several gateway replicas: one Redis.
//!
//! - claim: `SET key token NX PX ttl`; when the key exists, its value tells a
//!   delivery (`"0"`) from another request's claim (its token);
//! - commit: overwrite the key with `"0"` for the window while it holds this
//!   request's token **or is absent** (the claim expired, e.g. during an
//!   outage: the delivery still happened), never over another request's
//!   claim (a script, so the check and the write are one step);
//! - release: delete the key only while it holds this request's token.
//!
//! A commit that fails (Redis down) is kept in a bounded queue and retried
//! in the background with backoff until it succeeds or its window passes;
//! when the queue is full the oldest is dropped and counted.
//!
//! The connection is multiplexed and managed (reconnects by itself); every
//! call has a deadline, so a hung Redis turns into a `BackendError` quickly.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use tokio::sync::OnceCell;
// pingora's timer wheel: a tokio timer registered per call wakes the
// runtime's driver through an eventfd write.
use pingora::time::timeout;

use super::clock::millis;
use super::{
    BackendError, Claim, ClaimOutcome, CommitOutcome, DedupKey, DedupStore, DeferredCommits,
    StoreMetrics, Throttle, WARN_EVERY,
};
use crate::secret::Secret;

const PREFIX: &str = "hookgate:dedup:";
/// Every Redis call must answer within this.
const CALL_TIMEOUT: Duration = Duration::from_millis(500);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Failed commits kept for a retry; beyond it the oldest is dropped.
pub const RETRY_CAPACITY: usize = 10_000;
/// Backoff between retry passes while Redis stays down.
const RETRY_BACKOFF_MIN: Duration = Duration::from_millis(100);
const RETRY_BACKOFF_MAX: Duration = Duration::from_secs(5);

const CLAIM: &str = r#"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == '0' then return 2 end
return 3
"#;

const COMMIT: &str = r#"
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] or v == false then
  redis.call('SET', KEYS[1], '0', 'PX', ARGV[2])
  return 1
end
return 0
"#;

const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    conn: OnceCell<ConnectionManager>,
    claim: Script,
    commit: Script,
    release: Script,
    retry: RetryQueue,
}

/// A commit waiting for Redis to come back.
struct Pending {
    claim: Claim,
    /// When its window passes: retrying after that is pointless.
    until: Instant,
}

struct RetryQueue {
    capacity: usize,
    state: Mutex<RetryState>,
    queued: AtomicU64,
    committed: AtomicU64,
    dropped: AtomicU64,
    expired: AtomicU64,
    dropped_warning: Throttle,
}

#[derive(Default)]
struct RetryState {
    pending: VecDeque<Pending>,
    /// A worker task is retrying. Set and cleared under this lock, so a
    /// commit queued as the worker finds the queue empty is never stranded.
    worker: bool,
}

impl RedisStore {
    /// Checks the URL; the connection is made on first use (and remade after
    /// an outage), so the gateway starts even while Redis is down.
    pub fn new(url: &Secret) -> Result<Self, BackendError> {
        RedisStore::with_retry_capacity(url, RETRY_CAPACITY)
    }

    /// As [`RedisStore::new`], keeping at most `capacity` failed commits.
    pub fn with_retry_capacity(url: &Secret, capacity: usize) -> Result<Self, BackendError> {
        // The URL may carry a password: the error never quotes it.
        let client = redis::Client::open(url.expose())
            .map_err(|_| BackendError::Unavailable("invalid redis_url".into()))?;
        Ok(RedisStore {
            inner: Arc::new(Inner {
                client,
                conn: OnceCell::new(),
                claim: Script::new(CLAIM),
                commit: Script::new(COMMIT),
                release: Script::new(RELEASE),
                retry: RetryQueue {
                    capacity: capacity.max(1),
                    state: Mutex::default(),
                    queued: AtomicU64::new(0),
                    committed: AtomicU64::new(0),
                    dropped: AtomicU64::new(0),
                    expired: AtomicU64::new(0),
                    dropped_warning: Throttle::new(WARN_EVERY),
                },
            }),
        })
    }

    pub fn deferred_commits(&self) -> DeferredCommits {
        self.inner.retry.counts()
    }
}

impl Inner {
    async fn connection(&self) -> Result<ConnectionManager, BackendError> {
        let conn = self
            .conn
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(CONNECT_TIMEOUT)
                    .set_response_timeout(CALL_TIMEOUT)
                    .set_number_of_retries(1)
                    .set_max_delay(500);
                timeout(
                    CONNECT_TIMEOUT * 2,
                    self.client.get_connection_manager_with_config(config),
                )
                .await
                .map_err(|_| BackendError::Timeout)?
                .map_err(unavailable)
            })
            .await?;
        Ok(conn.clone())
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        key: &DedupKey,
        args: (&str, Option<u64>),
    ) -> Result<T, BackendError> {
        let mut conn = self.connection().await?;
        let mut invocation = script.key(format!("{PREFIX}{}", hex::encode(key.digest())));
        invocation.arg(args.0);
        if let Some(n) = args.1 {
            invocation.arg(n);
        }
        timeout(CALL_TIMEOUT, invocation.invoke_async(&mut conn))
            .await
            .map_err(|_| BackendError::Timeout)?
            .map_err(unavailable)
    }

    async fn commit(&self, claim: &Claim, window: Duration) -> Result<(), BackendError> {
        let token = claim.token.to_string();
        let _: i64 = self
            .run(&self.commit, &claim.key, (&token, Some(millis(window))))
            .await?;
        Ok(())
    }

    /// Retries the queued commits in order until the queue is empty (then
    /// returns `true`) or Redis fails again (`false`).
    async fn retry_pass(&self) -> bool {
        {
            let now = Instant::now();
            let mut state = self.retry.lock();
            let before = state.pending.len();
            state.pending.retain(|p| p.until > now);
            let gone = (before - state.pending.len()) as u64;
            self.retry.expired.fetch_add(gone, Relaxed);
        }
        loop {
            let (claim, until) = {
                let mut state = self.retry.lock();
                let Some(p) = state.pending.front() else {
                    state.worker = false;
                    return true;
                };
                (p.claim.clone(), p.until)
            };
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.retry.take_front(&claim, &self.retry.expired);
                continue;
            }
            if self.commit(&claim, left).await.is_err() {
                return false;
            }
            self.retry.take_front(&claim, &self.retry.committed);
        }
    }
}

impl RetryQueue {
    fn lock(&self) -> MutexGuard<'_, RetryState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Removes `claim` from the front (unless a full queue dropped it
    /// meanwhile) and counts it under `outcome`.
    fn take_front(&self, claim: &Claim, outcome: &AtomicU64) {
        let mut state = self.lock();
        if state.pending.front().is_some_and(|p| p.claim == *claim) {
            state.pending.pop_front();
            outcome.fetch_add(1, Relaxed);
        }
    }

    fn counts(&self) -> DeferredCommits {
        DeferredCommits {
            pending: self.lock().pending.len() as u64,
            queued: self.queued.load(Relaxed),
            committed: self.committed.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            expired: self.expired.load(Relaxed),
        }
    }
}

/// Keeps one task retrying while commits are queued. Runs on the runtime
/// of the commit that found the queue idle; if that runtime stops, the
/// guard clears the flag and the next failed commit starts another.
fn defer(inner: &Arc<Inner>, claim: &Claim, window: Duration) {
    let q = &inner.retry;
    let mut state = q.lock();
    if state.pending.len() >= q.capacity {
        state.pending.pop_front();
        q.dropped.fetch_add(1, Relaxed);
        if let Some(n) = q.dropped_warning.hit() {
            tracing::warn!(
                capacity = q.capacity,
                dropped = n,
                "dedup commit retry queue full: dropped the {n} oldest since the last warning; their retries may be forwarded again"
            );
        }
    }
    state.pending.push_back(Pending {
        claim: claim.clone(),
        until: Instant::now() + window,
    });
    q.queued.fetch_add(1, Relaxed);
    if !state.worker {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            state.worker = true;
            runtime.spawn(retry_worker(Arc::downgrade(inner)));
        }
    }
}

async fn retry_worker(inner: Weak<Inner>) {
    /// Clears the worker flag if the task ends without emptying the queue
    /// (its runtime shut down).
    struct Running(Weak<Inner>, bool);
    impl Drop for Running {
        fn drop(&mut self) {
            if let (Some(inner), false) = (self.0.upgrade(), self.1) {
                inner.retry.lock().worker = false;
            }
        }
    }
    let mut running = Running(inner.clone(), false);
    let mut backoff = RETRY_BACKOFF_MIN;
    loop {
        // Holds the store only while working: a dropped store ends the task.
        let Some(store) = inner.upgrade() else {
            return;
        };
        if store.retry_pass().await {
            running.1 = true;
            return;
        }
        drop(store);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(RETRY_BACKOFF_MAX);
    }
}

fn unavailable(e: redis::RedisError) -> BackendError {
    BackendError::Unavailable(e.category().to_string())
}

#[async_trait]
impl DedupStore for RedisStore {
    async fn claim(
        &self,
        key: &DedupKey,
        claim_ttl: Duration,
    ) -> Result<ClaimOutcome, BackendError> {
        let claim = Claim::new(key);
        let token = claim.token.to_string();
        let found: i64 = self
            .inner
            .run(&self.inner.claim, key, (&token, Some(millis(claim_ttl))))
            .await?;
        Ok(match found {
            1 => ClaimOutcome::Claimed(claim),
            2 => ClaimOutcome::Duplicate,
            _ => ClaimOutcome::InFlight,
        })
    }

    async fn commit(&self, claim: &Claim, window: Duration) -> Result<CommitOutcome, BackendError> {
        match self.inner.commit(claim, window).await {
            Ok(()) => Ok(CommitOutcome::Committed),
            Err(e) => {
                defer(&self.inner, claim, window);
                Ok(CommitOutcome::Deferred(e))
            }
        }
    }

    async fn release(&self, claim: &Claim) -> Result<(), BackendError> {
        let token = claim.token.to_string();
        let _: i64 = self
            .inner
            .run(&self.inner.release, &claim.key, (&token, None))
            .await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), BackendError> {
        let mut conn = self.inner.connection().await?;
        let pong: String = timeout(CALL_TIMEOUT, redis::cmd("PING").query_async(&mut conn))
            .await
            .map_err(|_| BackendError::Timeout)?
            .map_err(unavailable)?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(BackendError::Unavailable("unexpected PING answer".into()))
        }
    }

    fn metrics(&self) -> StoreMetrics {
        StoreMetrics {
            deferred_commits: Some(self.deferred_commits()),
            ..StoreMetrics::default()
        }
    }

    fn backend_name(&self) -> &'static str {
        "redis"
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::dedup::contract::{self, claim, probe, Subject, LONG};
    use crate::dedup::test_redis::RedisServer;

    fn store(server: &RedisServer) -> RedisStore {
        RedisStore::new(&Secret::new(server.url())).unwrap()
    }

    /// Two replicas sharing one real redis-server; time is real, so TTLs
    /// are short (Redis expires a key on access once its deadline passed).
    async fn subject() -> Subject {
        let server = RedisServer::start();
        let replicas: (Arc<dyn DedupStore>, Arc<dyn DedupStore>) =
            (Arc::new(store(&server)), Arc::new(store(&server)));
        let sleep = |by| tokio::time::sleep(by + Duration::from_millis(20));
        Subject::new(replicas, Duration::from_millis(100), sleep, server)
    }

    contract::contract_tests!(subject, rounds = 20);

    /// Waits (bounded) until the store's deferred commits reach `want`.
    async fn deferred_until(s: &RedisStore, what: &str, want: impl Fn(&DeferredCommits) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !want(&s.deferred_commits()) {
            assert!(
                Instant::now() < deadline,
                "{what}: still {:?} after 20 s",
                s.deferred_commits()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn a_commit_failed_in_an_outage_is_stored_once_redis_is_back() {
        let mut server = RedisServer::start();
        let s = store(&server);
        let c = claim(&s, "k", Duration::from_secs(13)).await;
        server.stop();
        assert!(matches!(
            s.commit(&c, LONG).await.unwrap(),
            CommitOutcome::Deferred(_)
        ));
        assert_eq!(s.deferred_commits().pending, 1);
        // Redis comes back empty (no persistence): the claim is gone, the
        // late commit still marks the key delivered.
        server.restart();
        deferred_until(&s, "retry", |d| d.committed == 1 && d.pending == 0).await;
        assert_eq!(probe(&store(&server), "k").await, "duplicate");
        assert_eq!(s.metrics().deferred_commits.unwrap().queued, 1);
    }

    #[tokio::test]
    async fn the_retry_queue_is_bounded_and_gives_up_when_the_window_passes() {
        let mut server = RedisServer::start();
        let s = RedisStore::with_retry_capacity(&Secret::new(server.url()), 3).unwrap();
        let mut claims = Vec::new();
        for label in ["short", "b", "c", "d", "e"] {
            claims.push(claim(&s, label, Duration::from_secs(13)).await);
        }
        server.stop();
        s.commit(&claims[0], Duration::from_millis(200))
            .await
            .unwrap();
        deferred_until(&s, "expiry", |d| d.expired == 1 && d.pending == 0).await;
        for c in &claims[1..] {
            s.commit(c, LONG).await.unwrap();
        }
        let d = s.deferred_commits();
        assert_eq!((d.queued, d.dropped, d.pending), (5, 1, 3), "{d:?}");
        server.restart();
        deferred_until(&s, "retry", |d| d.committed == 3 && d.pending == 0).await;
        let other = store(&server);
        assert_eq!(probe(&other, "b").await, "claimed", "dropped: the oldest");
        for label in ["c", "d", "e"] {
            assert_eq!(probe(&other, label).await, "duplicate", "{label}");
        }
    }

    #[tokio::test]
    async fn an_outage_is_a_prompt_error_and_recovery_is_automatic() {
        let mut server = RedisServer::start();
        let s = store(&server);
        let ttl = Duration::from_secs(13);
        claim(&s, "before", ttl).await;
        server.stop();
        let started = Instant::now();
        assert!(s.claim(&DedupKey::for_tests("during"), ttl).await.is_err());
        assert!(s.ping().await.is_err());
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        server.restart();
        let mut recovered = false;
        for _ in 0..50 {
            if s.claim(&DedupKey::for_tests("after"), ttl).await.is_ok() {
                recovered = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            recovered,
            "the store did not reconnect after Redis came back"
        );
        s.ping().await.unwrap();
    }

    #[test]
    fn a_bad_url_never_shows_its_password() {
        let err = RedisStore::new(&Secret::new("mysql://user:hunter2@host"))
            .err()
            .unwrap();
        assert!(!err.to_string().contains("hunter2"));
    }
}
