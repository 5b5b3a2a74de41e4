//! Dedup claim + commit: the memory backend single-threaded and contended,
//! and Redis (plain and TLS, one request at a time and 64 tasks sharing the
//! connection); plus bytes per remembered key: the memory backend's counted
//! by a global allocator, Redis's from `MEMORY USAGE` and `used_memory`.
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
use hookgate::dedup::redis::{RedisConfig, RedisNodes, RedisStore, RedisTls, RedisUrl};
use hookgate::dedup::{ClaimOutcome, DedupKey, DedupStore};

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

    // Redis on loopback: one request at a time (the round trips' latency),
    // then 64 tasks sharing the store (the multiplexed connection's
    // throughput). Fresh keys throughout, so every claim wins and every
    // commit writes.
    let server = redis_server::RedisServer::start();
    let redis = Arc::new(RedisStore::new(&config(&server.url(), RedisTls::default())).unwrap());
    redis_bytes_per_key(&runtime, &server, &redis, &pool[..100_000]);
    let mut next = 0;
    // Fresh keys for a round; the store is emptied (outside the timing)
    // when the pool starts over.
    let mut fresh = |n: usize| {
        if next + n > pool.len() {
            next = 0;
            runtime.block_on(flush(&server));
        }
        next += n;
        next - n..next
    };
    group.bench_function("redis/claim+commit, one at a time", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let k = fresh(1).start;
                let started = Instant::now();
                runtime.block_on(claim_commit(&*redis, &pool[k]));
                total += started.elapsed();
            }
            total
        })
    });
    group.bench_function("redis/claim+commit, 64 tasks x 16", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let range = fresh(64 * 16);
                let started = Instant::now();
                runtime.block_on(async {
                    let tasks: Vec<_> = (0..64)
                        .map(|t| {
                            let (store, pool) = (redis.clone(), pool.clone());
                            let from = range.start + t * 16;
                            tokio::spawn(async move {
                                for k in &pool[from..from + 16] {
                                    claim_commit(&*store, k).await;
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.unwrap();
                    }
                });
                total += started.elapsed();
            }
            total
        })
    });
    let tls = redis_server::RedisServer::start_tls(redis_server::TlsOptions {
        client_certificates: false,
    });
    let over_tls = RedisStore::new(&config(
        &tls.url(),
        RedisTls {
            ca_file: Some(tls.pki().ca.clone()),
            client_cert: None,
        },
    ))
    .unwrap();
    let mut next = 0;
    group.bench_function("redis over TLS/claim+commit, one at a time", |b| {
        b.iter(|| {
            next = (next + 1) % pool.len();
            runtime.block_on(claim_commit(&over_tls, &pool[next]))
        })
    });
    group.finish();
}

fn config(url: &str, tls: RedisTls) -> RedisConfig {
    RedisConfig {
        nodes: RedisNodes::Single(RedisUrl::parse(url).unwrap()),
        tls,
    }
}

/// What Redis holds per remembered delivery: `MEMORY USAGE` of one key,
/// and the growth of `used_memory` over `keys` deliveries.
fn redis_bytes_per_key(
    runtime: &tokio::runtime::Runtime,
    server: &redis_server::RedisServer,
    store: &RedisStore,
    keys: &[DedupKey],
) {
    let used = || -> u64 {
        let info = server.info("memory");
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap()
    };
    let before = used();
    runtime.block_on(async {
        for k in keys {
            claim_commit(store, k).await;
        }
    });
    let after = used();
    let one = format!("hookgate:dedup:{{{}}}", hex::encode(keys[0].digest()));
    let usage = server.command(&["MEMORY", "USAGE", &one]).unwrap();
    println!(
        "dedup redis backend: MEMORY USAGE {usage} bytes for one delivery key; used_memory grew {:.0} bytes per key over {} keys",
        (after - before) as f64 / keys.len() as f64,
        keys.len()
    );
    runtime.block_on(flush(server));
}

/// Empties the bench's Redis when the key pool starts over.
async fn flush(server: &redis_server::RedisServer) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", server.port()))
        .await
        .unwrap();
    conn.write_all(b"FLUSHALL\r\n").await.unwrap();
    let mut ok = [0u8; 5];
    conn.read_exact(&mut ok).await.unwrap();
    assert_eq!(&ok, b"+OK\r\n");
}

criterion_group!(benches, bench);
criterion_main!(benches);
