//! The generic HMAC scheme: each knob, the refused combinations with their
//! keys, and proof that Stripe, Standard Webhooks, Retell, ElevenLabs and
//! Bland written as `hmac` routes verify the same requests as their
//! presets or reference signers.

use std::time::{Duration, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::json;

use super::*;
use crate::provider::test_support::*;
use crate::reject::Reject;
use crate::verify::Scheme;

fn build(secrets: &[&str], options: &str, tolerance: Option<Duration>) -> Box<dyn RouteScheme> {
    try_build(secrets, options, tolerance).unwrap_or_else(|e| panic!("{e:?}"))
}

fn try_build(
    secrets: &[&str],
    options: &str,
    tolerance: Option<Duration>,
) -> Result<Box<dyn RouteScheme>, Vec<SetupError>> {
    let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(*s)).collect();
    let options: toml::Table = toml::from_str(options).unwrap();
    PROVIDER.scheme(SchemeSetup {
        secrets: &secrets,
        tolerance,
        options: &options,
    })
}

fn hmac256_hex(key: &[u8], parts: &[&[u8]]) -> String {
    hmac_hex(key, &parts.concat())
}

// Stripe, from its documented format: `Stripe-Signature: t=<s>,v1=<hex>`
// over `<t>.<body>`, the whsec_ secret as UTF-8, 300 s in the past.

const STRIPE: &str = r#"
signature_header = "Stripe-Signature"
signature_format = "list"
signature_key = "v1"
timestamp_key = "t"
signed_content = "{timestamp}.{body}"
timestamp_window = "past"
delivery_id = "json:/id"
event_pointer = "/type"
"#;
const STRIPE_SECRET: &str = "whsec_4eC39HqLyjWDarjtT1zdp7dc4eC39Hq1";

fn stripe_header(secret: &str, t: u64, body: &[u8]) -> String {
    let sig = hmac256_hex(secret.as_bytes(), &[t.to_string().as_bytes(), b".", body]);
    format!("t={t},v1={sig}")
}

#[test]
fn stripe_as_an_hmac_route() {
    let s = build(&[STRIPE_SECRET], STRIPE, None);
    let body = br#"{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","type":"invoice.paid","object":"event"}"#;
    let t = unix(now());
    let ok = |sig: &str, body: &[u8]| {
        check(&*s, &Fields::new(&[("Stripe-Signature", sig)]), body, now())
    };
    assert_eq!(ok(&stripe_header(STRIPE_SECRET, t, body), body), Ok(()));
    // Several v1 entries (Stripe's rotation) and a v0 entry it ignores.
    let good = stripe_header(STRIPE_SECRET, t, body);
    let v1 = good.split_once(',').unwrap().1;
    let several = format!("t={t},v1={},{v1},v0=6ffbb59b", "0".repeat(64));
    assert_eq!(ok(&several, body), Ok(()));
    // The whsec_ prefix is part of Stripe's key: base64-decoding it would be wrong.
    let wrong = build(
        &[STRIPE_SECRET],
        &format!("{STRIPE}secret_encoding = \"whsec\"\n"),
        None,
    );
    assert!(check(
        &*wrong,
        &Fields::new(&[("Stripe-Signature", &good)]),
        body,
        now()
    )
    .is_err());
    // 300 s in the past; Stripe's libraries accept a timestamp ahead.
    assert_eq!(
        ok(&stripe_header(STRIPE_SECRET, t - 300, body), body),
        Ok(())
    );
    assert_eq!(
        ok(&stripe_header(STRIPE_SECRET, t - 301, body), body),
        Err(Reject::TimestampOutOfTolerance)
    );
    assert_eq!(
        ok(&stripe_header(STRIPE_SECRET, t + 3600, body), body),
        Ok(())
    );
    assert_eq!(
        ok(&stripe_header("whsec_other", t, body), body),
        Err(Reject::InvalidSignature)
    );
    let f = Fields::new(&[("Stripe-Signature", &good)]);
    verified(&*s, &f, body, |v, payload| {
        let id = payload.identity(v.request());
        assert_eq!(id.key.unwrap()[0].as_str(), "evt_1NG8Du2eZvKYlo2CUI79vXWy");
        let e = payload.normalize(true);
        assert_eq!(e.event_type, "unknown");
        assert_eq!(e.provider_event.as_deref(), Some("invoice.paid"));
    });
}

// Standard Webhooks: the svix test vector, the `standardwebhooks` crate,
// and the Allo preset.

