//! The gate on signed requests: ids and dedup keys from signed material
//! only, unambiguous keys, keys over what the signature covered, and the
//! payloads a strict parser would refuse.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::provider::test_support::{hmac_hex, now, unix, Fields};
use crate::provider::{find, SchemeSetup};
use crate::route::Upstream;
use crate::secret::Secret;

fn route(provider: &str, secret: &str, dedup: Option<DedupKeySpec>, forward: ForwardMode) -> Route {
    let p = find(provider).unwrap();
    let secrets = [Secret::new(secret)];
    let scheme = p
        .scheme(SchemeSetup {
            secrets: &secrets,
            tolerance: None,
            options: &toml::Table::new(),
        })
        .unwrap();
    Route {
        name: "r".into(),
        path: "/r".into(),
        provider: p,
        scheme,
        forward,
        upstream: Arc::new(Upstream {
            addr: "127.0.0.1:3000".parse().unwrap(),
            tls: false,
            host: "127.0.0.1".into(),
            authority: "127.0.0.1:3000".into(),
            base_path: String::new(),
        }),
        upstream_path: None,
        timeout: Duration::from_secs(3),
        dedup,
        include_raw: true,
        rate_limit: None,
        forward_signer: None,
        forward_headers: Vec::new(),
        forward_query: false,
    }
}

fn nixflex_route() -> Route {
    route(
        "nixflex",
        "s3cret",
        Some(DedupKeySpec::Provider),
        ForwardMode::Normalized,
    )
}

fn nixflex(body: &[u8], delivery: Option<&str>) -> Fields {
    let t = unix(now());
    let mut msg = format!("{t}.").into_bytes();
    msg.extend_from_slice(body);
    let mut f = Fields::new(&[(
        "x-nixflex-signature",
        &format!("t={t},v1={}", hmac_hex(b"s3cret", &msg)),
    )]);
    if let Some(d) = delivery {
        f.add("webhook_delivery_id", d);
    }
    f
}

/// (delivery id, unsigned provider id, dedup key) of a request.
fn ids(route: &Route, fields: &Fields, body: &[u8]) -> (String, Option<String>, Option<DedupKey>) {
    fields.with("/r", body, |req| {
        let mut scratch = Scratch::default();
        let a = inspect(route, req, &mut scratch, now()).unwrap();
        (
            a.delivery_id().to_owned(),
            a.provider_delivery_id().map(str::to_owned),
            a.dedup_key().cloned(),
        )
    })
}

fn reject(route: &Route, fields: &Fields, body: &[u8]) -> Reject {
    fields.with("/r", body, |req| {
        inspect(route, req, &mut Scratch::default(), now())
            .err()
            .unwrap()
    })
}

#[test]
fn nixflex_id_is_the_signed_identity_and_the_header_only_reported() {
    let r = nixflex_route();
    let body = br#"{"event":"call.ended","call_id":"CA1"}"#;
    let a = ids(&r, &nixflex(body, Some("dlv-1")), body);
    let b = ids(&r, &nixflex(body, Some("dlv-forged")), body);
    assert_eq!(a.0, "call.ended:CA1");
    assert_eq!(a.1.as_deref(), Some("dlv-1"));
    assert_eq!(
        b.0, "call.ended:CA1",
        "an unsigned header never becomes the id"
    );
    assert_eq!(b.1.as_deref(), Some("dlv-forged"));
    assert_eq!(a.2, b.2);
    assert!(a.2.is_some());
}

#[test]
fn key_parts_never_collide() {
    let r = nixflex_route();
    let one = br#"{"event":"call.ended:X","call_id":"y"}"#;
    let two = br#"{"event":"call.ended","call_id":"X:y"}"#;
    let (id1, _, k1) = ids(&r, &nixflex(one, None), one);
    let (id2, _, k2) = ids(&r, &nixflex(two, None), two);
    assert_ne!(k1, k2);
    assert_ne!(id1, id2);
    assert_eq!(id1, "call.ended%3AX:y");
    assert_eq!(id2, "call.ended:X%3Ay");

    let number = br#"{"event":"call.ended","call_id":123}"#;
    let text = br#"{"event":"call.ended","call_id":"123"}"#;
    assert_ne!(
        ids(&r, &nixflex(number, None), number).2,
        ids(&r, &nixflex(text, None), text).2
    );

    // The same key on another route is another key.
    let mut other = nixflex_route();
    other.name = "r2".into();
    assert_ne!(
        ids(&r, &nixflex(text, None), text).2,
        ids(&other, &nixflex(text, None), text).2
    );
}

#[test]
fn without_key_fields_the_digest_of_the_signed_bytes_stands_in() {
    let r = nixflex_route();
    let body = br#"{"event":"sms.received","message_id":"SM1"}"#;
    let (id, _, key) = ids(&r, &nixflex(body, None), body);
    assert_eq!(id, format!("sha256:{}", hex::encode(Sha256::digest(body))));
    assert!(key.is_some());
}

