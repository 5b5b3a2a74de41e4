//! Signature verification per provider at 2 KiB, 32 KiB and 512 KiB, next to
//! the physical floor: a raw HMAC-SHA256 and a raw SHA-256 of the same bytes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hmac::{Hmac, Mac};
use hookgate::config;
use hookgate::verify::{Headers, Request};
use sha2::{Digest, Sha256};

const RAW: &str = "bench-secret";
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// Headers signing `body` the provider's way, written out independently.
fn sign(provider: &str, body: &[u8], ts: u64) -> Vec<(&'static str, String)> {
    let t = ts.to_string();
    let whsec_key = base64::engine::general_purpose::STANDARD
        .decode(WHSEC.trim_start_matches("whsec_"))
        .unwrap();
    let b64 = |m: [u8; 32]| base64::engine::general_purpose::STANDARD.encode(m);
    let mut h = Vec::new();
    let mut put = |k: &'static str, v: String| h.push((k, v));
    match provider {
        "nixflex" => put(
            "x-nixflex-signature",
            format!(
                "t={t},v1={}",
                hex::encode(mac(RAW.as_bytes(), &[t.as_bytes(), b".", body]))
            ),
        ),
        "inboundflow" => {
            put(
                "x-inboundflow-signature",
                format!(
                    "sha256={}",
                    hex::encode(mac(RAW.as_bytes(), &[t.as_bytes(), b".", body]))
                ),
            );
            put("x-inboundflow-timestamp", t.clone());
        }
        "voxagent" => put(
            "x-voxagent-signature",
            hex::encode(mac(RAW.as_bytes(), &[body])),
        ),
        p @ ("agntix" | "allo") => {
            let prefix = if p == "agntix" { "svix" } else { "webhook" };
            let sig = b64(mac(&whsec_key, &[b"msg_1.", t.as_bytes(), b".", body]));
            let (id, ts_name, sig_name) = match prefix {
                "svix" => ("svix-id", "svix-timestamp", "svix-signature"),
                _ => ("webhook-id", "webhook-timestamp", "webhook-signature"),
            };
            put(id, "msg_1".into());
            put(ts_name, t.clone());
            put(sig_name, format!("v1,{sig}"));
        }
        other => panic!("no bench signer for {other}"),
    }
    h
}

fn bench(c: &mut Criterion) {
    let providers: Vec<&str> = hookgate::provider::all().iter().map(|p| p.name()).collect();
    let mut toml = String::from("[server]\nlisten = \"127.0.0.1:1\"\n[upstream]\nurl = \"http://127.0.0.1:2\"\ntimeout = \"2s\"\n");
    for p in &providers {
        let secret = if *p == "agntix" || *p == "allo" {
            WHSEC
        } else {
            RAW
        };
        toml.push_str(&format!("[[route]]\nname = \"{p}\"\npath = \"/{p}\"\nprovider = \"{p}\"\nsecrets = [\"{secret}\"]\n"));
    }
    let loaded = config::parse(&toml, &|_| None).unwrap();
    let now = SystemTime::now();
    let ts = now.duration_since(UNIX_EPOCH).unwrap().as_secs();

    let mut group = c.benchmark_group("verify");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for size in [2 * 1024, 32 * 1024, 512 * 1024] {
        let body: Vec<u8> = format!(
            "{{\"event\":\"call.ended\",\"pad\":\"{}\"}}",
            "x".repeat(size - 32)
        )
        .into_bytes();
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::new("floor/sha256", size), &body, |b, body| {
            b.iter(|| Sha256::digest(body))
        });
        group.bench_with_input(
            BenchmarkId::new("floor/hmac-sha256", size),
            &body,
            |b, body| b.iter(|| mac(RAW.as_bytes(), &[body])),
        );
        for p in &providers {
            let route = loaded.config.route(&format!("/{p}")).unwrap();
            let signed = sign(p, &body, ts);
            let fields: Vec<(&[u8], &[u8])> = signed
                .iter()
                .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
                .collect();
            let request = Request {
                headers: Headers::new(&fields),
                path: b"/",
                query: None,
                body: &body,
            };
            assert!(route.scheme.verify(&request, now).is_ok(), "{p}");
            group.bench_function(BenchmarkId::new(*p, size), |b| {
                b.iter(|| route.scheme.verify(&request, now))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
