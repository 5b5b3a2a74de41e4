//! The request path after the route is found: signature headers, body
//! reading, ids, dedup keys and rendering in both forward modes, for every
//! registered provider.
//!
//! The first byte picks the provider (from the registry), the forward mode
//! and whether the body is signed by the provider's own signer. Unsigned
//! inputs carry a fuzzed signature header and must never verify (except on
//! a `static` route, whose token covers no body: it is signed with it);
//! signed ones must verify unless their body is not readable, and then go
//! through everything after verification without a panic.
#![no_main]

use std::sync::OnceLock;
use std::time::SystemTime;

use hookgate::config::Config;
use hookgate::route::Route;
use hookgate::provider::{self, Outgoing, Provider};
use hookgate::secret::Secret;
use hookgate::verify::{Headers, Request, Scratch};
use libfuzzer_sys::fuzz_target;

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const RAW: &str = "fuzz-secret";
/// Telnyx signs with the seed and its routes hold the public key.
const TELNYX_PUBLIC: &str = "sG3MRU54tm5D0z5KKnMlwfIbhtI0iNhA8S7UseD2W5I=";
const TELNYX_SEED: &str = "LBwQTNroPxutpoBX0OMffNAqq+e0nGOXBA2ThRbHwK0=";
const TWILIO_URL: &str = "https://hooks.example.test/twilio";

/// A route's secret, its signer's secret and its provider keys.
fn route_setup(p: &Provider) -> (&'static str, &'static str, &'static str) {
    match p.name() {
        "agntix" | "allo" => (WHSEC, WHSEC, ""),
        "telnyx" => (TELNYX_PUBLIC, TELNYX_SEED, ""),
        "twilio" => (RAW, RAW, "public_url = \"https://hooks.example.test/twilio\""),
        "vapi" => (RAW, RAW, "credential = \"hmac\""),
        "voxagent" => (RAW, RAW, "signature_header = \"x-voxagent-signature\""),
        "hmac" => (
            RAW,
            RAW,
            "signature_header = \"x-signature\"\nsignature_format = \"list\"\ntimestamp_key = \"t\"\n\
             signed_content = \"{timestamp}.{body}\"\ndelivery_id = \"json:/id\"\nevent_pointer = \"/type\"",
        ),
        "static" => (
            RAW,
            RAW,
            "token_header = \"x-token\"\ndelivery_id = \"json:/id\"\nevent_pointer = \"/type\"",
        ),
        _ => (RAW, RAW, ""),
    }
}

fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let mut text = String::from(
            "[server]\nlisten = \"127.0.0.1:8080\"\n[upstream]\nurl = \"http://127.0.0.1:3000\"\ntimeout = \"2s\"\n",
        );
        for mode in ["original", "normalized"] {
            for p in provider::all() {
                let name = p.name();
                let (secret, _, options) = route_setup(*p);
                text.push_str(&format!(
                    "[[route]]\nname = \"{name}-{mode}\"\npath = \"/{name}/{mode}\"\n\
                     provider = \"{name}\"\nsecrets = [\"{secret}\"]\nforward = \"{mode}\"\n{options}\n"
                ));
            }
        }
        hookgate::config::parse(&text, &|_| None)
            .expect("the fuzz configuration is valid")
            .config
    })
}

fn route(selector: u8) -> (&'static Route, &'static Provider) {
    let all = provider::all();
    let p = all[usize::from(selector & 0x0f) % all.len()];
    let mode = if selector & 0x10 == 0 { "original" } else { "normalized" };
    let path = format!("/{}/{mode}", p.name());
    (config().route(&path).expect("route exists"), p)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (route, p) = route(selector);
    let now = SystemTime::now();
    let signed = selector & 0x20 != 0;
    let mut owned: Vec<(String, String)> = Vec::new();
    let body: &[u8];
    if signed {
        body = rest;
        let (_, signing, options) = route_setup(p);
        let options: toml::Table = toml::from_str(options).expect("options");
        let timestamp = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let outgoing = Outgoing {
            id: "msg_fuzz",
            url: TWILIO_URL,
            timestamp,
            event: "fuzz",
            options: &options,
        };
        match p.sign(&Secret::new(signing.to_owned()), body, &outgoing) {
            Ok(headers) => owned = headers,
            Err(_) => return,
        }
    } else {
        // `<header name>\n<header value>\n<body>`; the value may hold
        // several lines separated by `\r`.
        let mut parts = rest.splitn(3, |&b| b == b'\n');
        let name = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
        let value = parts.next().unwrap_or_default();
        body = parts.next().unwrap_or_default();
        for line in value.split(|&b| b == b'\r') {
            owned.push((name.clone(), String::from_utf8_lossy(line).into_owned()));
        }
        for (k, v) in [
            ("svix-id", "msg_fuzz"),
            ("webhook-id", "msg_fuzz"),
            ("svix-timestamp", "0"),
            ("webhook-timestamp", "0"),
        ] {
            owned.push((k.into(), v.into()));
        }
    }
    let fields: Vec<(&[u8], &[u8])> = owned
        .iter()
        .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
        .collect();
    let request = || Request {
        headers: Headers::new(&fields),
        path: route.path.as_bytes(),
        query: None,
        body,
    };
    let _ = hookgate::gate::precheck(route, &request(), now);
    let mut scratch = Scratch::default();
    let outcome = hookgate::gate::inspect(route, request(), &mut scratch, now);
    match outcome {
        Ok(accepted) => {
            assert!(
                signed || p.name() == "static",
                "an unsigned fuzz input verified on {}",
                p.name()
            );
            assert!(accepted.delivery_id().len() <= 200 + "sha256:".len());
            let rendered = accepted.render(route, now);
            if route.forward == hookgate::route::ForwardMode::Normalized {
                // JSON by the grammar, whatever the body: `raw` carries the
                // provider's bytes verbatim, numbers beyond f64 included.
                serde_json::from_slice::<&serde_json::value::RawValue>(&rendered.body)
                    .expect("the event is JSON");
                // And as readable as the body: a receiver that can read the
                // provider's payload can read the event.
                if serde_json::from_slice::<serde_json::Value>(body).is_ok() {
                    serde_json::from_slice::<serde_json::Value>(&rendered.body)
                        .expect("the event reads as the body does");
                }
            }
        }
        Err(reject) => {
            // A signed, readable JSON object must verify and be read.
            if signed
                && p.name() != "twilio"
                && serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body).is_ok()
            {
                panic!("a signed JSON body was refused on {}: {reject:?}", p.name());
            }
        }
    };
});
