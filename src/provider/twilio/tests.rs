//! Twilio: the official SDK's worked examples, both key kinds, the URL
//! forms, JSON bodies, identity and the mapping of each fixture.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::*;
use crate::provider::test_support::*;

/// twilio-python `tests/unit/test_request_validator.py`.
const TOKEN: &str = "12345";
const FORM: &[u8] = b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212";
const TARGET: &str = "/myapp.php?foo=1&bar=2";
const SIGNED_WITHOUT_PORT: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
const SIGNED_WITH_PORT: &str = "kvajT1Ptam85bY51eRf/AJRuM3w=";
const JSON_BODY: &[u8] = br#"{"property": "value", "boolean": true}"#;
const JSON_SIGNATURE: &str = "a9nBmqA0ju/hNViExpshrM61xv4=";

fn route(secrets: &[&str], public_url: &str, extra: &str) -> Box<dyn RouteScheme> {
    scheme(
        &PROVIDER,
        secrets,
        &format!("public_url = \"{public_url}\"\n{extra}"),
    )
}

fn example_route() -> Box<dyn RouteScheme> {
    route(&[TOKEN], "https://mycompany.com/myapp.php", "")
}

fn signed_of(
    s: &dyn RouteScheme,
    headers: &[(&str, &str)],
    target: &str,
    body: &[u8],
) -> Result<Signed, Reject> {
    check_at(s, &Fields::new(headers), target, body, now())
}

fn run(
    s: &dyn RouteScheme,
    headers: &[(&str, &str)],
    target: &str,
    body: &[u8],
) -> Result<(), Reject> {
    signed_of(s, headers, target, body).map(|_| ())
}

fn sig(value: &str) -> [(&str, &str); 1] {
    [("X-Twilio-Signature", value)]
}

/// HMAC over `message` as base64, written out here.
fn sha1_b64(key: &str, message: &[u8]) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(message);
    BASE64.encode(mac.finalize().into_bytes())
}

fn sha256_b64(key: &str, message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(message);
    BASE64.encode(mac.finalize().into_bytes())
}

fn json_target() -> String {
    format!(
        "{TARGET}&bodySHA256={}",
        hex::encode(Sha256::digest(JSON_BODY))
    )
}

#[test]
fn the_sdk_worked_example_verifies_with_and_without_the_port() {
    let s = example_route();
    for signature in [SIGNED_WITHOUT_PORT, SIGNED_WITH_PORT] {
        assert!(
            matches!(
                signed_of(&*s, &sig(signature), TARGET, FORM),
                Ok(Signed::Other(_))
            ),
            "{signature}"
        );
    }
    // A route configured with the port accepts both as well.
    let with_port = route(&[TOKEN], "https://mycompany.com:443/myapp.php", "");
    for signature in [SIGNED_WITHOUT_PORT, SIGNED_WITH_PORT] {
        assert!(run(&*with_port, &sig(signature), TARGET, FORM).is_ok());
    }
    // Independently: the signed content is the URL then the sorted params.
    let content = "https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+14158675309Digits1234From+14158675309To+18005551212";
    assert_eq!(sha1_b64(TOKEN, content.as_bytes()), SIGNED_WITHOUT_PORT);
}

#[test]
fn the_sdk_worked_json_example_verifies_through_its_body_hash() {
    let s = example_route();
    let target = json_target();
    assert!(matches!(
        signed_of(&*s, &sig(JSON_SIGNATURE), &target, JSON_BODY),
        Ok(Signed::Body)
    ));
    assert_eq!(
        Fields::default().with(&target, JSON_BODY, |r| s.format(&r)),
        Format::Json
    );
    assert_eq!(
        Fields::default().with(TARGET, FORM, |r| s.format(&r)),
        Format::Form
    );
    // A changed body no longer hashes to the signed URL's bodySHA256.
    let tampered = br#"{"property": "value", "boolean": false}"#;
    assert_eq!(
        run(&*s, &sig(JSON_SIGNATURE), &target, tampered),
        Err(Reject::InvalidSignature)
    );
    // The hash is compared as the validator does: lower-case hex.
    let upper = format!(
        "{TARGET}&bodySHA256={}",
        hex::encode_upper(Sha256::digest(JSON_BODY))
    );
    let upper_sig = sha1_b64(
        TOKEN,
        format!("https://mycompany.com/myapp.php{upper}").as_bytes(),
    );
    assert_eq!(
        run(&*s, &sig(&upper_sig), &upper, JSON_BODY),
        Err(Reject::InvalidSignature)
    );
}

