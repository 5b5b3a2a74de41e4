//! Properties every provider must have, run over the registry: signers
//! round-trip through their verifiers, every fixture normalizes into the
//! published schema, unknown events are never dropped, the original mode's
//! attributes need no arrays, and normalization never panics.

use std::time::{SystemTime, UNIX_EPOCH};

use proptest::prelude::*;
use serde_json::{json, Value};

use super::test_support::*;
use super::*;
use crate::event::{header_value, TYPES};
use crate::reject::Reject;

const SCHEMA: &str = include_str!("../../schema/event.schema.json");

#[test]
fn every_signer_round_trips_through_its_verifier_for_every_sample() {
    for p in all() {
        let route = test_route(p);
        let options = test_options(p);
        let secret = Secret::new(route.signing_secret);
        let s = scheme(p, &[route.secret], route.options);
        assert!(!p.samples().is_empty(), "{}: no samples", p.name());
        for sample in p.samples() {
            let body = sample.body.as_bytes();
            let delivery = delivery(sample.event, &options);
            let pairs = p.sign(&secret, body, &delivery).unwrap();
            let fields = Fields::from_owned(pairs);
            assert_eq!(
                check(&*s, &fields, body, now()),
                Ok(()),
                "{} {}",
                p.name(),
                sample.event
            );
            let mut tampered = body.to_vec();
            tampered[2] ^= 1;
            // A static token covers no byte of the body: that is what its
            // warning says.
            let expected = if p.name() == "static" {
                Ok(())
            } else {
                Err(Reject::InvalidSignature)
            };
            assert_eq!(
                check(&*s, &fields, &tampered, now()),
                expected,
                "{}",
                p.name()
            );
        }
    }
}

#[test]
fn standard_webhooks_signer_agrees_with_the_reference_libraries() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let key = standard::signing_key(&Secret::new(secret)).unwrap();
    let body = br#"{"topic":"PING"}"#;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sig = format!("v1,{}", standard::sign(&key, "msg_x", now, body));
    let mut h = http::HeaderMap::new();
    h.insert("webhook-id", "msg_x".parse().unwrap());
    h.insert("webhook-timestamp", now.to_string().parse().unwrap());
    h.insert("webhook-signature", sig.parse().unwrap());
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(body, &h)
        .unwrap();
    let mut svix_headers = http::HeaderMap::new();
    svix_headers.insert("svix-id", "msg_x".parse().unwrap());
    svix_headers.insert("svix-timestamp", now.to_string().parse().unwrap());
    svix_headers.insert("svix-signature", sig.parse().unwrap());
    svix::webhooks::Webhook::new(secret)
        .unwrap()
        .verify(body, &svix_headers)
        .unwrap();
}

