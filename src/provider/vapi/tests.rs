//! Vapi: both credentials, the HMAC credential's settings, identity and
//! the mapping of each fixture. The HMAC is signed here with code written
//! from Vapi's documented format (no official SDK verifies it).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac as HmacImpl, Mac};
use serde_json::json;

use super::*;
use crate::provider::test_support::*;

const TOKEN: &str = "vapi-server-token-8c2f";
const SECRET: &str = "vapi-hmac-secret-41d9";
const BODY: &[u8] =
    br#"{"message":{"type":"end-of-call-report","call":{"id":"call-1"},"endedReason":"hangup"}}"#;

fn token_route(secrets: &[&str]) -> Box<dyn RouteScheme> {
    scheme(&PROVIDER, secrets, "")
}

fn hmac_route(options: &str) -> Box<dyn RouteScheme> {
    scheme(
        &PROVIDER,
        &[SECRET],
        &format!("credential = \"hmac\"\n{options}"),
    )
}

fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key).unwrap();
    m.update(message);
    m.finalize().into_bytes().to_vec()
}

fn sha256_hex(key: &str, message: &[u8]) -> String {
    hex::encode(mac::<HmacImpl<sha2::Sha256>>(key.as_bytes(), message))
}

/// The default HMAC credential's headers: hex HMAC-SHA256 of `<t>.<body>`.
fn default_headers(t: &str, body: &[u8]) -> Fields {
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(body);
    Fields::new(&[
        ("x-signature", &sha256_hex(SECRET, &message)),
        ("x-timestamp", t),
    ])
}

#[test]
fn the_token_is_accepted_in_either_header_and_compared_whole() {
    let s = token_route(&["old-token", TOKEN]);
    for (name, value) in [
        ("X-Vapi-Secret", TOKEN.to_owned()),
        ("Authorization", format!("Bearer {TOKEN}")),
        ("authorization", format!("bearer  {TOKEN} ")),
    ] {
        assert_eq!(
            check(&*s, &Fields::new(&[(name, &value)]), BODY, now()),
            Ok(()),
            "{name}: {value}"
        );
    }
    for wrong in [
        "vapi-server-token-8c2",
        "vapi-server-token-8c2f0",
        "x",
        "VAPI-SERVER-TOKEN-8C2F",
    ] {
        assert_eq!(
            check(&*s, &Fields::new(&[("X-Vapi-Secret", wrong)]), BODY, now()),
            Err(Reject::InvalidSignature),
            "{wrong}"
        );
    }
    // X-Vapi-Secret is the one read when both are present.
    let both = Fields::new(&[
        ("X-Vapi-Secret", "wrong"),
        ("Authorization", &format!("Bearer {TOKEN}")),
    ]);
    assert_eq!(
        check(&*s, &both, BODY, now()),
        Err(Reject::InvalidSignature)
    );
}

#[test]
fn a_token_covers_neither_the_body_nor_the_time_and_the_route_says_so() {
    let s = token_route(&[TOKEN]);
    let f = Fields::new(&[("X-Vapi-Secret", TOKEN)]);
    assert_eq!(check(&*s, &f, b"{\"anything\":1}", now()), Ok(()));
    let years_later = now() + Duration::from_secs(3 * 365 * 86_400);
    assert_eq!(check(&*s, &f, BODY, years_later), Ok(()));
    let warnings = s.warnings();
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].contains("neither the body nor against replay")
            && warnings[0].contains("credential = \"hmac\""),
        "{warnings:?}"
    );
    assert!(hmac_route("").warnings().is_empty());
    let untimed = hmac_route("payload_format = \"{body}\"").warnings();
    assert!(untimed[0].contains("no replay window"), "{untimed:?}");
}

#[test]
fn token_headers_missing_or_malformed() {
    let s = token_route(&[TOKEN]);
    assert_eq!(
        check(&*s, &Fields::default(), BODY, now()),
        Err(Reject::MissingSignature {
            header: TOKEN_LABEL
        })
    );
    let bad = ["Basic dXNlcjpwdw==", "Bearer", "Bearer   ", TOKEN];
    refused_as_malformed(AUTHORIZATION_LABEL, bad, |bad| {
        check(&*s, &Fields::new(&[("Authorization", bad)]), BODY, now())
    });
    let twice = Fields::new(&[("X-Vapi-Secret", TOKEN), ("x-vapi-secret", TOKEN)]);
    assert_eq!(
        check(&*s, &twice, BODY, now()),
        Err(Reject::MalformedSignature {
            header: TOKEN_LABEL
        })
    );
}

