//! Dedup claim + commit: the memory backend single-threaded and contended,
//! and Redis; plus the memory backend's bytes per remembered key, counted
//! by a global allocator.
//!
//! Keys come from the gate (a signed request through `gate::inspect`) and are
//! made before the timed loops, so the figures are the stores' alone. Each
//! memory measurement runs on fresh keys against a fresh store (made and
//! dropped outside the timing), so every claim succeeds and every commit
//! writes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use hookgate::dedup::memory::MemoryStore;
use hookgate::dedup::redis::RedisStore;
use hookgate::dedup::{ClaimOutcome, DedupKey, DedupStore};
use hookgate::secret::Secret;

#[path = "../tests/support/redis_server.rs"]
mod redis_server;

/// Counts live heap bytes, to measure what the cache holds per key.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const TTL: Duration = Duration::from_secs(13);
const WINDOW: Duration = Duration::from_secs(86_400);
/// Keys made up front; a measurement needing more starts a fresh store.
const POOL: usize = 1_000_000;
const MAX_ENTRIES: u64 = 1_000_000;

/// A Voxagent route: its keys are the body's `event` + `data.session_id`.
fn route() -> std::sync::Arc<hookgate::route::Route> {
    let text = "[server]\nlisten = \"127.0.0.1:8080\"\n[upstream]\nurl = \"http://127.0.0.1:3000\"\n\
                [[route]]\nname = \"r\"\npath = \"/r\"\nprovider = \"voxagent\"\nsecrets = [\"s\"]\ntimeout = \"3s\"\n";
    let loaded = hookgate::config::parse(text, &|_| None).unwrap();
    loaded.config.route("/r").unwrap().clone()
}

/// The dedup key of a signed delivery: keys are made only by the gate,
/// from a verified request.
fn key(route: &hookgate::route::Route, id: u64) -> DedupKey {
    use hmac::{Hmac, Mac};
    let body =
        format!(r#"{{"event":"ConversationComplete","data":{{"session_id":"s-{id:012}"}}}}"#);
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s").unwrap();
    mac.update(body.as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    let fields: [(&[u8], &[u8]); 1] = [(b"x-voxagent-signature", sig.as_bytes())];
    let request = hookgate::verify::Request {
        headers: hookgate::verify::Headers::new(&fields),
        path: b"/r",
        query: None,
        body: body.as_bytes(),
    };
    let mut scratch = hookgate::verify::Scratch::default();
    let accepted =
        hookgate::gate::inspect(route, request, &mut scratch, std::time::SystemTime::now())
            .unwrap();
    accepted.dedup_key().unwrap().clone()
}

fn keys(n: usize) -> Vec<DedupKey> {
    let route = route();
    (0..n as u64).map(|i| key(&route, i)).collect()
}

async fn claim_commit(store: &dyn DedupStore, key: &DedupKey) {
    if let ClaimOutcome::Claimed(c) = store.claim(key, TTL).await.unwrap() {
        store.commit(&c, WINDOW).await.unwrap();
    }
}

/// Live heap bytes per remembered key: `n` keys claimed and committed.
fn bytes_per_key(keys: &[DedupKey]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let before = LIVE.load(Relaxed);
    let store = MemoryStore::new(MAX_ENTRIES);
    runtime.block_on(async {
        for k in keys {
            claim_commit(&store, k).await;
        }
    });
    let after = LIVE.load(Relaxed);
    let per_key = (after - before) as f64 / keys.len() as f64;
    println!(
        "dedup memory backend: {per_key:.0} bytes per remembered key ({} keys, {} remembered)",
        keys.len(),
        store.deliveries()
    );
}

/// A snapshot of a million deliveries: the time commits wait while the
/// entries are copied, the whole save, and the load at start-up.
fn snapshot(keys: &[DedupKey]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = MemoryStore::new(MAX_ENTRIES);
    runtime.block_on(async {
        for k in keys {
            claim_commit(&store, k).await;
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dedup.snapshot");
    let saved = store.save_snapshot(&path).unwrap();
    let fresh = MemoryStore::new(MAX_ENTRIES);
    let started = Instant::now();
    let loaded = fresh.load_snapshot(&path).unwrap();
    let slices = saved.entries.div_ceil(4096).max(1) as u32;
    println!(
        "dedup snapshot: {} entries, {} bytes; save {:?}, of which copying {:?} in {slices} slices \
         (a commit waits for one slice at most: {:?} on average); load {:?} ({} loaded)",
        saved.entries,
        saved.bytes,
        saved.total,
        saved.copy,
        saved.copy / slices,
        started.elapsed(),
        loaded.loaded
    );
}

/// Times `iters` rounds of `per_round` fresh keys each through `round`,
/// with a fresh store whenever the pool runs out (outside the timing).
fn timed<F>(
    iters: u64,
    per_round: usize,
    max_entries: u64,
    pool: &Arc<Vec<DedupKey>>,
    mut round: F,
) -> Duration
where
    F: FnMut(&Arc<MemoryStore>, std::ops::Range<usize>),
{
    let mut total = Duration::ZERO;
    let mut store = Arc::new(MemoryStore::new(max_entries));
    let mut next = 0;
    for _ in 0..iters {
        if next + per_round > pool.len() {
            store = Arc::new(MemoryStore::new(max_entries));
            next = 0;
        }
        let started = Instant::now();
        round(&store, next..next + per_round);
        total += started.elapsed();
        next += per_round;
    }
    total
}

fn bench(c: &mut Criterion) {
    let pool = Arc::new(keys(POOL));
    bytes_per_key(&pool[..100_000]);
    bytes_per_key(&pool);
    snapshot(&pool);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("dedup");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));

    // 1,000 claim+commits per iteration in one task: the figure per
    // operation is the time / 1000, without a runtime entry per operation.
    let (pool_ref, runtime_ref) = (&pool, &runtime);
    let one_task = |max_entries| {
        let (pool, runtime) = (pool_ref, runtime_ref);
        move |b: &mut criterion::Bencher| {
            b.iter_custom(|iters| {
                timed(iters, 1000, max_entries, pool, |store, range| {
                    runtime.block_on(async {
                        for k in &pool[range] {
                            claim_commit(&**store, k).await;
                        }
                    })
                })
            })
        }
    };
    group.bench_function("memory/claim+commit x1000, one task", one_task(MAX_ENTRIES));
    // Full after the first 10,000: every commit evicts the oldest delivery.
    group.bench_function(
        "memory/claim+commit x1000, one task, at capacity",
        one_task(10_000),
    );

    group.bench_function("memory/claim+commit, 4 tasks x 100", |b| {
        b.iter_custom(|iters| {
            timed(iters, 400, MAX_ENTRIES, &pool, |store, range| {
                runtime.block_on(async {
                    let tasks: Vec<_> = (0..4)
                        .map(|t| {
                            let (store, pool) = (store.clone(), pool.clone());
                            let from = range.start + t * 100;
                            tokio::spawn(async move {
                                for k in &pool[from..from + 100] {
                                    claim_commit(&*store, k).await;
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.unwrap();
                    }
                })
            })
        })
    });

    let server = redis_server::RedisServer::start();
    let redis = RedisStore::new(&Secret::new(server.url())).unwrap();
    let mut next = 0;
    group.bench_function("redis/claim+commit", |b| {
        b.iter(|| {
            next = (next + 1) % pool.len();
            runtime.block_on(claim_commit(&redis, &pool[next]))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