/// The providers that sign per Standard Webhooks (`provider::standard`),
/// each signed by an independent library under its header names (Agntix's
/// newer accounts send the `webhook-*` names too): what every one of them
/// accepts and refuses.
#[test]
fn standard_webhooks_providers_accept_and_refuse_alike() {
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const BODY: &[u8] = br#"{"id":"4981804c-2658-4893-84ff-9c2fa90fb3c2","type":"call.completed","data":{"id":"call_9"}}"#;
    type Signer = fn(&str, &str, u64, &[u8]) -> String;
    let svix: Signer = |secret, id, ts, body| {
        let wh = svix::webhooks::Webhook::new(secret).unwrap();
        wh.sign(id, ts as i64, body).unwrap()
    };
    let standard: Signer = |secret, id, ts, body| {
        let wh = standardwebhooks::Webhook::new(secret).unwrap();
        wh.sign(id, ts as i64, body).unwrap()
    };
    // The last: the header a request without any signature is refused for
    // (Agntix names its `svix-*` one).
    let cases = [
        (&agntix::PROVIDER, standard::SVIX, svix, standard::SVIX),
        (
            &agntix::PROVIDER,
            standard::WEBHOOK,
            standard,
            standard::SVIX,
        ),
        (
            &allo::PROVIDER,
            standard::WEBHOOK,
            standard,
            standard::WEBHOOK,
        ),
    ];
    for (p, names, sign, primary) in cases {
        let signed = |secret: &str, id: &str, ts: u64, body: &[u8]| {
            let sig = sign(secret, id, ts, body);
            let ts = ts.to_string();
            Fields::new(&[
                (names.id, id),
                (names.timestamp, &ts),
                (names.signature, &sig),
            ])
        };
        let verify = |secrets: &[&str], h: &Fields, body: &[u8]| {
            check(&*scheme(p, secrets, ""), h, body, now())
        };
        let at = format!("{} {}", p.name(), names.signature);
        let good = signed(SECRET, "msg_1", unix(now()), BODY);
        assert_eq!(verify(&[SECRET], &good, BODY), Ok(()), "{at}");
        let bare = SECRET.strip_prefix("whsec_").unwrap();
        assert_eq!(verify(&[bare], &good, BODY), Ok(()), "{at}: a bare key");
        let wrong = "whsec_dGhpcyBpcyBub3QgdGhlIGtleQ==";
        assert_eq!(
            verify(&[wrong], &good, BODY),
            Err(Reject::InvalidSignature),
            "{at}"
        );
        for i in [10, BODY.len() - 1] {
            let mut tampered = BODY.to_vec();
            tampered[i] ^= 1;
            assert_eq!(
                verify(&[SECRET], &good, &tampered),
                Err(Reject::InvalidSignature),
                "{at}: byte {i} tampered"
            );
        }
        for ts in [unix(now()) - 301, unix(now()) + 301] {
            let h = signed(SECRET, "msg_1", ts, BODY);
            assert_eq!(
                verify(&[SECRET], &h, BODY),
                Err(Reject::TimestampOutOfTolerance),
                "{at}"
            );
        }
        let mut h = good.clone();
        h.set(names.id, "msg_2");
        assert_eq!(
            verify(&[SECRET], &h, BODY),
            Err(Reject::InvalidSignature),
            "{at}: the id is signed"
        );

        let other = "whsec_dGhpcyBpcyBhbm90aGVyIGtleSEhIQ==";
        assert_eq!(
            verify(&[other, SECRET], &good, BODY),
            Ok(()),
            "{at}: rotation"
        );
        let sig = good.get(names.signature).unwrap().to_owned();
        for several in [
            format!("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1a,xyz {sig}"),
            format!("v1,Zm9vYmFyYmF6Zm9vYmFyYmF6Zm9vYmFyYmF6Zm9vYmE= {sig}"),
        ] {
            let mut h = good.clone();
            h.set(names.signature, &several);
            assert_eq!(verify(&[SECRET], &h, BODY), Ok(()), "{at}: {several}");
        }

        for (missing, named) in [(names.signature, primary.signature), (names.id, names.id)] {
            let mut h = good.clone();
            h.remove(missing);
            assert_eq!(
                verify(&[SECRET], &h, BODY),
                Err(Reject::MissingSignature { header: named }),
                "{at}"
            );
        }
        for bad in ["v1", "v2,abc", "v1,not base64!", "v1,c2hvcnQ="] {
            let mut h = good.clone();
            h.set(names.signature, bad);
            assert_eq!(
                verify(&[SECRET], &h, BODY),
                Err(Reject::MalformedSignature {
                    header: names.signature
                }),
                "{at}: {bad}"
            );
        }
        let mut h = good.clone();
        h.set(names.timestamp, "soon");
        assert_eq!(
            verify(&[SECRET], &h, BODY),
            Err(Reject::MalformedSignature {
                header: names.timestamp
            }),
            "{at}"
        );
    }
}