const STANDARD: &str = r#"
secret_encoding = "whsec"
encoding = "base64"
signature_header = "webhook-signature"
signature_format = "spaced"
signature_key = "v1"
timestamp_header = "webhook-timestamp"
signed_content = "{id}.{timestamp}.{body}"
delivery_id = "header:webhook-id"
"#;
const SVIX_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn standard_fields(id: &str, ts: &str, sig: &str) -> Fields {
    Fields::new(&[
        ("webhook-id", id),
        ("webhook-timestamp", ts),
        ("webhook-signature", sig),
    ])
}

/// svix's own test vector, verbatim.
#[test]
fn standard_webhooks_svix_vector_as_an_hmac_route() {
    let s = build(&[SVIX_SECRET], STANDARD, None);
    let at = UNIX_EPOCH + Duration::from_secs(1_614_265_330);
    let body = br#"{"test": 2432232314}"#;
    let f = standard_fields(
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    );
    assert_eq!(check(&*s, &f, body, at), Ok(()));
    let allo = scheme(crate::provider::find("allo").unwrap(), &[SVIX_SECRET], "");
    assert_eq!(check(&*allo, &f, body, at), Ok(()));
    // The id is signed: another id breaks the signature.
    let other = standard_fields(
        "msg_other",
        "1614265330",
        f.get("webhook-signature").unwrap(),
    );
    assert_eq!(check(&*s, &other, body, at), Err(Reject::InvalidSignature));
    // And it is the delivery's identity.
    let mut scratch = Vec::new();
    f.with("/hook", body, |req| {
        let v = crate::verify::verify(&*s, req, &mut scratch, at).unwrap();
        let payload = s.read(v.text()).unwrap();
        let id = payload.identity(v.request());
        assert_eq!(id.key.unwrap()[0].as_str(), "msg_p5jXN8AQM9LWM0D4loKWxJek");
    });
}

#[test]
fn standard_webhooks_as_an_hmac_route_agrees_with_the_crate_and_allo() {
    let s = build(&[SVIX_SECRET], STANDARD, None);
    let allo = scheme(crate::provider::find("allo").unwrap(), &[SVIX_SECRET], "");
    let body = br#"{"topic":"call.completed","data":{"id":"c1"}}"#;
    let t = unix(now());
    let lib = standardwebhooks::Webhook::new(SVIX_SECRET).unwrap();
    let mut cases = Vec::new();
    for ts in [t, t - 300, t + 300, t - 301, t + 301] {
        let sig = lib.sign("msg_1", ts as i64, body).unwrap();
        cases.push((
            standard_fields("msg_1", &ts.to_string(), &sig),
            body.to_vec(),
        ));
        let two = format!("v1,{} {sig}", B64.encode([7u8; 32]));
        cases.push((
            standard_fields("msg_1", &ts.to_string(), &two),
            body.to_vec(),
        ));
        cases.push((
            standard_fields("msg_2", &ts.to_string(), &sig),
            body.to_vec(),
        ));
        let mut tampered = body.to_vec();
        tampered[5] ^= 1;
        cases.push((standard_fields("msg_1", &ts.to_string(), &sig), tampered));
    }
    let other = standardwebhooks::Webhook::new("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
    let sig = other.sign("msg_1", t as i64, body).unwrap();
    cases.push((
        standard_fields("msg_1", &t.to_string(), &sig),
        body.to_vec(),
    ));
    cases.push((
        standard_fields("msg_1", &t.to_string(), "v1a,abc"),
        body.to_vec(),
    ));
    cases.push((standard_fields("msg_1", "soon", &sig), body.to_vec()));
    agree(&*allo, &*s, &cases, 6);
}

/// Both schemes give the same verdict on every case; `accepted` of them
/// verify.
fn agree(preset: &dyn Scheme, generic: &dyn Scheme, cases: &[(Fields, Vec<u8>)], accepted: usize) {
    let mut ok = 0;
    for (i, (fields, body)) in cases.iter().enumerate() {
        let a = check(preset, fields, body, now());
        let b = check(generic, fields, body, now());
        assert_eq!(a.is_ok(), b.is_ok(), "case {i}: preset {a:?}, hmac {b:?}");
        ok += usize::from(a.is_ok());
    }
    assert_eq!(ok, accepted);
}

// Retell: `v=<ms>,d=<hex>` over body + ms, ±5 min.

const RETELL: &str = r#"
signature_header = "x-retell-signature"
signature_format = "list"
signature_key = "d"
timestamp_key = "v"
timestamp_unit = "ms"
signed_content = "{body}{timestamp}"
"#;

#[test]
fn retell_as_an_hmac_route_verifies_the_sdk_example_and_agrees_with_the_preset() {
    let s = build(&["test-api-key"], RETELL, None);
    let body = br#"{"event":"call_ended"}"#;
    let sig = "v=1700000000000,d=07024cabe7dd8f6d1c6e4a8324ca92c812e6ad4a7ee506c04f7e462e3321823e";
    let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_000);
    let f = Fields::new(&[("x-retell-signature", sig)]);
    assert_eq!(check(&*s, &f, body, at), Ok(()));

    let key = "key_live_2f8c0e1d";
    let s = build(&[key], RETELL, None);
    let preset = scheme(crate::provider::find("retell").unwrap(), &[key], "");
    let body = br#"{"event":"call_ended","call":{"call_id":"c1"}}"#;
    let ms = unix(now()) * 1000;
    let header = |k: &str, ms: u64, body: &[u8]| {
        let d = hmac256_hex(k.as_bytes(), &[body, ms.to_string().as_bytes()]);
        Fields::new(&[("x-retell-signature", &format!("v={ms},d={d}"))])
    };
    let mut cases = Vec::new();
    for at in [
        ms,
        ms - 300_000,
        ms + 300_000,
        ms - 300_001,
        ms + 300_001,
        ms / 1000,
    ] {
        cases.push((header(key, at, body), body.to_vec()));
        cases.push((header("other", at, body), body.to_vec()));
        cases.push((header(key, at, body), body[..body.len() - 1].to_vec()));
    }
    cases.push((
        Fields::new(&[("x-retell-signature", "v=1,d=")]),
        body.to_vec(),
    ));
    cases.push((Fields::default(), body.to_vec()));
    agree(&*preset, &*s, &cases, 3);
}