#[test]
fn inboundflow_whitespace_variants_of_one_signed_text_share_a_key() {
    let r = route(
        "inboundflow",
        "ibf",
        Some(DedupKeySpec::Provider),
        ForwardMode::Original,
    );
    // No delivery_id: the key falls back to a digest, which must be of the
    // signed (compact) text, not of each variant's bytes.
    let compact = r#"{"event":"call.completed","data":{"call_id":"c-1","summary":"a  b"}}"#;
    let t = unix(now());
    let sig = hmac_hex(b"ibf", format!("{t}.{compact}").as_bytes());
    let fields = Fields::new(&[
        ("x-inboundflow-signature", &format!("sha256={sig}")),
        ("x-inboundflow-timestamp", &t.to_string()),
    ]);
    let variants = [
        compact.to_owned(),
        compact.replace(',', ", "),
        compact.replace(':', " : "),
        format!("{compact}\n"),
        compact.replace('{', "{\n  "),
        format!("\t{compact}"),
        compact.replace("\"data\"", "\r\n\"data\""),
    ];
    let keys: Vec<_> = variants
        .iter()
        .map(|v| ids(&r, &fields, v.as_bytes()))
        .collect();
    for k in &keys {
        assert_eq!(k.2, keys[0].2);
        assert_eq!(k.0, keys[0].0);
    }
    // Whitespace inside a string is significant: not the same text.
    let changed = compact.replace("a  b", "a b");
    assert_eq!(
        reject(&r, &fields, changed.as_bytes()),
        Reject::InvalidSignature
    );
}

#[test]
fn route_key_parts_and_dedup_off() {
    let spec = DedupKeySpec::Parts(vec![
        KeyPart::Json("/event".into()),
        KeyPart::Json("/call_id".into()),
    ]);
    let r = route("nixflex", "s3cret", Some(spec), ForwardMode::Normalized);
    let body = br#"{"event":"call.ended","call_id":7}"#;
    let provider = nixflex_route();
    let (_, _, custom) = ids(&r, &nixflex(body, None), body);
    let (_, _, natural) = ids(&provider, &nixflex(body, None), body);
    // Same parts, same route name: the same key.
    assert_eq!(custom, natural);

    let missing = br#"{"event":"call.ended"}"#;
    let (_, _, k) = ids(&r, &nixflex(missing, None), missing);
    let digest: [u8; 32] = Sha256::digest(missing).into();
    assert_eq!(k, Some(DedupKey::new("r", &[Part::SignedDigest(digest)])));

    let off = route("nixflex", "s3cret", None, ForwardMode::Normalized);
    let (id, _, key) = ids(&off, &nixflex(body, None), body);
    assert_eq!(id, "call.ended:7");
    assert_eq!(key, None);
}

#[test]
fn a_json_pointer_through_an_array_works_in_original_mode() {
    let spec = DedupKeySpec::Parts(vec![KeyPart::Json("/turns/1/id".into())]);
    let r = route("nixflex", "s3cret", Some(spec), ForwardMode::Original);
    let a = br#"{"event":"x","turns":[{"id":"a"},{"id":"b"}]}"#;
    let b = br#"{"event":"x","turns":[{"id":"a"},{"id":"c"}]}"#;
    assert_ne!(
        ids(&r, &nixflex(a, None), a).2,
        ids(&r, &nixflex(b, None), b).2
    );
}

#[test]
fn oversized_ids_are_hashed() {
    let r = nixflex_route();
    let long = "x".repeat(5000);
    let body = format!(r#"{{"event":"call.ended","call_id":"{long}"}}"#);
    let (id, _, key) = ids(&r, &nixflex(body.as_bytes(), None), body.as_bytes());
    assert!(key.is_some());
    assert!(id.starts_with("sha256:") && id.len() < 100);
}

#[test]
fn verified_but_not_json_is_400_and_unverified_is_401_first() {
    let r = nixflex_route();
    assert_eq!(
        reject(&r, &nixflex(b"not json", None), b"not json"),
        Reject::InvalidJson
    );
    assert_eq!(
        reject(&r, &nixflex(b"{}", None), b"also not json"),
        Reject::InvalidSignature
    );
}

#[test]
fn a_bom_and_lone_surrogates_are_accepted_and_cleaned_for_the_normalized_event() {
    let r = nixflex_route();
    let body =
        "\u{feff}{\"event\":\"call.ended\",\"call_id\":\"CA9\",\"call_summary\":\"cut \\ud83d\"}";
    let f = nixflex(body.as_bytes(), None);
    f.with("/r", body.as_bytes(), |req| {
        let mut scratch = Scratch::default();
        let a = inspect(&r, req, &mut scratch, now()).unwrap();
        assert_eq!(a.delivery_id(), "call.ended:CA9");
        let out = a.render(&r, now());
        let doc: serde_json::Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(doc["data"]["call"]["summary"], "cut \u{fffd}");
        assert_eq!(doc["data"]["raw"]["call_summary"], "cut \u{fffd}");
    });
    // Original mode forwards the bytes untouched.
    let orig = route(
        "nixflex",
        "s3cret",
        Some(DedupKeySpec::Provider),
        ForwardMode::Original,
    );
    f.with("/r", body.as_bytes(), |req| {
        let mut scratch = Scratch::default();
        let a = inspect(&orig, req, &mut scratch, now()).unwrap();
        assert_eq!(&*a.render(&orig, now()).body, body.as_bytes());
    });
}

#[test]
fn voxagent_keys_on_event_and_session() {
    let r = route(
        "voxagent",
        "vsecret",
        Some(DedupKeySpec::Provider),
        ForwardMode::Normalized,
    );
    let body = br#"{"event":"SessionStarted","data":{"session_id":"s-1"}}"#;
    let f = Fields::new(&[("x-voxagent-signature", &hmac_hex(b"vsecret", body))]);
    assert_eq!(ids(&r, &f, body).0, "SessionStarted:s-1");
}