/// The providers that sign Stripe's form (`provider::dotted`), each with its
/// header and version label: what every one of them accepts and refuses,
/// signed here independently of the scheme.
#[test]
fn stripe_form_providers_accept_and_refuse_alike() {
    const SECRET: &str = "stripe_form_secret_1";
    const BODY: &[u8] = br#"{"event":"call.ended","call_id":"CA1","duration":146}"#;
    let forms = [
        (&nixflex::PROVIDER, "X-Nixflex-Signature", "v1"),
        (&elevenlabs::PROVIDER, "ElevenLabs-Signature", "v0"),
    ];
    for (p, label, version) in forms {
        let mac = |secret: &str, t: u64, body: &[u8]| {
            let mut msg = format!("{t}.").into_bytes();
            msg.extend_from_slice(body);
            format!("{version}={}", hmac_hex(secret.as_bytes(), &msg))
        };
        let verify = |secrets: &[&str], sig: &str, body: &[u8]| {
            let s = scheme(p, secrets, "");
            check(&*s, &Fields::new(&[(label, sig)]), body, now())
        };
        let t = unix(now());
        let good = mac(SECRET, t, BODY);
        let sig = format!("t={t},{good}");
        let name = p.name();
        assert_eq!(verify(&[SECRET], &sig, BODY), Ok(()), "{name}");
        assert_eq!(
            verify(&["old", SECRET], &sig, BODY),
            Ok(()),
            "{name}: rotation"
        );
        assert_eq!(
            verify(&["other"], &sig, BODY),
            Err(Reject::InvalidSignature),
            "{name}"
        );
        let tampered = String::from_utf8(BODY.to_vec())
            .unwrap()
            .replace("146", "147");
        assert_eq!(
            verify(&[SECRET], &sig, tampered.as_bytes()),
            Err(Reject::InvalidSignature),
            "{name}: tampered"
        );
        let s = scheme(p, &[SECRET], "");
        assert_eq!(
            check(&*s, &Fields::default(), BODY, now()),
            Err(Reject::MissingSignature { header: label }),
            "{name}"
        );
        let short = format!("{version}={}", "ab".repeat(31));
        for bad in [
            "garbage".to_string(),
            format!("t={t}"),
            good.clone(),
            format!("t={t},{version}=zz"),
            format!("t={t},t={t},{good}"),
            format!("t=-5,{good}"),
            format!("t={t},{short}"),
        ] {
            assert_eq!(
                verify(&[SECRET], &bad, BODY),
                Err(Reject::MalformedSignature { header: label }),
                "{name}: {bad}"
            );
        }
    }
}

#[test]
fn names_are_unique_and_found() {
    let mut seen = std::collections::HashSet::new();
    for p in all() {
        assert!(seen.insert(p.name()), "{} twice", p.name());
        assert_eq!(find(p.name()).map(|f| f.name()), Some(p.name()));
    }
}

