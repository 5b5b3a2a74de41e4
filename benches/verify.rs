//! Signature verification per provider at 2 KiB, 32 KiB and 512 KiB, next to
//! the physical floor: a raw SHA-256, HMAC-SHA1/-SHA256/-SHA512 and an
//! Ed25519 verification (ring, as the gateway) of the same bytes. Twilio is
//! measured on a form (HMAC-SHA1 over the URL and the sorted, decoded
//! parameters) and on a JSON body (SHA-256 of the body, then HMAC-SHA1 over
//! the URL); Vapi with its HMAC credential and its token. The generic `hmac`
//! scheme runs once per algorithm.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hmac::{Hmac, Mac};
use hookgate::config;
use hookgate::route::Route;
use hookgate::verify::{Headers, Request};
use sha2::{Digest, Sha256};

const RAW: &str = "bench-secret";
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The public URL the Twilio route names.
const TWILIO_URL: &str = "https://hooks.example.test/twilio";
/// A Telnyx key pair: the seed signs, the public key is the route's.
const TELNYX_SEED: &str = "LBwQTNroPxutpoBX0OMffNAqq+e0nGOXBA2ThRbHwK0=";
const TELNYX_PUBLIC: &str = "sG3MRU54tm5D0z5KKnMlwfIbhtI0iNhA8S7UseD2W5I=";

/// The generic scheme's bench route for one algorithm: Stripe-like,
/// `t=<s>,v1=<hex>` over `<t>.<body>`.
fn hmac_options(algorithm: &str) -> String {
    format!(
        "algorithm = \"{algorithm}\"\nsignature_header = \"X-Signature\"\nsignature_format = \"list\"\n\
         timestamp_key = \"t\"\nsigned_content = \"{{timestamp}}.{{body}}\"\n"
    )
}

fn generic_mac(algorithm: &str, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut m = <M as Mac>::new_from_slice(key).unwrap();
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().to_vec()
    }
    match algorithm {
        "sha1" => run::<Hmac<sha1::Sha1>>(key, parts),
        "sha256" => run::<Hmac<Sha256>>(key, parts),
        _ => run::<Hmac<sha2::Sha512>>(key, parts),
    }
}

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

