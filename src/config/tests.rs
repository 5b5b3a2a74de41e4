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

/// A `[dedup]` section for Redis, with `env` resolving `${NAME}`s.
fn redis(dedup: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, ConfigErrors> {
    parse(
        &format!("{BASE}[dedup]\nbackend = \"redis\"\n{dedup}\n[[route]]\nname=\"n\"\npath=\"/n\"\nprovider=\"nixflex\"\nsecrets=[\"${{NIXFLEX_SECRET}}\"]\n"),
        env,
    )
}

fn redis_env(name: &str) -> Option<String> {
    match name {
        "REDIS_PASSWORD" => Some("p@ss:w/rd%41".into()),
        "HOOKGATE_REDIS_URL" => Some("rediss://hookgate:hunter2@cache.example:6380/0".into()),
        "BAD_REDIS_URL" => Some("mysql://hookgate:hunter2@cache.example".into()),
        other => env(other),
    }
}

fn redis_config(loaded: &Loaded) -> &crate::dedup::redis::RedisConfig {
    match &loaded.config.dedup.backend {
        DedupBackend::Redis(config) => config,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_redis_password_comes_from_the_environment_and_never_shows() {
    use crate::dedup::redis::RedisNodes;
    let loaded = redis(
        "redis_url = \"rediss://hookgate:${REDIS_PASSWORD}@cache.example:6380/0\"",
        &redis_env,
    )
    .unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let config = redis_config(&loaded);
    let RedisNodes::Single(url) = &config.nodes else {
        panic!("{config:?}");
    };
    // Escaped for the URL, so `@`, `:` and `/` in a password stay its own.
    assert_eq!(
        url.expose(),
        "rediss://hookgate:p%40ss%3Aw%2Frd%2541@cache.example:6380/0"
    );
    for shown in [format!("{config:?}"), config.describe(), url.to_string()] {
        assert!(
            !shown.contains("p@ss") && !shown.contains("p%40ss"),
            "{shown}"
        );
        assert!(
            shown.contains("rediss://hookgate:[redacted]@cache.example:6380/0"),
            "{shown}"
        );
    }
    // The whole URL from the environment, as before.
    let loaded = redis("redis_url = \"${HOOKGATE_REDIS_URL}\"", &redis_env).unwrap();
    assert!(!format!("{:?}", redis_config(&loaded)).contains("hunter2"));
}

#[test]
fn a_literal_redis_password_warns_without_quoting_it() {
    let loaded = redis(
        "redis_url = \"redis://u:hunter2@127.0.0.1:6379/0\"",
        &redis_env,
    )
    .unwrap();
    let warning = loaded.warnings.join("\n");
    assert!(warning.contains("literal password"), "{warning}");
    assert!(!warning.contains("hunter2"), "{warning}");
    // No password, no warning.
    let loaded = redis("redis_url = \"redis://127.0.0.1:6379/0\"", &redis_env).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn redis_settings_errors_name_the_key_and_never_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let cases: Vec<(String, &str)> = vec![
        ("redis_url = \"${BAD_REDIS_URL}\"".into(), "dedup.redis_url"),
        (
            "redis_url = \"redis://u:hunter2@host:notaport/0\"".into(),
            "dedup.redis_url",
        ),
        (
            "redis_url = \"rediss://u:hunter2@${REDIS_HOST}:6380/0\"".into(),
            "dedup.redis_url",
        ),
        (
            "redis_url = \"rediss://u:${NOT_SET}@h:6380/0\"".into(),
            "dedup.redis_url",
        ),
        (
            "redis_url = \"redis://h:1/0\"\nredis_cluster = [\"redis://h:1\"]".into(),
            "dedup.redis_cluster",
        ),
        ("redis_cluster = []".into(), "dedup.redis_cluster"),
        (
            "redis_cluster = [\"rediss://u:hunter2@a:1\", \"redis://u:hunter2@b:1\"]".into(),
            "dedup.redis_cluster",
        ),
        (
            "redis_url = \"rediss://u:hunter2@h:1/0\"\nredis_ca_file = \"/nonexistent/ca.pem\""
                .into(),
            "dedup.redis_ca_file",
        ),
        (
            format!(
                "redis_url = \"rediss://u:hunter2@h:1/0\"\nredis_ca_file = \"{}\"",
                not_pem.display()
            ),
            "dedup.redis_ca_file",
        ),
        (
            format!(
                "redis_url = \"redis://u:hunter2@h:1/0\"\nredis_ca_file = \"{}\"",
                not_pem.display()
            ),
            "dedup.redis_ca_file",
        ),
        (
            "redis_url = \"rediss://u:hunter2@h:1/0\"\nredis_client_cert = \"/x.pem\"".into(),
            "dedup.redis_client_key",
        ),
    ];
    for (dedup, location) in cases {
        let err = redis(&dedup, &redis_env).unwrap_err();
        assert!(
            err.0.iter().any(|e| e.location == location),
            "{dedup}: expected an error at {location}: {err}"
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}

#[test]
fn a_redis_cluster_is_a_list_of_seed_nodes() {
    use crate::dedup::redis::RedisNodes;
    let loaded = redis(
        "redis_cluster = [\"rediss://hookgate:${REDIS_PASSWORD}@node1:6379\", \"rediss://hookgate:${REDIS_PASSWORD}@node2:6379\"]",
        &redis_env,
    )
    .unwrap();
    let config = redis_config(&loaded);
    let RedisNodes::Cluster(urls) = &config.nodes else {
        panic!("{config:?}");
    };
    assert_eq!(urls.len(), 2);
    assert_eq!(
        config.describe(),
        "cluster [rediss://hookgate:[redacted]@node1:6379, rediss://hookgate:[redacted]@node2:6379]"
    );
}

#[test]
fn a_scheme_s_own_warnings_are_reported_with_the_route() {
    let loaded = load(
        r#"
[[route]]
name = "vapi-token"
path = "/v"
provider = "vapi"
secrets = ["${NIXFLEX_SECRET}"]
timeout = "5s"
"#,
    )
    .unwrap();
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(
        loaded.warnings[0].starts_with("route[0] (vapi-token): vapi credential \"token\""),
        "{:?}",
        loaded.warnings
    );
    let err = load(
        r#"
[[route]]
name = "vapi"
path = "/v"
provider = "vapi"
secrets = ["${NIXFLEX_SECRET}"]
"#,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("vapi's delivery deadline of 7s 500ms"),
        "{err}"
    );
}

#[test]
fn secret_options_resolve_from_the_environment_with_their_location() {
    let env = |name: &str| match name {
        "TWILIO_TOKEN" => Some("auth-token".to_string()),
        "SHARED_KEY" => Some("shared-secret".to_string()),
        _ => None,
    };
    let route = |shared: &str| {
        format!(
            "{BASE}[[route]]\nname = \"t\"\npath = \"/t\"\nprovider = \"twilio\"\n\
             secrets = [\"${{TWILIO_TOKEN}}\"]\npublic_url = \"https://h.example/t\"\n\
             shared_keys = {{ {shared} }}\n"
        )
    };
    let loaded = parse(&route("k1 = \"${SHARED_KEY}\""), &env).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let err = parse(&route("k1 = \"${SHARED_KEY}\", k2 = \"${NOPE}\""), &env).unwrap_err();
    assert_eq!(err.0.len(), 1, "{err}");
    assert_eq!(err.0[0].location, "route[0] (t).shared_keys.k2");
    assert!(err.0[0].message.contains("NOPE is not set"), "{err}");
    let err = parse(&route("k1 = 5"), &env).unwrap_err();
    assert_eq!(err.0[0].location, "route[0] (t).shared_keys.k1");
    let loaded = parse(&route("k1 = \"literal-key\""), &env).unwrap();
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("shared_keys.k1: a literal secret")),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn a_route_file_reports_the_location_and_the_warnings() {
    let base = "[server]\nlisten = \"127.0.0.1:1\"\n[upstream]\nurl = \"http://127.0.0.1:2\"\n";
    let route = "[[route]]\nname = \"bland\"\npath = \"/bland\"\nprovider = \"hmac\"\nsecrets = [\"k\"]\nsignature_header = \"X-Webhook-Signature\"\n";
    let loaded = parse(&format!("{base}{route}"), &|_| None).unwrap();
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("route[0] (bland)") && w.contains("no replay window")),
        "{:?}",
        loaded.warnings
    );
    let err = parse(
        &format!("{base}{route}signed_content = \"{{header:X-Webhook-Signature}}\"\n"),
        &|_| None,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("route[0] (bland).signed_content"), "{err}");
    let err = parse(&format!("{base}{route}sekret = 1\n"), &|_| None)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("sekret") && err.contains("hmac takes"),
        "{err}"
    );
}

proptest::proptest! {
    #[test]
    fn the_config_parser_never_panics(text in "\\PC{0,400}") {
        let _ = parse(&text, &|_| None);
    }

    #[test]
    fn the_config_parser_never_panics_on_near_valid_files(
        provider in "[a-z]{0,12}",
        secret in "\\$\\{[A-Z_]{0,8}\\}|[a-zA-Z0-9_+/=]{0,40}",
        duration in "[0-9]{0,4}[a-z]{0,3}",
        path in "/?[a-z/%?#]{0,12}",
    ) {
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:1\"\n[upstream]\nurl = \"http://127.0.0.1:2\"\ntimeout = \"{duration}\"\n\
             [[route]]\nname = \"r\"\npath = \"{path}\"\nprovider = \"{provider}\"\nsecrets = [\"{secret}\"]\ntolerance = \"{duration}\"\n"
        );
        let _ = parse(&text, &|_| Some("whsec_c2VjcmV0".into()));
    }
}
