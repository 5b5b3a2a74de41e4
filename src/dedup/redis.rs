//! The shared backend, for several gateway replicas: one Redis.
//!
//! - claim: `SET key token NX PX ttl`; when the key exists, its value tells a
//!   delivery (`"0"`) from another request's claim (its token);
//! - commit: overwrite the key with `"0"` for the window, only while it
//!   still holds this request's token (a script, so the check and the write
//!   are one step);
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

use super::{BackendError, Claim, ClaimOutcome, DedupKey, DedupStore};
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
if redis.call('GET', KEYS[1]) == ARGV[1] then
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

fn millis(d: Duration) -> u64 {
    (d.as_millis() as u64).max(1)
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

    fn entry_count(&self) -> Option<u64> {
        None
    }

    fn backend_name(&self) -> &'static str {
        "redis"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::test_redis::RedisServer;

    const TTL: Duration = Duration::from_secs(13);
    const WINDOW: Duration = Duration::from_secs(3600);

    fn store(server: &RedisServer) -> RedisStore {
        RedisStore::new(&Secret::new(server.url())).unwrap()
    }

    fn claimed(outcome: ClaimOutcome) -> Claim {
        match outcome {
            ClaimOutcome::Claimed(c) => c,
            other => panic!("expected a claim, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn state_machine_shared_by_two_stores() {
        let server = RedisServer::start();
        let (a, b) = (store(&server), store(&server));
        let c = claimed(a.claim(&DedupKey::for_tests("r:k"), TTL).await.unwrap());
        assert!(matches!(
            b.claim(&DedupKey::for_tests("r:k"), TTL).await.unwrap(),
            ClaimOutcome::InFlight
        ));
        // Only the owner's token settles the key.
        let forged = Claim {
            key: DedupKey::for_tests("r:k"),
            token: c.token + 1,
        };
        b.release(&forged).await.unwrap();
        assert!(matches!(
            b.claim(&DedupKey::for_tests("r:k"), TTL).await.unwrap(),
            ClaimOutcome::InFlight
        ));
        a.commit(&c, WINDOW).await.unwrap();
        assert!(matches!(
            b.claim(&DedupKey::for_tests("r:k"), TTL).await.unwrap(),
            ClaimOutcome::Duplicate
        ));

        let c = claimed(b.claim(&DedupKey::for_tests("r:other"), TTL).await.unwrap());
        b.release(&c).await.unwrap();
        claimed(a.claim(&DedupKey::for_tests("r:other"), TTL).await.unwrap());
        a.ping().await.unwrap();
    }

    #[tokio::test]
    async fn claims_expire_and_late_settles_do_nothing() {
        let server = RedisServer::start();
        let s = store(&server);
        let old = claimed(
            s.claim(&DedupKey::for_tests("k"), Duration::from_millis(50))
                .await
                .unwrap(),
        );
        tokio::time::sleep(Duration::from_millis(80)).await;
        let new = claimed(s.claim(&DedupKey::for_tests("k"), TTL).await.unwrap());
        s.commit(&old, WINDOW).await.unwrap();
        s.release(&old).await.unwrap();
        assert!(matches!(
            s.claim(&DedupKey::for_tests("k"), TTL).await.unwrap(),
            ClaimOutcome::InFlight
        ));
        s.commit(&new, Duration::from_millis(50)).await.unwrap();
        assert!(matches!(
            s.claim(&DedupKey::for_tests("k"), TTL).await.unwrap(),
            ClaimOutcome::Duplicate
        ));
        tokio::time::sleep(Duration::from_millis(80)).await;
        claimed(s.claim(&DedupKey::for_tests("k"), TTL).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_claims_have_one_winner() {
        let server = RedisServer::start();
        let s = std::sync::Arc::new(store(&server));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(
                    async move { s.claim(&DedupKey::for_tests("race"), TTL).await.unwrap() },
                )
            })
            .collect();
        let mut winners = 0;
        for t in tasks {
            winners += matches!(t.await.unwrap(), ClaimOutcome::Claimed(_)) as usize;
        }
        assert_eq!(winners, 1);
    }

    #[tokio::test]
    async fn an_outage_is_a_prompt_error_and_recovery_is_automatic() {
        let mut server = RedisServer::start();
        let s = store(&server);
        claimed(s.claim(&DedupKey::for_tests("before"), TTL).await.unwrap());
        server.stop();
        let started = std::time::Instant::now();
        assert!(s.claim(&DedupKey::for_tests("during"), TTL).await.is_err());
        assert!(s.ping().await.is_err());
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        server.restart();
        let mut recovered = false;
        for _ in 0..50 {
            if s.claim(&DedupKey::for_tests("after"), TTL).await.is_ok() {
                recovered = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            recovered,
            "the store did not reconnect after Redis came back"
        );
    }

    #[test]
    fn a_bad_url_never_shows_its_password() {
        let err = RedisStore::new(&Secret::new("mysql://user:hunter2@host"))
            .err()
            .unwrap();
        assert!(!err.to_string().contains("hunter2"));
    }
}
