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
//! The connection is multiplexed and managed (reconnects by itself); every
//! call has a deadline, so a hung Redis turns into a `BackendError` quickly.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use tokio::sync::OnceCell;
// pingora's timer wheel: a tokio timer registered per call wakes the
// runtime's driver through an eventfd write.
use pingora::time::timeout;

use super::clock::millis;
use super::{BackendError, Claim, ClaimOutcome, DedupKey, DedupStore, StoreMetrics};
use crate::secret::Secret;

const PREFIX: &str = "hookgate:dedup:";
/// Every Redis call must answer within this.
const CALL_TIMEOUT: Duration = Duration::from_millis(500);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

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
    client: redis::Client,
    conn: OnceCell<ConnectionManager>,
    claim: Script,
    commit: Script,
    release: Script,
}

impl RedisStore {
    /// Checks the URL; the connection is made on first use (and remade after
    /// an outage), so the gateway starts even while Redis is down.
    pub fn new(url: &Secret) -> Result<Self, BackendError> {
        // The URL may carry a password: the error never quotes it.
        let client = redis::Client::open(url.expose())
            .map_err(|_| BackendError::Unavailable("invalid redis_url".into()))?;
        Ok(RedisStore {
            client,
            conn: OnceCell::new(),
            claim: Script::new(CLAIM),
            commit: Script::new(COMMIT),
            release: Script::new(RELEASE),
        })
    }

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
            .run(&self.claim, key, (&token, Some(millis(claim_ttl))))
            .await?;
        Ok(match found {
            1 => ClaimOutcome::Claimed(claim),
            2 => ClaimOutcome::Duplicate,
            _ => ClaimOutcome::InFlight,
        })
    }

    async fn commit(&self, claim: &Claim, window: Duration) -> Result<(), BackendError> {
        let token = claim.token.to_string();
        let _: i64 = self
            .run(&self.commit, &claim.key, (&token, Some(millis(window))))
            .await?;
        Ok(())
    }

    async fn release(&self, claim: &Claim) -> Result<(), BackendError> {
        let token = claim.token.to_string();
        let _: i64 = self.run(&self.release, &claim.key, (&token, None)).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), BackendError> {
        let mut conn = self.connection().await?;
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
        StoreMetrics::default()
    }

    fn backend_name(&self) -> &'static str {
        "redis"
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;

    use crate::dedup::contract::{self, claim, Subject};
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
