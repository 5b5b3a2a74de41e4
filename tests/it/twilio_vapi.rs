//! Twilio and Vapi through the real gateway. Twilio against its official
//! SDK (`twilio.request_validator`, `tests/sdk/twilio_sdk.py`): what the SDK
//! signs is accepted and forwarded, tampered or misdirected requests are
//! refused, and what `hookgate send twilio` signs validates with the SDK.
//! Vapi has no official verifier: its HMAC is signed by `signing::vapi`,
//! written from Vapi's documented format. Messages Vapi waits on are
//! relayed with the receiver's answer every time, never from the cache.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;
use crate::sdk::sdk;
use crate::signing::{self, now, twilio_url, unique, Headers};

fn h(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_owned(), v.into())
}

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

/// A voice status callback form for a fresh call.
fn call_form(status: &str) -> String {
    format!(
        "AccountSid=AC3f2b6a1c9d8e7f60514a3b2c1d0e9f8a&CallSid=CA{}&CallStatus={status}&CallbackSource=call-progress-events&Direction=inbound&From=%2B14155550123&To=%2B14155550100&SequenceNumber=1&Timestamp=Sun%2C+17+May+2026+03%3A45%3A12+%2B0000&Called=&Tag=b&Tag=a&Tag=b",
        unique()
    )
}

async fn sdk_signature(token: &str, url: &str, form: &str, algorithm: Option<&str>) -> String {
    let mut req = json!({"op": "sign", "token": token, "url": url, "form": form});
    if let Some(a) = algorithm {
        req["algorithm"] = json!(a);
    }
    let v = sdk("twilio_sdk.py", &req).await;
    v["signature"].as_str().unwrap().to_owned()
}

