//! What every [`DedupStore`] promises, written once and run against each
//! store (`contract_tests!` in the store's own tests). Only what differs
//! between stores stays beside them: capacity for memory, outages for Redis.
//!
//! A subject lets time pass as its store sees it: a manual clock for memory,
//! real time over short TTLs for Redis. A check that must hold *before* a
//! TTL ends always uses a long TTL, so a slow machine cannot fail it.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::{Claim, ClaimOutcome, CommitOutcome, DedupKey, DedupStore};

/// Longer than any test runs.
pub(crate) const LONG: Duration = Duration::from_secs(3600);

type Pass = Box<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A store under test.
pub(crate) struct Subject {
    a: Arc<dyn DedupStore>,
    b: Arc<dyn DedupStore>,
    short: Duration,
    pass: Pass,
    _keep: Box<dyn Any + Send + Sync>,
}

impl Subject {
    /// `a` and `b` are two handles on the same state (two replicas sharing
    /// Redis, or the one memory store twice); `short` a TTL the test can
    /// wait out with `pass`, which lets time go by as the stores see it;
    /// `keep` lives as long as the stores (their server).
    pub(crate) fn new<F>(
        (a, b): (Arc<dyn DedupStore>, Arc<dyn DedupStore>),
        short: Duration,
        pass: impl Fn(Duration) -> F + Send + Sync + 'static,
        keep: impl Any + Send + Sync,
    ) -> Subject
    where
        F: Future<Output = ()> + Send + 'static,
    {
        Subject {
            a,
            b,
            short,
            pass: Box::new(move |by| Box::pin(pass(by))),
            _keep: Box::new(keep),
        }
    }

    fn stores(&self) -> (Arc<dyn DedupStore>, Arc<dyn DedupStore>) {
        (self.a.clone(), self.b.clone())
    }

    fn short(&self) -> Duration {
        self.short
    }

    async fn pass(&self, by: Duration) {
        (self.pass)(by).await
    }
}

pub(crate) fn claimed(outcome: ClaimOutcome) -> Claim {
    match outcome {
        ClaimOutcome::Claimed(c) => c,
        other => panic!("expected a claim, got {other:?}"),
    }
}

/// What a claim finds, by name (a claim it wins stays held).
pub(crate) async fn probe(store: &dyn DedupStore, label: &str) -> &'static str {
    match store
        .claim(&DedupKey::for_tests(label), LONG)
        .await
        .unwrap()
    {
        ClaimOutcome::Claimed(_) => "claimed",
        ClaimOutcome::Duplicate => "duplicate",
        ClaimOutcome::InFlight => "in flight",
    }
}

pub(crate) async fn claim(store: &dyn DedupStore, label: &str, ttl: Duration) -> Claim {
    claimed(store.claim(&DedupKey::for_tests(label), ttl).await.unwrap())
}

pub(crate) async fn commit(store: &dyn DedupStore, claim: &Claim, window: Duration) {
    assert_eq!(
        store.commit(claim, window).await.unwrap(),
        CommitOutcome::Committed
    );
}

/// Claims and commits `label` for `window`.
pub(crate) async fn deliver(store: &dyn DedupStore, label: &str, window: Duration) {
    let c = claim(store, label, LONG).await;
    commit(store, &c, window).await;
}

pub(crate) async fn claim_then_commit_is_a_duplicate(s: &Subject) {
    let (a, b) = s.stores();
    let c = claim(&*a, "k", LONG).await;
    assert_eq!(probe(&*b, "k").await, "in flight");
    commit(&*a, &c, LONG).await;
    assert_eq!(probe(&*b, "k").await, "duplicate");
    assert_eq!(probe(&*a, "k").await, "duplicate");
}

pub(crate) async fn a_released_key_is_claimable_again(s: &Subject) {
    let (a, b) = s.stores();
    let c = claim(&*a, "k", LONG).await;
    a.release(&c).await.unwrap();
    assert_eq!(probe(&*b, "k").await, "claimed");
}

pub(crate) async fn only_the_claims_own_token_settles_it(s: &Subject) {
    let (a, b) = s.stores();
    let c = claim(&*a, "k", LONG).await;
    let forged = Claim {
        key: c.key.clone(),
        token: c.token.wrapping_add(1).max(1),
    };
    b.release(&forged).await.unwrap();
    assert_eq!(probe(&*b, "k").await, "in flight");
    commit(&*b, &forged, LONG).await;
    assert_eq!(
        probe(&*b, "k").await,
        "in flight",
        "not over another's claim"
    );
    a.release(&c).await.unwrap();
    assert_eq!(probe(&*b, "k").await, "claimed");
}

