//! Hostile inputs, table-driven: each case's exact bytes, its expected
//! status, and at the end proof that none of them reached the receiver (not
//! even as a connection).

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::harness::*;
use crate::signing::{self, now, providers, signed, unique};

struct Case {
    name: String,
    bytes: Vec<u8>,
    /// `None`: the gateway may answer 400 or just close the connection.
    status: Option<u16>,
}

fn raw(method: &str, path: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    request_bytes(method, path, headers, body)
}

/// The signature-bearing headers of each scheme.
fn scheme_headers(provider: &str) -> &'static [&'static str] {
    match provider {
        "nixflex" => &["X-Nixflex-Signature"],
        "agntix" => &["svix-signature", "svix-timestamp", "svix-id"],
        "inboundflow" => &["X-InboundFlow-Signature", "X-InboundFlow-Timestamp"],
        "allo" => &["webhook-signature", "webhook-timestamp", "webhook-id"],
        "voxagent" => &["X-Voxagent-Signature"],
        "twilio" => &["X-Twilio-Signature", "X-Twilio-Webhooks-Signature-Settings"],
        "vapi" => &["x-signature", "x-timestamp"],
        "retell" => &["X-Retell-Signature"],
        "elevenlabs" => &["ElevenLabs-Signature"],
        "telnyx" => &["telnyx-signature-ed25519", "telnyx-timestamp"],
        "hmac" => &["X-Webhook-Signature"],
        "static" => &["Authorization"],
        other => panic!("no signature headers for {other}: add them here"),
    }
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |name: String, bytes: Vec<u8>, status: Option<u16>| {
        cases.push(Case {
            name,
            bytes,
            status,
        })
    };

    for &provider in providers() {
        let path = format!("/webhooks/{provider}");
        let (headers, body) = signed(provider, &unique());
        let sig_name = scheme_headers(provider)[0];
        let sig_value = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(sig_name))
            .unwrap()
            .1
            .clone();
        let replace = |name: &str, value: &str| -> Vec<(String, String)> {
            let mut h: Vec<_> = headers
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case(name))
                .cloned()
                .collect();
            h.push((name.to_owned(), value.to_owned()));
            h
        };
        let long = "a".repeat(8000);
        let truncated = &sig_value[..sig_value.len() / 2];
        for (label, value) in [
            ("empty", ""),
            ("spaces", "   "),
            ("truncated", truncated),
            ("absurdly long", long.as_str()),
            ("wrong prefix", "v0=abc,sha1=def"),
            ("non-hex, non-base64", "!!!@@@###"),
            ("only a prefix", "v1,"),
            ("commas", ",,,,"),
            ("equals", "t=,v1="),
            ("sha256 of nothing", "sha256="),
        ] {
            add(
                format!("{provider}: signature {label}"),
                raw("POST", &path, &replace(sig_name, value), &body),
                Some(401),
            );
        }
        // The same header twice, each value valid on its own.
        let mut twice = headers.clone();
        twice.push((sig_name.to_owned(), sig_value.clone()));
        add(
            format!("{provider}: signature header repeated"),
            raw("POST", &path, &twice, &body),
            Some(401),
        );

        if let Some(ts_name) = scheme_headers(provider)
            .get(1)
            .filter(|n| n.contains("imestamp"))
        {
            for (label, value) in [
                ("non-numeric", "soon"),
                ("negative", "-1700000000"),
                ("overflowing", "99999999999999999999999"),
                ("fractional", "1700000000.5"),
                ("far future", "99999999999"),
            ] {
                add(
                    format!("{provider}: timestamp {label}"),
                    raw("POST", &path, &replace(ts_name, value), &body),
                    Some(401),
                );
            }
        }
        if provider == "twilio" {
            // The settings header picks the key and algorithm: every shape of
            // it that names no configured key, or a key with the wrong
            // algorithm's length, is refused.
            let settings = scheme_headers(provider)[1];
            for (label, value) in [
                (
                    "unknown key",
                    "key=webhooks_sharedkey_nope,algorithm=HMAC_SHA256",
                ),
                (
                    "unknown algorithm",
                    "key=webhooks_sharedkey_test1,algorithm=HMAC_MD5",
                ),
                ("empty key", "key=,algorithm=HMAC_SHA256"),
                ("SHA-256 for a SHA-1 signature", "algorithm=HMAC_SHA256"),
                (
                    "the right key, the Auth Token's signature",
                    "key=webhooks_sharedkey_test1",
                ),
            ] {
                add(
                    format!("twilio: settings {label}"),
                    raw("POST", &path, &replace(settings, value), &body),
                    Some(401),
                );
            }
            // Twilio signs the URL: another query is refused, and so is a
            // body hash the body does not have.
            for target in [
                format!("{path}?x=1"),
                format!("{path}?bodySHA256={}", "0".repeat(64)),
            ] {
                add(
                    format!("twilio: target {target}"),
                    raw("POST", &target, &headers, &body),
                    Some(401),
                );
            }
        }
        if provider == "nixflex" {
            for (label, value) in [
                (
                    "non-numeric",
                    format!("t=soon,{}", sig_value.split_once(',').unwrap().1),
                ),
                (
                    "overflowing",
                    format!(
                        "t=99999999999999999999,{}",
                        sig_value.split_once(',').unwrap().1
                    ),
                ),
                (
                    "stale",
                    format!(
                        "t={},{}",
                        now() - 3600,
                        sig_value.split_once(',').unwrap().1
                    ),
                ),
            ] {
                add(
                    format!("nixflex: timestamp {label}"),
                    raw("POST", &path, &replace(sig_name, &value), &body),
                    Some(401),
                );
            }
        }

        // Bodies that verify but are not (acceptable) JSON, or for Twilio
        // not a readable form.
        let unreadable: Vec<(&str, Vec<u8>)> = match provider {
            "twilio" => vec![
                ("invalid UTF-8", b"CallSid=CA1&Body=\xff\xfe".to_vec()),
                (
                    "invalid UTF-8, escaped",
                    b"CallSid=CA1&Body=%ff%fe".to_vec(),
                ),
                ("an invalid escape", b"CallSid=CA1&Body=100%zz".to_vec()),
                ("a cut escape", b"CallSid=CA1&Body=%4".to_vec()),
            ],
            _ => vec![
                ("invalid UTF-8", b"{\"event\":\"\xff\xfe\"}".to_vec()),
                ("not JSON", b"event=call.ended&id=1".to_vec()),
                (
                    "deeply nested",
                    [vec![b'['; 100_000], vec![b']'; 100_000]].concat(),
                ),
                ("truncated JSON", b"{\"event\":\"call.ended\",".to_vec()),
            ],
        };
        for (label, bad) in unreadable {
            let h: Vec<(String, String)> = match provider {
                "agntix" => {
                    signing::agntix(AGNTIX_SECRET, &format!("msg_{}", unique()), now(), b"x")
                }
                "allo" => signing::allo(ALLO_SECRET, &format!("msg_{}", unique()), now(), b"x"),
                "twilio" => signing::twilio(TWILIO_SECRET, &signing::twilio_url(&path), &bad),
                other => signing::sign_as(other, signing::signing_secret(other), now(), &bad),
            };
            // The svix and standardwebhooks crates only sign UTF-8; for them
            // the body does not match what was signed, which is 401 as well.
            let expected = if matches!(provider, "agntix" | "allo") {
                401
            } else {
                400
            };
            add(
                format!("{provider}: body {label}"),
                raw("POST", &path, &h, &bad),
                Some(expected),
            );
        }

        for method in ["GET", "PUT", "DELETE", "PATCH"] {
            add(
                format!("{provider}: method {method}"),
                raw(method, &path, &headers, b""),
                Some(405),
            );
        }
    }

    // Request smuggling shapes and malformed framing, on a forged request.
    let (headers, body) = signed("nixflex", &unique());
    let forged: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            if k == "X-Nixflex-Signature" {
                (k.clone(), v.replace("v1=", "v1=0"))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    let head = |extra: &str| {
        let mut s = String::from("POST /webhooks/nixflex HTTP/1.1\r\nHost: gateway.test\r\n");
        for (k, v) in &forged {
            s.push_str(&format!("{k}: {v}\r\n"));
        }
        s.push_str(extra);
        s.push_str("\r\n");
        s.into_bytes()
    };
    let chunked_body = [
        format!("{:x}\r\n", body.len()).into_bytes(),
        body.clone(),
        b"\r\n0\r\n\r\n".to_vec(),
    ]
    .concat();
    let shapes: Vec<(&str, Vec<u8>, Option<u16>)> = vec![
        (
            "Content-Length with Transfer-Encoding",
            [
                head("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n"),
                chunked_body.clone(),
            ]
            .concat(),
            // Ambiguous framing is refused outright, before any routing.
            Some(400),
        ),
        (
            "two different Content-Lengths",
            [
                head(&format!(
                    "Content-Length: {}\r\nContent-Length: 5\r\n",
                    body.len()
                )),
                body.clone(),
            ]
            .concat(),
            Some(400),
        ),
        (
            "obfuscated Transfer-Encoding",
            [head("Transfer-Encoding: xchunked\r\n"), body.clone()].concat(),
            Some(400),
        ),
        (
            "Transfer-Encoding: chunked, identity",
            [
                head("Transfer-Encoding: chunked, identity\r\n"),
                body.clone(),
            ]
            .concat(),
            Some(400),
        ),
        (
            "negative Content-Length",
            [head("Content-Length: -5\r\n"), body.clone()].concat(),
            None,
        ),
        (
            "non-numeric Content-Length",
            [head("Content-Length: 12abc\r\n"), body.clone()].concat(),
            None,
        ),
        (
            "HTTP/1.0 with Transfer-Encoding",
            {
                let mut b = head("Transfer-Encoding: chunked\r\n");
                let i = b.windows(8).position(|w| w == b"HTTP/1.1").unwrap();
                b[i..i + 8].copy_from_slice(b"HTTP/1.0");
                [b, chunked_body.clone()].concat()
            },
            Some(400),
        ),
        (
            "absolute-form target to another host",
            {
                let mut b = head(&format!("Content-Length: {}\r\n", body.len()));
                let s = String::from_utf8(b.clone()).unwrap().replacen(
                    "POST /webhooks",
                    "POST http://evil.example/webhooks",
                    1,
                );
                b = s.into_bytes();
                [b, body.clone()].concat()
            },
            Some(400),
        ),
        (
            "300 headers",
            {
                let flood: String = (0..300).map(|i| format!("X-Flood-{i}: 1\r\n")).collect();
                [
                    head(&format!("{flood}Content-Length: {}\r\n", body.len())),
                    body.clone(),
                ]
                .concat()
            },
            Some(400),
        ),
        (
            "a 2 MB header",
            [
                head(&format!(
                    "X-Big: {}\r\nContent-Length: {}\r\n",
                    "b".repeat(2 << 20),
                    body.len()
                )),
                body.clone(),
            ]
            .concat(),
            None,
        ),
        (
            "not HTTP at all",
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\r\n\r\n".to_vec(),
            Some(400),
        ),
        (
            "NUL in a header",
            [head("X-Nul: a\0b\r\n"), body.clone()].concat(),
            None,
        ),
    ];
    for (name, bytes, status) in shapes {
        add(format!("framing: {name}"), bytes, status);
    }

    for path in [
        "/webhooks/x/../nixflex",
        "//webhooks/nixflex",
        "/webhooks/nixflex%2f",
        "/webhooks/%6eixflex",
        "/WEBHOOKS/nixflex",
        "/webhooks/nixflex;jsessionid=1",
        "/webhooks/nixflex/",
        "/webhooks/nixflex/../../admin",
        "/webhooks",
        "/",
    ] {
        add(
            format!("path {path}"),
            raw("POST", path, &headers, &body),
            Some(404),
        );
    }
    cases
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_inputs_are_refused_and_never_forwarded() {
    let (receiver, gw) = Gateway::with_receiver("request_timeout = \"2s\"", &all_routes("")).await;
    let cases = cases();
    assert!(cases.len() >= 100, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let mut conn = TcpStream::connect(gw.addr).await.unwrap();
        let _ = conn.write_all(&case.bytes).await;
        let answer = read_response(&mut conn).await;
        match (case.status, &answer) {
            (Some(want), Some(r)) if r.status == want => {}
            (None, None) => {}
            (None, Some(r)) if r.status == 400 || r.status == 413 => {}
            _ => failures.push(format!(
                "{}: expected {:?}, got {:?}",
                case.name,
                case.status,
                answer.map(|r| (r.status, r.error()))
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // Every answer is in: a forwarded request would have reached the
    // receiver (and been recorded) before its answer went out.
    assert_eq!(
        receiver.connections(),
        0,
        "a hostile request reached the receiver"
    );
    // The gateway survived all of it.
    let (headers, body) = signed("nixflex", &unique());
    assert_eq!(
        gw.post("/webhooks/nixflex", &headers, &body).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_body_is_cut_off_without_holding_the_gateway() {
    let (receiver, gw) = Gateway::with_receiver("request_timeout = \"1s\"", &all_routes("")).await;
    let (headers, body) = signed("nixflex", &unique());
    let mut slow = TcpStream::connect(gw.addr).await.unwrap();
    let mut h = headers.clone();
    h.push(("Content-Length".into(), body.len().to_string()));
    let bytes = request_bytes("POST", "/webhooks/nixflex", &h, &body);
    slow.write_all(&bytes[..bytes.len() - 10]).await.unwrap();
    // Meanwhile, others are served.
    let (h2, b2) = signed("nixflex", &unique());
    assert_eq!(gw.post("/webhooks/nixflex", &h2, &b2).await.status, 200);
    let r = read_response(&mut slow).await.expect("an answer");
    assert_eq!((r.status, r.error().as_str()), (408, "request_timeout"));
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn http10_and_pipelined_requests_are_served() {
    let (receiver, gw) = Gateway::with_receiver("", &all_routes("")).await;
    let (headers, body) = signed("nixflex", &unique());
    let mut bytes = request_bytes("POST", "/webhooks/nixflex", &headers, &body);
    let i = bytes.windows(8).position(|w| w == b"HTTP/1.1").unwrap();
    bytes[i..i + 8].copy_from_slice(b"HTTP/1.0");
    let mut conn = TcpStream::connect(gw.addr).await.unwrap();
    conn.write_all(&bytes).await.unwrap();
    assert_eq!(read_response(&mut conn).await.unwrap().status, 200);

    let (h1, b1) = signed("nixflex", &unique());
    let (h2, b2) = signed("allo", &unique());
    let both = [
        request_bytes("POST", "/webhooks/nixflex", &h1, &b1),
        request_bytes("POST", "/webhooks/allo", &h2, &b2),
    ]
    .concat();
    let mut conn = TcpStream::connect(gw.addr).await.unwrap();
    conn.write_all(&both).await.unwrap();
    let answers = read_responses(&mut conn, 2).await.expect("two answers");
    assert_eq!((answers[0].status, answers[1].status), (200, 200));
    assert_eq!(receiver.wait_for(3).await.len(), 3);
}