// ElevenLabs: `t=<s>,v0=<hex>` over `<t>.<body>`, 30 min past, any future.

const ELEVENLABS: &str = r#"
signature_header = "ElevenLabs-Signature"
signature_format = "list"
signature_key = "v0"
timestamp_key = "t"
signed_content = "{timestamp}.{body}"
timestamp_window = "past"
"#;

#[test]
fn elevenlabs_as_an_hmac_route_agrees_with_the_preset() {
    let secret = "wsec_8a1f9e0c2b7d4e6f";
    let s = build(&[secret], ELEVENLABS, Some(Duration::from_secs(1800)));
    let preset = scheme(crate::provider::find("elevenlabs").unwrap(), &[secret], "");
    let body = br#"{"type":"post_call_transcription","data":{"conversation_id":"c"}}"#;
    let t = unix(now());
    let header = |k: &str, t: u64, body: &[u8]| {
        let v0 = hmac256_hex(k.as_bytes(), &[t.to_string().as_bytes(), b".", body]);
        Fields::new(&[("elevenlabs-signature", &format!("t={t},v0={v0}"))])
    };
    let mut cases = Vec::new();
    for at in [t, t - 1800, t - 1801, t + 1801, t + 86_400 * 365] {
        cases.push((header(secret, at, body), body.to_vec()));
        cases.push((header("other", at, body), body.to_vec()));
        cases.push((header(secret, at, body), [body.as_slice(), b" "].concat()));
    }
    let v0 = |k: &str| {
        let f = header(k, t, body);
        f.get("elevenlabs-signature")
            .unwrap()
            .split_once(',')
            .unwrap()
            .1
            .to_owned()
    };
    let both = format!("t={t},{},{}", v0("other"), v0(secret));
    cases.push((
        Fields::new(&[("elevenlabs-signature", &both)]),
        body.to_vec(),
    ));
    agree(&*preset, &*s, &cases, 5);
}

// Bland AI: hex HMAC-SHA256 of the body in X-Webhook-Signature, no
// timestamp.

const BLAND: &str = r#"
signature_header = "X-Webhook-Signature"
event_pointer = "/status"
"#;