#[test]
fn the_schema_lists_exactly_the_registered_providers() {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let listed: Vec<&str> = schema["properties"]["provider"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let registered: Vec<&str> = all().iter().map(|p| p.name()).collect();
    assert_eq!(
        listed, registered,
        "schema/event.schema.json's provider enum"
    );
}

#[test]
fn every_fixture_is_a_sample_and_every_sample_a_fixture() {
    for p in all() {
        let mut samples: Vec<&str> = p.samples().iter().map(|s| s.event).collect();
        let mut fixtures: Vec<String> = all_fixtures()
            .into_iter()
            .filter(|(name, _)| *name == p.name())
            .map(|(_, e)| e)
            .collect();
        samples.sort();
        fixtures.sort();
        assert_eq!(samples, fixtures, "{}", p.name());
    }
}

/// A negative duration, which no call has, is left out rather than
/// published: the schema's `duration_seconds` has a minimum of 0. Every
/// fixture's duration fields are made negative in turn, as number and as
/// text.
#[test]
fn negative_durations_are_left_out() {
    fn negate(v: &mut Value, as_text: bool) -> usize {
        match v {
            Value::Object(map) => map
                .iter_mut()
                .map(|(k, v)| {
                    let k = k.to_ascii_lowercase();
                    let number =
                        v.is_number() || v.as_str().is_some_and(|t| t.parse::<f64>().is_ok());
                    if (k.contains("duration") || k.contains("length")) && number {
                        *v = if as_text { json!("-5") } else { json!(-5) };
                        1
                    } else {
                        negate(v, as_text)
                    }
                })
                .sum(),
            Value::Array(items) => items.iter_mut().map(|v| negate(v, as_text)).sum(),
            _ => 0,
        }
    }
    let mut negated = 0;
    for (provider, event) in all_fixtures() {
        let p = find(provider).unwrap();
        for as_text in [false, true] {
            let mut doc: Value = serde_json::from_slice(&fixture_json(provider, &event)).unwrap();
            if negate(&mut doc, as_text) == 0 {
                continue;
            }
            negated += 1;
            let body = serde_json::to_vec(&doc).unwrap();
            let n = normalize_body(p, &body, false, true);
            let at = format!("{provider}/{event} (as text: {as_text})");
            let errors = schema_errors(&n.doc);
            assert!(errors.is_empty(), "{at}: {errors:?}\n{}", n.doc);
            let call = &n.doc["data"]["call"];
            assert!(call.get("duration_seconds").is_none(), "{at}: {call}");
        }
    }
    assert!(negated >= 20, "{negated} fixtures with a duration");
}

#[test]
fn every_fixture_validates_against_the_schema_and_keeps_raw_intact() {
    let fixtures = all_fixtures();
    assert!(fixtures.len() >= 29, "{}", fixtures.len());
    for (provider, event) in fixtures {
        let n = norm(provider, &event);
        let errors = schema_errors(&n.doc);
        assert!(
            errors.is_empty(),
            "{provider}/{event}: {errors:?}\n{}",
            n.doc
        );
        let raw: Value = serde_json::from_slice(&fixture_json(provider, &event)).unwrap();
        assert_eq!(n.doc["data"]["raw"], raw, "{provider}/{event}");
        assert_eq!(n.doc["id"], "dlv-1");
        assert_eq!(n.doc["source"], "/route-1");
        assert_eq!(n.doc["provider"], provider);
        assert_eq!(
            n.doc["providerevent"],
            event.trim_end_matches(".chat"),
            "{provider}/{event}"
        );
        // Binary mode carries the same attributes.
        let h = |k: &str| {
            n.headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(h("ce-type").as_deref(), n.doc["type"].as_str());
        assert_eq!(h("ce-id").as_deref(), Some("dlv-1"));
        assert_eq!(h("ce-time").as_deref(), n.doc["time"].as_str());
        assert_eq!(h("ce-subject").as_deref(), n.doc["subject"].as_str());
    }
}

#[test]
fn raw_is_the_provider_bytes_verbatim_and_can_be_turned_off() {
    let body = fixture("nixflex", "call.ended");
    let n = normalize_body(&nixflex::PROVIDER, &body, true, true);
    let text = String::from_utf8(n.bytes).unwrap();
    let spliced = format!(
        "\"raw\":{}}}}}",
        String::from_utf8(body.trim_ascii().to_vec()).unwrap()
    );
    assert!(text.ends_with(&spliced), "raw must be the body's bytes");

    let off = normalize_body(&nixflex::PROVIDER, &body, false, true);
    assert!(off.doc["data"].get("raw").is_none());
    assert!(off.doc["data"].get("call").is_some());
}

#[test]
fn unknown_events_are_forwarded_as_unknown_never_dropped() {
    for (kind, body) in [
        ("nixflex", r#"{"event":"call.analyzed","call_id":"x"}"#),
        (
            "agntix",
            r#"{"eventType":"session.updated","type":"VOICE"}"#,
        ),
        ("agntix", r#"{"eventType":"session.ended","type":"VIDEO"}"#),
        ("inboundflow", r#"{"event":"voicemail.left","data":{}}"#),
        ("allo", r#"{"topic":"VOICEMAIL","data":{}}"#),
        (
            "voxagent",
            r#"{"event":"AgentHandoff","data":{"session_id":"s"}}"#,
        ),
        (
            "twilio",
            r#"{"CallSid":"CA1","CallStatus":"queued","Direction":"outbound-api"}"#,
        ),
        (
            "twilio",
            r#"{"MessageSid":"SM1","MessageStatus":"undelivered","ErrorCode":"30003"}"#,
        ),
        (
            "retell",
            r#"{"event":"call_paused","call":{"call_id":"c"}}"#,
        ),
        (
            "elevenlabs",
            r#"{"type":"conversation_paused","data":{"conversation_id":"c"}}"#,
        ),
        (
            "telnyx",
            r#"{"data":{"event_type":"call.dtmf.received","id":"1","payload":{}}}"#,
        ),
        ("hmac", r#"{"type":"invoice.paid","id":"evt_1"}"#),
        ("hmac", r#"{"type":"unknown","id":"evt_1"}"#),
        ("static", r#"{"type":"lead.qualified","id":"evt_1"}"#),
    ] {
        let n = normalize_body(find(kind).unwrap(), body.as_bytes(), true, true);
        assert_eq!(n.doc["type"], "unknown", "{body}");
        assert!(n.doc["providerevent"].is_string(), "{body}");
        assert_eq!(
            n.doc["data"]["raw"],
            serde_json::from_str::<Value>(body).unwrap()
        );
    }
}

#[test]
fn wrong_types_are_left_out_not_invented() {
    let body = br#"{"event":"call.ended","call_id":12,"duration_seconds":"n/a","direction":7,"transcript":"no","started_at":"yesterday","metadata":null}"#;
    let d = normalize_body(&nixflex::PROVIDER, body, false, true).doc;
    assert_eq!(d["type"], "call.ended");
    assert_eq!(d["subject"], "12");
    let c = &d["data"]["call"];
    assert!(c.get("duration_seconds").is_none());
    assert!(c.get("transcript").is_none());
    assert!(c.get("started_at").is_none());
    assert!(d["data"].get("metadata").is_none());
}

/// `forward = "original"` parses the body without its arrays and builds no
/// `data`: the `ce-*` attributes must come out exactly as from a full parse.
fn original_mode_attributes_match(p: &Provider, body: &[u8]) -> Result<(), String> {
    let full = normalize_body(p, body, false, true).headers;
    let original = normalize_body(p, body, false, false).headers;
    if full == original {
        Ok(())
    } else {
        Err(format!("{}: {full:?} != {original:?}", p.name()))
    }
}

#[test]
fn original_mode_attributes_do_not_need_arrays() {
    for (provider, event) in all_fixtures() {
        original_mode_attributes_match(find(provider).unwrap(), &fixture_json(provider, &event))
            .unwrap();
    }
}

#[test]
fn header_values_are_percent_encoded() {
    assert_eq!(header_value("a b"), "a b");
    assert_eq!(header_value("é\r\n%"), "%C3%A9%0D%0A%25");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(
        provider in prop::sample::select(all().to_vec()),
        value in arbitrary_json(),
    ) {
        let body = serde_json::to_vec(&value).unwrap();
        let n = normalize_body(provider, &body, true, true);
        prop_assert!(TYPES.contains(&n.doc["type"].as_str().unwrap()));
        prop_assert_eq!(original_mode_attributes_match(provider, &body), Ok(()));
    }

    #[test]
    fn known_event_names_with_garbage_fields_never_panic(
        provider in prop::sample::select(all().to_vec()),
        event in prop::sample::select(vec!["call.ended", "session.ended", "call.completed", "CALL_RECEIVED", "ConversationComplete", "sms.received", "contact.created"]),
        data in arbitrary_json(),
    ) {
        let body = serde_json::to_vec(&json!({
            "event": event, "eventType": event, "topic": event, "type": "VOICE",
            "data": data.clone(), "transcript": data.clone(), "metadata": data,
        })).unwrap();
        normalize_body(provider, &body, true, true);
        prop_assert_eq!(original_mode_attributes_match(provider, &body), Ok(()));
    }

    /// Whatever a documented payload's fields hold, the event hookgate
    /// publishes is one the schema accepts: a fixture with some of its
    /// values replaced by any scalar still normalizes into a valid event.
    #[test]
    fn any_values_in_a_fixture_still_give_a_valid_event(
        fixture in prop::sample::select(all_fixtures()),
        changes in prop::collection::vec((any::<prop::sample::Index>(), any_scalar()), 1..6),
    ) {
        let (provider, event) = fixture;
        let mut doc: Value = serde_json::from_slice(&fixture_json(provider, &event)).unwrap();
        for (at, value) in changes {
            let mut leaves = Vec::new();
            leaf_paths(&doc, String::new(), &mut leaves);
            let leaf = at.get(&leaves).clone();
            *doc.pointer_mut(&leaf).unwrap() = value;
        }
        let body = serde_json::to_vec(&doc).unwrap();
        let n = normalize_body(find(provider).unwrap(), &body, true, true);
        let errors = schema_errors(&n.doc);
        prop_assert!(errors.is_empty(), "{}/{}: {:?}\n{}", provider, event, errors, n.doc);
    }
}

/// What `schema/event.schema.json` finds wrong with an event, each error
/// with its place (none: the event is valid).
fn schema_errors(doc: &Value) -> Vec<String> {
    static VALIDATOR: std::sync::LazyLock<jsonschema::Validator> = std::sync::LazyLock::new(|| {
        jsonschema::validator_for(&serde_json::from_str(SCHEMA).unwrap()).unwrap()
    });
    VALIDATOR
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect()
}

/// A JSON scalar, as hostile as a sender could make it: negative, huge or
/// fractional numbers, empty and odd strings, booleans, null.
fn any_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        "\\PC{0,24}".prop_map(Value::from),
        prop::sample::select(vec![
            "",
            "-1",
            "1e400",
            "NaN",
            "inbound",
            "OUTBOUND",
            "2026-13-45T99:99:99Z",
            "0"
        ])
        .prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
    ]
}

/// The JSON pointers of every scalar in `v`, objects' and arrays' alike.
fn leaf_paths(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                leaf_paths(
                    v,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                leaf_paths(v, format!("{at}/{i}"), out);
            }
        }
        _ => out.push(at),
    }
}