/// Runs `hookgate <args>` with `env`; its exit status and stdout.
async fn hookgate(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = tokio::time::timeout(
        STEP * 3,
        tokio::process::Command::new(env!("CARGO_BIN_EXE_hookgate"))
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("hookgate exits in time")
    .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn twilio_sdk_signed_forms_are_forwarded_and_tampered_ones_refused() {
    let (receiver, gw) = Gateway::with_receiver("", &all_routes("forward = \"original\"")).await;
    let mut forwarded = 0;
    for (target, signed_as) in [
        ("/webhooks/twilio", None),
        ("/webhooks/twilio?tenant=acme&note=a+b", None),
        // The SDK adds :443 when validating; Twilio may sign either form.
        (
            "/webhooks/twilio?tenant=acme",
            Some("https://hooks.example.test:443/webhooks/twilio?tenant=acme"),
        ),
    ] {
        let form = call_form("in-progress");
        let url = signed_as.map_or_else(|| twilio_url(target), str::to_owned);
        let signature = sdk_signature(TWILIO_SECRET, &url, &form, None).await;
        let headers = vec![
            h("X-Twilio-Signature", signature.clone()),
            h(FORM.0, FORM.1),
        ];
        let r = gw.post(target, &headers, form.as_bytes()).await;
        assert_eq!(r.status, 200, "{target}: {r:?}\n{}", gw.log());
        forwarded += 1;
        let got = receiver.wait_for(forwarded).await;
        assert_eq!(
            got[forwarded - 1].body.as_ref(),
            form.as_bytes(),
            "bytes intact"
        );

        // The same signature on anything else it did not sign.
        let tampered = form.replace("in-progress", "completed");
        let r = gw.post(target, &headers, tampered.as_bytes()).await;
        assert_eq!((r.status, r.error().as_str()), (401, "invalid_signature"));
        let other_query = match target.contains('?') {
            true => format!("{target}&x=1"),
            false => format!("{target}?x=1"),
        };
        let r = gw.post(&other_query, &headers, form.as_bytes()).await;
        assert_eq!((r.status, r.error().as_str()), (401, "invalid_signature"));
    }
    // Signed for another URL, or with another Auth Token.
    let form = call_form("ringing");
    for (token, url) in [
        (
            TWILIO_SECRET,
            "https://hooks.example.test/webhooks/other".to_owned(),
        ),
        (
            TWILIO_SECRET,
            "https://evil.example/webhooks/twilio".to_owned(),
        ),
        ("not-the-auth-token", twilio_url("/webhooks/twilio")),
    ] {
        let signature = sdk_signature(token, &url, &form, None).await;
        let headers = vec![h("X-Twilio-Signature", signature), h(FORM.0, FORM.1)];
        let r = gw.post("/webhooks/twilio", &headers, form.as_bytes()).await;
        assert_eq!(r.status, 401, "{token} {url}");
    }
    assert_eq!(
        receiver.requests().len(),
        forwarded,
        "nothing else reached it"
    );

    // The SDK validates what the test-side signer signs: the two agree.
    let form = call_form("completed");
    let url = twilio_url("/webhooks/twilio");
    let ours = signing::twilio(TWILIO_SECRET, &url, form.as_bytes());
    let verdict = sdk(
        "twilio_sdk.py",
        &json!({"op": "validate", "token": TWILIO_SECRET, "url": url, "form": form, "signature": ours[0].1}),
    )
    .await;
    assert_eq!(verdict["ok"], true, "{verdict}");
}

#[tokio::test(flavor = "multi_thread")]
async fn twilio_sdk_shared_key_signatures_verify_by_the_key_they_name() {
    let (receiver, gw) = Gateway::with_receiver("", &all_routes("")).await;
    let form = call_form("completed");
    let url = twilio_url("/webhooks/twilio");
    let signature = sdk_signature(TWILIO_SHARED_KEY, &url, &form, Some("HMAC_SHA256")).await;
    let settings = format!("key={TWILIO_SHARED_KEY_ID},algorithm=HMAC_SHA256");
    let headers = vec![
        h("X-Twilio-Signature", signature.clone()),
        h("X-Twilio-Webhooks-Signature-Settings", settings.clone()),
        h(FORM.0, FORM.1),
    ];
    let r = gw.post("/webhooks/twilio", &headers, form.as_bytes()).await;
    assert_eq!(r.status, 200, "{r:?}\n{}", gw.log());
    let verdict = sdk(
        "twilio_sdk.py",
        &json!({"op": "validate", "token": TWILIO_SHARED_KEY, "url": url, "form": form, "signature": signature, "settings": settings}),
    )
    .await;
    assert_eq!(verdict["ok"], true, "the SDK agrees: {verdict}");

    // Another key id, no settings (the Auth Token, SHA-1), or the key's
    // SHA-1 signature where the settings say SHA-256: refused.
    for (settings, sig) in [
        (
            Some("key=webhooks_sharedkey_other,algorithm=HMAC_SHA256".to_owned()),
            signature.clone(),
        ),
        (None, signature.clone()),
        (
            Some(settings.clone()),
            sdk_signature(TWILIO_SHARED_KEY, &url, &form, Some("HMAC_SHA1")).await,
        ),
        (
            Some(settings.clone()),
            sdk_signature(TWILIO_SECRET, &url, &form, Some("HMAC_SHA256")).await,
        ),
    ] {
        let mut headers = vec![h("X-Twilio-Signature", sig), h(FORM.0, FORM.1)];
        headers.extend(settings.map(|s| h("X-Twilio-Webhooks-Signature-Settings", s)));
        let r = gw.post("/webhooks/twilio", &headers, form.as_bytes()).await;
        assert_eq!(r.status, 401, "{headers:?}");
    }
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn twilio_sdk_json_bodies_verify_through_their_hash() {
    let (receiver, gw) = Gateway::with_receiver("", &all_routes("forward = \"normalized\"")).await;
    let body = format!(
        r#"{{"CallSid": "CA{}", "CallStatus": "completed", "CallDuration": 31, "From": "+14155550123", "To": "+14155550100", "Direction": "inbound"}}"#,
        unique()
    );
    let hashed = sdk(
        "twilio_sdk.py",
        &json!({"op": "sign", "token": TWILIO_SECRET, "url": "https://unused.example/", "body": body}),
    )
    .await;
    let target = format!(
        "/webhooks/twilio?bodySHA256={}",
        hashed["hash"].as_str().unwrap()
    );
    let url = twilio_url(&target);
    let signed = sdk(
        "twilio_sdk.py",
        &json!({"op": "sign", "token": TWILIO_SECRET, "url": url, "body": body}),
    )
    .await;
    let headers = vec![
        h("X-Twilio-Signature", signed["signature"].as_str().unwrap()),
        h("Content-Type", "application/json"),
    ];
    let r = gw.post(&target, &headers, body.as_bytes()).await;
    assert_eq!(r.status, 200, "{r:?}\n{}", gw.log());
    let got = receiver.wait_for(1).await;
    let event: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(event["type"], "call.ended");
    assert_eq!(event["data"]["call"]["duration_seconds"], 31);
    assert_eq!(
        event["data"]["raw"]["CallDuration"], 31,
        "JSON read as JSON"
    );

    let tampered = body.replace("31", "32");
    let r = gw.post(&target, &headers, tampered.as_bytes()).await;
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_signature"));
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn what_hookgate_send_twilio_signs_validates_with_the_sdk() {
    // What `send` posts, recorded as it arrives.
    let receiver = Receiver::start().await;
    for (event, shared) in [("message.received", false), ("call.completed", true)] {
        let to = format!("{}/twilio/hook?tenant=7", receiver.url());
        let secret = if shared {
            TWILIO_SHARED_KEY
        } else {
            TWILIO_SECRET
        };
        let mut args = vec!["send", "twilio", "--to", &to, "--event", event];
        let option = format!("shared_key_id={TWILIO_SHARED_KEY_ID}");
        if shared {
            args.extend(["--option", &option]);
        }
        let (ok, out, err) = hookgate(&args, &[("HOOKGATE_SEND_SECRET", secret)]).await;
        assert!(ok, "{out}{err}");
        let got = receiver.requests();
        let r = got.last().unwrap();
        assert_eq!(r.path, "/twilio/hook?tenant=7");
        assert_eq!(
            r.headers["content-type"], "application/x-www-form-urlencoded",
            "a form is posted as a form"
        );
        let header = |n: &str| r.headers.get(n).map(|v| v.to_str().unwrap().to_owned());
        let verdict = sdk(
            "twilio_sdk.py",
            &json!({
                "op": "validate", "token": secret, "url": to,
                "form": String::from_utf8(r.body.to_vec()).unwrap(),
                "signature": header("x-twilio-signature").unwrap(),
                "settings": header("x-twilio-webhooks-signature-settings"),
            }),
        )
        .await;
        assert_eq!(verdict["ok"], true, "{event}: {verdict}");
    }

    // And through the gateway, signing the public URL the route names.
    let gw = Gateway::start(&receiver.url(), "", &all_routes("")).await;
    let to = format!("http://{}/webhooks/twilio", gw.addr);
    let public = format!("public_url={}", twilio_url("/webhooks/twilio"));
    for _ in 0..2 {
        let (ok, out, err) = hookgate(
            &["send", "twilio", "--to", &to, "--option", &public],
            &[("HOOKGATE_SEND_SECRET", TWILIO_SECRET)],
        )
        .await;
        assert!(ok, "{out}{err}");
        assert!(out.contains("HTTP 200"), "{out}");
        assert!(
            !out.contains("x-hookgate-duplicate"),
            "fresh ids per send: {out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_twilio_voice_request_gets_the_receiver_s_twiml_every_time() {
    let receiver = Receiver::start().await;
    receiver.answer(
        200,
        b"<Response><Say>Hello from the receiver</Say></Response>",
    );
    let gw = Gateway::start(&receiver.url(), "", &all_routes("forward = \"original\"")).await;
    let form = format!(
        "AccountSid=AC3f2b6a1c9d8e7f60514a3b2c1d0e9f8a&CallSid=CA{}&CallStatus=ringing&Direction=inbound&From=%2B14155550123&To=%2B14155550100&ApiVersion=2010-04-01",
        unique()
    );
    let headers = signing::twilio(
        TWILIO_SECRET,
        &twilio_url("/webhooks/twilio"),
        form.as_bytes(),
    );
    for attempt in 1..=2 {
        let r = gw.post("/webhooks/twilio", &headers, form.as_bytes()).await;
        assert_eq!(r.status, 200, "{attempt}: {r:?}");
        assert_eq!(r.header("x-hookgate-duplicate"), None, "{attempt}");
        assert_eq!(
            r.body,
            b"<Response><Say>Hello from the receiver</Say></Response>"
        );
    }
    assert_eq!(receiver.wait_for(2).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn vapi_hmac_deliveries_verify_and_every_kind_of_fault_is_refused() {
    let (receiver, gw) = Gateway::with_receiver("", &all_routes("")).await;
    let body = |u: &str| {
        format!(r#"{{"message":{{"type":"status-update","status":"in-progress","call":{{"id":"call-{u}"}},"timestamp":1779000312345}}}}"#)
            .into_bytes()
    };
    let mut forwarded = 0;
    // Seconds and milliseconds (Vapi does not say which it sends).
    for ts in [now(), now() * 1000 + 7] {
        let b = body(&unique());
        let r = gw
            .post("/webhooks/vapi", &signing::vapi(VAPI_SECRET, ts, &b), &b)
            .await;
        assert_eq!(r.status, 200, "{ts}: {r:?}\n{}", gw.log());
        forwarded += 1;
    }
    let b = body(&unique());
    let good = signing::vapi(VAPI_SECRET, now(), &b);
    let with = |name: &str, value: &str| -> Headers {
        let mut h: Headers = good.iter().filter(|(k, _)| k != name).cloned().collect();
        h.push((name.to_owned(), value.to_owned()));
        h
    };
    let without =
        |name: &str| -> Headers { good.iter().filter(|(k, _)| k != name).cloned().collect() };
    let mut tampered = b.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    let cases: Vec<(&str, Headers, Vec<u8>, &str)> = vec![
        (
            "wrong secret",
            signing::vapi("wrong-secret", now(), &b),
            b.clone(),
            "invalid_signature",
        ),
        ("tampered byte", good.clone(), tampered, "invalid_signature"),
        (
            "stale",
            signing::vapi(VAPI_SECRET, now() - 301, &b),
            b.clone(),
            "timestamp_out_of_tolerance",
        ),
        (
            "future",
            signing::vapi(VAPI_SECRET, now() + 301, &b),
            b.clone(),
            "timestamp_out_of_tolerance",
        ),
        (
            "stale, in ms",
            signing::vapi(VAPI_SECRET, (now() - 301) * 1000, &b),
            b.clone(),
            "timestamp_out_of_tolerance",
        ),
        (
            "time replaced",
            with("x-timestamp", &(now() + 1).to_string()),
            b.clone(),
            "invalid_signature",
        ),
        (
            "no signature",
            without("x-signature"),
            b.clone(),
            "missing_signature",
        ),
        (
            "no timestamp",
            without("x-timestamp"),
            b.clone(),
            "missing_signature",
        ),
        (
            "non-hex signature",
            with("x-signature", "not-hex"),
            b.clone(),
            "malformed_signature",
        ),
        (
            "short signature",
            with("x-signature", "abcd"),
            b.clone(),
            "malformed_signature",
        ),
        (
            "non-numeric time",
            with("x-timestamp", "soon"),
            b.clone(),
            "malformed_signature",
        ),
        (
            "the static token instead",
            vec![h("X-Vapi-Secret", VAPI_SECRET)],
            b.clone(),
            "missing_signature",
        ),
    ];
    for (label, headers, body, code) in cases {
        let r = gw.post("/webhooks/vapi", &headers, &body).await;
        assert_eq!((r.status, r.error().as_str()), (401, code), "{label}");
    }
    assert_eq!(receiver.requests().len(), forwarded);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vapi_token_route_checks_the_token_and_check_warns_about_it() {
    let route =
        "[[route]]\nname = \"vapi-token\"\npath = \"/webhooks/vapi-token\"\nprovider = \"vapi\"\n\
                 secrets = [\"${VAPI_TOKEN}\"]\ntimeout = \"5s\"\n";
    let (receiver, gw) = Gateway::with_receiver("", route).await;
    let body = format!(
        r#"{{"message":{{"type":"end-of-call-report","call":{{"id":"call-{}"}},"endedReason":"hangup"}}}}"#,
        unique()
    );
    for headers in [
        vec![h("X-Vapi-Secret", VAPI_TOKEN)],
        vec![h("Authorization", format!("Bearer {VAPI_TOKEN}"))],
    ] {
        let body = body.replace("call-", &format!("call-{}-", unique()));
        let r = gw
            .post("/webhooks/vapi-token", &headers, body.as_bytes())
            .await;
        assert_eq!(r.status, 200, "{headers:?}: {r:?}");
    }
    for (headers, code) in [
        (vec![h("X-Vapi-Secret", "wrong-token")], "invalid_signature"),
        (
            vec![h("Authorization", "Bearer wrong-token")],
            "invalid_signature",
        ),
        (
            vec![h("Authorization", format!("Basic {VAPI_TOKEN}"))],
            "malformed_signature",
        ),
        (vec![], "missing_signature"),
    ] {
        let r = gw
            .post("/webhooks/vapi-token", &headers, body.as_bytes())
            .await;
        assert_eq!((r.status, r.error().as_str()), (401, code), "{headers:?}");
    }
    assert_eq!(receiver.requests().len(), 2);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = \"127.0.0.1:1\"\n[upstream]\nurl = \"http://127.0.0.1:2\"\n{route}"
        ),
    )
    .unwrap();
    let (ok, out, err) = hookgate(
        &["check", "--config", path.to_str().unwrap()],
        &[("VAPI_TOKEN", VAPI_TOKEN)],
    )
    .await;
    assert!(ok, "a warning is no error: {out}{err}");
    let text = format!("{out}{err}");
    assert!(
        text.contains("route[0] (vapi-token): vapi credential \"token\"")
            && text.contains("prefer Vapi's HMAC credential"),
        "{text}"
    );
    assert!(!text.contains(VAPI_TOKEN), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn vapi_requests_waiting_for_an_answer_get_the_receiver_s_every_time() {
    let receiver = Receiver::start().await;
    receiver.answer(201, br#"{"assistantId":"asst-from-the-receiver"}"#);
    let gw = Gateway::start(&receiver.url(), "", &all_routes("forward = \"original\"")).await;
    let call = unique();
    for kind in ["assistant-request", "tool-calls"] {
        let body = format!(
            r#"{{"message":{{"type":"{kind}","call":{{"id":"call-{call}","type":"inboundPhoneCall"}},"customer":{{"number":"+14155550123"}}}}}}"#
        );
        let headers = signing::vapi(VAPI_SECRET, now(), body.as_bytes());
        // The same signed delivery twice: Vapi gets the receiver's own
        // answer both times, status, headers and body.
        for attempt in 1..=2 {
            let r = gw.post("/webhooks/vapi", &headers, body.as_bytes()).await;
            assert_eq!(r.status, 201, "{kind} {attempt}: {r:?}");
            assert_eq!(r.header("x-hookgate-duplicate"), None, "{kind} {attempt}");
            assert_eq!(r.header("x-receiver"), Some("yes"), "{kind} {attempt}");
            assert_eq!(r.body, br#"{"assistantId":"asst-from-the-receiver"}"#);
        }
    }
    assert_eq!(
        receiver.wait_for(4).await.len(),
        4,
        "each reached the receiver"
    );

    // A notification, by contrast, is answered from the cache the second time.
    receiver.answer(200, b"{\"ok\":true}");
    let (headers, body) = signing::signed("vapi", &unique());
    assert_eq!(gw.post("/webhooks/vapi", &headers, &body).await.status, 200);
    let again = gw.post("/webhooks/vapi", &headers, &body).await;
    assert_eq!(again.header("x-hookgate-duplicate"), Some("true"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(receiver.requests().len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn hookgate_send_vapi_signs_either_credential_the_gateway_accepts() {
    let receiver = Receiver::start().await;
    let token_route =
        "[[route]]\nname = \"vapi-token\"\npath = \"/webhooks/vapi-token\"\nprovider = \"vapi\"\n\
                       secrets = [\"${VAPI_TOKEN}\"]\ntimeout = \"5s\"\n";
    let gw = Gateway::start(
        &receiver.url(),
        "",
        &format!("{}{token_route}", all_routes("")),
    )
    .await;
    for (path, secret, options) in [
        (
            "/webhooks/vapi",
            VAPI_SECRET,
            vec!["--option", "credential=hmac"],
        ),
        ("/webhooks/vapi-token", VAPI_TOKEN, vec![]),
    ] {
        let to = format!("http://{}{path}", gw.addr);
        for event in ["end-of-call-report", "assistant-request"] {
            let mut args = vec!["send", "vapi", "--to", &to, "--event", event];
            args.extend(options.iter().copied());
            let (ok, out, err) = hookgate(&args, &[("HOOKGATE_SEND_SECRET", secret)]).await;
            assert!(ok && out.contains("HTTP 200"), "{path} {event}: {out}{err}");
        }
    }
    assert_eq!(receiver.wait_for(4).await.len(), 4);
}
