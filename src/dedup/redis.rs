//! The shared backend, for several gateway replicas: one Redis server or a
//! Redis Cluster (Valkey alike), over TCP or TLS.
//!
//! - claim: `SET key token NX GET PX ttl`, one round trip: nil means this
//!   request owns the key; an old value tells a delivery (`"0"`) from
//!   another request's claim (its token). A server older than 7.0 refuses
//!   NX with GET; the store then claims with `SET NX PX` and a `GET`.
//! - commit: one `EVALSHA`: overwrite the key with `"0"` for the window
//!   while it holds this request's token **or is absent** (the claim
//!   expired, e.g. during an outage: the delivery still happened), never
//!   over another request's claim (a script, so the check and the write are
//!   one step);
//! - release: one `EVALSHA`: delete the key only while it holds this
//!   request's token.
//!
//! Scripts are loaded when a connection is made; a server that lost them
//! answers NOSCRIPT and gets the script itself (`EVAL`, which caches it).
//! Keys are `hookgate:dedup:{<hex digest>}`: the hash tag fixes a key's
//! Cluster slot by its digest alone.
//!
//! A commit that fails (Redis down) is kept in a bounded queue and retried
//! in the background with backoff until it succeeds or its window passes;
//! when the queue is full the oldest is dropped and counted.
//!
//! Every task's requests share one multiplexed connection (per node in a
//! Cluster), remade after an outage; every call has a deadline, so a hung
//! Redis turns into a `BackendError` quickly.

#[cfg(test)]
mod cluster_tests;
mod connect;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tls_tests;

pub use connect::{percent_encode, read_tls_files, RedisConfig, RedisNodes, RedisTls, RedisUrl};

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::{Cmd, ErrorKind, FromRedisValue, RedisResult, ServerErrorKind};
// pingora's timer wheel: a tokio timer registered per call wakes the
// runtime's driver through an eventfd write.
use pingora::time::timeout;

use self::connect::{Conn, Connector, CALL_TIMEOUT};
use super::clock::millis;
use super::{
    BackendError, Claim, ClaimOutcome, CommitOutcome, DedupKey, DedupStore, DeferredCommits,
    StoreMetrics, Throttle, WARN_EVERY,
};

const PREFIX: &str = "hookgate:dedup:";
/// Failed commits kept for a retry; beyond it the oldest is dropped.
pub const RETRY_CAPACITY: usize = 10_000;
/// Backoff between retry passes while Redis stays down.
const RETRY_BACKOFF_MIN: Duration = Duration::from_millis(100);
const RETRY_BACKOFF_MAX: Duration = Duration::from_secs(5);

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

/// A Lua script and its SHA1, for `EVALSHA`.
struct Script {
    code: &'static str,
    sha: String,
}

impl Script {
    fn new(code: &'static str) -> Script {
        Script {
            code,
            sha: redis::Script::new(code).get_hash().to_owned(),
        }
    }
}

pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    connector: Connector,
    cluster: bool,
    commit: Script,
    release: Script,
    /// The server refused `SET NX GET` (Redis < 7.0): claim in two steps.
    two_step_claim: AtomicBool,
    two_step_warning: Throttle,
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
    /// Checks the settings and reads the TLS files; the connection is made
    /// on first use (and remade after an outage), so the gateway starts even
    /// while Redis is down.
    pub fn new(config: &RedisConfig) -> Result<Self, BackendError> {
        RedisStore::with_retry_capacity(config, RETRY_CAPACITY)
    }

    /// As [`RedisStore::new`], keeping at most `capacity` failed commits.
    pub fn with_retry_capacity(
        config: &RedisConfig,
        capacity: usize,
    ) -> Result<Self, BackendError> {
        Ok(RedisStore {
            inner: Arc::new(Inner {
                connector: Connector::new(config, vec![COMMIT, RELEASE])?,
                cluster: matches!(config.nodes, RedisNodes::Cluster(_)),
                commit: Script::new(COMMIT),
                release: Script::new(RELEASE),
                two_step_claim: AtomicBool::new(false),
                two_step_warning: Throttle::new(WARN_EVERY),
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

    /// Claims as on a server older than 7.0 (`SET NX PX`, then `GET`), to
    /// test that path against any server.
    #[cfg(test)]
    fn claim_in_two_steps(self) -> Self {
        self.inner.two_step_claim.store(true, Relaxed);
        self
    }
}

/// Connects afresh and asks for PING: the start-up check, apart from the
/// store's own connection (it says why Redis cannot be reached: refused, a
/// certificate, a password).
pub async fn probe(config: &RedisConfig) -> Result<(), BackendError> {
    let connector = Connector::new(config, Vec::new())?;
    let mut conn = connector.connection().await?;
    ping(&connector, &mut conn).await
}

async fn ping(connector: &Connector, conn: &mut Conn) -> Result<(), BackendError> {
    let pong = timeout(CALL_TIMEOUT, conn.ping())
        .await
        .map_err(|_| BackendError::Timeout)?
        .map_err(|e| connector.error(e))?;
    if pong == "PONG" {
        Ok(())
    } else {
        Err(BackendError::Unavailable("unexpected PING answer".into()))
    }
}

/// One command within the call deadline: `Err` when it passed, else what
/// Redis said (kept raw so callers can tell NOSCRIPT and old servers apart).
async fn call<T: FromRedisValue>(
    conn: &mut Conn,
    cmd: &Cmd,
) -> Result<RedisResult<T>, BackendError> {
    timeout(CALL_TIMEOUT, conn.query(cmd))
        .await
        .map_err(|_| BackendError::Timeout)
}

fn redis_key(key: &DedupKey) -> String {
    let mut k = String::with_capacity(PREFIX.len() + 34);
    k.push_str(PREFIX);
    k.push('{');
    k.push_str(&hex::encode(key.digest()));
    k.push('}');
    k
}

/// `SET … NX GET` is refused by servers older than 7.0 as a syntax error.
fn refuses_nx_get(e: &redis::RedisError) -> bool {
    e.kind() == ErrorKind::Server(ServerErrorKind::ResponseError)
        && e.detail().is_some_and(|d| d.contains("syntax error"))
}

impl Inner {
    /// One `EVALSHA`; when the server lost the script, one `EVAL` that runs
    /// it and caches it there again.
    async fn run(
        &self,
        script: &Script,
        key: &DedupKey,
        args: (&str, Option<u64>),
    ) -> Result<i64, BackendError> {
        let mut conn = self.connector.connection().await?;
        let key = redis_key(key);
        let invoke = |how: &str, what: &str| {
            let mut cmd = redis::cmd(how);
            cmd.arg(what).arg(1).arg(&key).arg(args.0);
            if let Some(n) = args.1 {
                cmd.arg(n);
            }
            cmd
        };
        match call(&mut conn, &invoke("EVALSHA", &script.sha)).await? {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                call(&mut conn, &invoke("EVAL", script.code))
                    .await?
                    .map_err(|e| self.connector.error(e))
            }
            Err(e) => Err(self.connector.error(e)),
        }
    }

    async fn claim(&self, key: &DedupKey, ttl: Duration) -> Result<ClaimOutcome, BackendError> {
        let claim = Claim::new(key);
        let token = claim.token.to_string();
        let k = redis_key(key);
        let mut conn = self.connector.connection().await?;
        let outcome = |old: Option<String>| match old.as_deref() {
            None => ClaimOutcome::Claimed(claim.clone()),
            Some("0") => ClaimOutcome::Duplicate,
            Some(_) => ClaimOutcome::InFlight,
        };
        if !self.two_step_claim.load(Relaxed) {
            let mut set = redis::cmd("SET");
            set.arg(&k)
                .arg(&token)
                .arg("NX")
                .arg("GET")
                .arg("PX")
                .arg(millis(ttl));
            match call::<Option<String>>(&mut conn, &set).await? {
                Ok(old) => return Ok(outcome(old)),
                Err(e) if refuses_nx_get(&e) => {
                    self.two_step_claim.store(true, Relaxed);
                    if self.two_step_warning.hit().is_some() {
                        tracing::warn!(
                            "Redis refused SET with NX and GET (a server older than 7.0): claims take two round trips"
                        );
                    }
                }
                Err(e) => return Err(self.connector.error(e)),
            }
        }
        let mut set = redis::cmd("SET");
        set.arg(&k).arg(&token).arg("NX").arg("PX").arg(millis(ttl));
        let set: Option<String> = call(&mut conn, &set)
            .await?
            .map_err(|e| self.connector.error(e))?;
        if set.is_some() {
            return Ok(ClaimOutcome::Claimed(claim));
        }
        let mut get = redis::cmd("GET");
        get.arg(&k);
        let old: Option<String> = call(&mut conn, &get)
            .await?
            .map_err(|e| self.connector.error(e))?;
        // Gone between the two steps (released or expired): the holder
        // just finished; the provider's retry finds the key's fate.
        Ok(match old {
            None => ClaimOutcome::InFlight,
            old => outcome(old),
        })
    }

    async fn commit(&self, claim: &Claim, window: Duration) -> Result<(), BackendError> {
        let token = claim.token.to_string();
        self.run(&self.commit, &claim.key, (&token, Some(millis(window))))
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

#[async_trait]
impl DedupStore for RedisStore {
    async fn claim(
        &self,
        key: &DedupKey,
        claim_ttl: Duration,
    ) -> Result<ClaimOutcome, BackendError> {
        self.inner.claim(key, claim_ttl).await
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
        self.inner
            .run(&self.inner.release, &claim.key, (&token, None))
            .await?;
        Ok(())
    }

    /// One server: PING. A Cluster: PING to every primary the client's
    /// slot map holds (a primary it dropped as unreachable is not asked:
    /// claims on its slots fail all the same).
    async fn ping(&self) -> Result<(), BackendError> {
        let mut conn = self.inner.connector.connection().await?;
        ping(&self.inner.connector, &mut conn).await
    }

    fn metrics(&self) -> StoreMetrics {
        StoreMetrics {
            deferred_commits: Some(self.deferred_commits()),
            ..StoreMetrics::default()
        }
    }

    fn backend_name(&self) -> &'static str {
        if self.inner.cluster {
            "redis-cluster"
        } else {
            "redis"
        }
    }
}
