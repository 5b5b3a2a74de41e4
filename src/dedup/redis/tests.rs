//! The store against one plain redis-server: the shared contract (also
//! with claims in two steps, as on servers older than 7.0), outages, and
//! what crosses the wire per operation.

use std::sync::Arc;

use super::*;
use crate::dedup::contract::{self, claim, commit, probe, Subject, LONG};
use crate::dedup::test_redis::{Monitor, RedisServer};

pub(super) fn config(url: &str) -> RedisConfig {
    RedisConfig::single(RedisUrl::parse(url).unwrap())
}

fn store(server: &RedisServer) -> RedisStore {
    RedisStore::new(&config(&server.url())).unwrap()
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

mod two_step_claim {
    use super::*;

    async fn subject() -> Subject {
        let server = RedisServer::start();
        let replicas: (Arc<dyn DedupStore>, Arc<dyn DedupStore>) = (
            Arc::new(store(&server).claim_in_two_steps()),
            Arc::new(store(&server).claim_in_two_steps()),
        );
        let sleep = |by| tokio::time::sleep(by + Duration::from_millis(20));
        Subject::new(replicas, Duration::from_millis(100), sleep, server)
    }

    contract::contract_tests!(subject, rounds = 10);
}

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
    let s = RedisStore::with_retry_capacity(&config(&server.url()), 3).unwrap();
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

#[tokio::test]
async fn a_claim_is_one_set_and_a_commit_or_release_one_evalsha() {
    let server = RedisServer::start();
    let s = store(&server);
    s.ping().await.unwrap(); // connected, scripts loaded
    let mut monitor = Monitor::start(server.port());
    let key = redis_key(&DedupKey::for_tests("k"));
    let c = claim(&s, "k", LONG).await;
    commit(&s, &c, LONG).await;
    assert_eq!(probe(&s, "k").await, "duplicate");
    let r = claim(&s, "r", LONG).await;
    s.release(&r).await.unwrap();
    let seen = monitor.commands();
    let words: Vec<Vec<&str>> = seen
        .iter()
        .map(|c| c.split(' ').map(|w| w.trim_matches('"')).collect())
        .collect();
    let names: Vec<&str> = words.iter().map(|w| w[0]).collect();
    assert_eq!(
        names,
        ["SET", "EVALSHA", "SET", "SET", "EVALSHA"],
        "claim, commit, duplicate claim, claim, release: {seen:#?}"
    );
    assert_eq!(
        words[0][1..],
        [
            key.as_str(),
            &c.token.to_string(),
            "NX",
            "GET",
            "PX",
            "3600000"
        ]
    );
    assert_eq!(words[1][1..4], [s.inner.commit.sha.as_str(), "1", &key]);
    assert_eq!(words[4][1], s.inner.release.sha);
}

#[tokio::test]
async fn a_server_that_lost_the_scripts_gets_them_again() {
    let server = RedisServer::start();
    let s = store(&server);
    deliver(&s, "before").await;
    assert_eq!(server.command(&["SCRIPT", "FLUSH"]).as_deref(), Some("OK"));
    let mut monitor = Monitor::start(server.port());
    deliver(&s, "after").await;
    deliver(&s, "again").await;
    let names: Vec<String> = monitor
        .commands()
        .iter()
        .map(|c| {
            c.split(' ')
                .next()
                .unwrap_or("")
                .trim_matches('"')
                .to_owned()
        })
        .collect();
    assert_eq!(
        names,
        ["SET", "EVALSHA", "EVAL", "SET", "EVALSHA"],
        "NOSCRIPT, then the script itself, then EVALSHA finds it"
    );
    assert_eq!(probe(&s, "after").await, "duplicate");
}

async fn deliver(s: &RedisStore, label: &str) {
    contract::deliver(s, label, LONG).await;
}

#[tokio::test]
async fn keys_carry_the_digest_as_their_hash_tag() {
    let server = RedisServer::start();
    let s = store(&server);
    let key = DedupKey::for_tests("k");
    deliver(&s, "k").await;
    let name = format!("hookgate:dedup:{{{}}}", hex::encode(key.digest()));
    assert_eq!(redis_key(&key), name);
    assert_eq!(server.command(&["GET", &name]).as_deref(), Some("0"));
    let ttl: u64 = server.command(&["PTTL", &name]).unwrap().parse().unwrap();
    assert!(ttl > LONG.as_millis() as u64 - 60_000, "{ttl}");
}

#[test]
fn a_bad_url_never_shows_its_password() {
    let err = RedisUrl::parse("mysql://user:hunter2@host").unwrap_err();
    assert!(!err.contains("hunter2"));
}
