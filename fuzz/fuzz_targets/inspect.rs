//! The request path after the route is found: signature headers, body
//! parsing, ids, dedup keys and normalization in both forward modes.
//!
//! The first byte picks the provider, the forward mode and whether the body
//! is signed by the provider's own signer. Unsigned inputs carry a fuzzed
//! signature header and must never verify; signed ones must verify (unless
//! the body is not JSON) and then go through everything after verification
//! without a panic.
#![no_main]

use std::sync::OnceLock;
use std::time::SystemTime;

use hookgate::config::{Config, Route};
use hookgate::provider::{self, OutgoingDelivery, ProviderKind};
use hookgate::secret::Secret;
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

const SECRETS: [(&str, &str); 5] = [
    ("nixflex", "nfx-fuzz-secret"),
    ("agntix", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ("inboundflow", "ibf-fuzz-secret"),
    ("allo", "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"),
    ("voxagent", "vox-fuzz-secret"),
];

fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let mut text = String::from(
            "[server]\nlisten = \"127.0.0.1:8080\"\n[upstream]\nurl = \"http://127.0.0.1:3000\"\n",
        );
        for mode in ["original", "normalized"] {
            for (name, secret) in SECRETS {
                let header = if name == "voxagent" {
                    "signature_header = \"x-voxagent-signature\"\n"
                } else {
                    ""
                };
                text.push_str(&format!(
                    "[[route]]\nname = \"{name}-{mode}\"\npath = \"/{name}/{mode}\"\n\
                     provider = \"{name}\"\nsecrets = [\"{secret}\"]\nforward = \"{mode}\"\n\
                     dedup_key = [\"json:/data/0/id\", \"json:/id\"]\n{header}"
                ));
            }
        }
        hookgate::config::parse(&text, &|_| None)
            .expect("the fuzz configuration is valid")
            .config
    })
}

fn route(selector: u8) -> (&'static Route, usize) {
    let which = usize::from(selector) % SECRETS.len();
    let mode = if selector & 0x10 == 0 {
        "original"
    } else {
        "normalized"
    };
    let path = format!("/{}/{mode}", SECRETS[which].0);
    (config().route(&path).expect("route exists"), which)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (route, which) = route(selector);
    let now = SystemTime::now();
    let mut headers = HeaderMap::new();
    let body: &[u8];
    let signed = selector & 0x20 != 0;
    if signed {
        body = rest;
        let kind = ProviderKind::parse(SECRETS[which].0).expect("a provider");
        let p = provider::provider(kind);
        let key = p
            .signing_key(&Secret::new(SECRETS[which].1.to_owned()))
            .expect("a valid key");
        let timestamp = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let signature_header = HeaderName::from_static("x-voxagent-signature");
        let delivery = OutgoingDelivery {
            id: "msg_fuzz",
            timestamp,
            event: "fuzz",
            signature_header: &signature_header,
        };
        for (k, v) in p.sign(&key, body, &delivery) {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
                headers.append(k, v);
            }
        }
    } else {
        // `<header name>\n<header value>\n<body>`, several header lines allowed.
        let mut parts = rest.splitn(3, |&b| b == b'\n');
        let name = parts.next().unwrap_or_default();
        let value = parts.next().unwrap_or_default();
        body = parts.next().unwrap_or_default();
        let signature_headers = [
            "x-nixflex-signature",
            "svix-signature",
            "x-inboundflow-signature",
            "webhook-signature",
            "x-voxagent-signature",
        ];
        let name = match HeaderName::from_bytes(name) {
            Ok(n) if !name.is_empty() => n,
            _ => HeaderName::from_static(signature_headers[which]),
        };
        for line in value.split(|&b| b == b'\r') {
            if let Ok(v) = HeaderValue::from_bytes(line) {
                headers.append(name.clone(), v);
            }
        }
        for (k, v) in [
            ("svix-id", "msg_fuzz"),
            ("webhook-id", "msg_fuzz"),
            ("svix-timestamp", "0"),
            ("webhook-timestamp", "0"),
        ] {
            if !headers.contains_key(k) {
                headers.insert(k, HeaderValue::from_static(v));
            }
        }
    }

    let _ = hookgate::gate::precheck(route, &headers, now);
    match hookgate::gate::inspect(route, &headers, body, now) {
        Ok(accepted) => {
            assert!(signed, "an unsigned fuzz input verified");
            assert!(accepted.delivery_id.len() <= 200 + "sha256:".len());
            let ctx = accepted.event_context(route, now);
            let event = route.provider.normalize(&ctx);
            let doc = event.to_structured(&ctx);
            serde_json::from_slice::<serde_json::Value>(&doc).expect("the event is JSON");
            let _ = event.binary_headers(&ctx);
        }
        Err(reject) => {
            if signed && serde_json::from_slice::<serde_json::Value>(body).is_ok() {
                panic!("a signed JSON body was refused: {reject:?}");
            }
        }
    }
});