#[test]
fn wrong_token_tampered_params_and_other_urls_are_refused() {
    let s = example_route();
    let wrong = route(&["54321"], "https://mycompany.com/myapp.php", "");
    assert_eq!(
        run(&*wrong, &sig(SIGNED_WITHOUT_PORT), TARGET, FORM),
        Err(Reject::InvalidSignature)
    );
    let tampered = String::from_utf8(FORM.to_vec())
        .unwrap()
        .replace("1234&", "1235&");
    assert_eq!(
        run(&*s, &sig(SIGNED_WITHOUT_PORT), TARGET, tampered.as_bytes()),
        Err(Reject::InvalidSignature)
    );
    for target in ["/myapp.php?foo=1&bar=3", "/myapp.php?foo=1", "/myapp.php"] {
        assert_eq!(
            run(&*s, &sig(SIGNED_WITHOUT_PORT), target, FORM),
            Err(Reject::InvalidSignature),
            "{target}"
        );
    }
    for public in [
        "https://mycompany.com/otherapp.php",
        "http://mycompany.com/myapp.php",
        "https://evil.example/myapp.php",
        "https://mycompany.com:8443/myapp.php",
    ] {
        let other = route(&[TOKEN], public, "");
        assert_eq!(
            run(&*other, &sig(SIGNED_WITH_PORT), TARGET, FORM),
            Err(Reject::InvalidSignature),
            "{public}"
        );
    }
}

#[test]
fn any_explicit_port_is_stripped_as_the_sdk_strips_it() {
    let s = route(&[TOKEN], "https://mycompany.com:8443/myapp.php", "");
    let content = |url: &str| {
        let mut c = format!("{url}?foo=1&bar=2").into_bytes();
        c.extend_from_slice(
            b"CallSidCA1234567890ABCDECaller+14158675309Digits1234From+14158675309To+18005551212",
        );
        c
    };
    for url in [
        "https://mycompany.com:8443/myapp.php",
        "https://mycompany.com/myapp.php",
    ] {
        let signature = sha1_b64(TOKEN, &content(url));
        assert!(run(&*s, &sig(&signature), TARGET, FORM).is_ok(), "{url}");
    }
    let default_port = sha1_b64(TOKEN, &content("https://mycompany.com:443/myapp.php"));
    assert_eq!(
        run(&*s, &sig(&default_port), TARGET, FORM),
        Err(Reject::InvalidSignature),
        "the configured port, not the default one"
    );
}

#[test]
fn repeated_params_sort_their_values_and_identical_values_count_once() {
    let s = route(&[TOKEN], "https://h.example/t", "");
    let body = b"Tag=y&Tag=x&Tag=y&Empty=&Name=a+b";
    let signature = sha1_b64(TOKEN, b"https://h.example/tEmptyNamea bTagxTagy");
    assert!(run(&*s, &sig(&signature), "/t", body).is_ok());
    // Re-encoded alike, signed alike, deduplicated alike.
    let reencoded = b"Name=a%20b&Tag=x&Empty&Tag=y";
    let a = signed_of(&*s, &sig(&signature), "/t", body).unwrap();
    let b = signed_of(&*s, &sig(&signature), "/t", reencoded).unwrap();
    match (a, b) {
        (Signed::Other(a), Signed::Other(b)) => assert_eq!(a, b),
        _ => panic!("a form's signed content is its own"),
    }
}

