//! Promises an attacker or a hurried operator tested: dedup that never
//! forgets early, bounded memory under slow clients, nothing unsigned shaping
//! what the receiver sees, payloads a strict parser refuses, unambiguous
//! keys, strict HTTP edges, and dedup state across restarts.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::*;
use crate::signing::{self, now, signed, unique};

fn voxagent_delivery(session: &str) -> (Vec<(String, String)>, Vec<u8>) {
    let body = format!(r#"{{"event":"ConversationComplete","data":{{"session_id":"{session}"}}}}"#)
        .into_bytes();
    (
        signing::voxagent(VOXAGENT_SECRET, "X-Voxagent-Signature", &body),
        body,
    )
}

/// Reads until the peer closes; what it sent (bounded wait).
async fn read_to_close(conn: &mut TcpStream) -> Option<Vec<u8>> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(STEP, conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(all),
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_dedup_store_keeps_the_latest_deliveries_and_one_winner() {
    let (receiver, gw) = Gateway::with_receiver(
        "",
        &format!(
            "[dedup]\nmax_entries = 1000\n{}",
            route("voxagent", "forward = \"original\"")
        ),
    )
    .await;
    // 20,000 deliveries through a store that holds 1,000, over a few
    // keep-alive connections; the last thousand one after another, so they
    // are the last written.
    const TOTAL: usize = 20_000;
    const LAST: usize = 1_000;
    let tag = unique();
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let (addr, tag) = (gw.addr, tag.clone());
            tokio::spawn(async move {
                let mut client = Client::connect(addr).await;
                for i in (t..TOTAL - LAST).step_by(8) {
                    let (h, b) = voxagent_delivery(&format!("{tag}-{i}"));
                    let r = client.post("/webhooks/voxagent", &h, &b).await;
                    assert_eq!(r.status, 200, "{r:?}");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut client = Client::connect(gw.addr).await;
    for i in TOTAL - LAST..TOTAL {
        let (h, b) = voxagent_delivery(&format!("{tag}-{i}"));
        assert_eq!(client.post("/webhooks/voxagent", &h, &b).await.status, 200);
    }
    assert_eq!(receiver.wait_for(TOTAL).await.len(), TOTAL);
    // A retry of each of the last 900 is a duplicate, every time.
    let mut client = Client::connect(gw.addr).await;
    for i in TOTAL - 900..TOTAL {
        let (h, b) = voxagent_delivery(&format!("{tag}-{i}"));
        let r = client.post("/webhooks/voxagent", &h, &b).await;
        assert_eq!(
            r.header("x-hookgate-duplicate"),
            Some("true"),
            "delivery {i}"
        );
    }
    assert_eq!(receiver.requests().len(), TOTAL);
    let m = gw.metrics().await;
    assert!(
        metric(&m, "hookgate_dedup_evictions_total") >= (TOTAL - 1000) as u64,
        "{m}"
    );
    assert!(
        m.contains("hookgate_dedup_oldest_delivery_age_seconds"),
        "{m}"
    );

    // At capacity still, identical deliveries at once forward exactly one.
    receiver.delay(Duration::from_millis(200));
    for round in 0..5 {
        let (h, b) = voxagent_delivery(&format!("{tag}-race-{round}"));
        let racers: Vec<_> = (0..10)
            .map(|_| {
                let (addr, h, b) = (gw.addr, h.clone(), b.clone());
                tokio::spawn(async move {
                    send_request(addr, "POST", "/webhooks/voxagent", &h, &b).await
                })
            })
            .collect();
        for r in racers {
            let r = r.await.unwrap();
            assert!(matches!(r.status, 200 | 409), "{r:?}");
        }
    }
    assert_eq!(receiver.requests().len(), TOTAL + 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn past_max_connections_the_longest_idle_makes_room_and_admin_answers() {
    let (receiver, gw) =
        Gateway::with_receiver("max_connections = 16", &route("nixflex", "")).await;
    // The harness's readiness probes have gone.
    let settled = until(STEP, async || {
        metric(&gw.metrics().await, "hookgate_connections_open") == 0
    })
    .await;
    assert!(settled.is_some());
    // Sixteen connections that never send a byte: slowloris at its simplest.
    let mut idle = Vec::new();
    for _ in 0..16 {
        idle.push(TcpStream::connect(gw.addr).await.unwrap());
    }
    assert_eq!(gw.wait_metric("hookgate_connections_open", 16).await, 16);
    // Once they have waited past the grace, a valid delivery still gets in.
    let (h, b) = signed("nixflex", &unique());
    let served = until(STEP, async || {
        let r = try_request(gw.addr, "POST", "/webhooks/nixflex", &h, &b).await;
        r.is_some_and(|r| r.status == 200)
    })
    .await;
    assert!(served.is_some(), "a valid delivery was not served");
    assert!(
        gw.wait_metric("hookgate_connections_evicted_total", 1)
            .await
            >= 1
    );
    // The evicted one was closed without a word.
    let mut closed = 0;
    for mut c in idle {
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(50), c.read(&mut [0u8; 1])).await
        {
            closed += 1;
        }
    }
    assert!(closed >= 1);
    // The admin listener has its own budget.
    assert_eq!(gw.admin_get("/healthz").await.status, 200);
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_past_the_buffering_budget_get_503_and_stalled_ones_make_room() {
    let (receiver, gw) = Gateway::with_receiver(
        "max_body_bytes = 1048576\nmax_buffered_bytes = 2097152\nrequest_timeout = \"30s\"",
        &route("nixflex", ""),
    )
    .await;
    // Two requests declare 1 MiB behind a well-formed (forged) signature and
    // stall one byte short: the budget is full.
    let fake = format!("t={},v1={}", now(), "ab".repeat(32));
    let head = |len: usize| {
        format!(
            "POST /webhooks/nixflex HTTP/1.1\r\nHost: gw\r\nX-Nixflex-Signature: {fake}\r\n\
             Content-Length: {len}\r\n\r\n"
        )
    };
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(gw.addr).await.unwrap();
        c.write_all(head(1 << 20).as_bytes()).await.unwrap();
        c.write_all(&vec![b' '; (1 << 20) - 1]).await.unwrap();
        stalled.push(c);
    }
    assert_eq!(
        gw.wait_metric("hookgate_buffered_bytes", 2 << 20).await,
        2 << 20
    );
    // A fresh stalled body cannot evict them before they pass the grace: 503
    // before its body is read, and the connection closed.
    let mut third = TcpStream::connect(gw.addr).await.unwrap();
    third.write_all(head(1 << 20).as_bytes()).await.unwrap();
    let r = read_response(&mut third)
        .await
        .expect("an answer before the body");
    assert_eq!((r.status, r.error().as_str()), (503, "overloaded"));
    assert!(r.header("retry-after").is_some());
    // Past the grace, a valid delivery evicts the oldest stalled body.
    let (h, b) = signed("nixflex", &unique());
    let served = until(STEP, async || {
        let r = try_request(gw.addr, "POST", "/webhooks/nixflex", &h, &b).await;
        r.is_some_and(|r| r.status == 200)
    })
    .await;
    assert!(served.is_some(), "a valid delivery was not served");
    // Which of the two is evicted depends on when each last read: the
    // first one answered is the evicted one.
    let (a, b) = stalled.split_at_mut(1);
    let evicted = tokio::select! {
        r = read_response(&mut a[0]) => r,
        r = read_response(&mut b[0]) => r,
    }
    .expect("the evicted body's answer");
    assert_eq!(
        (evicted.status, evicted.error().as_str()),
        (503, "overloaded")
    );
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn inboundflow_whitespace_variants_of_one_delivery_are_forwarded_once() {
    let (receiver, gw) =
        Gateway::with_receiver("", &route("inboundflow", "forward = \"original\"")).await;
    // No delivery_id in the body: the key is the digest of the signed text.
    let compact = format!(
        r#"{{"event":"call.completed","data":{{"call_id":"c-{}","summary":"a  b"}}}}"#,
        unique()
    );
    let headers = signing::inboundflow(INBOUNDFLOW_SECRET, now(), compact.as_bytes());
    let variants = [
        compact.clone(),
        compact.replace(',', ", "),
        compact.replace(':', " : "),
        format!("{compact}\n"),
        compact.replace('{', "{\n  "),
        format!("\t{compact}"),
        compact.replace("\"data\"", "\r\n\"data\""),
    ];
    for (i, v) in variants.iter().enumerate() {
        let r = gw
            .post("/webhooks/inboundflow", &headers, v.as_bytes())
            .await;
        assert_eq!(r.status, 200, "variant {i}: {r:?}");
        assert_eq!(
            r.header("x-hookgate-duplicate").is_some(),
            i > 0,
            "variant {i}"
        );
    }
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_receiver_sees_only_signed_material_and_hookgates_own_view() {
    let (receiver, gw) = Gateway::with_receiver("",
        &format!(
            "{}\n[[route]]\nname = \"orig\"\npath = \"/webhooks/orig\"\nprovider = \"nixflex\"\n\
             secrets = [\"${{NIXFLEX_SECRET}}\"]\nforward = \"original\"\nforward_headers = [\"Cookie\"]\n",
            route("nixflex", "forward_headers = [\"X-Trace\"]")
        )).await;
    let hostile = [
        ("Authorization", "Bearer stolen"),
        ("Cookie", "session=1"),
        ("X-Real-IP", "6.6.6.6"),
        ("Forwarded", "for=6.6.6.6"),
        ("X-Forwarded-For", "6.6.6.6"),
        ("X-Forwarded-Host", "evil.example"),
        ("X-Forwarded-Proto", "gopher"),
        ("X-Hookgate-Delivery-Id", "forged"),
        ("ce-id", "forged"),
        ("X-Trace", "t-1"),
        ("X-Custom", "kept only in original mode"),
        ("webhook_delivery_id", "unsigned-1"),
    ];
    for path in ["/webhooks/nixflex?attacker=1", "/webhooks/orig?attacker=1"] {
        let (mut h, b) = signed("nixflex", &unique());
        h.extend(hostile.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(gw.post(path, &h, &b).await.status, 200, "{path}");
    }
    let got = receiver.wait_for(2).await;
    for (r, original) in [(&got[0], false), (&got[1], true)] {
        let h = |n: &str| r.headers.get(n).map(|v| v.to_str().unwrap().to_owned());
        assert!(
            !r.path.contains("attacker"),
            "the query is not forwarded by default"
        );
        assert_eq!(h("authorization"), None);
        assert_eq!(h("x-real-ip").as_deref(), Some("127.0.0.1"));
        assert_eq!(h("x-forwarded-for").as_deref(), Some("127.0.0.1"));
        assert_eq!(h("forwarded").as_deref(), Some("for=127.0.0.1;proto=http"));
        assert_eq!(h("x-forwarded-proto").as_deref(), Some("http"));
        assert_eq!(h("x-forwarded-host"), None);
        assert_ne!(h("x-hookgate-delivery-id").as_deref(), Some("forged"));
        assert!(h("x-hookgate-delivery-id")
            .unwrap()
            .starts_with("call.ended:"));
        assert_eq!(
            h("x-hookgate-provider-delivery-id").as_deref(),
            Some("unsigned-1")
        );
        assert_ne!(h("ce-id").as_deref(), Some("forged"));
        if original {
            // End-to-end headers pass, credentials only when allowlisted.
            assert_eq!(h("cookie").as_deref(), Some("session=1"));
            assert_eq!(h("x-custom").as_deref(), Some("kept only in original mode"));
        } else {
            // Only hookgate's headers, Content-Type, User-Agent and the allowlist.
            assert_eq!(h("cookie"), None);
            assert_eq!(h("x-custom"), None);
            assert_eq!(h("x-trace").as_deref(), Some("t-1"));
            let doc: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(doc["providerdeliveryid"], "unsigned-1");
            assert_eq!(doc["id"], h("x-hookgate-delivery-id").unwrap().as_str());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trusted_proxy_keeps_its_view_and_the_peer_is_added() {
    let (receiver, gw) = Gateway::with_receiver(
        "trusted_proxies = [\"127.0.0.0/8\"]",
        &route("nixflex", "forward = \"original\""),
    )
    .await;
    let (mut h, b) = signed("nixflex", &unique());
    h.push(("X-Forwarded-For".into(), "203.0.113.7".into()));
    h.push(("X-Forwarded-Proto".into(), "https".into()));
    assert_eq!(gw.post("/webhooks/nixflex", &h, &b).await.status, 200);
    let got = receiver.wait_for(1).await;
    let h = |n: &str| {
        got[0]
            .headers
            .get(n)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        h("x-forwarded-for").as_deref(),
        Some("203.0.113.7, 127.0.0.1")
    );
    assert_eq!(h("x-forwarded-proto").as_deref(), Some("https"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bom_and_lone_surrogates_are_accepted() {
    let (receiver, gw) = Gateway::with_receiver(
        "",
        &format!(
            "{}\n[[route]]\nname = \"orig\"\npath = \"/webhooks/orig\"\nprovider = \"nixflex\"\n\
             secrets = [\"${{NIXFLEX_SECRET}}\"]\nforward = \"original\"\n",
            route("nixflex", "")
        ),
    )
    .await;
    for path in ["/webhooks/nixflex", "/webhooks/orig"] {
        let body = format!(
            "\u{feff}{{\"event\":\"call.ended\",\"call_id\":\"CA{}\",\"call_summary\":\"cut mid-emoji \\ud83d\"}}",
            unique()
        );
        let h = signing::nixflex(NIXFLEX_SECRET, now(), body.as_bytes());
        let r = gw.post(path, &h, body.as_bytes()).await;
        assert_eq!(r.status, 200, "{path}: {r:?}");
    }
    let got = receiver.wait_for(2).await;
    let doc: Value = serde_json::from_slice(&got[0].body).expect("the event is valid JSON");
    assert_eq!(doc["data"]["call"]["summary"], "cut mid-emoji \u{fffd}");
    assert!(
        got[1].body.starts_with("\u{feff}".as_bytes()),
        "original bytes untouched"
    );
    assert!(String::from_utf8_lossy(&got[1].body).contains("\\ud83d"));
}

#[tokio::test(flavor = "multi_thread")]
async fn deliveries_whose_old_keys_collided_are_both_forwarded() {
    let (receiver, gw) = Gateway::with_receiver("", &route("nixflex", "")).await;
    let u = unique();
    for body in [
        format!(r#"{{"event":"call.ended:X{u}","call_id":"y"}}"#),
        format!(r#"{{"event":"call.ended","call_id":"X{u}:y"}}"#),
        format!(r#"{{"event":"call.failed","call_id":{}}}"#, 7000 + u.len()),
        format!(
            r#"{{"event":"call.failed","call_id":"{}"}}"#,
            7000 + u.len()
        ),
    ] {
        let h = signing::nixflex(NIXFLEX_SECRET, now(), body.as_bytes());
        let r = gw.post("/webhooks/nixflex", &h, body.as_bytes()).await;
        assert_eq!(
            (r.status, r.header("x-hookgate-duplicate")),
            (200, None),
            "{body}"
        );
    }
    assert_eq!(receiver.requests().len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn http_edges_are_strict() {
    let (receiver, gw) =
        Gateway::with_receiver("request_timeout = \"1s\"", &route("nixflex", "")).await;
    let (h, b) = signed("nixflex", &unique());
    let valid = request_bytes("POST", "/webhooks/nixflex", &h, &b);
    let text = String::from_utf8(valid.clone()).unwrap();
    // A #fragment, and HTTP/1.1 without Host: 400, then closed.
    for bad in [
        text.replacen("/webhooks/nixflex", "/webhooks/nixflex#frag", 1),
        text.replacen("Host: gateway.test\r\n", "", 1),
    ] {
        let mut c = TcpStream::connect(gw.addr).await.unwrap();
        c.write_all(bad.as_bytes()).await.unwrap();
        let out = read_to_close(&mut c).await.expect("closed");
        assert!(
            out.starts_with(b"HTTP/1.1 400"),
            "{}",
            String::from_utf8_lossy(&out)
        );
    }
    // A head trickled past request_timeout: 408, then closed.
    let mut c = TcpStream::connect(gw.addr).await.unwrap();
    c.write_all(&valid[..10]).await.unwrap();
    let started = std::time::Instant::now();
    let mut answer = None;
    for byte in &valid[10..] {
        if c.write_all(std::slice::from_ref(byte)).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > Duration::from_secs(3) {
            answer = read_to_close(&mut c).await;
            break;
        }
    }
    let answer = match answer {
        Some(a) => a,
        None => read_to_close(&mut c).await.expect("closed"),
    };
    assert!(
        answer.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // Expect: 100-continue from an HTTP/1.0 client gets no 100.
    let mut h10 = h.clone();
    h10.push(("Expect".into(), "100-continue".into()));
    let mut bytes = request_bytes("POST", "/webhooks/nixflex", &h10, &b);
    let at = bytes.windows(8).position(|w| w == b"HTTP/1.1").unwrap();
    bytes[at..at + 8].copy_from_slice(b"HTTP/1.0");
    let mut c = TcpStream::connect(gw.addr).await.unwrap();
    c.write_all(&bytes).await.unwrap();
    let out = read_to_close(&mut c)
        .await
        .expect("closed after an HTTP/1.0 answer");
    assert!(
        out.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(!String::from_utf8_lossy(&out).contains("100 Continue"));
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn remembered_deliveries_survive_a_restart_and_a_crash_after_a_snapshot() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("dedup.snapshot");
    let mut gw = Gateway::start(
        &receiver.url(),
        "",
        &format!(
            "[dedup]\nsnapshot_path = \"{}\"\nsnapshot_interval = \"300ms\"\n{}",
            snapshot.display(),
            route("nixflex", "forward = \"original\"")
        ),
    )
    .await;
    let deliveries: Vec<_> = (0..50).map(|_| signed("nixflex", &unique())).collect();
    for (h, b) in &deliveries {
        assert_eq!(gw.post("/webhooks/nixflex", h, b).await.status, 200);
    }
    // A graceful restart writes the snapshot at exit.
    gw.signal("TERM");
    assert!(gw.wait_exit(STEP).is_some());
    gw.restart().await;
    for (h, b) in &deliveries {
        let r = gw.post("/webhooks/nixflex", h, b).await;
        assert_eq!(r.header("x-hookgate-duplicate"), Some("true"));
    }
    // A crash after a periodic snapshot keeps what it held.
    let more: Vec<_> = (0..20).map(|_| signed("nixflex", &unique())).collect();
    for (h, b) in &more {
        assert_eq!(gw.post("/webhooks/nixflex", h, b).await.status, 200);
    }
    let written = std::fs::metadata(&snapshot).unwrap().modified().unwrap();
    let saved = until(STEP, async || {
        std::fs::metadata(&snapshot).unwrap().modified().unwrap() > written
    })
    .await;
    assert!(saved.is_some(), "no periodic snapshot");
    gw.signal("KILL");
    assert!(gw.wait_exit(STEP).is_some());
    gw.restart().await;
    for (h, b) in deliveries.iter().chain(&more) {
        let r = gw.post("/webhooks/nixflex", h, b).await;
        assert_eq!(r.header("x-hookgate-duplicate"), Some("true"));
    }
    assert_eq!(receiver.requests().len(), 70);

    // A damaged snapshot is refused with a clear line; the gateway starts empty.
    gw.signal("KILL");
    assert!(gw.wait_exit(STEP).is_some());
    let mut bytes = std::fs::read(&snapshot).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&snapshot, bytes).unwrap();
    gw.restart().await;
    assert!(gw.log().contains("dedup snapshot refused"), "{}", gw.log());
    let (h, b) = &deliveries[0];
    let r = gw.post("/webhooks/nixflex", h, b).await;
    assert_eq!((r.status, r.header("x-hookgate-duplicate")), (200, None));
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_is_clean_after_reloads_whatever_the_signal() {
    let receiver = Receiver::start().await;
    for (round, sig) in ["INT", "TERM", "INT", "TERM", "INT"].iter().enumerate() {
        let mut gw = Gateway::start(&receiver.url(), "", &route("nixflex", "")).await;
        for i in 0..3 {
            gw.signal("HUP");
            gw.wait_metric("hookgate_config_reloads_total{result=\"ok\"}", i + 1)
                .await;
        }
        gw.signal(sig);
        let exited = tokio::task::spawn_blocking(move || {
            let t = gw.wait_exit(Duration::from_secs(10));
            (t, gw.log())
        })
        .await
        .unwrap();
        let (took, log) = exited;
        assert!(took.is_some(), "round {round} ({sig}): no exit\n{log}");
        assert!(
            log.len() < 64 * 1024,
            "round {round}: {} bytes of log",
            log.len()
        );
        assert!(!log.contains("being shutdown"), "{log}");
    }
}

#[test]
fn check_warns_about_routes_sharing_a_secret_without_printing_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    let mut config = String::from(
        "[server]\nlisten = \"127.0.0.1:1\"\n[upstream]\nurl = \"http://127.0.0.1:2\"\n",
    );
    for name in ["billing", "support"] {
        config.push_str(&format!(
            "[[route]]\nname = \"{name}\"\npath = \"/{name}\"\nprovider = \"nixflex\"\n\
             secrets = [\"${{NIXFLEX_SECRET}}\"]\n"
        ));
    }
    std::fs::write(&path, &config).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(["check", "--config"])
        .arg(&path)
        .env_clear()
        .env("NIXFLEX_SECRET", NIXFLEX_SECRET)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("routes billing and support share a secret"),
        "{stderr}"
    );
    assert!(!stderr.contains(NIXFLEX_SECRET));
}

#[test]
fn send_says_what_went_wrong_in_words() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(["send", "nixflex", "--to"])
        .arg(dead_url() + "/webhooks/nixflex")
        .env("HOOKGATE_SEND_SECRET", NIXFLEX_SECRET)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("connection refused"), "{stderr}");
    assert!(!stderr.contains("context:"), "{stderr}");
}
