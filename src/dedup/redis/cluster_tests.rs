//! The store against a real Redis Cluster on loopback: the shared contract
//! on three primaries, a primary failing over to its replica, and a primary
//! without a replica dying.

use std::sync::Arc;

use super::*;
use crate::dedup::contract::{self, probe, Subject, LONG};
use crate::dedup::test_redis::RedisCluster;

fn store(cluster: &RedisCluster) -> RedisStore {
    let urls = cluster
        .urls()
        .iter()
        .map(|u| RedisUrl::parse(u).unwrap())
        .collect();
    RedisStore::new(&RedisConfig {
        nodes: RedisNodes::Cluster(urls),
        tls: RedisTls::default(),
    })
    .unwrap()
}

async fn subject() -> Subject {
    let cluster = RedisCluster::start(3, 0);
    let replicas: (Arc<dyn DedupStore>, Arc<dyn DedupStore>) =
        (Arc::new(store(&cluster)), Arc::new(store(&cluster)));
    let sleep = |by| tokio::time::sleep(by + Duration::from_millis(20));
    Subject::new(replicas, Duration::from_millis(100), sleep, cluster)
}

contract::contract_tests!(subject, rounds = 10);

/// `n` labels whose keys node `node` serves, starting from `prefix`0.
fn labels_on(cluster: &RedisCluster, node: usize, prefix: &str, n: usize) -> Vec<String> {
    (0..)
        .map(|i| format!("{prefix}{i}"))
        .filter(|l| cluster.primary_of(&redis_key(&DedupKey::for_tests(l))) == node)
        .take(n)
        .collect()
}

#[tokio::test]
async fn keys_spread_over_the_primaries_and_the_store_pings_them_all() {
    let cluster = RedisCluster::start(3, 0);
    let s = store(&cluster);
    s.ping().await.unwrap();
    assert_eq!(s.backend_name(), "redis-cluster");
    let mut nodes = std::collections::HashSet::new();
    for i in 0..30 {
        let label = format!("k{i}");
        contract::deliver(&s, &label, LONG).await;
        nodes.insert(cluster.primary_of(&redis_key(&DedupKey::for_tests(&label))));
    }
    assert_eq!(nodes.len(), 3, "30 keys over 3 primaries");
}

/// With a replica per primary: the replica takes over (the test waits for
/// it, bounded), claims on the failed primary's slots resume, and what was
/// delivered before the crash (replicated first) is still a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_failing_over_to_its_replica_keeps_what_was_delivered() {
    let mut cluster = RedisCluster::start(3, 1);
    let s = store(&cluster);
    let victim = cluster.primary_of(&redis_key(&DedupKey::for_tests("before0")));
    let before = labels_on(&cluster, victim, "before", 20);
    let after = labels_on(&cluster, victim, "after", 200);
    for label in &before {
        contract::deliver(&s, label, LONG).await;
    }
    cluster.wait_for_replication(victim);
    cluster.kill(victim);
    let killed = Instant::now();
    let (mut errors, mut next) = (0, after.iter());
    let resumed = loop {
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "no claim on the failed primary's slots within 30 s ({errors} errors)"
        );
        let label = next.next().expect("fewer than 200 attempts");
        match s.claim(&DedupKey::for_tests(label), LONG).await {
            Ok(ClaimOutcome::Claimed(c)) => {
                contract::commit(&s, &c, LONG).await;
                break killed.elapsed();
            }
            Ok(other) => panic!("{label}: a fresh key found {other:?}"),
            Err(_) => {
                errors += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    for label in &before {
        assert_eq!(probe(&s, label).await, "duplicate", "{label}");
    }
    s.ping().await.unwrap();
    eprintln!(
        "failover: the failed primary's slots answered again {resumed:?} after the kill \
         ({errors} claims failed before); all {} deliveries made before it still duplicates",
        before.len()
    );
}

/// Without a replica: the dead primary's keys fail at once; once the other
/// nodes mark it failed (cluster-node-timeout) the whole cluster refuses
/// (cluster-require-full-coverage, on by default) and every claim is a
/// backend error, for `on_backend_error` to decide. Restarted without
/// persistence, the node rejoins empty: its deliveries are forgotten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_without_replica_dying_fails_claims_until_it_returns() {
    let mut cluster = RedisCluster::start(3, 0);
    let s = store(&cluster);
    let victim = cluster.primary_of(&redis_key(&DedupKey::for_tests("gone0")));
    let gone = labels_on(&cluster, victim, "gone", 1).remove(0);
    let other = (0..3).find(|n| *n != victim).unwrap_or(0);
    let kept = labels_on(&cluster, other, "kept", 1).remove(0);
    contract::deliver(&s, &gone, LONG).await;
    contract::deliver(&s, &kept, LONG).await;
    cluster.kill(victim);
    assert!(s.claim(&DedupKey::for_tests(&gone), LONG).await.is_err());
    let killed = Instant::now();
    loop {
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "the live primary kept answering 20 s after the failure"
        );
        if s.claim(&DedupKey::for_tests(&kept), LONG).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.nodes[victim].restart();
    cluster.wait_until("the cluster is whole again", Duration::from_secs(30), |c| {
        c.nodes
            .iter()
            .all(|n| n.cluster_info().contains("cluster_state:ok"))
    });
    let back = Instant::now();
    loop {
        match s.claim(&DedupKey::for_tests(&gone), LONG).await {
            Ok(ClaimOutcome::Claimed(_)) => break,
            Ok(other) => panic!("the restarted node kept {other:?}"),
            Err(e) => assert!(
                back.elapsed() < Duration::from_secs(20),
                "no claim 20 s after the node returned: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(probe(&s, &kept).await, "duplicate");
}