fn mac_sha1(key: &[u8], parts: &[&[u8]]) -> [u8; 20] {
    let mut m = Hmac::<sha1::Sha1>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// A Twilio status-callback form of about `size` bytes (a long `Body`).
fn twilio_form(size: usize) -> Vec<u8> {
    let head = "AccountSid=AC3f2b6a1c9d8e7f60514a3b2c1d0e9f8a&ApiVersion=2010-04-01&From=%2B14155550123&To=%2B14155550100&MessageSid=SM7f3a9c2e1d0b4a5968e7f6d5c4b3a291&SmsStatus=received&Body=";
    let mut form = head.as_bytes().to_vec();
    while form.len() < size {
        form.extend_from_slice(b"Can+I+move+my+appointment+to+Friday%3F+");
    }
    form.truncate(size);
    form
}

/// The routes' provider keys beside their secret.
fn route_keys(name: &str) -> String {
    match name {
        "twilio" => format!("public_url = \"{TWILIO_URL}\"\n"),
        "vapi" => "credential = \"hmac\"\n".to_owned(),
        _ => String::new(),
    }
}

/// Headers signing `body` the provider's way, written out independently.
fn sign(provider: &str, body: &[u8], ts: u64) -> Vec<(&'static str, String)> {
    let t = ts.to_string();
    let whsec_key = base64::engine::general_purpose::STANDARD
        .decode(WHSEC.trim_start_matches("whsec_"))
        .unwrap();
    let b64 = |m: [u8; 32]| base64::engine::general_purpose::STANDARD.encode(m);
    let b64_any = |m: &[u8]| base64::engine::general_purpose::STANDARD.encode(m);
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
        "twilio" => {
            // The form's parameters, read and sorted independently.
            let mut pairs: Vec<(String, String)> =
                url::form_urlencoded::parse(body).into_owned().collect();
            pairs.sort();
            pairs.dedup();
            let mut content = TWILIO_URL.as_bytes().to_vec();
            for (name, value) in pairs {
                content.extend_from_slice(name.as_bytes());
                content.extend_from_slice(value.as_bytes());
            }
            put(
                "x-twilio-signature",
                base64::engine::general_purpose::STANDARD
                    .encode(mac_sha1(RAW.as_bytes(), &[&content])),
            );
        }
        "vapi" => {
            put(
                "x-signature",
                hex::encode(mac(RAW.as_bytes(), &[t.as_bytes(), b".", body])),
            );
            put("x-timestamp", t.clone());
        }
        "retell" => {
            let ms = format!("{t}000");
            put(
                "x-retell-signature",
                format!(
                    "v={ms},d={}",
                    hex::encode(mac(RAW.as_bytes(), &[body, ms.as_bytes()]))
                ),
            );
        }
        "elevenlabs" => put(
            "elevenlabs-signature",
            format!(
                "t={t},v0={}",
                hex::encode(mac(RAW.as_bytes(), &[t.as_bytes(), b".", body]))
            ),
        ),
        "telnyx" => {
            use ed25519_dalek::Signer;
            let seed: [u8; 32] = base64::engine::general_purpose::STANDARD
                .decode(TELNYX_SEED)
                .unwrap()
                .try_into()
                .unwrap();
            let msg = [t.as_bytes(), b"|", body].concat();
            let sig = ed25519_dalek::SigningKey::from_bytes(&seed).sign(&msg);
            put("telnyx-signature-ed25519", b64_any(&sig.to_bytes()));
            put("telnyx-timestamp", t.clone());
        }
        p if p.starts_with("hmac-") => {
            let sig = generic_mac(&p[5..], RAW.as_bytes(), &[t.as_bytes(), b".", body]);
            put("x-signature", format!("t={t},v1={}", hex::encode(sig)));
        }
        "static" => put("x-token", RAW.into()),
        other => panic!("no bench signer for {other}"),
    }
    h
}