#[test]
fn rotation_takes_any_auth_token() {
    let s = route(&["old-token", TOKEN], "https://mycompany.com/myapp.php", "");
    assert!(run(&*s, &sig(SIGNED_WITHOUT_PORT), TARGET, FORM).is_ok());
}

#[test]
fn shared_keys_sign_with_hmac_sha256_when_the_settings_name_them() {
    let s = route(
        &[TOKEN],
        "https://mycompany.com/myapp.php",
        "shared_keys = { \"webhooks_sharedkey_1\" = \"sk-secret-1\" }",
    );
    let content = b"https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+14158675309Digits1234From+14158675309To+18005551212";
    let signature = sha256_b64("sk-secret-1", content);
    let settings = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256";
    let h = [
        ("X-Twilio-Signature", signature.as_str()),
        ("X-Twilio-Webhooks-Signature-Settings", settings),
    ];
    assert!(run(&*s, &h, TARGET, FORM).is_ok());
    // The Auth Token does not stand in for a named key, nor a key for another.
    let by_token = sha256_b64(TOKEN, content);
    let h = [
        ("X-Twilio-Signature", by_token.as_str()),
        ("X-Twilio-Webhooks-Signature-Settings", settings),
    ];
    assert_eq!(run(&*s, &h, TARGET, FORM), Err(Reject::InvalidSignature));
    let h = [
        ("X-Twilio-Signature", signature.as_str()),
        (
            "X-Twilio-Webhooks-Signature-Settings",
            "key=webhooks_sharedkey_2,algorithm=HMAC_SHA256",
        ),
    ];
    assert_eq!(run(&*s, &h, TARGET, FORM), Err(Reject::InvalidSignature));
    // An HMAC-SHA1 signature where the settings say SHA-256 has the wrong length.
    let h = [
        ("X-Twilio-Signature", SIGNED_WITHOUT_PORT),
        ("X-Twilio-Webhooks-Signature-Settings", settings),
    ];
    assert_eq!(
        run(&*s, &h, TARGET, FORM),
        Err(Reject::MalformedSignature {
            header: SIGNATURE_LABEL
        })
    );
    // Settings without a key: the Auth Tokens, with the algorithm named.
    let h = [
        ("X-Twilio-Signature", by_token.as_str()),
        (
            "X-Twilio-Webhooks-Signature-Settings",
            "algorithm=hmac_sha256",
        ),
    ];
    assert!(run(&*s, &h, TARGET, FORM).is_ok());
}

#[test]
fn missing_and_malformed_headers() {
    let s = example_route();
    assert_eq!(
        run(&*s, &[], TARGET, FORM),
        Err(Reject::MissingSignature {
            header: SIGNATURE_LABEL
        })
    );
    let malformed = Err(Reject::MalformedSignature {
        header: SIGNATURE_LABEL,
    });
    for bad in [
        "not base64!",
        "RSOYDt4T1cUTdK1PDd93/VVr8B8",
        "RSOYDt4T1cUTdK1PDd93/VVr8B8=RSOY",
        "AAAA",
        &BASE64.encode([0u8; 32]),
    ] {
        assert_eq!(run(&*s, &sig(bad), TARGET, FORM), malformed, "{bad}");
    }
    let twice = [
        ("X-Twilio-Signature", SIGNED_WITHOUT_PORT),
        ("x-twilio-signature", SIGNED_WITHOUT_PORT),
    ];
    assert_eq!(run(&*s, &twice, TARGET, FORM), malformed);
    for settings in ["key=,algorithm=HMAC_SHA256", "algorithm=HMAC_MD5"] {
        let h = [
            ("X-Twilio-Signature", SIGNED_WITHOUT_PORT),
            ("X-Twilio-Webhooks-Signature-Settings", settings),
        ];
        assert_eq!(
            run(&*s, &h, TARGET, FORM),
            Err(Reject::MalformedSignature {
                header: SETTINGS_LABEL
            }),
            "{settings}"
        );
    }
}

