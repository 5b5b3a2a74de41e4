//! `provider = "hmac"`: a configurable HMAC scheme for senders without a
//! preset. The route says how the sender signs — algorithm, secret
//! encoding, where the signatures are and how they are written, where the
//! timestamp is, what the signed content is (a template over `{body}`,
//! `{timestamp}`, `{id}`, `{header:Name}`), where the delivery id is and
//! the JSON pointer of the event type — and every combination that would
//! leave the payload or the window unprotected is refused when the route
//! loads. docs/PROVIDERS.md shows Stripe, Standard Webhooks, Retell,
//! ElevenLabs and Bland written this way; the tests prove each verifies
//! the same requests as its preset or reference.

pub(crate) mod normalize;
mod scheme;
pub(crate) mod template;
#[cfg(test)]
mod tests;

use std::time::Duration;

use crate::verify::fields::{intern_header, is_header_name};
use base64::Engine as _;
use normalize::{DeliveryId, Reading};
use scheme::{Algorithm, Encoding, Format, HmacScheme, MacKey, Timestamp, TimestampSource, Unit};
use template::Piece;

use super::{
    per_secret, HeaderList, Outgoing, Provider, RouteScheme, Sample, SchemeSetup, SetupError,
};
use crate::secret::Secret;
use crate::verify::Window;

const OPTIONS: &[&str] = &[
    "algorithm",
    "secret_encoding",
    "signature_header",
    "signature_format",
    "signature_key",
    "timestamp_key",
    "signature_prefix",
    "encoding",
    "timestamp_header",
    "timestamp_unit",
    "timestamp_window",
    "signed_content",
    "delivery_id",
    "delivery_id_signed",
    "event_pointer",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SecretEncoding {
    Utf8,
    Base64,
    /// `whsec_<base64>` (the prefix optional), as Standard Webhooks.
    Whsec,
}

/// A route's reading of its own keys: each value checked where it is,
/// every problem collected with its key.
pub(crate) struct Opts<'t> {
    table: &'t toml::Table,
    pub errors: Vec<SetupError>,
}

impl<'t> Opts<'t> {
    pub(crate) fn new(table: &'t toml::Table) -> Self {
        Opts {
            table,
            errors: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, key: &str, message: impl Into<String>) {
        self.errors.push(SetupError::new(key, message));
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    pub(crate) fn text(&mut self, key: &str) -> Option<&'t str> {
        match self.table.get(key)? {
            toml::Value::String(s) => Some(s),
            other => {
                self.error(key, format!("must be a string, not {}", other.type_str()));
                None
            }
        }
    }

    /// `true`/`false`, also as text (`hookgate send --option k=true`).
    pub(crate) fn boolean(&mut self, key: &str) -> Option<bool> {
        match self.table.get(key)? {
            toml::Value::Boolean(b) => Some(*b),
            toml::Value::String(s) if s == "true" => Some(true),
            toml::Value::String(s) if s == "false" => Some(false),
            _ => {
                self.error(key, "must be true or false");
                None
            }
        }
    }

    pub(crate) fn choice<T: Copy>(&mut self, key: &str, choices: &[(&str, T)], default: T) -> T {
        let Some(text) = self.text(key) else {
            return default;
        };
        match choices.iter().find(|(name, _)| *name == text) {
            Some((_, v)) => *v,
            None => {
                let names: Vec<String> = choices.iter().map(|(n, _)| format!("{n:?}")).collect();
                self.error(key, format!("{text:?} is not one of {}", names.join(", ")));
                default
            }
        }
    }

    /// A header name, lower-cased.
    pub(crate) fn header(&mut self, key: &str) -> Option<(&'static str, &'t str)> {
        let name = self.text(key)?;
        if is_header_name(name) {
            Some((intern_header(name), name))
        } else {
            self.error(key, format!("{name:?} is not a header name"));
            None
        }
    }

    /// `event_pointer`: a JSON pointer into the payload.
    pub(crate) fn event_pointer(&mut self) -> Option<String> {
        let pointer = self.text("event_pointer")?;
        if pointer.starts_with('/') {
            Some(pointer.to_owned())
        } else {
            self.error(
                "event_pointer",
                format!("{pointer:?} is not a JSON pointer (e.g. \"/type\")"),
            );
            None
        }
    }

    /// `delivery_id`: `header:Name` or `json:/pointer`; `signed` says whether
    /// the signature covers it (the caller decides).
    pub(crate) fn delivery_id(&mut self) -> Option<DeliveryId> {
        let spec = self.text("delivery_id")?;
        if let Some(name) = spec.strip_prefix("header:") {
            if is_header_name(name) {
                return Some(DeliveryId::Header {
                    name: intern_header(name),
                    signed: false,
                });
            }
            self.error("delivery_id", format!("{name:?} is not a header name"));
        } else if let Some(pointer) = spec.strip_prefix("json:") {
            if pointer.starts_with('/') {
                return Some(DeliveryId::Json {
                    pointer: pointer.to_owned(),
                    signed: false,
                });
            }
            self.error(
                "delivery_id",
                format!("{pointer:?} is not a JSON pointer (e.g. \"json:/id\")"),
            );
        } else {
            self.error(
                "delivery_id",
                format!("{spec:?} must be \"header:Name\" or \"json:/pointer\""),
            );
        }
        None
    }

    pub(crate) fn done<T>(self, value: T) -> Result<T, Vec<SetupError>> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(self.errors)
        }
    }
}

