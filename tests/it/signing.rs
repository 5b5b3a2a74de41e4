//! Test-side signers, written from PROVIDERS.md and independent of the
//! gateway's code: Agntix with the `svix` crate, Allo with the
//! `standardwebhooks` crate, Twilio's forms read by the `url` crate, Telnyx
//! with `ed25519-dalek` (the gateway uses `ring`), the others with HMAC
//! written out here (those schemes have no independent implementation in
//! Rust). The official SDKs sign and verify in `presets.rs` and `sdk.rs`.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use ed25519_dalek::Signer;

use crate::harness::{
    AGNTIX_SECRET, ALLO_SECRET, ELEVENLABS_SECRET, HMAC_SECRET, INBOUNDFLOW_SECRET, NIXFLEX_SECRET,
    RETELL_SECRET, STATIC_TOKEN, TELNYX_SEED, TWILIO_PUBLIC_BASE, TWILIO_SECRET, VAPI_SECRET,
    VOXAGENT_SECRET,
};

pub type Headers = Vec<(String, String)>;

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn hmac_hex(secret: &str, message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

fn h(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_owned(), v.into())
}

pub fn nixflex(secret: &str, ts: i64, body: &[u8]) -> Headers {
    let mut msg = format!("{ts}.").into_bytes();
    msg.extend_from_slice(body);
    vec![
        h(
            "X-Nixflex-Signature",
            format!("t={ts},v1={}", hmac_hex(secret, &msg)),
        ),
        h("Content-Type", "application/json"),
    ]
}

pub fn agntix(secret: &str, id: &str, ts: i64, body: &[u8]) -> Headers {
    let sig = svix::webhooks::Webhook::new(secret)
        .unwrap()
        .sign(id, ts, body)
        .unwrap();
    vec![
        h("svix-id", id),
        h("svix-timestamp", ts.to_string()),
        h("svix-signature", sig),
        h("Content-Type", "application/json"),
    ]
}

/// InboundFlow signs `JSON.stringify(body)`: pass the compact form to sign.
pub fn inboundflow(secret: &str, ts: i64, signed_body: &[u8]) -> Headers {
    let mut msg = format!("{ts}.").into_bytes();
    msg.extend_from_slice(signed_body);
    vec![
        h(
            "X-InboundFlow-Signature",
            format!("sha256={}", hmac_hex(secret, &msg)),
        ),
        h("X-InboundFlow-Timestamp", ts.to_string()),
        h("Content-Type", "application/json"),
    ]
}

pub fn allo(secret: &str, id: &str, ts: i64, body: &[u8]) -> Headers {
    let sig = standardwebhooks::Webhook::new(secret)
        .unwrap()
        .sign(id, ts, body)
        .unwrap();
    vec![
        h("webhook-id", id),
        h("webhook-timestamp", ts.to_string()),
        h("webhook-signature", sig),
        h("Content-Type", "application/json"),
    ]
}

pub fn voxagent(secret: &str, header: &str, body: &[u8]) -> Headers {
    vec![
        h(header, hmac_hex(secret, body)),
        h("Content-Type", "application/json"),
    ]
}

/// The URL Twilio signs for a request to `target` (`/path?query`) on the
/// test routes.
pub fn twilio_url(target: &str) -> String {
    format!("{TWILIO_PUBLIC_BASE}{target}")
}

/// Twilio's content: the URL, then each form parameter (read by the `url`
/// crate) as name and value, sorted, identical pairs once.
pub fn twilio_content(url: &str, form: &[u8]) -> Vec<u8> {
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(form).into_owned().collect();
    pairs.sort();
    pairs.dedup();
    let mut content = url.as_bytes().to_vec();
    for (name, value) in pairs {
        content.extend_from_slice(name.as_bytes());
        content.extend_from_slice(value.as_bytes());
    }
    content
}

/// `X-Twilio-Signature` for a form posted to `url`: base64 HMAC-SHA1 with
/// the Auth Token.
pub fn twilio(token: &str, url: &str, form: &[u8]) -> Headers {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(&twilio_content(url, form));
    vec![
        h(
            "X-Twilio-Signature",
            BASE64.encode(mac.finalize().into_bytes()),
        ),
        h("Content-Type", "application/x-www-form-urlencoded"),
    ]
}