#[test]
fn the_default_hmac_credential_verifies_seconds_and_milliseconds() {
    let s = hmac_route("");
    let secs = unix(now());
    for t in [secs.to_string(), (secs * 1000 + 123).to_string()] {
        assert_eq!(
            check(&*s, &default_headers(&t, BODY), BODY, now()),
            Ok(()),
            "{t}"
        );
    }
    let t = secs.to_string();
    let tampered = String::from_utf8(BODY.to_vec())
        .unwrap()
        .replace("hangup", "hangUp");
    assert_eq!(
        check(&*s, &default_headers(&t, BODY), tampered.as_bytes(), now()),
        Err(Reject::InvalidSignature)
    );
    // The timestamp is signed: a fresh one on a replayed signature fails.
    let mut replay = default_headers(&t, BODY);
    replay.set("x-timestamp", &(secs + 1).to_string());
    assert_eq!(
        check(&*s, &replay, BODY, now()),
        Err(Reject::InvalidSignature)
    );
    let other = scheme(&PROVIDER, &["another-secret"], "credential = \"hmac\"");
    assert_eq!(
        check(&*other, &default_headers(&t, BODY), BODY, now()),
        Err(Reject::InvalidSignature)
    );
}

#[test]
fn stale_and_future_timestamps_are_refused_in_either_unit() {
    let s = hmac_route("");
    let secs = unix(now());
    for t in [
        (secs - 301).to_string(),
        (secs + 301).to_string(),
        ((secs - 301) * 1000).to_string(),
        ((secs + 301) * 1000).to_string(),
    ] {
        assert_eq!(
            check(&*s, &default_headers(&t, BODY), BODY, now()),
            Err(Reject::TimestampOutOfTolerance),
            "{t}"
        );
    }
}

#[test]
fn every_documented_hmac_setting() {
    // SHA-512, base64, a prefix, other header names.
    let s = hmac_route(
        "algorithm = \"sha512\"\nsignature_encoding = \"base64\"\nsignature_prefix = \"sha512=\"\n\
         signature_header = \"X-Vapi-Signature\"\ntimestamp_header = \"X-Vapi-Timestamp\"",
    );
    let t = unix(now()).to_string();
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(BODY);
    let sig = BASE64.encode(mac::<HmacImpl<sha2::Sha512>>(SECRET.as_bytes(), &message));
    let f = Fields::new(&[
        ("X-Vapi-Signature", &format!("sha512={sig}")),
        ("X-Vapi-Timestamp", &t),
    ]);
    assert_eq!(check(&*s, &f, BODY, now()), Ok(()));
    let unprefixed = Fields::new(&[("X-Vapi-Signature", &sig), ("X-Vapi-Timestamp", &t)]);
    assert_eq!(
        check(&*s, &unprefixed, BODY, now()),
        Err(Reject::MalformedSignature {
            header: "x-vapi-signature"
        })
    );

    // SHA-1 with a base64 secret and a template of every placeholder.
    let key = b"\x00\x01raw key bytes\xff";
    let s = scheme(
        &PROVIDER,
        &[&BASE64.encode(key)],
        "credential = \"hmac\"\nalgorithm = \"sha1\"\nsecret_encoding = \"base64\"\n\
         payload_format = \"{method}\\n{svix-id}\\n{timestamp}\\n{body}\"\nmessage_id_header = \"x-message-id\"",
    );
    let message = [b"POST\nmsg_42\n", t.as_bytes(), b"\n", BODY].concat();
    let sig = hex::encode(mac::<HmacImpl<sha1::Sha1>>(key, &message));
    let f = Fields::new(&[
        ("x-signature", &sig),
        ("x-timestamp", &t),
        ("x-message-id", "msg_42"),
    ]);
    assert_eq!(check(&*s, &f, BODY, now()), Ok(()));
    let mut other_id = f.clone();
    other_id.set("x-message-id", "msg_43");
    assert_eq!(
        check(&*s, &other_id, BODY, now()),
        Err(Reject::InvalidSignature)
    );

    // Without {timestamp}: no timestamp header is needed, none is checked.
    let s = hmac_route("payload_format = \"{body}\"");
    let f = Fields::new(&[("x-signature", &sha256_hex(SECRET, BODY))]);
    assert_eq!(check(&*s, &f, BODY, now()), Ok(()));
}