/// A route's `hmac` settings, secrets aside.
struct Config {
    algorithm: Algorithm,
    secret_encoding: SecretEncoding,
    header: &'static str,
    /// As written, for `hookgate send`.
    header_label: String,
    format: Format,
    prefix: String,
    encoding: Encoding,
    timestamp: Option<Timestamp>,
    timestamp_label: Option<String>,
    template: Vec<Piece>,
    id_header: Option<(&'static str, String)>,
    reading: Reading,
    warnings: Vec<String>,
}

const NO_SOURCE: &str =
    "needs a timestamp source: timestamp_header, or timestamp_key with signature_format = \"list\"";

impl Config {
    fn parse(table: &toml::Table, tolerance: Option<Duration>) -> Result<Config, Vec<SetupError>> {
        let mut o = Opts::new(table);
        let algorithm = o.choice(
            "algorithm",
            &[
                ("sha1", Algorithm::Sha1),
                ("sha256", Algorithm::Sha256),
                ("sha512", Algorithm::Sha512),
            ],
            Algorithm::Sha256,
        );
        let secret_encoding = o.choice(
            "secret_encoding",
            &[
                ("utf8", SecretEncoding::Utf8),
                ("base64", SecretEncoding::Base64),
                ("whsec", SecretEncoding::Whsec),
            ],
            SecretEncoding::Utf8,
        );
        let encoding = o.choice(
            "encoding",
            &[
                ("hex", Encoding::Hex),
                ("base64", Encoding::Base64),
                ("base64url", Encoding::Base64Url),
            ],
            Encoding::Hex,
        );
        let signature = o.header("signature_header");
        if !o.has("signature_header") {
            o.error(
                "signature_header",
                "is required: the header that carries the signature",
            );
        }
        let prefix = o.text("signature_prefix").unwrap_or_default().to_owned();

        #[derive(Clone, Copy, PartialEq)]
        enum Kind {
            Bare,
            List,
            Spaced,
        }
        let kind = o.choice(
            "signature_format",
            &[
                ("bare", Kind::Bare),
                ("list", Kind::List),
                ("spaced", Kind::Spaced),
            ],
            Kind::Bare,
        );
        let signature_key = o.text("signature_key").unwrap_or("v1").to_owned();
        if kind == Kind::Bare && o.has("signature_key") {
            o.error(
                "signature_key",
                "applies to signature_format = \"list\" or \"spaced\" only",
            );
        }
        let timestamp_key = o.text("timestamp_key").map(str::to_owned);
        if timestamp_key.is_some() && kind != Kind::List {
            o.error(
                "timestamp_key",
                "applies to signature_format = \"list\" only",
            );
        }
        if timestamp_key.as_deref() == Some(signature_key.as_str()) {
            o.error("timestamp_key", "must differ from signature_key");
        }
        for (key, value) in [
            ("signature_key", Some(signature_key.as_str())),
            ("timestamp_key", timestamp_key.as_deref()),
        ] {
            let bad = |c: char| c == ',' || c == '=' || c.is_ascii_whitespace();
            if value.is_some_and(|v| v.is_empty() || v.contains(bad)) {
                o.error(key, "must be a non-empty word without ',', '=' or spaces");
            }
        }
        let format = match kind {
            Kind::Bare => Format::Bare,
            Kind::List => Format::List {
                signature_key: signature_key.clone(),
                timestamp_key: timestamp_key.clone(),
            },
            Kind::Spaced => Format::Spaced {
                version: signature_key.clone(),
            },
        };

        let timestamp_header = o.header("timestamp_header");
        if timestamp_header.is_some() && timestamp_key.is_some() {
            o.error(
                "timestamp_header",
                "the timestamp has one source: timestamp_header or timestamp_key, not both",
            );
        }
        if let (Some((t, _)), Some((s, _))) = (timestamp_header, signature) {
            if t == s {
                o.error("timestamp_header", "is the signature header itself");
            }
        }
        let source = match (timestamp_header, &timestamp_key) {
            (Some((name, _)), _) => Some(TimestampSource::Header(name)),
            (None, Some(_)) if kind == Kind::List => Some(TimestampSource::SignatureField),
            _ => None,
        };
        let unit = o.choice(
            "timestamp_unit",
            &[("s", Unit::Seconds), ("ms", Unit::Millis)],
            Unit::Seconds,
        );
        let past_only = o.choice(
            "timestamp_window",
            &[("both", false), ("past", true)],
            false,
        );
        if source.is_none() {
            for key in ["timestamp_unit", "timestamp_window"] {
                if o.has(key) {
                    o.error(key, NO_SOURCE);
                }
            }
            if tolerance.is_some() {
                o.error("tolerance", NO_SOURCE);
            }
        }
        let tolerance = tolerance.unwrap_or(Duration::from_secs(300));
        let timestamp = source.map(|source| Timestamp {
            source,
            unit,
            window: Window {
                past: tolerance,
                future: (!past_only).then_some(tolerance),
            },
        });

        let template_text = o.text("signed_content").unwrap_or("{body}");
        let template = match template::parse(template_text) {
            Ok(t) => t,
            Err(why) => {
                o.error("signed_content", why);
                vec![Piece::Body]
            }
        };
        if !template.contains(&Piece::Body) {
            o.error(
                "signed_content",
                "must contain {body}: a signature that does not cover the body does not protect the payload",
            );
        }
        let has_timestamp = template.contains(&Piece::Timestamp);
        if has_timestamp && timestamp.is_none() {
            o.error("signed_content", format!("{{timestamp}} {NO_SOURCE}"));
        }
        if !has_timestamp && timestamp.is_some() {
            o.error(
                "signed_content",
                "must contain {timestamp}: a timestamp the signature does not cover can be changed, so its window protects nothing",
            );
        }
        for piece in &template {
            if let (Piece::Header(name), Some((sig, _))) = (piece, signature) {
                if *name == sig {
                    o.error(
                        "signed_content",
                        format!("{{header:{name}}} is the signature header itself"),
                    );
                }
            }
        }

        let mut delivery_id = o.delivery_id();
        let marked = o.boolean("delivery_id_signed");
        if marked.is_some() && delivery_id.is_none() {
            o.error("delivery_id_signed", "needs delivery_id");
        }
        let covered = match &delivery_id {
            Some(DeliveryId::Header { name, .. }) => {
                template.contains(&Piece::Id) || template.contains(&Piece::Header(name))
            }
            Some(DeliveryId::Json { .. }) => true,
            None => false,
        };
        if marked == Some(true) && !covered {
            o.error(
                "delivery_id_signed",
                "the signature does not cover delivery_id: add {id} (or its {header:Name}) to signed_content",
            );
        }
        let signed = marked.unwrap_or(covered) && covered;
        let id_header = match &mut delivery_id {
            Some(DeliveryId::Header { name, signed: s }) => {
                *s = signed;
                let label = o.text("delivery_id").unwrap_or_default()["header:".len()..].to_owned();
                Some((*name, label))
            }
            Some(DeliveryId::Json { signed: s, .. }) => {
                *s = signed;
                None
            }
            None => None,
        };
        if template.contains(&Piece::Id) && id_header.is_none() {
            o.error(
                "signed_content",
                "{id} needs delivery_id = \"header:Name\" (the header it reads)",
            );
        }
        let event_pointer = o.event_pointer();

        let mut warnings = Vec::new();
        if timestamp.is_none() {
            warnings.push(
                "no replay window: nothing signed is timestamped, so dedup is the only replay defence"
                    .to_owned(),
            );
        }
        if let (Some(spec), false) = (o.table.get("delivery_id"), signed) {
            warnings.push(format!(
                "delivery_id {spec} is not signed: it is passed on as providerdeliveryid only, and dedup uses the digest of the signed bytes"
            ));
        }
        let (header, header_label) =
            signature.map_or(("", String::new()), |(h, l)| (h, l.to_owned()));
        let config = Config {
            algorithm,
            secret_encoding,
            header,
            header_label,
            format,
            prefix,
            encoding,
            timestamp,
            timestamp_label: timestamp_header.map(|(_, l)| l.to_owned()),
            template,
            id_header,
            reading: Reading {
                event_pointer,
                delivery_id,
            },
            warnings,
        };
        o.done(config)
    }