fn bench(c: &mut Criterion) {
    // One route per provider; the generic hmac scheme once per algorithm.
    let mut routes: Vec<(String, &str, &str, String)> = Vec::new();
    for p in hookgate::provider::all() {
        let name = p.name();
        match name {
            "hmac" => {
                for algorithm in ["sha1", "sha256", "sha512"] {
                    let options = hmac_options(algorithm);
                    routes.push((format!("hmac-{algorithm}"), name, RAW, options));
                }
            }
            "static" => routes.push((
                name.into(),
                name,
                RAW,
                "token_header = \"X-Token\"\n".into(),
            )),
            "agntix" | "allo" => routes.push((name.into(), name, WHSEC, String::new())),
            "telnyx" => routes.push((name.into(), name, TELNYX_PUBLIC, String::new())),
            _ => routes.push((name.into(), name, RAW, route_keys(name))),
        }
    }
    let mut toml = String::from("[server]\nlisten = \"127.0.0.1:1\"\n[upstream]\nurl = \"http://127.0.0.1:2\"\ntimeout = \"2s\"\n");
    toml.push_str(&format!("[[route]]\nname = \"vapi-token\"\npath = \"/vapi-token\"\nprovider = \"vapi\"\nsecrets = [\"{RAW}\"]\n"));
    for (route, provider, secret, options) in &routes {
        toml.push_str(&format!("[[route]]\nname = \"{route}\"\npath = \"/{route}\"\nprovider = \"{provider}\"\nsecrets = [\"{secret}\"]\n{options}"));
    }
    let providers: Vec<&str> = routes.iter().map(|r| r.0.as_str()).collect();
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
        for algorithm in ["sha1", "sha256", "sha512"] {
            group.bench_with_input(
                BenchmarkId::new(format!("floor/hmac-{algorithm}"), size),
                &body,
                |b, body| b.iter(|| generic_mac(algorithm, RAW.as_bytes(), &[body])),
            );
        }
        {
            use ed25519_dalek::Signer;
            let seed: [u8; 32] = base64::engine::general_purpose::STANDARD
                .decode(TELNYX_SEED)
                .unwrap()
                .try_into()
                .unwrap();
            let sig = ed25519_dalek::SigningKey::from_bytes(&seed).sign(&body);
            let public = base64::engine::general_purpose::STANDARD
                .decode(TELNYX_PUBLIC)
                .unwrap();
            let key = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public);
            assert!(key.verify(&body, &sig.to_bytes()).is_ok());
            group.bench_with_input(
                BenchmarkId::new("floor/ed25519-verify", size),
                &body,
                |b, body| b.iter(|| key.verify(body, &sig.to_bytes())),
            );
        }
        for p in &providers {
            if *p == "twilio" {
                continue;
            }
            let route = loaded.config.route(&format!("/{p}")).unwrap();
            let signed = sign(p, &body, ts);
            let fields = fields_of(&signed);
            let request = Request {
                headers: Headers::new(&fields),
                path: b"/",
                query: None,
                body: &body,
            };
            measure(&mut group, p, size, route, &request, now);
        }
        twilio(&mut group, &loaded.config, &body, size, now);
        vapi_token(&mut group, &loaded.config, &body, size, now);
    }
    group.finish();
}

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// Signed headers as the request's fields.
fn fields_of<'s>(signed: &'s [(&'static str, String)]) -> Vec<(&'s [u8], &'s [u8])> {
    signed
        .iter()
        .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
        .collect()
}

/// Checks that `request` verifies on `route`, then measures its check.
fn measure(
    group: &mut Group<'_>,
    name: &str,
    size: usize,
    route: &Route,
    request: &Request<'_>,
    now: SystemTime,
) {
    assert!(
        route.scheme.verify(request, now).is_ok(),
        "{name} does not verify"
    );
    group.bench_function(BenchmarkId::new(name, size), |b| {
        b.iter(|| route.scheme.verify(request, now))
    });
}

/// Twilio on a form of the size, and on the JSON body through its hash.
fn twilio(
    group: &mut Group<'_>,
    config: &config::Config,
    json: &[u8],
    size: usize,
    now: SystemTime,
) {
    let route = config.route("/twilio").unwrap();
    let form = twilio_form(size);
    let signed = sign("twilio", &form, 0);
    let fields = fields_of(&signed);
    let request = Request {
        headers: Headers::new(&fields),
        path: b"/twilio",
        query: None,
        body: &form,
    };
    measure(group, "twilio/form", size, route, &request, now);

    let query = format!("bodySHA256={}", hex::encode(Sha256::digest(json)));
    let url = format!("{TWILIO_URL}?{query}");
    let signature = base64::engine::general_purpose::STANDARD
        .encode(mac_sha1(RAW.as_bytes(), &[url.as_bytes()]));
    let fields: [(&[u8], &[u8]); 1] = [(b"x-twilio-signature", signature.as_bytes())];
    let request = Request {
        headers: Headers::new(&fields),
        path: b"/twilio",
        query: Some(query.as_bytes()),
        body: json,
    };
    measure(group, "twilio/json", size, route, &request, now);
}

/// Vapi's static token: independent of the body's size.
fn vapi_token(
    group: &mut Group<'_>,
    config: &config::Config,
    body: &[u8],
    size: usize,
    now: SystemTime,
) {
    let route = config.route("/vapi-token").unwrap();
    let fields: [(&[u8], &[u8]); 1] = [(b"x-vapi-secret", RAW.as_bytes())];
    let request = Request {
        headers: Headers::new(&fields),
        path: b"/vapi-token",
        query: None,
        body,
    };
    measure(group, "vapi-token", size, route, &request, now);
}

criterion_group!(benches, bench);
criterion_main!(benches);