#[test]
fn lenient_form_decoding_matches_the_validators() {
    assert_eq!(unquote_plus(b"a+b%2B%zz%4"), "a b+%zz%4");
    assert_eq!(unquote_plus(b"%C3%A9%ff"), "é\u{fffd}");
    assert_eq!(unquote_plus(b"%+1"), "% 1", "'+' is no hex digit");
    let pairs: Vec<_> = pairs(b"a=1&&b&c=&=d").collect();
    assert_eq!(
        pairs,
        [("a", "1"), ("b", ""), ("c", ""), ("", "d")]
            .map(|(n, v)| (Cow::Borrowed(n), Cow::Borrowed(v)))
    );
    assert_eq!(
        body_hash(b"bodySHA256=&bodySHA256=ab&bodySHA256=cd").as_deref(),
        Some("ab")
    );
    assert_eq!(body_hash(b"bodysha256=ab"), None);
}

#[test]
fn configuration_errors_name_the_key() {
    let keys = |options: &str| -> Vec<String> {
        try_scheme(&PROVIDER, &[TOKEN], options)
            .err()
            .unwrap_or_else(|| panic!("{options} should not configure"))
            .into_iter()
            .map(|e| e.key)
            .collect()
    };
    assert_eq!(keys(""), ["public_url"]);
    for bad in [
        "hooks.example.com/t",
        "ftp://hooks.example.com/t",
        "https://hooks.example.com/t?x=1",
        "https://hooks.example.com/t#rc=3",
        "https://user:pw@hooks.example.com/t",
        "https://:443/t",
        "https://hooks.example.com:44x3/t",
        "https://hooks.example.com/a b",
    ] {
        assert_eq!(
            keys(&format!("public_url = \"{bad}\"")),
            ["public_url"],
            "{bad}"
        );
    }
    assert_eq!(
        keys("public_url = \"https://h.example/t\"\nshared_keys = { \"k1\" = \"\" }"),
        ["shared_keys.k1"]
    );
    assert_eq!(
        public_url("https://[::1]:8443/t").unwrap(),
        [
            "https://[::1]/t".to_owned(),
            "https://[::1]:8443/t".to_owned()
        ]
    );
    assert_eq!(
        public_url("HTTP://Hooks.Example.com").unwrap(),
        [
            "http://Hooks.Example.com".to_owned(),
            "http://Hooks.Example.com:80".to_owned()
        ]
    );
}

fn identity(form: &[u8], headers: &[(&str, &str)]) -> (Option<Vec<String>>, Option<String>, bool) {
    let s = route(&[TOKEN], TEST_URL, "");
    let mut content = TEST_URL.as_bytes().to_vec();
    signed_params(form, &mut content);
    let signature = sha1_b64(TOKEN, &content);
    let mut f = Fields::new(headers);
    f.add("X-Twilio-Signature", &signature);
    verified(&*s, &f, form, |v, payload| {
        let id = payload.identity(v.request());
        (key_parts(&id), id.unsigned_id, id.exempt)
    })
}

