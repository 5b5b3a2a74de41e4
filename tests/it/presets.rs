//! The voice presets against their official SDKs and their own window
//! rules, through the real gateway: requests the SDKs sign (or, where an
//! SDK only verifies, requests signed here that the SDK accepts) are
//! forwarded and tampered ones refused; what `hookgate send` signs verifies
//! with the SDK; each preset's rejections (wrong key, tampered byte, stale
//! and future timestamps as the provider rules them, malformed headers).

use std::process::Stdio;

use serde_json::{json, Value};

use crate::harness::*;
use crate::sdk::{headers, sdk};
use crate::signing::{self, now, signed, unique, Headers};

fn with(headers: &Headers, name: &str, value: &str) -> Headers {
    let mut h: Headers = headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case(name))
        .cloned()
        .collect();
    h.push((name.to_owned(), value.to_owned()));
    h
}

fn json_headers(mut h: Headers) -> Headers {
    h.push(("Content-Type".into(), "application/json".into()));
    h
}

fn tamper(body: &str) -> String {
    body.replacen("inbound", "outbound", 1)
}

/// `hookgate send <provider> --to <receiver>`: what the receiver got.
async fn hookgate_send(provider: &str, secret: &str, event: Option<&str>) -> Recorded {
    let receiver = Receiver::start().await;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookgate"));
    cmd.args([
        "send",
        provider,
        "--to",
        &format!("{}/hook", receiver.url()),
    ])
    .env("HOOKGATE_SEND_SECRET", secret)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    if let Some(e) = event {
        cmd.args(["--event", e]);
    }
    let out = tokio::time::timeout(STEP, cmd.output())
        .await
        .expect("hookgate send answers in time")
        .unwrap();
    assert!(
        out.status.success(),
        "hookgate send {provider}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1);
    got[0].clone()
}

fn header(r: &Recorded, name: &str) -> String {
    r.headers[name].to_str().unwrap().to_owned()
}

fn text(r: &Recorded) -> String {
    String::from_utf8(r.body.to_vec()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn retell_sdk_signs_deliveries_the_gateway_accepts_and_verifies_what_send_signs() {
    let (receiver, gw) = Gateway::with_receiver("", &all_routes("")).await;
    let body = format!(
        r#"{{"event":"call_ended","call":{{"call_id":"call_{}","direction":"inbound","from_number":"+12137771234","duration_ms":146400}}}}"#,
        unique()
    );
    let signed = sdk(
        "retell_sdk.py",
        &json!({"op": "sign", "key": RETELL_SECRET, "body": body, "timestamp_ms": now() * 1000}),
    )
    .await;
    let h = json_headers(headers(&signed));
    let r = gw.post("/webhooks/retell", &h, body.as_bytes()).await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = gw
        .post("/webhooks/retell", &h, tamper(&body).as_bytes())
        .await;
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_signature"));
    assert_eq!(receiver.requests().len(), 1);

    for event in ["call_ended", "call_analyzed", "transfer_bridged"] {
        let sent = hookgate_send("retell", RETELL_SECRET, Some(event)).await;
        let verdict = sdk(
            "retell_sdk.py",
            &json!({"op": "verify", "key": RETELL_SECRET, "body": text(&sent), "signature": header(&sent, "x-retell-signature")}),
        )
        .await;
        assert_eq!(verdict["ok"], true, "{event}: {verdict}");
        let verdict = sdk(
            "retell_sdk.py",
            &json!({"op": "verify", "key": "another-key", "body": text(&sent), "signature": header(&sent, "x-retell-signature")}),
        )
        .await;
        assert_eq!(verdict["ok"], false, "{event}: another key");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn elevenlabs_sdk_accepts_what_the_gateway_accepts_and_what_send_signs() {
    let (receiver, gw) = Gateway::with_receiver("", &all_routes("")).await;
    let (h, body) = signed("elevenlabs", &unique());
    let body = String::from_utf8(body).unwrap();
    let signature = h
        .iter()
        .find(|(k, _)| k == "ElevenLabs-Signature")
        .unwrap()
        .1
        .clone();
    // The test's own signer is what the SDK verifies...
    let verdict = sdk(
        "elevenlabs_sdk.py",
        &json!({"op": "verify", "secret": ELEVENLABS_SECRET, "body": body, "signature": signature}),
    )
    .await;
    assert_eq!(verdict["ok"], true, "{verdict}");
    assert_eq!(verdict["event"]["type"], "post_call_transcription");
    // ...and what the gateway forwards.
    let r = gw.post("/webhooks/elevenlabs", &h, body.as_bytes()).await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = gw
        .post(
            "/webhooks/elevenlabs",
            &h,
            body.replace("Booked", "Booker").as_bytes(),
        )
        .await;
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_signature"));
    assert_eq!(receiver.requests().len(), 1);

    for event in ["post_call_transcription", "call_initiation_failure"] {
        let sent = hookgate_send("elevenlabs", ELEVENLABS_SECRET, Some(event)).await;
        let verdict = sdk(
            "elevenlabs_sdk.py",
            &json!({"op": "verify", "secret": ELEVENLABS_SECRET, "body": text(&sent), "signature": header(&sent, "elevenlabs-signature")}),
        )
        .await;
        assert_eq!(verdict["ok"], true, "{event}: {verdict}");
        assert_eq!(verdict["event"]["type"], event);
        let verdict = sdk(
            "elevenlabs_sdk.py",
            &json!({"op": "verify", "secret": "another", "body": text(&sent), "signature": header(&sent, "elevenlabs-signature")}),
        )
        .await;
        assert_eq!(verdict["ok"], false);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn telnyx_sdk_verifies_keys_made_in_the_test_and_what_send_signs() {
    let pair = sdk("telnyx_sdk.py", &json!({"op": "keypair"})).await;
    let (seed, public) = (
        pair["seed"].as_str().unwrap().to_owned(),
        pair["public"].as_str().unwrap().to_owned(),
    );
    let receiver = Receiver::start().await;
    let route = format!(
        "[[route]]\nname = \"tx\"\npath = \"/tx\"\nprovider = \"telnyx\"\nsecrets = [\"{public}\"]\n"
    );
    let gw = Gateway::start(&receiver.url(), "", &route).await;
    let body = format!(
        r#"{{"data":{{"event_type":"message.received","id":"{}","payload":{{"id":"m1","direction":"inbound","text":"hi","from":{{"phone_number":"+13125550001"}},"to":[{{"phone_number":"+17735550002"}}]}}}}}}"#,
        unique()
    );
    let signed = sdk(
        "telnyx_sdk.py",
        &json!({"op": "sign", "seed": seed, "timestamp": now(), "body": body}),
    )
    .await;
    let verdict = sdk(
        "telnyx_sdk.py",
        &json!({"op": "verify", "public": public, "headers": signed["headers"], "body": body}),
    )
    .await;
    assert_eq!(verdict["ok"], true, "{verdict}");
    let h = json_headers(headers(&signed));
    let r = gw.post("/tx", &h, body.as_bytes()).await;
    assert_eq!(r.status, 200, "{r:?}");
    let doc: Value = serde_json::from_slice(&receiver.wait_for(1).await[0].body).unwrap();
    assert_eq!(doc["type"], "sms.received");
    let r = gw.post("/tx", &h, tamper(&body).as_bytes()).await;
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_signature"));
    assert_eq!(receiver.requests().len(), 1);

    for event in ["call.hangup", "message.received"] {
        let sent = hookgate_send("telnyx", &seed, Some(event)).await;
        let h = json!({
            "telnyx-signature-ed25519": header(&sent, "telnyx-signature-ed25519"),
            "telnyx-timestamp": header(&sent, "telnyx-timestamp"),
        });
        let verdict = sdk(
            "telnyx_sdk.py",
            &json!({"op": "verify", "public": public, "headers": h, "body": text(&sent)}),
        )
        .await;
        assert_eq!(verdict["ok"], true, "{event}: {verdict}");
        let verdict = sdk(
            "telnyx_sdk.py",
            &json!({"op": "verify", "public": TELNYX_PUBLIC_KEY, "headers": h, "body": text(&sent)}),
        )
        .await;
        assert_eq!(verdict["ok"], false, "another key");
    }
}

/// Every rejection of each preset, per its provider's rules; nothing
/// reaches the receiver.
#[tokio::test(flavor = "multi_thread")]
async fn each_preset_refuses_by_its_own_rules() {
    let (receiver, gw) = Gateway::with_receiver("", &all_routes("")).await;
    let mut refused = 0;
    let mut refuse = |r: Response_, code: &str, what: String| {
        assert_eq!((r.status, r.error().as_str()), (401, code), "{what}: {r:?}");
        refused += 1;
    };
    for provider in ["retell", "elevenlabs", "telnyx"] {
        let path = format!("/webhooks/{provider}");
        let (_, body) = signed(provider, &unique());
        let sign = |secret: &str, ts: i64| signing::sign_as(provider, secret, ts, &body);
        let key = signing::signing_secret(provider);

        let r = gw
            .post(&path, &sign(signing::wrong_secret(provider), now()), &body)
            .await;
        refuse(r, "invalid_signature", format!("{provider} wrong key"));
        let mut tampered = body.clone();
        let last = tampered.len() - 2;
        tampered[last] ^= 0x01;
        let r = gw.post(&path, &sign(key, now()), &tampered).await;
        refuse(r, "invalid_signature", format!("{provider} tampered byte"));

        let (stale, future): (&[i64], &[i64]) = match provider {
            "elevenlabs" => (&[-1801, -86_400], &[]),
            _ => (&[-301, -86_400], &[301, 86_400]),
        };
        for skew in stale.iter().chain(future) {
            let r = gw.post(&path, &sign(key, now() + skew), &body).await;
            refuse(
                r,
                "timestamp_out_of_tolerance",
                format!("{provider} skew {skew}"),
            );
        }
        let sig_header = match provider {
            "retell" => "X-Retell-Signature",
            "elevenlabs" => "ElevenLabs-Signature",
            _ => "telnyx-signature-ed25519",
        };
        let good = sign(key, now());
        let value = good
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(sig_header))
            .unwrap()
            .1
            .clone();
        let malformed: Vec<String> = match provider {
            // The SDKs' anchored format: upper-case hex, spaces, or the
            // parts swapped are not Retell's.
            "retell" => {
                let (v, d) = value.split_once(',').unwrap();
                vec![
                    format!("{d},{v}"),
                    format!("{v}, {d}"),
                    value.to_uppercase(),
                    format!("{v},{d},{d}"),
                    v.to_owned(),
                ]
            }
            "elevenlabs" => {
                let (t, v0) = value.split_once(',').unwrap();
                vec![
                    t.to_owned(),
                    v0.to_owned(),
                    format!("{t},{t},{v0}"),
                    format!("{t},v0=xyz"),
                ]
            }
            _ => vec![
                value[..value.len() - 4].to_owned(),
                format!("{value}AAAA"),
                "%%%".into(),
            ],
        };
        for bad in malformed {
            let r = gw.post(&path, &with(&good, sig_header, &bad), &body).await;
            refuse(r, "malformed_signature", format!("{provider} {bad:?}"));
        }
        if provider == "telnyx" {
            let r = gw
                .post(
                    &path,
                    &with(&good, "telnyx-timestamp", "1779000000.5"),
                    &body,
                )
                .await;
            refuse(
                r,
                "malformed_signature",
                "telnyx fractional timestamp".into(),
            );
        }
        let r = gw.post(&path, &[], &body).await;
        refuse(r, "missing_signature", format!("{provider} unsigned"));
    }
    assert_eq!(refused, 32);
    assert!(receiver.requests().is_empty());

    // The window rules that accept: ElevenLabs any future, Retell's
    // milliseconds at the edge.
    let (_, body) = signed("elevenlabs", &unique());
    let h = signing::elevenlabs(ELEVENLABS_SECRET, now() + 86_400 * 365, &body);
    assert_eq!(gw.post("/webhooks/elevenlabs", &h, &body).await.status, 200);
    let (_, body) = signed("retell", &unique());
    let h = signing::retell(RETELL_SECRET, now() * 1000 + 290_000, &body);
    assert_eq!(gw.post("/webhooks/retell", &h, &body).await.status, 200);
    assert_eq!(receiver.wait_for(2).await.len(), 2);
}

/// `hookgate check` warns about a static route and names a refused `hmac`
/// combination with its location.
#[tokio::test(flavor = "multi_thread")]
async fn check_warns_about_static_and_locates_hmac_errors() {
    let dir = tempfile::tempdir().unwrap();
    let base = "[server]\nlisten = \"127.0.0.1:1\"\n[upstream]\nurl = \"http://127.0.0.1:2\"\n";
    let run = |text: String| {
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_hookgate"))
            .args(["check", "--config"])
            .arg(&path)
            .envs(secret_env())
            .output()
            .unwrap()
    };
    let out = run(format!(
        "{base}[[route]]\nname = \"cb\"\npath = \"/cb\"\nprovider = \"static\"\nsecrets = [\"${{STATIC_TOKEN}}\"]\n{STATIC_OPTIONS}"
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("route[0] (cb)") && stderr.contains("no body integrity, no replay window"),
        "{stderr}"
    );
    let out = run(format!(
        "{base}[[route]]\nname = \"h\"\npath = \"/h\"\nprovider = \"hmac\"\nsecrets = [\"${{HMAC_SECRET}}\"]\nsignature_header = \"X-Sig\"\nsigned_content = \"{{timestamp}}\"\n"
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("route[0] (h).signed_content"), "{stderr}");
    assert!(stderr.contains("{body}"), "{stderr}");
}