#[test]
fn bland_as_an_hmac_route() {
    let secret = "bland_whsk_31c9";
    let s = build(&[secret], BLAND, None);
    let body = br#"{"call_id":"9d404c1b","status":"completed","call_length":2.4}"#;
    let sig = hmac_hex(secret.as_bytes(), body);
    let ok = |sig: &str, body: &[u8]| {
        check(
            &*s,
            &Fields::new(&[("X-Webhook-Signature", sig)]),
            body,
            now(),
        )
    };
    assert_eq!(ok(&sig, body), Ok(()));
    assert_eq!(ok(&sig.to_uppercase(), body), Ok(()), "either hex case");
    assert_eq!(ok(&sig, &body[1..]), Err(Reject::InvalidSignature));
    assert_eq!(
        ok(&hmac_hex(b"other", body), body),
        Err(Reject::InvalidSignature)
    );
    // Voxagent's preset is the same scheme: both agree.
    let vox = scheme(crate::provider::find("voxagent").unwrap(), &[secret], "");
    let vox_fields = Fields::new(&[("X-Voxagent-Signature", &sig)]);
    assert_eq!(check(&*vox, &vox_fields, body, now()), Ok(()));
    assert!(s.warnings().iter().any(|w| w.contains("no replay window")));
}

// The knobs one by one.

#[test]
fn algorithms_encodings_prefix_and_secret_encodings() {
    let body = br#"{"type":"call.ended","id":"e1"}"#;
    for (algorithm, len) in [("sha1", 20), ("sha256", 32), ("sha512", 64)] {
        for (encoding, encode) in [
            (
                "hex",
                Box::new(|b: &[u8]| hex::encode(b)) as Box<dyn Fn(&[u8]) -> String>,
            ),
            ("base64", Box::new(|b: &[u8]| B64.encode(b))),
            (
                "base64url",
                Box::new(|b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)),
            ),
        ] {
            let mac: Vec<u8> = match algorithm {
                "sha1" => {
                    use ::hmac::Mac;
                    let mut m = ::hmac::Hmac::<sha1::Sha1>::new_from_slice(b"k3y").unwrap();
                    m.update(body);
                    m.finalize().into_bytes().to_vec()
                }
                "sha256" => {
                    use ::hmac::Mac;
                    let mut m = ::hmac::Hmac::<sha2::Sha256>::new_from_slice(b"k3y").unwrap();
                    m.update(body);
                    m.finalize().into_bytes().to_vec()
                }
                _ => {
                    use ::hmac::Mac;
                    let mut m = ::hmac::Hmac::<sha2::Sha512>::new_from_slice(b"k3y").unwrap();
                    m.update(body);
                    m.finalize().into_bytes().to_vec()
                }
            };
            assert_eq!(mac.len(), len);
            let options = format!(
                "algorithm = \"{algorithm}\"\nencoding = \"{encoding}\"\nsignature_header = \"X-Sig\"\nsignature_prefix = \"sha=\"\n"
            );
            for (secret, secret_encoding) in
                [("k3y", "utf8"), ("azN5", "base64"), ("whsec_azN5", "whsec")]
            {
                let s = build(
                    &[secret],
                    &format!("{options}secret_encoding = \"{secret_encoding}\"\n"),
                    None,
                );
                let sig = format!("sha={}", encode(&mac));
                let verdict = check(&*s, &Fields::new(&[("x-sig", &sig)]), body, now());
                assert_eq!(verdict, Ok(()), "{algorithm} {encoding} {secret_encoding}");
                // Without its prefix the signature is not read.
                let bare = check(&*s, &Fields::new(&[("x-sig", &encode(&mac))]), body, now());
                assert_eq!(bare, Err(Reject::MalformedSignature { header: "x-sig" }));
            }
        }
    }
}

#[test]
fn timestamps_from_a_header_in_milliseconds_both_ways() {
    let options = r#"
signature_header = "X-Signature"
timestamp_header = "X-Timestamp"
timestamp_unit = "ms"
signed_content = "{timestamp}:{header:X-Request-Path}:{body}"
"#;
    let s = build(&["k"], options, Some(Duration::from_secs(60)));
    let body = b"{}";
    let fields = |ms: u64, path: &str| {
        let sig = hmac256_hex(
            b"k",
            &[ms.to_string().as_bytes(), b":", path.as_bytes(), b":", body],
        );
        Fields::new(&[
            ("X-Signature", &sig),
            ("X-Timestamp", &ms.to_string()),
            ("X-Request-Path", path),
        ])
    };
    let ms = unix(now()) * 1000;
    assert_eq!(check(&*s, &fields(ms + 60_000, "/a"), body, now()), Ok(()));
    assert_eq!(
        check(&*s, &fields(ms + 60_001, "/a"), body, now()),
        Err(Reject::TimestampOutOfTolerance)
    );
    assert_eq!(
        check(&*s, &fields(ms - 60_001, "/a"), body, now()),
        Err(Reject::TimestampOutOfTolerance)
    );
    // A signed header changed, or missing.
    let mut moved = fields(ms, "/a");
    moved.set("X-Request-Path", "/b");
    assert_eq!(
        check(&*s, &moved, body, now()),
        Err(Reject::InvalidSignature)
    );
    moved.remove("X-Request-Path");
    assert_eq!(
        check(&*s, &moved, body, now()),
        Err(Reject::MissingSignature {
            header: "x-request-path"
        })
    );
    let mut bad = fields(ms, "/a");
    bad.set("X-Timestamp", "12.5");
    assert_eq!(
        check(&*s, &bad, body, now()),
        Err(Reject::MalformedSignature {
            header: "x-timestamp"
        })
    );
    assert!(s.warnings().is_empty(), "{:?}", s.warnings());
}