#[test]
fn identity_is_the_call_and_its_status_or_the_message_and_its_status() {
    let (key, unsigned, exempt) = identity(
        &fixture("twilio", "call.completed"),
        &[("I-Twilio-Idempotency-Token", "f3a1c2d4-token")],
    );
    assert_eq!(
        key.unwrap(),
        ["CA5b1f3e9a7c2d4e6f8a0b1c2d3e4f5a6b", "completed", "3"]
    );
    assert_eq!(unsigned.as_deref(), Some("f3a1c2d4-token"), "reported only");
    assert!(!exempt);

    let (key, _, exempt) = identity(b"CallSid=CA1&CallStatus=busy&Timestamp=x", &[]);
    assert_eq!(key.unwrap(), ["CA1", "busy"], "no SequenceNumber: none");
    assert!(!exempt);

    let (key, _, _) = identity(&fixture("twilio", "message.delivered"), &[]);
    assert_eq!(
        key.unwrap(),
        ["SM1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f", "delivered"]
    );
    let (key, _, _) = identity(&fixture("twilio", "message.received"), &[]);
    assert_eq!(
        key.unwrap(),
        ["SM7f3a9c2e1d0b4a5968e7f6d5c4b3a291", "received"]
    );

    let (key, _, _) = identity(b"AccountSid=AC1&Foo=bar", &[]);
    assert_eq!(key, None, "the signed content's digest stands in");
    let (key, _, _) = identity(b"CallSid=CA1&CallSid=CA2&CallStatus=completed", &[]);
    assert_eq!(key, None, "an ambiguous id is no id");
}

#[test]
fn a_voice_request_waiting_for_twiml_is_never_answered_from_the_cache() {
    let request = b"CallSid=CA9&AccountSid=AC1&From=%2B14155550123&To=%2B14155550100&CallStatus=ringing&Direction=inbound&ApiVersion=2010-04-01";
    let (key, _, exempt) = identity(request, &[]);
    assert_eq!(key.unwrap(), ["CA9", "ringing"]);
    assert!(exempt, "the call waits on the receiver's TwiML");
    let (_, _, exempt) = identity(&fixture("twilio", "call.ringing"), &[]);
    assert!(!exempt, "a status callback is a notification");
}

#[test]
fn twilio_call_completed() {
    let d = norm("twilio", "call.completed").doc;
    assert_eq!(d["type"], "call.ended");
    assert_eq!(d["providerevent"], "call.completed");
    assert_eq!(d["subject"], "CA5b1f3e9a7c2d4e6f8a0b1c2d3e4f5a6b");
    assert_eq!(d["time"], "2026-05-17T03:47:38Z", "RFC 2822 read as UTC");
    let c = &d["data"]["call"];
    assert_eq!(c["id"], "CA5b1f3e9a7c2d4e6f8a0b1c2d3e4f5a6b");
    assert_eq!(c["direction"], "inbound");
    assert_eq!(c["from"], "+14155550123");
    assert_eq!(c["to"], "+14155550100");
    assert_eq!(
        c["duration_seconds"], 146,
        "CallDuration, not Duration (minutes)"
    );
    assert_eq!(c["ended_at"], "2026-05-17T03:47:38Z");
    assert!(c.get("started_at").is_none() && c.get("end_reason").is_none());
    assert_eq!(
        c["recording_url"],
        "https://api.twilio.com/2010-04-01/Accounts/AC3f2b6a1c9d8e7f60514a3b2c1d0e9f8a/Recordings/RE9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f"
    );
    assert_eq!(d["data"]["caller"], json!({"phone": "+14155550123"}));
    assert_eq!(
        d["data"]["raw"]["SipResponseCode"], "200",
        "the form, as strings"
    );
}

#[test]
fn twilio_call_progress_and_failure() {
    let d = norm("twilio", "call.ringing").doc;
    assert_eq!(
        (d["type"].as_str(), d["providerevent"].as_str()),
        (Some("call.started"), Some("call.ringing"))
    );
    assert_eq!(d["time"], "2026-05-17T03:45:10Z");
    assert!(
        d["data"]["call"].get("started_at").is_none(),
        "ringing is no start"
    );

    let d = norm("twilio", "call.in-progress").doc;
    assert_eq!(d["type"], "call.started");
    assert_eq!(d["data"]["call"]["started_at"], "2026-05-17T03:45:12Z");
    assert_eq!(
        d["data"]["caller"],
        json!({"name": "Sarah Johnson", "phone": "+14155550123"})
    );

    let d = norm("twilio", "call.no-answer").doc;
    assert_eq!(d["type"], "call.failed");
    let c = &d["data"]["call"];
    assert_eq!(c["direction"], "outbound", "outbound-api");
    assert_eq!(c["end_reason"], "no-answer");
    assert_eq!(c["ended_at"], "2026-05-17T08:00:32Z");
    assert_eq!(c["duration_seconds"], 0);
    assert_eq!(
        d["data"]["caller"]["phone"], "+447700900123",
        "outbound: the callee"
    );
    assert_eq!(d["data"]["raw"]["Direction"], "outbound-api");
}