#[test]
fn hmac_headers_missing_or_malformed() {
    let s = hmac_route("");
    let t = unix(now()).to_string();
    let good = default_headers(&t, BODY);
    let mut no_sig = good.clone();
    no_sig.remove("x-signature");
    assert_eq!(
        check(&*s, &no_sig, BODY, now()),
        Err(Reject::MissingSignature {
            header: "x-signature"
        })
    );
    let mut no_ts = good.clone();
    no_ts.remove("x-timestamp");
    assert_eq!(
        check(&*s, &no_ts, BODY, now()),
        Err(Reject::MissingSignature {
            header: "x-timestamp"
        })
    );
    for bad in ["zz", "ab", &"ab".repeat(33), &BASE64.encode([0u8; 32])] {
        let mut f = good.clone();
        f.set("x-signature", bad);
        assert_eq!(
            check(&*s, &f, BODY, now()),
            Err(Reject::MalformedSignature {
                header: "x-signature"
            }),
            "{bad}"
        );
    }
    for bad in ["soon", "-1", "1.5", "12345678901234567", ""] {
        let mut f = good.clone();
        f.set("x-timestamp", bad);
        let got = check(&*s, &f, BODY, now());
        assert!(
            matches!(
                got,
                Err(Reject::MalformedSignature {
                    header: "x-timestamp"
                })
            ),
            "{bad}: {got:?}"
        );
    }
}