/// Vapi's HMAC credential with its defaults: hex HMAC-SHA256 of
/// `<timestamp>.<body>` in `x-signature`, the time in `x-timestamp`.
pub fn vapi(secret: &str, ts: i64, body: &[u8]) -> Headers {
    let mut msg = format!("{ts}.").into_bytes();
    msg.extend_from_slice(body);
    vec![
        h("x-signature", hmac_hex(secret, &msg)),
        h("x-timestamp", ts.to_string()),
        h("Content-Type", "application/json"),
    ]
}

/// Retell: `v=<ms>,d=<hex>` over the body followed by the milliseconds.
pub fn retell(key: &str, ms: i64, body: &[u8]) -> Headers {
    let mut msg = body.to_vec();
    msg.extend_from_slice(ms.to_string().as_bytes());
    vec![
        h(
            "X-Retell-Signature",
            format!("v={ms},d={}", hmac_hex(key, &msg)),
        ),
        h("Content-Type", "application/json"),
    ]
}

/// ElevenLabs: `t=<s>,v0=<hex>` over `<t>.<body>`.
pub fn elevenlabs(secret: &str, ts: i64, body: &[u8]) -> Headers {
    let mut msg = format!("{ts}.").into_bytes();
    msg.extend_from_slice(body);
    vec![
        h(
            "ElevenLabs-Signature",
            format!("t={ts},v0={}", hmac_hex(secret, &msg)),
        ),
        h("Content-Type", "application/json"),
    ]
}

/// What the gateway reads a body as: JSON, or a Twilio form as an object of
/// strings (read here by the `url` crate).
pub fn as_json(provider: &str, body: &[u8]) -> Value {
    if provider == "twilio" && !body.starts_with(b"{") {
        let map = url::form_urlencoded::parse(body)
            .into_owned()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        return Value::Object(map);
    }
    serde_json::from_slice(body).unwrap()
}

/// A realistic body of each provider with a unique id, and headers signing
/// it with the route's secret now.
pub fn signed(provider: &str, unique: &str) -> (Headers, Vec<u8>) {
    signed_at(provider, unique, &format!("/webhooks/{provider}"))
}

