//! The gateway core, per provider: what is verified is forwarded once and
//! intact; what is not never reaches the receiver, not even as a connection.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::harness::*;
use crate::signing::{self, now, providers, signed, signed_at, unique, Headers};

fn without(headers: &Headers, name: &str) -> Headers {
    headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case(name))
        .cloned()
        .collect()
}

fn with(headers: &Headers, name: &str, value: &str) -> Headers {
    let mut h = without(headers, name);
    h.push((name.to_owned(), value.to_owned()));
    h
}

#[tokio::test(flavor = "multi_thread")]
async fn valid_deliveries_are_forwarded_once_intact_and_the_answer_relayed() {
    let receiver = Receiver::start().await;
    receiver.answer(201, b"{\"stored\":\"yes\"}");
    let gw = Gateway::start(&receiver.url(), "", &all_routes("forward = \"original\"")).await;
    for (i, provider) in providers().iter().enumerate() {
        let target = format!("/webhooks/{provider}?trace=1");
        let (mut headers, body) = signed_at(provider, &unique(), &target);
        // Forged hookgate and CloudEvents headers must not pass through as sent.
        headers.push(("X-Hookgate-Verified".into(), "false".into()));
        headers.push(("X-Hookgate-Provider".into(), "forged".into()));
        headers.push(("ce-type".into(), "forged.type".into()));
        let resp = gw.post(&target, &headers, &body).await;
        assert_eq!(resp.status, 201, "{provider}: {:?}\n{}", resp, gw.log());
        assert_eq!(resp.body, b"{\"stored\":\"yes\"}", "{provider}");
        assert_eq!(
            resp.header("x-receiver"),
            Some("yes"),
            "{provider}: upstream headers relayed"
        );

        let got = receiver.wait_for(i + 1).await;
        assert_eq!(got.len(), i + 1, "{provider}: forwarded exactly once");
        let r = &got[i];
        assert_eq!(r.body.as_ref(), body.as_slice(), "{provider}: body intact");
        // The query string reaches the receiver only where the route sets
        // `forward_query` (only Twilio signs it).
        assert_eq!(r.path, format!("/webhooks/{provider}"));
        let all = |name: &str| {
            r.headers
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(all("x-hookgate-verified"), vec!["true"], "{provider}");
        assert_eq!(
            all("x-hookgate-provider"),
            vec![provider.to_string()],
            "{provider}"
        );
        assert_eq!(all("x-hookgate-delivery-id").len(), 1, "{provider}");
        assert!(
            !all("ce-type").contains(&"forged.type".to_string()),
            "{provider}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rejections_never_reach_the_receiver() {
    let (receiver, gw) = Gateway::with_receiver("max_body_bytes = 65536", &all_routes("")).await;
    let mut checked = 0;
    let mut expect = |resp: Response_, status: u16, code: &str, what: &str| {
        assert_eq!(resp.status, status, "{what}: {resp:?}");
        assert_eq!(resp.error(), code, "{what}");
        assert!(resp.body.len() < 2048, "{what}");
        for secret in [
            NIXFLEX_SECRET,
            AGNTIX_SECRET,
            INBOUNDFLOW_SECRET,
            ALLO_SECRET,
            VOXAGENT_SECRET,
            TWILIO_SECRET,
            VAPI_SECRET,
            RETELL_SECRET,
            ELEVENLABS_SECRET,
            TELNYX_SEED,
            HMAC_SECRET,
            STATIC_TOKEN,
        ] {
            assert!(
                !String::from_utf8_lossy(&resp.body).contains(secret),
                "{what}: secret echoed"
            );
        }
        checked += 1;
    };

    let signature_header = |p: &str| match p {
        "nixflex" => "X-Nixflex-Signature",
        "agntix" => "svix-signature",
        "inboundflow" => "X-InboundFlow-Signature",
        "allo" => "webhook-signature",
        "voxagent" => "X-Voxagent-Signature",
        "twilio" => "X-Twilio-Signature",
        "vapi" => "x-signature",
        "retell" => "X-Retell-Signature",
        "elevenlabs" => "ElevenLabs-Signature",
        "telnyx" => "telnyx-signature-ed25519",
        "hmac" => "X-Webhook-Signature",
        "static" => "Authorization",
        other => panic!("no signature header for {other}: add one here"),
    };
    for &provider in providers() {
        let path = format!("/webhooks/{provider}");
        let (headers, body) = signed(provider, &unique());
        let sig = signature_header(provider);

        let r = gw.post(&path, &without(&headers, sig), &body).await;
        expect(r, 401, "missing_signature", &format!("{provider} missing"));

        let malformed = match provider {
            "nixflex" => "t=abc,v1=zz",
            "inboundflow" => "md5=abcdef",
            "voxagent" => "not-hex",
            "retell" => "v=1,d=zz",
            "elevenlabs" => "t=1",
            "telnyx" => "not base64!",
            "hmac" => "t=1,v1=!!",
            "static" => "Basic Zm9vOmJhcg==",
            _ => "v9,garbage",
        };
        let r = gw.post(&path, &with(&headers, sig, malformed), &body).await;
        expect(
            r,
            401,
            "malformed_signature",
            &format!("{provider} malformed"),
        );

        let mut tampered = body.clone();
        let at = tampered.len() / 2;
        tampered[at] = if tampered[at] == b'7' { b'8' } else { b'7' };
        // A static token covers no byte of the body (its route is warned
        // about): a tampered body would be forwarded.
        if provider != "static" {
            let r = gw.post(&path, &headers, &tampered).await;
            expect(r, 401, "invalid_signature", &format!("{provider} tampered"));
        }

        let wrong: Headers = match provider {
            "agntix" => {
                signing::agntix("whsec_d3Jvbmcta2V5LXdyb25nLWtleQ==", "msg_w", now(), &body)
            }
            "allo" => signing::allo("whsec_d3Jvbmcta2V5LXdyb25nLWtleQ==", "msg_w", now(), &body),
            "twilio" => signing::twilio("wrong-secret", &signing::twilio_url(&path), &body),
            "vapi" => signing::vapi("wrong-secret", now(), &body),
            other => signing::sign_as(other, signing::wrong_secret(other), now(), &body),
        };
        let r = gw.post(&path, &wrong, &body).await;
        expect(
            r,
            401,
            "invalid_signature",
            &format!("{provider} wrong secret"),
        );

        // Each window as its provider has it: ElevenLabs refuses only the
        // past beyond 30 minutes; Voxagent, Twilio and static sign no time.
        let skews: &[i64] = match provider {
            "voxagent" | "twilio" | "static" => &[],
            "elevenlabs" => &[-1801],
            _ => &[-301, 301],
        };
        for &skew in skews {
            let ts = now() + skew;
            let stale: Headers = match provider {
                "agntix" => signing::agntix(AGNTIX_SECRET, "msg_s", ts, &body),
                "allo" => signing::allo(ALLO_SECRET, "msg_s", ts, &body),
                "vapi" => signing::vapi(VAPI_SECRET, ts, &body),
                other => signing::sign_as(other, signing::signing_secret(other), ts, &body),
            };
            let r = gw.post(&path, &stale, &body).await;
            expect(
                r,
                401,
                "timestamp_out_of_tolerance",
                &format!("{provider} skew {skew}"),
            );
        }

        // Verified, but not JSON (for Twilio: not a readable form, as its
        // escape is invalid).
        let text = match provider {
            "twilio" => b"CallSid=CA1&Note=100%zz".to_vec(),
            _ => b"call ended, see you".to_vec(),
        };
        let h: Headers = match provider {
            "agntix" => signing::agntix(AGNTIX_SECRET, &format!("msg_{}", unique()), now(), &text),
            "allo" => signing::allo(ALLO_SECRET, &format!("msg_{}", unique()), now(), &text),
            "twilio" => signing::twilio(TWILIO_SECRET, &signing::twilio_url(&path), &text),
            "vapi" => signing::vapi(VAPI_SECRET, now(), &text),
            other => signing::sign_as(other, signing::signing_secret(other), now(), &text),
        };
        let r = gw.post(&path, &h, &text).await;
        expect(r, 400, "invalid_json", &format!("{provider} not json"));

        // Over the limit, declared: the answer names the limit.
        let big = vec![b'x'; 70_000];
        let r = gw.post(&path, &headers, &big).await;
        assert!(
            String::from_utf8_lossy(&r.body).contains("65536 bytes"),
            "{provider}: {}",
            String::from_utf8_lossy(&r.body)
        );
        expect(
            r,
            413,
            "body_too_large",
            &format!("{provider} declared too large"),
        );
    }

    // Over the limit, streamed (chunked, no length declared).
    let (headers, _) = signed("nixflex", &unique());
    let mut chunked = with(&headers, "Transfer-Encoding", "chunked");
    chunked.retain(|(k, _)| !k.eq_ignore_ascii_case("content-length"));
    let mut body = Vec::new();
    for _ in 0..20 {
        body.extend_from_slice(format!("{:x}\r\n", 8192).as_bytes());
        body.extend_from_slice(&[b'y'; 8192]);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let r = send_request(gw.addr, "POST", "/webhooks/nixflex", &chunked, &body).await;
    expect(r, 413, "body_too_large", "streamed too large");

    let r = gw.post("/webhooks/unknown", &headers, b"{}").await;
    expect(r, 404, "no_route", "unknown path");
    let r = gw.post("/webhooks/nixflex/", &headers, b"{}").await;
    expect(r, 404, "no_route", "trailing slash is another path");
    let r = gw.post("/webhooks/%6eixflex", &headers, b"{}").await;
    expect(r, 404, "no_route", "encoded path");
    let r = send_request(gw.addr, "GET", "/webhooks/nixflex", &[], b"").await;
    assert_eq!(r.header("allow"), Some("POST"));
    expect(r, 405, "method_not_allowed", "GET");

    assert!(checked >= 40, "{checked}");
    // Every answer is in: a forwarded request would have reached the
    // receiver (and been recorded) before its answer went out.
    assert_eq!(
        receiver.connections(),
        0,
        "a rejected request reached the receiver"
    );
    assert!(receiver.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_several_signatures_and_secret_forms() {
    let receiver = Receiver::start().await;
    let bare_allo = ALLO_SECRET.strip_prefix("whsec_").unwrap();
    let routes = format!(
        "[[route]]\nname = \"nx\"\npath = \"/nx\"\nprovider = \"nixflex\"\nsecrets = [\"old-secret\", \"${{NIXFLEX_SECRET}}\"]\nforward = \"original\"\n\
         [[route]]\nname = \"ag\"\npath = \"/ag\"\nprovider = \"agntix\"\nsecrets = [\"${{AGNTIX_SECRET}}\"]\nforward = \"original\"\n\
         [[route]]\nname = \"al\"\npath = \"/al\"\nprovider = \"allo\"\nsecrets = [\"whsec_b2xkLWtleQ==\", \"{bare_allo}\"]\nforward = \"original\"\n"
    );
    let gw = Gateway::start(&receiver.url(), "", &routes).await;

    // Nixflex: the second configured secret signs; several v1= in the header.
    let (headers, body) = signed("nixflex", &unique());
    let sig = headers[0].1.clone();
    let (t, v1) = sig.split_once(',').unwrap();
    let several = format!("{t},v1={},{v1}", "0".repeat(64));
    let r = gw
        .post(
            "/nx",
            &with(&headers, "X-Nixflex-Signature", &several),
            &body,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");

    // Agntix: several space-separated signatures, one valid.
    let (headers, body) = signed("agntix", &unique());
    let valid = headers
        .iter()
        .find(|(k, _)| k == "svix-signature")
        .unwrap()
        .1
        .clone();
    let r = gw
        .post(
            "/ag",
            &with(
                &headers,
                "svix-signature",
                &format!("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= {valid}"),
            ),
            &body,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");

    // Allo: the key configured without its whsec_ prefix, second in the list.
    let (headers, body) = signed("allo", &unique());
    let r = gw.post("/al", &headers, &body).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(receiver.wait_for(3).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn inboundflow_pretty_json_and_voxagent_header_variants() {
    let receiver = Receiver::start().await;
    let routes = "[[route]]\nname = \"ib\"\npath = \"/ib\"\nprovider = \"inboundflow\"\nsecrets = [\"${INBOUNDFLOW_SECRET}\"]\nforward = \"original\"\n\
                  [[route]]\nname = \"vx\"\npath = \"/vx\"\nprovider = \"voxagent\"\nsecrets = [\"${VOXAGENT_SECRET}\"]\nsignature_header = \"X-Vox-Sig\"\nforward = \"original\"\ntimeout = \"2s\"\n";
    let gw = Gateway::start(&receiver.url(), "", routes).await;

    let id = unique();
    let compact = format!(
        r#"{{"event":"lead.created","delivery_id":"d-{id}","data":{{"call_id":"c1","interest":"a  b"}}}}"#
    );
    let pretty = format!("{{\n  \"event\": \"lead.created\",\n  \"delivery_id\": \"d-{id}\",\n  \"data\": {{\n    \"call_id\": \"c1\",\n    \"interest\": \"a  b\"\n  }}\n}}\n");
    let headers = signing::inboundflow(INBOUNDFLOW_SECRET, now(), compact.as_bytes());
    let r = gw.post("/ib", &headers, pretty.as_bytes()).await;
    assert_eq!(r.status, 200, "{r:?}");
    let got = receiver.wait_for(1).await;
    assert_eq!(
        got[0].body.as_ref(),
        pretty.as_bytes(),
        "the sender's bytes are forwarded as sent"
    );

    let body = format!(
        r#"{{"event":"SessionStarted","data":{{"session_id":"s-{}"}}}}"#,
        unique()
    )
    .into_bytes();
    let hex = signing::voxagent(VOXAGENT_SECRET, "X-Vox-Sig", &body)[0]
        .1
        .clone();
    for i in 0..3 {
        let body = format!(
            r#"{{"event":"SessionStarted","data":{{"session_id":"v{i}-{}"}}}}"#,
            unique()
        )
        .into_bytes();
        let hex = signing::voxagent(VOXAGENT_SECRET, "X-Vox-Sig", &body)[0]
            .1
            .clone();
        let value = match i {
            0 => hex,
            1 => format!("sha256={hex}"),
            _ => hex.to_uppercase(),
        };
        let r = gw.post("/vx", &[("X-Vox-Sig".into(), value)], &body).await;
        assert_eq!(r.status, 200, "variant {i}: {r:?}");
    }
    // The default header name is not the configured one.
    let r = gw
        .post("/vx", &[("X-Voxagent-Signature".into(), hex)], &body)
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(receiver.wait_for(4).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn large_signed_bodies_are_forwarded_intact() {
    let (receiver, gw) = Gateway::with_receiver(
        "max_body_bytes = 8388608",
        "[[route]]\nname = \"nixflex\"\npath = \"/webhooks/nixflex\"\nprovider = \"nixflex\"\nsecrets = [\"${NIXFLEX_SECRET}\"]\nforward = \"original\"\n",
    )
    .await;
    for (i, size) in [512 * 1024, 4 * 1024 * 1024].into_iter().enumerate() {
        let pad = "t".repeat(size);
        let body = format!(
            r#"{{"event":"call.ended","call_id":"BIG{}","transcript":"{pad}"}}"#,
            unique()
        )
        .into_bytes();
        let headers = signing::nixflex(NIXFLEX_SECRET, now(), &body);
        let r = gw.post("/webhooks/nixflex", &headers, &body).await;
        assert_eq!(r.status, 200, "{size}: {r:?}");
        let got = receiver.wait_for(i + 1).await;
        assert_eq!(got[i].body.len(), body.len());
        assert!(
            got[i].body.as_ref() == body.as_slice(),
            "{size} bytes changed in transit"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_down_is_502_and_slow_is_504() {
    let gw = Gateway::start(&dead_url(), "", &all_routes("")).await;
    for &provider in providers() {
        let (headers, body) = signed(provider, &unique());
        let r = gw
            .post(&format!("/webhooks/{provider}"), &headers, &body)
            .await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (502, "upstream_unreachable"),
            "{provider}"
        );
    }

    let receiver = Receiver::start().await;
    receiver.delay(Duration::from_secs(3));
    let gw = Gateway::start(&receiver.url(), "", &all_routes("timeout = \"500ms\"")).await;
    for &provider in providers() {
        let (headers, body) = signed(provider, &unique());
        // The receiver would answer 200 after 3 s: a 504 is the deadline.
        let r = gw
            .post(&format!("/webhooks/{provider}"), &headers, &body)
            .await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (504, "upstream_timeout"),
            "{provider}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn expect_continue_keep_alive_and_upstream_path() {
    let receiver = Receiver::start().await;
    let gw = Gateway::start(
        &format!("{}/base", receiver.url()),
        "",
        "[[route]]\nname = \"nixflex\"\npath = \"/webhooks/nixflex\"\nprovider = \"nixflex\"\nsecrets = [\"${NIXFLEX_SECRET}\"]\nforward = \"original\"\nupstream_path = \"/calls\"\nforward_query = true\n",
    )
    .await;

    // Expect: 100-continue: the header first, the body only after 100.
    let (mut headers, body) = signed("nixflex", &unique());
    headers.push(("Expect".into(), "100-continue".into()));
    headers.push(("Content-Length".into(), body.len().to_string()));
    let mut conn = TcpStream::connect(gw.addr).await.unwrap();
    let bytes = request_bytes("POST", "/webhooks/nixflex?x=1", &headers, b"");
    conn.write_all(&bytes).await.unwrap();
    let interim = read_response(&mut conn).await.unwrap();
    assert_eq!(interim.status, 100);
    conn.write_all(&body).await.unwrap();
    let r = read_response(&mut conn).await.unwrap();
    assert_eq!(r.status, 200, "{r:?}");

    // A second request on the same connection.
    let (headers, body) = signed("nixflex", &unique());
    conn.write_all(&request_bytes("POST", "/webhooks/nixflex", &headers, &body))
        .await
        .unwrap();
    let r = read_response(&mut conn).await.unwrap();
    assert_eq!(r.status, 200, "{r:?}");

    let got = receiver.wait_for(2).await;
    assert_eq!(got[0].path, "/base/calls?x=1");
    assert_eq!(got[1].path, "/base/calls");
    assert!(got[0].headers.get("expect").is_none());
    // Upstream connections are pooled.
    assert_eq!(receiver.connections(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn nixflex_delivery_id_header_with_underscores_is_reported_as_unverified() {
    let (receiver, gw) = Gateway::with_receiver("", &all_routes("forward = \"original\"")).await;
    let unique = unique();
    let (mut headers, body) = signed("nixflex", &unique);
    headers.push(("webhook_delivery_id".into(), "dlv_underscored_1".into()));
    let r = gw.post("/webhooks/nixflex", &headers, &body).await;
    assert_eq!(r.status, 200);
    let got = receiver.wait_for(1).await;
    // The id is the signed identity; the unsigned header travels only as the
    // unverified provider delivery id.
    let signed_id = format!("call.ended:CA{unique}");
    assert_eq!(got[0].headers["x-hookgate-delivery-id"], signed_id.as_str());
    assert_eq!(got[0].headers["ce-id"], signed_id.as_str());
    assert_eq!(
        got[0].headers["x-hookgate-provider-delivery-id"],
        "dlv_underscored_1"
    );
    assert_eq!(got[0].headers["ce-providerdeliveryid"], "dlv_underscored_1");
}

#[test]
fn check_validates_and_names_missing_variables_without_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    // Shorter than every provider's deadline (Vapi's is 7.5 s).
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:1\"\n[upstream]\nurl = \"http://127.0.0.1:2\"\ntimeout = \"5s\"\n{}",
        all_routes("")
    );
    std::fs::write(&path, &config).unwrap();
    let run = |env: &[(&str, &str)]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_hookgate"))
            .args(["check", "--config"])
            .arg(&path)
            .env_clear()
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    let all: Vec<(&str, &str)> = secret_env().into_iter().collect();
    let ok = run(&all);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let partial: Vec<(&str, &str)> = all
        .iter()
        .copied()
        .filter(|(k, _)| *k != "ALLO_SECRET")
        .collect();
    let bad = run(&partial);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("ALLO_SECRET is not set"), "{stderr}");
    assert!(stderr.contains("route[3] (allo).secrets[0]"), "{stderr}");
    for (_, value) in &partial {
        assert!(
            !stderr.contains(value),
            "a secret value was printed: {stderr}"
        );
    }
}

/// A receiver scripted per request: it reads one request whole, counts it,
/// and takes the next step of the script: `Some(bytes)` writes them and
/// resets the connection (RST, not FIN); `None`, or an exhausted script,
/// answers 200 and keeps the connection.
async fn resetting_receiver(
    script: Vec<Option<&'static [u8]>>,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::{Arc, Mutex};
    use tokio::io::AsyncReadExt;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let script = Arc::new(Mutex::new(std::collections::VecDeque::from(script)));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let (seen, script) = (counter.clone(), script.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    // One request: the header, then Content-Length bytes.
                    let mut chunk = [0u8; 8192];
                    let complete = loop {
                        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                            let length: usize = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse().ok())
                                .unwrap_or(0);
                            if buf.len() >= end + 4 + length {
                                buf.drain(..end + 4 + length);
                                break true;
                            }
                        }
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => break false,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    if !complete {
                        return;
                    }
                    seen.fetch_add(1, SeqCst);
                    let step = script.lock().unwrap().pop_front().flatten();
                    match step {
                        Some(bytes) => {
                            let _ = conn.write_all(bytes).await;
                            let _ = conn.set_zero_linger();
                            return; // dropped with linger 0: RST
                        }
                        None => {
                            let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                            if conn.write_all(ok).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    (url, seen)
}

/// Reads what the gateway sends until it closes or `STEP` passes.
async fn read_to_close(conn: &mut TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(STEP, conn.read_to_end(&mut out)).await;
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_resetting_mid_response_loses_nothing() {
    use std::sync::atomic::Ordering::SeqCst;

    // On a fresh upstream connection, a reset before the status line or
    // inside the header means nothing was answered: 502, and the delivery
    // stays retryable. A reset inside the body of a 500 relays the 500.
    for (script, expected) in [
        (&b""[..], (502, "upstream_unreachable")),
        (
            b"HTTP/1.1 200 OK\r\nContent-Len",
            (502, "upstream_unreachable"),
        ),
        (
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 100\r\n\r\n{\"par",
            (500, ""),
        ),
    ] {
        let (url, seen) = resetting_receiver(vec![Some(script)]).await;
        let gw = Gateway::start(&url, "", &all_routes("")).await;
        let (headers, body) = signed("nixflex", &unique());
        let first = gw.post("/webhooks/nixflex", &headers, &body).await;
        let context = String::from_utf8_lossy(script);
        assert_eq!(
            (first.status, first.error().as_str()),
            expected,
            "{context}"
        );
        // The provider's retry is forwarded, not taken for a duplicate.
        let retry = gw.post("/webhooks/nixflex", &headers, &body).await;
        assert_eq!(retry.status, 200, "{context}: {retry:?}");
        assert!(retry.header("x-hookgate-duplicate").is_none(), "{context}");
        assert_eq!(seen.load(SeqCst), 2, "{context}");
    }

    // On a pooled connection the same reset cannot be told from the
    // receiver closing it while idle, so the request is sent once more on a
    // fresh connection: the receiver sees it twice, having answered it
    // once (a delivery whose answer was lost, as at-least-once allows).
    let (url, seen) = resetting_receiver(vec![None, Some(b"")]).await;
    let gw = Gateway::start(&url, "", &all_routes("")).await;
    let (headers, body) = signed("nixflex", &unique());
    assert_eq!(
        gw.post("/webhooks/nixflex", &headers, &body).await.status,
        200
    );
    // The gateway pools the connection after answering: give it the time.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (headers, body) = signed("nixflex", &unique());
    let r = gw.post("/webhooks/nixflex", &headers, &body).await;
    match r.status {
        // The pooled connection met the reset; retried on a fresh one.
        200 => {}
        // Not pooled yet after all: a fresh connection met the reset, as
        // above, and the provider's retry goes through.
        502 => assert_eq!(
            gw.post("/webhooks/nixflex", &headers, &body).await.status,
            200
        ),
        other => panic!("{other}: {r:?}"),
    }
    assert_eq!(seen.load(SeqCst), 3);

    // A 2xx status line, then a reset mid-body: the receiver accepted the
    // event, so it counts as delivered; the client sees the status and a
    // cut-off body, then a closed connection; the retry is a duplicate.
    let (url, seen) = resetting_receiver(vec![Some(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"stored\"",
    )])
    .await;
    let gw = Gateway::start(&url, "", &all_routes("")).await;
    let (mut headers, body) = signed("nixflex", &unique());
    headers.push(("Content-Length".into(), body.len().to_string()));
    let mut conn = TcpStream::connect(gw.addr).await.unwrap();
    conn.write_all(&request_bytes("POST", "/webhooks/nixflex", &headers, &body))
        .await
        .unwrap();
    let answer = read_to_close(&mut conn).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    let retry = gw.post("/webhooks/nixflex", &headers, &body).await;
    assert_eq!(
        (retry.status, retry.header("x-hookgate-duplicate")),
        (200, Some("true"))
    );
    assert_eq!(seen.load(SeqCst), 1);
    // The gateway goes on serving, and never panicked.
    let (headers, body) = signed("agntix", &unique());
    assert_eq!(
        gw.post("/webhooks/agntix", &headers, &body).await.status,
        200
    );
    assert!(!gw.log().contains("panicked"), "{}", gw.log());
}