#[test]
fn delivery_ids_are_signed_only_where_the_signature_covers_them() {
    let body = br#"{"type":"call.started","id":"evt_9","data":{}}"#;
    let base = "signature_header = \"X-Sig\"\n";
    let sig = hmac_hex(b"k", body);
    let fields = Fields::new(&[("X-Sig", &sig), ("X-Delivery", "dlv-1")]);
    let identity = |options: &str| {
        let s = build(&["k"], options, None);
        verified(&*s, &fields, body, |v, payload| {
            let id = payload.identity(v.request());
            let e = payload.normalize(true);
            (
                id.key.map(|k| k[0].as_str().to_owned()),
                id.unsigned_id,
                e.event_type,
                s.warnings(),
            )
        })
    };
    let (key, unsigned, ty, _) = identity(&format!(
        "{base}delivery_id = \"json:/id\"\nevent_pointer = \"/type\"\n"
    ));
    assert_eq!(
        (key.as_deref(), unsigned, ty),
        (Some("evt_9"), None, "call.started")
    );

    let (key, unsigned, ty, warnings) =
        identity(&format!("{base}delivery_id = \"header:X-Delivery\"\n"));
    assert_eq!(
        (key, unsigned.as_deref(), ty),
        (None, Some("dlv-1"), "unknown")
    );
    assert!(
        warnings.iter().any(|w| w.contains("not signed")),
        "{warnings:?}"
    );

    let (key, unsigned, ..) = identity(&format!(
        "{base}delivery_id = \"json:/id\"\ndelivery_id_signed = false\n"
    ));
    assert_eq!((key, unsigned.as_deref()), (None, Some("evt_9")));

    // Covered by the template: signed.
    let covered = format!(
        "{base}delivery_id = \"header:X-Delivery\"\nsigned_content = \"{{header:X-Delivery}}.{{body}}\"\n"
    );
    let sig = hmac256_hex(b"k", &[b"dlv-1.", body]);
    let s = build(&["k"], &covered, None);
    let f = Fields::new(&[("X-Sig", &sig), ("X-Delivery", "dlv-1")]);
    verified(&*s, &f, body, |v, payload| {
        let id = payload.identity(v.request());
        assert_eq!(id.key.unwrap()[0].as_str(), "dlv-1");
    });
}