/// [`signed`] for a request to `target` (`/path?query`): Twilio signs the
/// URL it requests, query included.
pub fn signed_at(provider: &str, unique: &str, target: &str) -> (Headers, Vec<u8>) {
    let ts = now();
    match provider {
        "nixflex" => {
            let body = format!(
                r#"{{"event":"call.ended","call_id":"CA{unique}","agent_id":"agent_125207e452f8714a","direction":"inbound","from_number":"+447386172392","to_number":"+447446466847","duration_seconds":146,"metadata":{{}}}}"#
            )
            .into_bytes();
            (nixflex(NIXFLEX_SECRET, ts, &body), body)
        }
        "agntix" => {
            let body = format!(
                r#"{{"id":"4981804c-2658-4893-84ff-{unique}","eventType":"session.ended","type":"VOICE","direction":"OUTBOUND","metadata":{{"customerPhoneNumber":"+971501234567","sessionVariables":{{"crmContactId":"CRM-7728"}}}}}}"#
            )
            .into_bytes();
            (
                agntix(AGNTIX_SECRET, &format!("msg_{unique}"), ts, &body),
                body,
            )
        }
        "inboundflow" => {
            let body = format!(
                r#"{{"event":"call.completed","timestamp":"2026-02-24T21:00:00.000Z","organization_id":"org-1","delivery_id":"dlv-{unique}","data":{{"call_id":"c-{unique}","caller_phone":"+1234567890","duration_seconds":55}}}}"#
            )
            .into_bytes();
            (inboundflow(INBOUNDFLOW_SECRET, ts, &body), body)
        }
        "allo" => {
            let body = format!(
                r#"{{"topic":"call.completed","version":"2.0","timestamp":"2026-02-24T21:00:00Z","data":{{"id":"call_{unique}","length_in_minutes":2.5,"type":"INBOUND"}}}}"#
            )
            .into_bytes();
            (allo(ALLO_SECRET, &format!("msg_{unique}"), ts, &body), body)
        }
        "voxagent" => {
            let body = format!(
                r#"{{"event":"ConversationComplete","data":{{"session_id":"1ffd059c-{unique}","duration_seconds":93.4,"url_parameters":{{"crm_id":"42"}}}}}}"#
            )
            .into_bytes();
            (
                voxagent(VOXAGENT_SECRET, "X-Voxagent-Signature", &body),
                body,
            )
        }
        "twilio" => {
            let body = format!(
                "AccountSid=AC3f2b6a1c9d8e7f60514a3b2c1d0e9f8a&ApiVersion=2010-04-01&CallDuration=146&CallSid=CA{unique}&CallStatus=completed&CallbackSource=call-progress-events&Direction=inbound&From=%2B14155550123&SequenceNumber=3&Timestamp=Sun%2C+17+May+2026+03%3A47%3A38+%2B0000&To=%2B14155550100"
            )
            .into_bytes();
            (twilio(TWILIO_SECRET, &twilio_url(target), &body), body)
        }
        "vapi" => {
            let body = format!(
                r#"{{"message":{{"timestamp":1779000458910,"type":"end-of-call-report","endedReason":"customer-ended-call","call":{{"id":"call-{unique}","type":"inboundPhoneCall","customer":{{"number":"+14155550123"}}}},"phoneNumber":{{"number":"+14155550100"}},"durationSeconds":146.2,"cost":0.14}}}}"#
            )
            .into_bytes();
            (vapi(VAPI_SECRET, ts, &body), body)
        }
        "retell" => {
            let body = format!(
                r#"{{"event":"call_ended","call":{{"call_type":"phone_call","call_id":"call_{unique}","agent_id":"oBeDLoLOeuAbiuaMFXRtDOLriTJ5tSxD","direction":"inbound","from_number":"+12137771234","to_number":"+12137771235","start_timestamp":1779003912000,"end_timestamp":1779004058400,"duration_ms":146400,"disconnection_reason":"user_hangup","metadata":{{}}}}}}"#
            )
            .into_bytes();
            (retell(RETELL_SECRET, ts * 1000, &body), body)
        }
        "elevenlabs" => {
            let body = format!(
                r#"{{"type":"post_call_transcription","event_timestamp":1779004060,"data":{{"agent_id":"xyz5bF2w5CMGaq9dMCC4","conversation_id":"conv_{unique}","status":"done","transcript":[{{"role":"agent","message":"Hello","time_in_call_secs":0}}],"metadata":{{"start_time_unix_secs":1779003912,"call_duration_secs":146}},"analysis":{{"call_successful":"success","transcript_summary":"Booked."}}}}}}"#
            )
            .into_bytes();
            (elevenlabs(ELEVENLABS_SECRET, ts, &body), body)
        }
        "telnyx" => {
            let body = format!(
                r#"{{"data":{{"event_type":"call.hangup","id":"0ccc7b54-{unique}","occurred_at":"2026-05-17T07:47:38.000000Z","payload":{{"call_control_id":"v3:{unique}","direction":"incoming","from":"+13129457420","to":"+13129457421","start_time":"2026-05-17T07:45:12.000000Z","end_time":"2026-05-17T07:47:38.000000Z","hangup_cause":"normal_clearing"}},"record_type":"event"}},"meta":{{"attempt":1}}}}"#
            )
            .into_bytes();
            (telnyx(TELNYX_SEED, ts, &body), body)
        }
        "hmac" => {
            let body = format!(
                r#"{{"id":"evt_{unique}","type":"call.ended","data":{{"call_id":"call_{unique}","duration_seconds":146}}}}"#
            )
            .into_bytes();
            (hmac(HMAC_SECRET, ts, &body), body)
        }
        "static" => {
            let body = format!(
                r#"{{"id":"evt_{unique}","type":"call.ended","data":{{"call_id":"call_{unique}","duration_seconds":146}}}}"#
            )
            .into_bytes();
            (static_token(STATIC_TOKEN), body)
        }
        other => panic!("no test signer for provider {other}: add one here"),
    }
}

