//! Operating the gateway: reloads, metrics, shutdown, and `hookgate send`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::harness::*;
use crate::signing::{self, now, signed, unique};

const OK_RELOADS: &str = "hookgate_config_reloads_total{result=\"ok\"}";

fn route(name: &str, provider: &str, secrets: &str) -> String {
    named_route(name, provider, secrets, "forward = \"original\"")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_change_adds_a_secret_and_a_route_without_restart() {
    let (_receiver, gw) =
        Gateway::with_receiver("", &route("nixflex", "nixflex", "\"old-secret\"")).await;
    let pid = gw.pid();

    // Signed with the new secret: refused until the reload.
    let (headers, body) = signed("nixflex", &unique());
    assert_eq!(
        gw.post("/webhooks/nixflex", &headers, &body).await.status,
        401
    );

    let text = format!(
        "{}{}{}",
        gw.head(),
        route(
            "nixflex",
            "nixflex",
            "\"old-secret\", \"${NIXFLEX_SECRET}\""
        ),
        route("allo", "allo", "\"${ALLO_SECRET}\"")
    );
    // No signal: the file watcher notices the new content by itself.
    gw.rewrite_config(&text);
    assert_eq!(gw.wait_metric(OK_RELOADS, 1).await, 1, "{}", gw.log());
    let (headers, body) = signed("nixflex", &unique());
    assert_eq!(
        gw.post("/webhooks/nixflex", &headers, &body).await.status,
        200
    );
    let (headers, body) = signed("allo", &unique());
    assert_eq!(gw.post("/webhooks/allo", &headers, &body).await.status, 200);
    assert_eq!(gw.pid(), pid);
    let metrics = gw.metrics().await;
    assert_eq!(metric(&metrics, OK_RELOADS), 1, "{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_config_is_refused_and_the_old_one_keeps_serving() {
    let (_receiver, gw) =
        Gateway::with_receiver("", &route("nixflex", "nixflex", "\"${NIXFLEX_SECRET}\"")).await;
    let original = gw.config();
    gw.rewrite_config(&original.replace("provider = \"nixflex\"", "provider = \"carrier-pigeon\""));
    gw.signal("HUP");
    // The SIGHUP and the file watcher may both see the bad file: at least one refusal.
    let refused = until(Duration::from_secs(3), async || {
        metric(
            &gw.metrics().await,
            "hookgate_config_reloads_total{result=\"refused\"}",
        ) >= 1
    })
    .await;
    assert!(refused.is_some(), "{}", gw.log());
    let (headers, body) = signed("nixflex", &unique());
    assert_eq!(
        gw.post("/webhooks/nixflex", &headers, &body).await.status,
        200
    );
    assert!(gw.log().contains("reload refused"), "{}", gw.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_reloads_under_traffic_lose_or_misroute_nothing() {
    let receiver = Receiver::start().await;
    let base = format!(
        "{}{}",
        route("nixflex", "nixflex", "\"${NIXFLEX_SECRET}\""),
        route("allo", "allo", "\"${ALLO_SECRET}\"")
    );
    let gw = Arc::new(Gateway::start(&receiver.url(), "", &base).await);
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let traffic: Vec<_> = ["nixflex", "allo"]
        .into_iter()
        .map(|provider| {
            let (gw, stop, sent, failed) = (gw.clone(), stop.clone(), sent.clone(), failed.clone());
            tokio::spawn(async move {
                while !stop.load(SeqCst) {
                    let (headers, body) = signed(provider, &unique());
                    let r = gw
                        .post(&format!("/webhooks/{provider}"), &headers, &body)
                        .await;
                    sent.fetch_add(1, SeqCst);
                    if r.status != 200 || r.header("x-hookgate-duplicate").is_some() {
                        failed.fetch_add(1, SeqCst);
                    }
                }
            })
        })
        .collect();
    let head = gw.head();
    for i in 0..100 {
        // Alternate between two valid configurations: an extra route comes and goes.
        let extra = if i % 2 == 0 {
            route("voxagent", "voxagent", "\"${VOXAGENT_SECRET}\"")
        } else {
            String::new()
        };
        // Each reload is observed before the next: signals sent faster than
        // they are handled coalesce, and the test is about reloads.
        gw.reload(&format!("{head}{base}{extra}")).await;
    }
    stop.store(true, SeqCst);
    for t in traffic {
        t.await.unwrap();
    }
    let sent = sent.load(SeqCst);
    assert!(sent > 50, "{sent}");
    assert_eq!(failed.load(SeqCst), 0, "failed requests during reloads");
    let got = receiver.wait_for(sent).await;
    assert_eq!(got.len(), sent, "every request reached the receiver");
    for r in &got {
        let provider = r.headers["x-hookgate-provider"].to_str().unwrap();
        assert_eq!(r.path, format!("/webhooks/{provider}"), "misrouted");
    }
    let ok = metric(&gw.metrics().await, OK_RELOADS);
    assert!(ok >= 100, "{ok} reloads");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_finishes_in_flight_requests_refuses_new_ones_and_exits_in_time() {
    let receiver = Receiver::start().await;
    receiver.delay(Duration::from_millis(1500));
    let mut gw = Gateway::start(
        &receiver.url(),
        "",
        &route("nixflex", "nixflex", "\"${NIXFLEX_SECRET}\""),
    )
    .await;
    let addr = gw.addr;
    let (headers, body) = signed("nixflex", &unique());
    let in_flight = tokio::spawn(async move {
        send_request(addr, "POST", "/webhooks/nixflex", &headers, &body).await
    });
    receiver.wait_for(1).await;
    gw.signal("TERM");
    let closed = until(STEP, async || TcpStream::connect(addr).await.is_err()).await;
    assert!(closed.is_some(), "new connections must be refused");
    let r = tokio::time::timeout(STEP, in_flight)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, 200, "the in-flight request completed");
    let exited = tokio::task::spawn_blocking(move || gw.wait_exit(Duration::from_secs(10)))
        .await
        .unwrap();
    let exited = exited.expect("the gateway did not exit");
    assert!(exited < Duration::from_secs(5), "{exited:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_and_health_follow_the_traffic() {
    let (_receiver, gw) =
        Gateway::with_receiver("", &route("nixflex", "nixflex", "\"${NIXFLEX_SECRET}\"")).await;
    assert_eq!(gw.admin_get("/healthz").await.status, 200);
    let ready = gw.admin_get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert!(String::from_utf8_lossy(&ready.body).contains("\"backend\":\"memory\""));

    let (headers, body) = signed("nixflex", &unique());
    gw.post("/webhooks/nixflex", &headers, &body).await;
    gw.post("/webhooks/nixflex", &headers, &body).await;
    gw.post(
        "/webhooks/nixflex",
        &signing::nixflex("wrong", now(), &body),
        &body,
    )
    .await;
    gw.post("/nowhere", &headers, &body).await;

    let labels = "route=\"nixflex\",provider=\"nixflex\"";
    let expected = [
        format!("hookgate_requests_total{{{labels},outcome=\"forwarded\",reason=\"\"}} 1"),
        format!("hookgate_requests_total{{{labels},outcome=\"duplicate\",reason=\"\"}} 1"),
        format!("hookgate_requests_total{{{labels},outcome=\"rejected\",reason=\"invalid_signature\"}} 1"),
        "hookgate_requests_total{route=\"\",provider=\"\",outcome=\"rejected\",reason=\"no_route\"} 1".into(),
        "hookgate_upstream_responses_total{route=\"nixflex\",class=\"2xx\"} 1".into(),
        "hookgate_upstream_duration_seconds_count{route=\"nixflex\"} 1".into(),
        "hookgate_dedup_total{event=\"delivered\"} 1".into(),
        "hookgate_dedup_total{event=\"duplicate\"} 1".into(),
        "hookgate_dedup_entries".into(),
    ];
    // Counters are bumped as each answer goes out: allow them a moment.
    let mut m = String::new();
    let all_there = until(Duration::from_secs(3), async || {
        m = String::from_utf8(gw.admin_get("/metrics").await.body).unwrap();
        expected.iter().all(|line| m.contains(line.as_str()))
    })
    .await;
    for line in &expected {
        assert!(
            all_there.is_some() && m.contains(line.as_str()),
            "missing {line}\n{m}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hookgate_send_is_accepted_for_every_provider_and_event() {
    let (receiver, gw) = Gateway::with_receiver("", &all_routes("")).await;
    let bin = env!("CARGO_BIN_EXE_hookgate");
    let mut total = 0;
    for (provider, secret) in [
        ("nixflex", NIXFLEX_SECRET),
        ("agntix", AGNTIX_SECRET),
        ("inboundflow", INBOUNDFLOW_SECRET),
        ("allo", ALLO_SECRET),
        ("voxagent", VOXAGENT_SECRET),
    ] {
        let list = std::process::Command::new(bin)
            .args(["send", provider, "--list"])
            .output()
            .unwrap();
        let events: Vec<String> = String::from_utf8(list.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert!(!events.is_empty(), "{provider}");
        for event in events {
            let out = tokio::process::Command::new(bin)
                .args([
                    "send",
                    provider,
                    "--to",
                    &format!("http://{}/webhooks/{provider}", gw.addr),
                ])
                .args(["--event", &event])
                .env("HOOKGATE_SEND_SECRET", secret)
                .output()
                .await
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{provider} {event}: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(stdout.contains("HTTP 200"), "{stdout}");
            total += 1;
        }
    }
    assert_eq!(receiver.wait_for(total).await.len(), total);
}