#[test]
fn configuration_errors_name_the_key() {
    let keys = |secrets: &[&str], options: &str| -> Vec<String> {
        let mut keys: Vec<String> = try_scheme(&PROVIDER, secrets, options)
            .err()
            .unwrap_or_else(|| panic!("{options} should not configure"))
            .into_iter()
            .map(|e| e.key)
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(
        keys(
            &[TOKEN],
            "algorithm = \"sha256\"\nsignature_header = \"x-sig\""
        ),
        ["algorithm", "signature_header"],
        "HMAC settings on a token credential"
    );
    assert_eq!(keys(&[TOKEN], "credential = \"jwt\""), ["credential"]);
    for (options, key) in [
        ("algorithm = \"md5\"", "algorithm"),
        ("signature_encoding = \"base32\"", "signature_encoding"),
        ("secret_encoding = \"hex\"", "secret_encoding"),
        ("signature_header = \"x sig\"", "signature_header"),
        ("payload_format = \"{timestamp}\"", "payload_format"),
        ("payload_format = \"{url}{body}\"", "payload_format"),
        ("payload_format = \"{body}{nonce}\"", "payload_format"),
        ("payload_format = \"{body\"", "payload_format"),
        ("payload_format = \"{svix-id}.{body}\"", "message_id_header"),
        ("message_id_header = \"x-id\"", "message_id_header"),
    ] {
        assert_eq!(
            keys(&[SECRET], &format!("credential = \"hmac\"\n{options}")),
            [key],
            "{options}"
        );
    }
    assert_eq!(
        keys(
            &["not base64!"],
            "credential = \"hmac\"\nsecret_encoding = \"base64\""
        ),
        ["secrets[0]"]
    );
    assert_eq!(
        template("v0:{timestamp}:{body}").unwrap(),
        [
            Piece::Text("v0:".into()),
            Piece::Timestamp,
            Piece::Text(":".into()),
            Piece::Body
        ]
    );
}

fn identity(body: &[u8]) -> (Option<Vec<String>>, bool) {
    let s = token_route(&[TOKEN]);
    verified(
        &*s,
        &Fields::new(&[("X-Vapi-Secret", TOKEN)]),
        body,
        |v, payload| {
            let id = payload.identity(v.request());
            assert_eq!(id.unsigned_id, None);
            (key_parts(&id), id.exempt)
        },
    )
}

#[test]
fn identity_is_the_type_and_call_and_synchronous_messages_are_exempt() {
    let call = "7c1e7f3a-52b4-4c3e-9f0d-2b8a61d5e4c9";
    let (key, exempt) = identity(&fixture("vapi", "end-of-call-report"));
    assert_eq!(key.unwrap(), ["end-of-call-report", call]);
    assert!(!exempt);
    let (key, exempt) = identity(&fixture("vapi", "status-update"));
    assert_eq!(key.unwrap(), ["status-update", call, "in-progress"]);
    assert!(!exempt);
    let (key, exempt) = identity(&fixture("vapi", "assistant-request"));
    assert_eq!(key.unwrap(), ["assistant-request", call]);
    assert!(exempt, "Vapi waits for the receiver's assistant");
    let (key, exempt) = identity(&fixture("vapi", "tool-calls"));
    assert_eq!(
        key, None,
        "several per call: the signed bytes tell them apart"
    );
    assert!(exempt, "Vapi waits for the receiver's results");
    for event in ["transcript", "conversation-update"] {
        let (key, exempt) = identity(&fixture("vapi", event));
        assert_eq!(key, None, "{event}");
        assert!(!exempt, "{event}");
    }
    let (_, exempt) =
        identity(br#"{"message":{"type":"transfer-destination-request","call":{"id":"c"}}}"#);
    assert!(exempt);
}

#[test]
fn vapi_end_of_call_report() {
    let n = norm("vapi", "end-of-call-report");
    let d = &n.doc;
    assert_envelope(
        d,
        "call.ended",
        "7c1e7f3a-52b4-4c3e-9f0d-2b8a61d5e4c9",
        "2026-05-17T06:47:38.512Z",
    );
    assert_eq!(d["providerevent"], "end-of-call-report");
    let c = &d["data"]["call"];
    assert_eq!(c["direction"], "inbound");
    assert_eq!(c["channel"], "phone");
    assert_eq!(c["from"], "+14155550123");
    assert_eq!(c["to"], "+14155550100");
    assert_eq!(c["agent_id"], "a3f1c2d4-5b6e-4f70-8192-a3b4c5d6e7f8");
    assert_eq!(c["started_at"], "2026-05-17T06:45:12.345Z");
    assert_eq!(c["ended_at"], "2026-05-17T06:47:38.512Z");
    assert_eq!(c["duration_seconds"], 146.167);
    assert_eq!(c["end_reason"], "customer-ended-call");
    assert_eq!(c["successful"], true, "\"true\" from the default rubric");
    assert_eq!(
        c["summary"],
        "The caller booked a check-up for Tuesday 19 May at 2pm."
    );
    assert_eq!(
        c["recording_url"],
        "https://storage.vapi.ai/7c1e7f3a-52b4-4c3e-9f0d-2b8a61d5e4c9-1779000458512-mono.wav"
    );
    assert_eq!(c["extracted"]["caller_name"], "Sarah Johnson");
    let roles: Vec<&str> = c["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["system", "agent", "caller", "tool", "tool", "agent"]
    );
    assert_eq!(
        c["transcript"][1],
        json!({"role": "agent", "text": "Hello, Acme Dental, how can I help?", "offset_ms": 1200, "at": "2026-05-17T06:45:13Z"})
    );
    assert_eq!(
        c["transcript"][4]["text"],
        "Booked for 2026-05-19T14:00:00Z"
    );
    assert!(c.get("cost").is_none(), "cost stays in raw");
    assert_eq!(d["data"]["raw"]["message"]["cost"], 0.1432);
    assert_eq!(
        d["data"]["caller"],
        json!({"name": "Sarah Johnson", "phone": "+14155550123"})
    );
}

#[test]
fn vapi_durations_fall_back_to_milliseconds_then_the_span() {
    let n = |body: serde_json::Value| {
        normalize_body(&PROVIDER, body.to_string().as_bytes(), false, true).doc
    };
    let ms = n(
        json!({"message": {"type": "end-of-call-report", "durationMs": 93400, "call": {"id": "c"}}}),
    );
    assert_eq!(ms["data"]["call"]["duration_seconds"], 93.4);
    let span = n(
        json!({"message": {"type": "end-of-call-report", "call": {"id": "c"},
        "startedAt": "2026-05-17T06:45:12.000Z", "endedAt": "2026-05-17T06:47:38.500Z"}}),
    );
    assert_eq!(span["data"]["call"]["duration_seconds"], 146.5);
    let none = n(
        json!({"message": {"type": "end-of-call-report", "call": {"id": "c"}, "startedAt": "2026-05-17T06:45:12Z"}}),
    );
    assert!(
        none["data"]["call"].get("duration_seconds").is_none(),
        "not invented"
    );
}

#[test]
fn vapi_status_updates_and_the_rest() {
    let d = norm("vapi", "status-update").doc;
    assert_eq!(d["type"], "call.started");
    assert_eq!(
        d["time"], "2026-05-17T06:45:12Z",
        "the message's Unix ms timestamp"
    );
    assert_eq!(d["data"]["call"]["started_at"], "2026-05-17T06:45:12.345Z");
    assert_eq!(d["data"]["caller"]["phone"], "+14155550123");

    let n = |body: serde_json::Value| {
        normalize_body(&PROVIDER, body.to_string().as_bytes(), false, true).doc
    };
    let forwarding = n(
        json!({"message": {"type": "status-update", "status": "forwarding",
        "call": {"id": "c", "type": "outboundPhoneCall", "customer": {"number": "+1555"}},
        "phoneNumber": {"number": "+1444"},
        "destination": {"type": "number", "number": "+1666", "description": "billing"}}}),
    );
    assert_eq!(forwarding["type"], "call.transferred");
    let c = &forwarding["data"]["call"];
    assert_eq!(c["transfer"], json!({"to": "+1666", "label": "billing"}));
    assert_eq!(
        (c["from"].as_str(), c["to"].as_str()),
        (Some("+1444"), Some("+1555")),
        "outbound"
    );
    for status in ["scheduled", "queued", "ringing", "ended"] {
        let d =
            n(json!({"message": {"type": "status-update", "status": status, "call": {"id": "c"}}}));
        assert_eq!(d["type"], "unknown", "{status}");
        assert_eq!(d["providerevent"], "status-update");
        assert_eq!(d["data"]["call"]["id"], "c", "{status}: the call is kept");
    }
    let web = n(
        json!({"message": {"type": "status-update", "status": "in-progress", "call": {"id": "w", "type": "webCall"}, "customer": {"number": "+1555"}}}),
    );
    assert_eq!(web["data"]["call"]["channel"], "web");
    assert!(
        web["data"]["call"].get("from").is_none(),
        "no direction: no from/to"
    );

    for event in [
        "assistant-request",
        "tool-calls",
        "transcript",
        "conversation-update",
    ] {
        let d = norm("vapi", event).doc;
        assert_eq!(d["type"], "unknown", "{event}");
        assert_eq!(d["providerevent"], event);
        assert_eq!(
            d["subject"], "7c1e7f3a-52b4-4c3e-9f0d-2b8a61d5e4c9",
            "{event}"
        );
        assert!(d["data"].get("call").is_none(), "{event}: raw only");
    }
}

#[test]
fn send_signs_either_credential() {
    let secret = Secret::new(SECRET);
    let sign = |options: &str| -> Fields {
        let options: toml::Table = toml::from_str(options).unwrap();
        let d = Outgoing {
            id: "msg_7",
            url: TEST_URL,
            timestamp: unix(now()),
            event: "end-of-call-report",
            options: &options,
        };
        Fields::from_owned(PROVIDER.sign(&secret, BODY, &d).unwrap())
    };
    let token = scheme(&PROVIDER, &[SECRET], "");
    let f = sign("");
    assert_eq!(
        f.get("Authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    assert_eq!(check(&*token, &f, BODY, now()), Ok(()));
    let options =
        "credential = \"hmac\"\nalgorithm = \"sha512\"\nsignature_encoding = \"base64\"\n\
                   signature_prefix = \"v1=\"\npayload_format = \"{svix-id}.{timestamp}.{body}\"\n\
                   message_id_header = \"x-message-id\"";
    let f = sign(options);
    assert_eq!(f.get("x-message-id"), Some("msg_7"));
    assert_eq!(
        check(&*scheme(&PROVIDER, &[SECRET], options), &f, BODY, now()),
        Ok(())
    );
    let err = PROVIDER
        .sign(
            &secret,
            BODY,
            &Outgoing {
                id: "m",
                url: TEST_URL,
                timestamp: 0,
                event: "e",
                options: &toml::from_str("algorithm = \"sha1\"").unwrap(),
            },
        )
        .unwrap_err();
    assert!(err.contains("algorithm"), "{err}");
}