/// Every provider hookgate fronts, from its registry: a provider added there
/// without a test signer here fails `signed` loudly.
pub fn providers() -> &'static [&'static str] {
    static ALL: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| hookgate::provider::all().iter().map(|p| p.name()).collect())
}

/// A unique token per call, for ids.
pub fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Telnyx: Ed25519 (`ed25519-dalek`) over `<ts>|<body>` with the key whose
/// seed is `seed` (base64).
pub fn telnyx(seed: &str, ts: i64, body: &[u8]) -> Headers {
    let seed: [u8; 32] = BASE64.decode(seed).unwrap().try_into().unwrap();
    let mut msg = format!("{ts}|").into_bytes();
    msg.extend_from_slice(body);
    let sig = ed25519_dalek::SigningKey::from_bytes(&seed).sign(&msg);
    vec![
        h("telnyx-signature-ed25519", BASE64.encode(sig.to_bytes())),
        h("telnyx-timestamp", ts.to_string()),
        h("Content-Type", "application/json"),
    ]
}

/// The `hmac` test route (harness `HMAC_OPTIONS`): HMAC-SHA512, base64,
/// `t=<s>,v1=<sig>` over `<t>.<body>`.
pub fn hmac(secret: &str, ts: i64, body: &[u8]) -> Headers {
    let mut mac = Hmac::<sha2::Sha512>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(body);
    let sig = BASE64.encode(mac.finalize().into_bytes());
    vec![
        h("X-Webhook-Signature", format!("t={ts},v1={sig}")),
        h("Content-Type", "application/json"),
    ]
}

/// The `static` test route: a bearer token.
pub fn static_token(token: &str) -> Headers {
    vec![
        h("Authorization", format!("Bearer {token}")),
        h("Content-Type", "application/json"),
    ]
}

/// Headers for `body` signed the way `provider` signs, with `secret` (for
/// Telnyx: a seed) at `ts` (Unix seconds), for the providers whose scheme
/// needs no delivery id.
pub fn sign_as(provider: &str, secret: &str, ts: i64, body: &[u8]) -> Headers {
    match provider {
        "nixflex" => nixflex(secret, ts, body),
        "inboundflow" => inboundflow(secret, ts, body),
        "voxagent" => voxagent(secret, "X-Voxagent-Signature", body),
        "retell" => retell(secret, ts * 1000, body),
        "elevenlabs" => elevenlabs(secret, ts, body),
        "telnyx" => telnyx(secret, ts, body),
        "hmac" => hmac(secret, ts, body),
        "static" => static_token(secret),
        "twilio" => twilio(secret, &twilio_url("/webhooks/twilio"), body),
        "vapi" => vapi(secret, ts, body),
        other => panic!("sign_as: {other} needs a delivery id"),
    }
}

/// A key of the right kind that the test routes do not hold.
pub fn wrong_secret(provider: &str) -> &'static str {
    match provider {
        "telnyx" => "VCwSHZ6C2TOFV3IxNwBe9clURXo3Dtw97qjFJTCVsCs=",
        _ => "wrong-secret",
    }
}

/// What the test routes sign with, per provider (Telnyx: the seed of the
/// route's public key).
pub fn signing_secret(provider: &str) -> &'static str {
    match provider {
        "nixflex" => NIXFLEX_SECRET,
        "inboundflow" => INBOUNDFLOW_SECRET,
        "voxagent" => VOXAGENT_SECRET,
        "retell" => RETELL_SECRET,
        "elevenlabs" => ELEVENLABS_SECRET,
        "telnyx" => TELNYX_SEED,
        "hmac" => HMAC_SECRET,
        "static" => STATIC_TOKEN,
        "agntix" => AGNTIX_SECRET,
        "allo" => ALLO_SECRET,
        "twilio" => TWILIO_SECRET,
        "vapi" => VAPI_SECRET,
        other => panic!("no signing secret for {other}: add one here"),
    }
}