pub(crate) async fn a_stale_claim_never_settles_a_later_owner(s: &Subject) {
    let (a, b) = s.stores();
    let old = claim(&*a, "k", s.short()).await;
    s.pass(s.short()).await;
    // The first request outlived its claim; a retry took the key.
    let new = claim(&*b, "k", LONG).await;
    commit(&*a, &old, LONG).await;
    assert_eq!(probe(&*a, "k").await, "in flight");
    a.release(&old).await.unwrap();
    assert_eq!(probe(&*a, "k").await, "in flight");
    commit(&*b, &new, LONG).await;
    assert_eq!(probe(&*a, "k").await, "duplicate");
    // Nor does it touch the later owner's delivery: a late commit with a
    // short window leaves the long one.
    commit(&*a, &old, s.short()).await;
    s.pass(s.short()).await;
    assert_eq!(probe(&*a, "k").await, "duplicate");
}

pub(crate) async fn a_late_commit_on_an_expired_claim_is_remembered(s: &Subject) {
    let (a, b) = s.stores();
    let c = claim(&*a, "k", s.short()).await;
    s.pass(s.short()).await;
    // The upstream answered 2xx after the claim expired: still delivered.
    commit(&*a, &c, LONG).await;
    assert_eq!(probe(&*b, "k").await, "duplicate");
}

pub(crate) async fn claims_and_deliveries_expire(s: &Subject) {
    let (a, b) = s.stores();
    claim(&*a, "claim", s.short()).await;
    let d = claim(&*a, "delivery", LONG).await;
    commit(&*a, &d, s.short()).await;
    s.pass(s.short()).await;
    assert_eq!(probe(&*b, "claim").await, "claimed");
    assert_eq!(probe(&*b, "delivery").await, "claimed");
}

/// Many tasks claim one key at once, from both handles: one wins.
pub(crate) async fn concurrent_claims_have_one_winner(s: &Subject, rounds: usize) {
    let (a, b) = s.stores();
    for round in 0..rounds {
        let key = DedupKey::for_tests(&format!("race{round}"));
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                let key = key.clone();
                tokio::spawn(async move { store.claim(&key, LONG).await.unwrap() })
            })
            .collect();
        let mut winners = 0;
        for t in tasks {
            winners += matches!(t.await.unwrap(), ClaimOutcome::Claimed(_)) as usize;
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

/// Claims racing the owner's commit see it in flight or delivered, never
/// absent: no second forward.
pub(crate) async fn a_claim_racing_a_commit_never_finds_the_key_absent(s: &Subject, rounds: usize) {
    let (a, b) = s.stores();
    for round in 0..rounds {
        let key = DedupKey::for_tests(&format!("commit-race{round}"));
        let owner = claimed(a.claim(&key, LONG).await.unwrap());
        let claimers: Vec<_> = (0..8)
            .map(|_| {
                let (store, key) = (b.clone(), key.clone());
                tokio::spawn(async move {
                    loop {
                        match store.claim(&key, LONG).await.unwrap() {
                            // Probe again shortly: a spin would flood a
                            // networked store until the owner's commit itself
                            // missed its deadline.
                            ClaimOutcome::InFlight => {
                                tokio::time::sleep(Duration::from_millis(1)).await
                            }
                            ClaimOutcome::Duplicate => return,
                            ClaimOutcome::Claimed(_) => panic!("round {round}: claimed twice"),
                        }
                    }
                })
            })
            .collect();
        tokio::task::yield_now().await;
        commit(&*a, &owner, LONG).await;
        for t in claimers {
            t.await.unwrap();
        }
    }
}

/// The contract as tests, for a store's own test module:
/// `contract_tests!(subject, rounds = n)` with `async fn subject() -> Subject`.
macro_rules! contract_tests {
    ($subject:path, rounds = $rounds:expr) => {
        #[tokio::test]
        async fn contract_claim_then_commit_is_a_duplicate() {
            $crate::dedup::contract::claim_then_commit_is_a_duplicate(&$subject().await).await
        }

        #[tokio::test]
        async fn contract_a_released_key_is_claimable_again() {
            $crate::dedup::contract::a_released_key_is_claimable_again(&$subject().await).await
        }

        #[tokio::test]
        async fn contract_only_the_claims_own_token_settles_it() {
            $crate::dedup::contract::only_the_claims_own_token_settles_it(&$subject().await).await
        }

        #[tokio::test]
        async fn contract_a_stale_claim_never_settles_a_later_owner() {
            $crate::dedup::contract::a_stale_claim_never_settles_a_later_owner(&$subject().await)
                .await
        }

        #[tokio::test]
        async fn contract_a_late_commit_on_an_expired_claim_is_remembered() {
            $crate::dedup::contract::a_late_commit_on_an_expired_claim_is_remembered(
                &$subject().await,
            )
            .await
        }

        #[tokio::test]
        async fn contract_claims_and_deliveries_expire() {
            $crate::dedup::contract::claims_and_deliveries_expire(&$subject().await).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn contract_concurrent_claims_have_one_winner() {
            $crate::dedup::contract::concurrent_claims_have_one_winner(&$subject().await, $rounds)
                .await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn contract_a_claim_racing_a_commit_never_finds_the_key_absent() {
            $crate::dedup::contract::a_claim_racing_a_commit_never_finds_the_key_absent(
                &$subject().await,
                $rounds,
            )
            .await
        }
    };
}
pub(crate) use contract_tests;
