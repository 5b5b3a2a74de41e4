//! Test-side signers, written from PROVIDERS.md and independent of the
//! gateway's code: Agntix with the `svix` crate, Allo with the
//! `standardwebhooks` crate, the others with HMAC written out here (those
//! schemes have no independent implementation).

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::harness::{
    AGNTIX_SECRET, ALLO_SECRET, INBOUNDFLOW_SECRET, NIXFLEX_SECRET, VOXAGENT_SECRET,
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

/// A realistic body of each provider with a unique id, and headers signing
/// it with the route's secret now.
pub fn signed(provider: &str, unique: &str) -> (Headers, Vec<u8>) {
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