    fn key(&self, secret: &Secret) -> Result<MacKey, String> {
        let value = secret.expose();
        let bytes = match self.secret_encoding {
            SecretEncoding::Utf8 => value.as_bytes().to_vec(),
            SecretEncoding::Base64 => scheme::BASE64
                .decode(value)
                .map_err(|_| "not base64 (secret_encoding = \"base64\")")?,
            SecretEncoding::Whsec => scheme::BASE64
                .decode(value.strip_prefix("whsec_").unwrap_or(value))
                .map_err(|_| "not a whsec_<base64> key (secret_encoding = \"whsec\")")?,
        };
        if bytes.is_empty() {
            return Err("secret is empty".into());
        }
        Ok(MacKey::new(self.algorithm, &bytes))
    }
}

pub static PROVIDER: Provider = super::configured("hmac", route_scheme, sign, SAMPLES, OPTIONS);

const SAMPLES: &[Sample] = crate::samples!["hmac": "call.ended"];

fn route_scheme(setup: SchemeSetup<'_>) -> Result<Box<dyn RouteScheme>, Vec<SetupError>> {
    let config = Config::parse(setup.options, setup.tolerance)?;
    if setup.secrets.is_empty() {
        return Err(vec![SetupError::new(
            "secrets",
            "at least one secret is required",
        )]);
    }
    let keys = per_secret(setup.secrets, |s| config.key(s))?;
    Ok(Box::new(HmacScheme {
        keys,
        header: config.header,
        format: config.format,
        prefix: config.prefix,
        encoding: config.encoding,
        timestamp: config.timestamp,
        template: config.template,
        id_header: config.id_header.map(|(name, _)| name),
        reading: config.reading,
        warnings: config.warnings,
    }))
}

/// Signs as the route's options say (`--option key=value`, the route's own
/// keys).
fn sign(secret: &Secret, body: &[u8], d: &Outgoing<'_>) -> Result<HeaderList, String> {
    super::unknown_option("hmac", d.options, OPTIONS)?;
    let config = Config::parse(d.options, None).map_err(super::describe)?;
    let key = config.key(secret)?;
    let timestamp = config.timestamp.map(|t| match t.unit {
        Unit::Seconds => d.timestamp.to_string(),
        Unit::Millis => (d.timestamp * 1000).to_string(),
    });
    let mut headers = Vec::new();
    if let Some((_, label)) = &config.id_header {
        headers.push((label.clone(), d.id.to_owned()));
    }
    if let (Some(label), Some(t)) = (&config.timestamp_label, &timestamp) {
        headers.push((label.clone(), t.clone()));
    }
    let value_of = |name: &str| -> Result<String, String> {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .or_else(|| (name == "content-type").then(|| "application/json".to_owned()))
            .ok_or_else(|| format!("cannot fill {{header:{name}}}: hookgate send sets only the id and timestamp headers and Content-Type"))
    };
    let mut owned: Vec<Vec<u8>> = Vec::new();
    for piece in &config.template {
        owned.push(match piece {
            Piece::Literal(bytes) => bytes.clone(),
            Piece::Body => body.to_vec(),
            Piece::Timestamp => timestamp.clone().unwrap_or_default().into_bytes(),
            Piece::Id => d.id.as_bytes().to_vec(),
            Piece::Header(name) => value_of(name)?.into_bytes(),
        });
    }
    let parts: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
    let mac = key.sign(&parts);
    let sig = format!(
        "{}{}",
        config.prefix,
        config.encoding.encode(&mac[..key.len()])
    );
    let value = match &config.format {
        Format::Bare => sig,
        Format::List {
            signature_key,
            timestamp_key: Some(tk),
        } => format!(
            "{tk}={},{signature_key}={sig}",
            timestamp.unwrap_or_default()
        ),
        Format::List { signature_key, .. } => format!("{signature_key}={sig}"),
        Format::Spaced { version } => format!("{version},{sig}"),
    };
    headers.push((config.header_label, value));
    Ok(headers)
}
