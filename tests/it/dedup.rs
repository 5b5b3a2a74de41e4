//! Dedup through the real gateway: a retried delivery reaches the receiver
//! once, and never gets lost because an earlier attempt failed.

use std::time::Duration;

use crate::harness::*;
use crate::signing::{self, now, providers, signed, unique};

use crate::redis_server::{RedisCluster, RedisServer, TlsOptions, ACL_PASSWORD, ACL_USER};

/// The Nixflex route these tests use.
fn nixflex_route(extra: &str) -> String {
    route(
        "nixflex",
        &format!(
            "forward = \"original\"
timeout = \"1s\"
{extra}"
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_delivery_twice_is_forwarded_once() {
    let (receiver, gw) = Gateway::with_receiver("", &all_routes("")).await;
    for (i, provider) in providers().iter().enumerate() {
        let (headers, body) = signed(provider, &unique());
        let first = gw
            .post(&format!("/webhooks/{provider}"), &headers, &body)
            .await;
        assert_eq!(first.status, 200, "{provider}");
        assert_eq!(first.header("x-hookgate-duplicate"), None);
        let again = gw
            .post(&format!("/webhooks/{provider}"), &headers, &body)
            .await;
        assert_eq!(again.status, 200, "{provider}");
        assert_eq!(
            again.header("x-hookgate-duplicate"),
            Some("true"),
            "{provider}"
        );
        assert_eq!(
            receiver.wait_for(i + 1).await.len(),
            i + 1,
            "{provider}: forwarded once"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_nixflex_replay_with_a_fresh_delivery_header_is_still_a_duplicate() {
    let (receiver, gw) = Gateway::with_receiver("", &nixflex_route("")).await;
    let (headers, body) = signed("nixflex", &unique());
    let mut first = headers.clone();
    first.push(("webhook_delivery_id".into(), "dlv-1".into()));
    let mut replay = headers;
    replay.push(("webhook_delivery_id".into(), "dlv-forged-2".into()));
    assert_eq!(
        gw.post("/webhooks/nixflex", &first, &body).await.status,
        200
    );
    let r = gw.post("/webhooks/nixflex", &replay, &body).await;
    assert_eq!(r.header("x-hookgate-duplicate"), Some("true"));
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_attempts_stay_retryable() {
    let (receiver, gw) = Gateway::with_receiver("", &nixflex_route("")).await;
    let (headers, body) = signed("nixflex", &unique());

    // 500, then the retry goes through and is remembered.
    receiver.answer(500, b"{\"oops\":1}");
    let r = gw.post("/webhooks/nixflex", &headers, &body).await;
    assert_eq!(r.status, 500);
    receiver.answer(200, b"{}");
    assert_eq!(
        gw.post("/webhooks/nixflex", &headers, &body).await.status,
        200
    );
    let r = gw.post("/webhooks/nixflex", &headers, &body).await;
    assert_eq!(r.header("x-hookgate-duplicate"), Some("true"));
    assert_eq!(receiver.requests().len(), 2);

    // Slower than the timeout: 504, then the retry is forwarded.
    let (headers, body) = signed("nixflex", &unique());
    receiver.delay(Duration::from_millis(1500));
    assert_eq!(
        gw.post("/webhooks/nixflex", &headers, &body).await.status,
        504
    );
    receiver.delay(Duration::ZERO);
    let r = gw.post("/webhooks/nixflex", &headers, &body).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("x-hookgate-duplicate"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn receiver_down_then_up_gets_the_retry() {
    let port = free_port();
    let gw = Gateway::start(&format!("http://127.0.0.1:{port}"), "", &nixflex_route("")).await;
    let (headers, body) = signed("nixflex", &unique());
    assert_eq!(
        gw.post("/webhooks/nixflex", &headers, &body).await.status,
        502
    );
    let receiver = Receiver::start_on(port).await;
    assert_eq!(
        gw.post("/webhooks/nixflex", &headers, &body).await.status,
        200
    );
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_identical_deliveries_forward_exactly_one() {
    let receiver = Receiver::start().await;
    receiver.delay(Duration::from_millis(300));
    let gw = std::sync::Arc::new(Gateway::start(&receiver.url(), "", &nixflex_route("")).await);
    let (headers, body) = signed("nixflex", &unique());
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (gw, headers, body) = (gw.clone(), headers.clone(), body.clone());
            tokio::spawn(async move { gw.post("/webhooks/nixflex", &headers, &body).await })
        })
        .collect();
    let mut forwarded = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match (r.status, r.header("x-hookgate-duplicate")) {
            (200, None) => forwarded += 1,
            (200, Some("true")) => {}
            (409, _) => assert!(r.header("retry-after").is_some()),
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(forwarded, 1);
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn dedup_can_be_turned_off_per_route() {
    let (receiver, gw) = Gateway::with_receiver("", &nixflex_route("dedup = false")).await;
    let (headers, body) = signed("nixflex", &unique());
    for _ in 0..2 {
        assert_eq!(
            gw.post("/webhooks/nixflex", &headers, &body).await.status,
            200
        );
    }
    assert_eq!(receiver.requests().len(), 2);
}

fn redis_section(server: &RedisServer, policy: &str) -> String {
    format!(
        "[dedup]\nbackend = \"redis\"\nredis_url = \"{}\"\non_backend_error = \"{policy}\"\n",
        server.url()
    )
}

/// A TLS server's section: the ACL password from the environment, the
/// test CA, a client certificate.
fn tls_section(server: &RedisServer, ca: &std::path::Path) -> String {
    let pki = server.pki();
    format!(
        "[dedup]\nbackend = \"redis\"\non_backend_error = \"forward\"\n\
         redis_url = \"rediss://{ACL_USER}:${{{REDIS_PASSWORD_VAR}}}@127.0.0.1:{}/0\"\n\
         redis_ca_file = \"{}\"\nredis_client_cert = \"{}\"\nredis_client_key = \"{}\"\n",
        server.port(),
        ca.display(),
        pki.client_cert.display(),
        pki.client_key.display()
    )
}

fn cluster_section(cluster: &RedisCluster) -> String {
    let nodes: Vec<String> = cluster.urls().iter().map(|u| format!("\"{u}\"")).collect();
    format!(
        "[dedup]\nbackend = \"redis\"\non_backend_error = \"reject\"\nredis_cluster = [{}]\n",
        nodes.join(", ")
    )
}

/// Two gateways on one backend: what one delivered, the other answers as
/// a duplicate.
async fn two_gateways_dedup_each_other(dedup: &str, backend: &str) {
    let receiver = Receiver::start().await;
    let rest = format!("{dedup}{}", nixflex_route(""));
    let a = Gateway::start(&receiver.url(), "", &rest).await;
    let b = Gateway::start(&receiver.url(), "", &rest).await;
    for _ in 0..5 {
        let (headers, body) = signed("nixflex", &unique());
        let r = a.post("/webhooks/nixflex", &headers, &body).await;
        assert_eq!(
            (r.status, r.header("x-hookgate-duplicate")),
            (200, None),
            "{r:?}\n{}",
            a.log()
        );
        let r = b.post("/webhooks/nixflex", &headers, &body).await;
        assert_eq!(r.header("x-hookgate-duplicate"), Some("true"), "{r:?}");
    }
    assert_eq!(receiver.requests().len(), 5);
    let ready = a.admin_get("/readyz").await;
    assert_eq!(
        ready.status,
        200,
        "{}",
        String::from_utf8_lossy(&ready.body)
    );
    assert!(String::from_utf8_lossy(&ready.body).contains(&format!("\"backend\":\"{backend}\"")));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_gateways_sharing_redis_dedup_each_other() {
    let redis = RedisServer::start();
    two_gateways_dedup_each_other(&redis_section(&redis, "forward"), "redis").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_gateways_sharing_redis_over_tls_as_an_acl_user_dedup_each_other() {
    let redis = RedisServer::start_tls(TlsOptions {
        client_certificates: true,
    });
    two_gateways_dedup_each_other(&tls_section(&redis, &redis.pki().ca), "redis").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_gateways_sharing_a_redis_cluster_dedup_each_other() {
    let cluster = RedisCluster::start(3, 0);
    two_gateways_dedup_each_other(&cluster_section(&cluster), "redis-cluster").await;
}

/// A certificate the gateway cannot trust: it starts, says why in its log
/// and in `/readyz`, forwards per policy; the password shows nowhere, nor
/// in `hookgate check`'s output.
#[tokio::test(flavor = "multi_thread")]
async fn redis_trouble_is_told_in_words_and_the_password_never_shows() {
    let redis = RedisServer::start_tls(TlsOptions {
        client_certificates: false,
    });
    let (receiver, gw) = Gateway::with_receiver(
        "",
        &format!(
            "{}{}",
            tls_section(&redis, &redis.pki().other_ca),
            nixflex_route("")
        ),
    )
    .await;
    let ready = gw.admin_get("/readyz").await;
    let body = String::from_utf8_lossy(&ready.body).into_owned();
    assert_eq!(ready.status, 503, "{body}");
    assert!(body.contains("certificate"), "{body}");
    let (headers, payload) = signed("nixflex", &unique());
    assert_eq!(
        gw.post("/webhooks/nixflex", &headers, &payload)
            .await
            .status,
        200
    );
    let mut warned = None;
    for _ in 0..100 {
        warned = gw
            .log()
            .lines()
            .find(|l| l.contains("cannot be used"))
            .map(str::to_owned);
        if warned.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let warned = warned.expect("a start-up warning");
    assert!(warned.contains("certificate"), "{warned}");
    assert!(
        warned.contains(&format!("rediss://{ACL_USER}:[redacted]@127.0.0.1")),
        "{warned}"
    );

    // A wrong password (the right CA): said so, never shown.
    let wrong = Gateway::start(
        &receiver.url(),
        "",
        &format!(
            "{}{}",
            tls_section(&redis, &redis.pki().ca).replace(
                &format!("${{{REDIS_PASSWORD_VAR}}}"),
                "wrong-password-literal"
            ),
            nixflex_route("")
        ),
    )
    .await;
    let ready = String::from_utf8_lossy(&wrong.admin_get("/readyz").await.body).into_owned();
    assert!(
        ready.contains("authentication failed") || ready.contains("WRONGPASS"),
        "{ready}"
    );

    // `hookgate check`: the literal password warned about, not quoted.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, wrong.config()).unwrap();
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(["check", "--config"])
        .arg(&path)
        .envs(secret_env())
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(check.status.success(), "{said}");
    assert!(said.contains("literal password"), "{said}");

    for (what, text) in [
        ("readyz", body),
        ("readyz", ready),
        ("log", gw.log()),
        ("log", wrong.log()),
        ("check", said),
    ] {
        for secret in [ACL_PASSWORD, "wrong-password-literal"] {
            assert!(!text.contains(secret), "{what} shows a password:\n{text}");
        }
        assert!(
            !text.contains(&crate::redis_server::escape(ACL_PASSWORD)),
            "{what}:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_outage_follows_the_policy_and_recovers() {
    let mut redis = RedisServer::start();
    let (receiver, forward) = Gateway::with_receiver(
        "",
        &format!("{}{}", redis_section(&redis, "forward"), nixflex_route("")),
    )
    .await;
    let reject = Gateway::start(
        &receiver.url(),
        "",
        &format!("{}{}", redis_section(&redis, "reject"), nixflex_route("")),
    )
    .await;
    let (headers, body) = signed("nixflex", &unique());
    assert_eq!(
        forward
            .post("/webhooks/nixflex", &headers, &body)
            .await
            .status,
        200
    );

    redis.stop();
    // Every bypass is counted; the warning is written at most once per
    // 10 s, with the count, not once per request.
    let outage = std::time::Instant::now();
    for _ in 0..12 {
        let (headers, body) = signed("nixflex", &unique());
        let r = forward.post("/webhooks/nixflex", &headers, &body).await;
        assert_eq!(
            r.status, 200,
            "forward policy: delivered without dedup: {r:?}"
        );
    }
    let warnings = forward
        .log()
        .matches("without dedup since the last warning")
        .count();
    let intervals = outage.elapsed().as_secs() / 10 + 1;
    assert!(
        (1..=intervals as usize).contains(&warnings),
        "{warnings} warnings in {intervals} intervals:\n{}",
        forward.log()
    );
    assert_eq!(
        forward
            .wait_metric("hookgate_dedup_total{event=\"bypassed\"}", 12)
            .await,
        12
    );
    let r = reject.post("/webhooks/nixflex", &headers, &body).await;
    assert_eq!((r.status, r.error().as_str()), (503, "dedup_unavailable"));
    assert!(r.header("retry-after").is_some());
    assert_eq!(forward.admin_get("/readyz").await.status, 503);

    redis.restart();
    let mut recovered = false;
    for _ in 0..40 {
        let (headers, body) = signed("nixflex", &unique());
        if reject
            .post("/webhooks/nixflex", &headers, &body)
            .await
            .status
            == 200
        {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(recovered, "no recovery after Redis came back");
    assert_eq!(reject.admin_get("/readyz").await.status, 200);
    let metrics = forward.metrics().await;
    assert!(
        metrics.contains("hookgate_dedup_total{event=\"bypassed\"} 12"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_allo_retry_with_a_new_timestamp_is_a_duplicate() {
    // Allo's retry re-signs with a fresh timestamp but keeps its webhook-id.
    let (receiver, gw) = Gateway::with_receiver("", &all_routes("")).await;
    let id = format!("msg_{}", unique());
    let body = br#"{"topic":"PING","data":{}}"#;
    let first = signing::allo(ALLO_SECRET, &id, now() - 100, body);
    let retry = signing::allo(ALLO_SECRET, &id, now(), body);
    assert_eq!(gw.post("/webhooks/allo", &first, body).await.status, 200);
    let r = gw.post("/webhooks/allo", &retry, body).await;
    assert_eq!(r.header("x-hookgate-duplicate"), Some("true"));
    assert_eq!(receiver.requests().len(), 1);
}