#[test]
fn refused_combinations_name_their_key() {
    let sig = "signature_header = \"X-Sig\"\n";
    let cases: &[(&str, Option<Duration>, &str, &str)] = &[
        ("", None, "signature_header", "required"),
        ("signature_header = \"X Sig\"\n", None, "signature_header", "not a header name"),
        ("signed_content = \"{timestamp}\"\ntimestamp_header = \"X-T\"\n", None, "signed_content", "must contain {body}"),
        ("timestamp_unit = \"ms\"\n", None, "timestamp_unit", "timestamp source"),
        ("timestamp_window = \"past\"\n", None, "timestamp_window", "timestamp source"),
        ("", Some(Duration::from_secs(60)), "tolerance", "timestamp source"),
        ("signed_content = \"{timestamp}.{body}\"\n", None, "signed_content", "timestamp source"),
        ("timestamp_header = \"X-T\"\n", None, "signed_content", "must contain {timestamp}"),
        ("timestamp_header = \"X-Sig\"\nsigned_content = \"{timestamp}{body}\"\n", None, "timestamp_header", "signature header itself"),
        ("signed_content = \"{header:x-sig}{body}\"\n", None, "signed_content", "signature header itself"),
        ("signed_content = \"{id}.{body}\"\n", None, "signed_content", "{id} needs delivery_id"),
        ("signed_content = \"{id}.{body}\"\ndelivery_id = \"json:/id\"\n", None, "signed_content", "{id} needs delivery_id"),
        ("signed_content = \"{nonce}{body}\"\n", None, "signed_content", "not one of"),
        ("delivery_id = \"header:X-Id\"\ndelivery_id_signed = true\n", None, "delivery_id_signed", "does not cover"),
        ("delivery_id_signed = true\n", None, "delivery_id_signed", "needs delivery_id"),
        ("delivery_id = \"X-Id\"\n", None, "delivery_id", "header:Name"),
        ("delivery_id = \"json:id\"\n", None, "delivery_id", "JSON pointer"),
        ("event_pointer = \"type\"\n", None, "event_pointer", "JSON pointer"),
        ("timestamp_key = \"t\"\n", None, "timestamp_key", "list"),
        ("signature_key = \"v1\"\n", None, "signature_key", "list"),
        ("signature_format = \"list\"\nsignature_key = \"t\"\ntimestamp_key = \"t\"\nsigned_content = \"{timestamp}{body}\"\n", None, "timestamp_key", "differ"),
        ("signature_format = \"list\"\ntimestamp_key = \"t\"\ntimestamp_header = \"X-T\"\nsigned_content = \"{timestamp}{body}\"\n", None, "timestamp_header", "one source"),
        ("algorithm = \"md5\"\n", None, "algorithm", "not one of"),
        ("encoding = \"base32\"\n", None, "encoding", "not one of"),
        ("signature_format = \"json\"\n", None, "signature_format", "not one of"),
        ("secret_encoding = 64\n", None, "secret_encoding", "must be a string"),
    ];
    for (options, tolerance, key, says) in cases {
        let options = if *key == "signature_header" {
            options.to_string()
        } else {
            format!("{sig}{options}")
        };
        let errors = try_build(&["k"], &options, *tolerance)
            .err()
            .unwrap_or_else(|| panic!("{options} loads"));
        assert!(
            errors
                .iter()
                .any(|e| e.key == *key && e.message.contains(says)),
            "{options}: {errors:?}"
        );
    }
    let errors = try_build(&[], sig, None).err().unwrap();
    assert_eq!(errors[0].key, "secrets");
    let errors = try_build(
        &["azN5", "!!"],
        &format!("{sig}secret_encoding = \"base64\"\n"),
        None,
    )
    .err()
    .unwrap();
    assert_eq!(errors[0].key, "secrets[1]");
    assert!(!errors[0].message.contains("!!"), "never the secret");
}

#[test]
fn send_signs_as_the_route_says() {
    for options in [STRIPE, STANDARD, RETELL, ELEVENLABS, BLAND, HMAC_OPTIONS] {
        let secret = if options == STANDARD {
            SVIX_SECRET
        } else {
            "k3y"
        };
        let table: toml::Table = toml::from_str(options).unwrap();
        let body = br#"{"type":"call.ended","id":"evt_1"}"#;
        let d = delivery("call.ended", &table);
        let headers = PROVIDER.sign(&Secret::new(secret), body, &d).unwrap();
        let s = build(&[secret], options, None);
        assert_eq!(
            check(&*s, &Fields::from_owned(headers), body, now()),
            Ok(()),
            "{options}"
        );
    }
    let mut table: toml::Table = toml::from_str(BLAND).unwrap();
    table.insert("sekret".into(), "x".into());
    let d = Outgoing {
        url: "https://hooks.example.test/hook",
        id: "m",
        timestamp: 1,
        event: "e",
        options: &table,
    };
    assert!(PROVIDER
        .sign(&Secret::new("k"), b"{}", &d)
        .unwrap_err()
        .contains("sekret"));
}

#[test]
fn the_envelope_maps_schema_types_only() {
    let p = crate::provider::find("hmac").unwrap();
    for (body, ty, event) in [
        (
            json!({"type": "sms.received", "id": "1"}),
            "sms.received",
            Some("sms.received"),
        ),
        (
            json!({"type": "SMS.RECEIVED", "id": "1"}),
            "unknown",
            Some("SMS.RECEIVED"),
        ),
        (json!({"type": 7, "id": "1"}), "unknown", Some("7")),
        (json!({"type": {"nested": true}}), "unknown", None),
        (json!([1, 2]), "unknown", None),
    ] {
        let n = normalize_body(p, body.to_string().as_bytes(), true, true);
        assert_eq!(n.doc["type"], ty, "{body}");
        assert_eq!(n.doc["providerevent"].as_str(), event, "{body}");
        assert_eq!(n.doc["data"]["raw"], body);
        assert_eq!(n.doc["data"].as_object().unwrap().len(), 1, "only raw");
    }
}
