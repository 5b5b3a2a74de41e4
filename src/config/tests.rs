//! Parsing and validating whole files.

use std::time::Duration;

use super::*;
use crate::route::{DedupKeySpec, ForwardMode, KeyPart};

const BASE: &str = r#"
[server]
listen = "127.0.0.1:8080"
[upstream]
url = "http://127.0.0.1:3000"
"#;

fn env(name: &str) -> Option<String> {
    match name {
        "NIXFLEX_SECRET" => Some("nfx-secret-value".into()),
        "AGNTIX_SECRET" => Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
        _ => None,
    }
}

fn load(routes: &str) -> Result<Loaded, ConfigErrors> {
    parse(&format!("{BASE}{routes}"), &env)
}

#[test]
fn the_example_file_validates() {
    let text = include_str!("../../config.example.toml");
    let env = |name: &str| match name {
        "AGNTIX_WEBHOOK_SECRET" | "ALLO_WEBHOOK_SECRET" => {
            Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string())
        }
        "TELNYX_PUBLIC_KEY" => Some("sG3MRU54tm5D0z5KKnMlwfIbhtI0iNhA8S7UseD2W5I=".to_string()),
        _ => Some(format!("{name}-value")),
    };
    let loaded = parse(text, &env).unwrap();
    let kinds: Vec<_> = loaded.config.routes().map(|r| r.provider_name()).collect();
    for p in crate::provider::all() {
        assert!(
            kinds.contains(&p.name()),
            "{} missing from config.example.toml",
            p.name()
        );
    }
}

#[test]
fn defaults_and_lookup() {
    let loaded = load(
        r#"
[[route]]
name = "nixflex"
path = "/webhooks/nixflex"
provider = "nixflex"
secrets = ["${NIXFLEX_SECRET}"]
"#,
    )
    .unwrap();
    let c = &loaded.config;
    assert_eq!(c.server.max_body_bytes, 1024 * 1024);
    assert_eq!(c.dedup.window, Duration::from_secs(86400));
    let r = c.route("/webhooks/nixflex").unwrap();
    assert_eq!(r.timeout, Duration::from_secs(8));
    assert_eq!(r.forward, ForwardMode::Normalized);
    assert_eq!(r.dedup, Some(DedupKeySpec::Provider));
    assert!(c.route("/webhooks/nixflex/").is_none());
    assert!(c.route("/webhooks/Nixflex").is_none());
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn collects_every_error_with_its_location_and_never_a_secret() {
    let err = load(
        r#"
[[route]]
name = "a"
path = "no-slash"
provider = "nixflex"
secrets = ["${MISSING_SECRET}"]
timeout = "12s"

[[route]]
name = "b"
path = "/b"
provider = "agntix"
secrets = ["whsec_!!!not-base64-hunter2!!!"]
tolerance = "five minutes"

[[route]]
name = "c"
path = "/c"
provider = "carrier-pigeon"
secrets = ["x"]
"#,
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("route[0] (a).path"), "{text}");
    assert!(text.contains("MISSING_SECRET is not set"), "{text}");
    assert!(text.contains("route[0] (a).timeout"), "{text}");
    assert!(text.contains("route[1] (b).secrets[0]"), "{text}");
    assert!(text.contains("route[1] (b).tolerance"), "{text}");
    assert!(text.contains("route[2] (c).provider"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert_eq!(err.0.len(), 6, "{text}");
}

#[test]
fn literal_secrets_warn_and_unknown_keys_fail() {
    let loaded = load(
        r#"
[[route]]
name = "v"
path = "/v"
provider = "voxagent"
secrets = ["literal"]
signature_header = "X-Vox-Sig"
timeout = "3s"
"#,
    )
    .unwrap();
    assert!(loaded.warnings.iter().any(|w| w.contains("literal secret")));
    assert!(!loaded.warnings.iter().any(|w| w.contains("literal\"")));
    assert!(loaded.config.route("/v").is_some());

    let err = load(
        r#"
[[route]]
name = "v"
path = "/v"
provider = "voxagent"
secrets = ["x"]
sekrets = ["typo"]
"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("sekrets"), "{err}");
}

#[test]
fn duplicate_names_and_paths_and_misplaced_signature_header() {
    let err = load(
        r#"
[[route]]
name = "n"
path = "/same"
provider = "nixflex"
secrets = ["${NIXFLEX_SECRET}"]
signature_header = "X-Other"

[[route]]
name = "n"
path = "/same"
provider = "nixflex"
secrets = ["${NIXFLEX_SECRET}"]
"#,
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("also used by route[0]"), "{text}");
    assert!(
        text.contains("path \"/same\" is also used by route[0]"),
        "{text}"
    );
    assert!(
        text.contains("route[0] (n).signature_header: unknown key"),
        "{text}"
    );
}

#[test]
fn dedup_key_overrides_and_upstream_overrides() {
    let loaded = load(
        r#"
[[route]]
name = "ag"
path = "/ag"
provider = "agntix"
secrets = ["${AGNTIX_SECRET}"]
dedup_key = ["header:svix-id", "json:/eventType"]
upstream = "http://localhost:3001/base/"
upstream_path = "/calls"
forward = "original"
raw = false

[[route]]
name = "nx"
path = "/nx"
provider = "nixflex"
secrets = ["${NIXFLEX_SECRET}"]
dedup_key = ["header:webhook_delivery_id"]
"#,
    )
    .unwrap();
    let r = loaded.config.route("/ag").unwrap();
    assert_eq!(
        r.dedup,
        Some(DedupKeySpec::Parts(vec![
            KeyPart::Header("svix-id".into()),
            KeyPart::Json("/eventType".into())
        ]))
    );
    assert_eq!(r.upstream.base_path, "/base");
    assert_eq!(r.upstream.authority, "localhost:3001");
    assert!(!r.include_raw);
    assert_eq!(loaded.config.upstreams().len(), 2);
    // An unsigned header as a dedup key is allowed, with a warning.
    assert!(loaded
        .warnings
        .iter()
        .any(|w| w.contains("webhook_delivery_id")));
}

#[test]
fn redis_backend_needs_a_url_and_restart_needs_are_reported() {
    let err = parse(
        &format!("{BASE}[dedup]\nbackend = \"redis\"\n[[route]]\nname=\"n\"\npath=\"/n\"\nprovider=\"nixflex\"\nsecrets=[\"${{NIXFLEX_SECRET}}\"]\n"),
        &env,
    )
    .unwrap_err();
    assert!(err.to_string().contains("dedup.redis_url"));

    let a = load("[[route]]\nname=\"n\"\npath=\"/n\"\nprovider=\"nixflex\"\nsecrets=[\"${NIXFLEX_SECRET}\"]\n").unwrap();
    let b = parse(
        "[server]\nlisten = \"127.0.0.1:8081\"\n[upstream]\nurl = \"http://127.0.0.1:3000\"\n[[route]]\nname=\"n\"\npath=\"/n\"\nprovider=\"nixflex\"\nsecrets=[\"${NIXFLEX_SECRET}\"]\n",
        &env,
    )
    .unwrap();
    assert_eq!(a.config.restart_needed(&b.config), vec!["server.listen"]);
}

#[test]
fn syntax_errors_name_the_line() {
    let err = parse("[server]\nlisten = \n", &env).unwrap_err();
    assert!(err.0[0].location.starts_with("line"), "{err}");
}