#[test]
fn twilio_messages() {
    let d = norm("twilio", "message.received").doc;
    assert_eq!(d["type"], "sms.received");
    assert_eq!(d["providerevent"], "message.received");
    assert_eq!(d["subject"], "SM7f3a9c2e1d0b4a5968e7f6d5c4b3a291");
    assert_eq!(
        d["time"], "2026-05-17T06:40:00Z",
        "no time sent: when received"
    );
    assert_eq!(
        d["data"]["sms"],
        json!({
            "id": "SM7f3a9c2e1d0b4a5968e7f6d5c4b3a291", "kind": "sms",
            "from": "+14155550123", "to": "+14155550100",
            "text": "Can I move my appointment to Friday?", "status": "received"
        })
    );
    assert_eq!(d["data"]["caller"]["phone"], "+14155550123");

    let d = norm("twilio", "message.sent").doc;
    assert_eq!(d["type"], "sms.sent");
    assert_eq!(
        d["data"]["caller"]["phone"], "+14155550123",
        "sent: the recipient"
    );
    let d = norm("twilio", "message.delivered").doc;
    assert_eq!(d["type"], "sms.delivered");
    assert_eq!(d["data"]["sms"]["status"], "delivered");
    assert!(d["data"]["sms"].get("text").is_none(), "not invented");

    // A status hookgate has no type for keeps its data.
    let n = normalize_body(
        &PROVIDER,
        br#"{"MessageSid":"SM1","MessageStatus":"undelivered","ErrorCode":"30003","NumMedia":"2"}"#,
        true,
        true,
    );
    assert_eq!(n.doc["type"], "unknown");
    assert_eq!(n.doc["providerevent"], "message.undelivered");
    assert_eq!(n.doc["data"]["sms"]["kind"], "mms");
    assert_eq!(n.doc["data"]["raw"]["ErrorCode"], "30003");
}

#[test]
fn send_signs_the_url_it_posts_to_or_the_public_one() {
    let secret = Secret::new(TOKEN);
    let body = fixture("twilio", "message.received");
    let mut options = toml::Table::new();
    let outgoing = |options: &toml::Table, url: &'static str| -> Fields {
        let d = Outgoing {
            id: "tok-1",
            url,
            timestamp: 0,
            event: "message.received",
            options,
        };
        Fields::from_owned(PROVIDER.sign(&secret, &body, &d).unwrap())
    };
    let s = route(&[TOKEN], "http://127.0.0.1:8080/webhooks/twilio", "");
    let f = outgoing(&options, "http://127.0.0.1:8080/webhooks/twilio?tenant=7");
    assert!(check_at(&*s, &f, "/webhooks/twilio?tenant=7", &body, now()).is_ok());
    assert_eq!(f.get("I-Twilio-Idempotency-Token"), Some("tok-1"));

    options.insert(
        "public_url".into(),
        "https://hooks.example.com/twilio".into(),
    );
    options.insert("shared_key_id".into(), "k1".into());
    let s = route(
        &["other"],
        "https://hooks.example.com/twilio",
        "shared_keys = { k1 = \"12345\" }",
    );
    let f = outgoing(&options, "http://127.0.0.1:8080/webhooks/twilio?tenant=7");
    assert_eq!(
        f.get("X-Twilio-Webhooks-Signature-Settings"),
        Some("key=k1,algorithm=HMAC_SHA256")
    );
    assert!(check_at(&*s, &f, "/webhooks/twilio?tenant=7", &body, now()).is_ok());
}
