//! Dedup claim + commit: the memory backend single-threaded and contended,
//! and Redis; plus the memory backend's bytes per remembered key, counted
//! by a global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

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

async fn claim_commit(store: &dyn DedupStore, key: &DedupKey) {
    if let ClaimOutcome::Claimed(c) = store.claim(key, TTL).await.unwrap() {
        store.commit(&c, WINDOW).await.unwrap();
    }
}

/// Live heap bytes per remembered key: 100k realistic keys
/// (`<route>:<event>:<call id>`), claimed and committed.
fn bytes_per_key() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let n = 100_000u64;
    let route = route();
    let keys: Vec<DedupKey> = (0..n).map(|i| key(&route, i)).collect();
    let before = LIVE.load(Relaxed);
    let store = MemoryStore::new(1_000_000);
    runtime.block_on(async {
        for k in &keys {
            claim_commit(&store, k).await;
        }
    });
    store.run_pending_tasks();
    let after = LIVE.load(Relaxed);
    let per_key = (after - before) as f64 / n as f64;
    println!("dedup memory backend: {per_key:.0} bytes per remembered key ({n} keys of 32 bytes, entry_count {:?})", store.entry_count());
}

fn bench(c: &mut Criterion) {
    bytes_per_key();
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

    let store = MemoryStore::new(1_000_000);
    let route = route();
    let n = AtomicU64::new(0);
    group.bench_function("memory/claim+commit", |b| {
        b.iter(|| {
            let k = key(&route, n.fetch_add(1, Relaxed));
            runtime.block_on(claim_commit(&store, &k))
        })
    });

    let shared = Arc::new(MemoryStore::new(1_000_000));
    let counter = Arc::new(AtomicU64::new(0));
    group.bench_function("memory/claim+commit, 4 tasks x 100", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let tasks: Vec<_> = (0..4)
                    .map(|_| {
                        let (store, counter, route) =
                            (shared.clone(), counter.clone(), route.clone());
                        tokio::spawn(async move {
                            for _ in 0..100 {
                                let k = key(&route, counter.fetch_add(1, Relaxed));
                                claim_commit(&*store, &k).await;
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            })
        })
    });

    let server = redis_server::RedisServer::start();
    let redis = RedisStore::new(&Secret::new(server.url())).unwrap();
    group.bench_function("redis/claim+commit", |b| {
        b.iter(|| {
            let k = key(&route, n.fetch_add(1, Relaxed));
            runtime.block_on(claim_commit(&redis, &k))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
