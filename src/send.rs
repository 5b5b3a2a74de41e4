//! `hookgate send`: a realistic, correctly signed test event, like the
//! providers' own "send test event" buttons, to prove a deployment end to
//! end. Each send gets fresh ids, so it is never taken for a duplicate.

use std::net::ToSocketAddrs;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pingora::connectors::TransportConnector;
use pingora::upstreams::peer::HttpPeer;
use rand::RngCore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::http1;
use crate::provider::{Outgoing, Provider};
use crate::secret::Secret;
use crate::verify::Format;

/// A signed request, ready to send.
pub struct SignedEvent {
    pub event: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The answer to a send.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{provider} has no event {event:?}; it sends: {known}")]
    UnknownEvent {
        provider: &'static str,
        event: String,
        known: String,
    },
    #[error("the secret cannot be used: {0}")]
    Secret(String),
    #[error("{0}")]
    Target(String),
    #[error("request failed: {0}")]
    Http(String),
}

/// Builds a signed delivery of `event` (the provider's first documented event
/// when `None`) to `url`, with fresh ids and the current time. `options`
/// are the provider's own settings (e.g. Voxagent's `signature_header`).
pub fn sign_event(
    provider: &Provider,
    event: Option<&str>,
    secret: &Secret,
    options: &toml::Table,
    url: &str,
) -> Result<SignedEvent, SendError> {
    if secret.expose().is_empty() {
        return Err(SendError::Secret("the secret is empty".into()));
    }
    let all = provider.samples();
    let sample = match event {
        None => all[0],
        Some(e) => *all
            .iter()
            .find(|s| s.event == e)
            .ok_or_else(|| SendError::UnknownEvent {
                provider: provider.name(),
                event: e.to_owned(),
                known: all.iter().map(|s| s.event).collect::<Vec<_>>().join(", "),
            })?,
    };
    let body = match sample.format {
        Format::Json => with_fresh_ids(sample.body, provider.sample_ids()),
        Format::Form => form_with_fresh_ids(sample.body, provider.sample_ids()),
    };
    let message_id = fresh_token("msg");
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let delivery = Outgoing {
        id: &message_id,
        url,
        timestamp,
        event: sample.event,
        options,
    };
    let mut headers = provider
        .sign(secret, &body, &delivery)
        .map_err(SendError::Secret)?;
    headers.push(("Content-Type".into(), sample.format.content_type().into()));
    Ok(SignedEvent {
        event: sample.event,
        headers,
        body,
    })
}

/// The template with each id it carries replaced by a fresh one, byte for
/// byte elsewhere (so the key order and layout stay the provider's).
fn with_fresh_ids(template: &str, pointers: &[&str]) -> Vec<u8> {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(template) else {
        return template.as_bytes().to_vec();
    };
    let mut text = template.to_owned();
    for pointer in pointers {
        if let Some(old) = doc.pointer(pointer).and_then(|v| v.as_str()) {
            if old.is_empty() {
                continue;
            }
            let fresh = fresh_like(old);
            text = text.replace(&format!("\"{old}\""), &format!("\"{fresh}\""));
        }
    }
    text.into_bytes()
}

/// A form template with the value of each field the pointers name
/// (`/CallSid`) replaced by a fresh one; every other byte kept.
fn form_with_fresh_ids(template: &str, pointers: &[&str]) -> Vec<u8> {
    let names: Vec<&str> = pointers.iter().map(|p| p.trim_start_matches('/')).collect();
    // One fresh id per old one: fields that repeat an id (Twilio's SmsSid
    // and MessageSid) keep repeating it.
    let mut fresh: Vec<(&str, String)> = Vec::new();
    template
        .trim_end()
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, old)) if names.contains(&name) && !old.is_empty() => {
                let new = match fresh.iter().find(|(o, _)| *o == old) {
                    Some((_, new)) => new.clone(),
                    None => {
                        let new = fresh_like(old);
                        fresh.push((old, new.clone()));
                        new
                    }
                };
                format!("{name}={new}")
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// A fresh id of the same shape: a UUID, a Twilio-style SID (two letters
/// and 32 hex digits), or the old id with a random suffix.
fn fresh_like(old: &str) -> String {
    if looks_like_uuid(old) {
        uuid_v4()
    } else if looks_like_sid(old) {
        let mut b = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut b);
        format!("{}{}", &old[..2], hex::encode(b))
    } else {
        format!("{old}_{}", &fresh_token("")[1..9])
    }
}

fn looks_like_uuid(s: &str) -> bool {
    s.len() == 36 && s.bytes().filter(|b| *b == b'-').count() == 4
}

fn looks_like_sid(s: &str) -> bool {
    s.len() == 34
        && s.as_bytes()[..2].iter().all(u8::is_ascii_uppercase)
        && s.as_bytes()[2..]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn fresh_token(prefix: &str) -> String {
    let mut b = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut b);
    format!("{prefix}_{}", hex::encode(b))
}

/// POSTs a signed event to `url` (http or https) and reads the answer.
pub async fn post(url: &str, signed: &SignedEvent, limit: Duration) -> Result<Answer, SendError> {
    request(url, "POST", &signed.headers, &signed.body, limit).await
}

/// GETs `url`; the answer's status.
pub async fn get(url: &str, limit: Duration) -> Result<u16, SendError> {
    Ok(request(url, "GET", &[], &[], limit).await?.status)
}

async fn request(
    url: &str,
    method: &str,
    headers: &[(String, String)],
    body: &[u8],
    limit: Duration,
) -> Result<Answer, SendError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| SendError::Target(format!("{url:?} is not a URL")))?;
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => {
            return Err(SendError::Target(
                "the URL must be http:// or https://".into(),
            ))
        }
    };
    let host = uri
        .host()
        .ok_or_else(|| SendError::Target(format!("{url:?} has no host")))?
        .trim_matches(['[', ']'])
        .to_owned();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| SendError::Target(format!("cannot resolve {host}")))?;
    let peer = HttpPeer::new(addr, tls, host.clone());
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let authority = uri.authority().map_or(host.clone(), |a| a.to_string());

    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\n");
    head.push_str(concat!(
        "User-Agent: hookgate/",
        env!("CARGO_PKG_VERSION"),
        "\r\n"
    ));
    head.push_str("Connection: close\r\n");
    if method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");

    let exchange = async {
        let mut stream = TransportConnector::new(None)
            .new_stream(&peer)
            .await
            .map_err(|e| SendError::Http(connect_error(&addr, &e)))?;
        let io = |e: std::io::Error| SendError::Http(format!("{addr}: {e}"));
        stream.write_all(head.as_bytes()).await.map_err(io)?;
        stream.write_all(body).await.map_err(io)?;
        stream.flush().await.map_err(io)?;
        read_answer(&mut stream).await
    };
    tokio::time::timeout(limit, exchange)
        .await
        .map_err(|_| SendError::Http(format!("{addr}: no answer within {limit:?}")))?
}

/// A connection failure in words, without the framework's context chain.
fn connect_error(addr: &std::net::SocketAddr, e: &pingora::Error) -> String {
    use pingora::ErrorType as E;
    let what = match e.etype() {
        E::ConnectRefused => "connection refused (is the gateway listening there?)",
        E::ConnectTimedout => "connection timed out",
        E::ConnectNoRoute => "no route to host",
        E::TLSHandshakeFailure | E::TLSHandshakeTimedout => "TLS handshake failed",
        E::InvalidCert => "the server's certificate was not accepted",
        _ => "cannot connect",
    };
    format!("{addr}: {what}")
}

/// Reads one answer (skipping 1xx), its body by length, chunks or close.
async fn read_answer(stream: &mut pingora::protocols::Stream) -> Result<Answer, SendError> {
    let limits = http1::Limits {
        max_body_bytes: 16 * 1024 * 1024,
        ..http1::Limits::default()
    };
    let bad = |what: &str| SendError::Http(format!("malformed answer: {what}"));
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut head = http1::ResponseHead::new();
    loop {
        match http1::parse_response(&buf, &limits, false, &mut head) {
            Ok(http1::Parsed::Complete) if (100..200).contains(&head.status()) => {
                buf.drain(..head.head_len());
                continue;
            }
            Ok(http1::Parsed::Complete) => break,
            Ok(http1::Parsed::Partial) => {}
            Err(r) => return Err(bad(r.as_str())),
        }
        if read_more(stream, &mut buf).await? == 0 {
            return Err(bad("the connection closed before the answer's head"));
        }
    }
    let headers: Vec<(String, String)> = head
        .headers(&buf)
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(k).to_ascii_lowercase(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect();
    let status = head.status();
    let framing = head.framing();
    let mut rest = buf.split_off(head.head_len());
    let body = match framing {
        http1::ResponseFraming::Empty => Vec::new(),
        http1::ResponseFraming::Length(n) => {
            let n = n as usize;
            while rest.len() < n {
                if read_more(stream, &mut rest).await? == 0 {
                    return Err(bad("the body ended early"));
                }
            }
            rest.truncate(n);
            rest
        }
        http1::ResponseFraming::Chunked => {
            let mut decoder = http1::ChunkedDecoder::new(&limits);
            let mut out = Vec::new();
            let mut pos = 0;
            loop {
                let (used, done) = decoder
                    .decode(&rest[pos..], &mut out)
                    .map_err(|r| bad(r.as_str()))?;
                pos += used;
                if done {
                    break out;
                }
                if read_more(stream, &mut rest).await? == 0 {
                    return Err(bad("the body ended early"));
                }
            }
        }
        http1::ResponseFraming::UntilClose => {
            while read_more(stream, &mut rest).await? > 0 {}
            rest
        }
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

async fn read_more(
    stream: &mut pingora::protocols::Stream,
    buf: &mut Vec<u8>,
) -> Result<usize, SendError> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream
        .read(&mut chunk)
        .await
        .map_err(|e| SendError::Http(format!("reading the answer: {e}")))?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::test_support::{
        check, test_options, test_route, try_scheme, Fields, TEST_URL,
    };
    use crate::provider::{self, Provider};

    fn secret(p: &Provider) -> Secret {
        Secret::new(test_route(p).signing_secret)
    }

    #[test]
    fn every_documented_event_signs_and_verifies_with_fresh_identity() {
        for p in provider::all() {
            let s = secret(p);
            let route = test_route(p);
            let options = test_options(p);
            let scheme = try_scheme(p, &[route.secret], route.options).unwrap();
            for sample in p.samples() {
                let a = sign_event(p, Some(sample.event), &s, &options, TEST_URL).unwrap();
                let b = sign_event(p, Some(sample.event), &s, &options, TEST_URL).unwrap();
                // Whatever the provider dedups on must be fresh: the body
                // for those keyed on it, the signed message id for the rest.
                assert!(
                    a.body != b.body || a.headers[0] != b.headers[0],
                    "{} {}: ids not refreshed",
                    p.name(),
                    sample.event
                );
                let fields_of = |body: &[u8]| -> serde_json::Value {
                    let mut scratch = Vec::new();
                    let text = match sample.format {
                        Format::Json => std::str::from_utf8(body).unwrap(),
                        Format::Form => crate::verify::json::form_text(body, &mut scratch).unwrap(),
                    };
                    serde_json::from_str(text).unwrap()
                };
                let (v, t) = (fields_of(&a.body), fields_of(sample.body.as_bytes()));
                assert_eq!(
                    v.as_object().map(|o| o.len()),
                    t.as_object().map(|o| o.len())
                );
                let content_type = a.headers.iter().find(|(k, _)| k == "Content-Type");
                assert_eq!(
                    content_type.map(|(_, v)| v.as_str()),
                    Some(sample.format.content_type())
                );
                let fields = Fields::from_owned(a.headers.clone());
                assert_eq!(
                    check(&*scheme, &fields, &a.body, SystemTime::now()),
                    Ok(()),
                    "{} {}",
                    p.name(),
                    sample.event
                );
            }
        }
    }

    #[test]
    fn unknown_events_list_the_known_ones() {
        let p = provider::find("nixflex").unwrap();
        let err = sign_event(
            p,
            Some("call.exploded"),
            &secret(p),
            &toml::Table::new(),
            TEST_URL,
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("call.ended"), "{err}");
    }

    #[test]
    fn form_ids_are_refreshed_alike_and_keep_their_shape() {
        let template = "SmsSid=SM7f3a9c2e1d0b4a5968e7f6d5c4b3a291&Body=Hi%21&MessageSid=SM7f3a9c2e1d0b4a5968e7f6d5c4b3a291&CallSid=";
        let body = String::from_utf8(form_with_fresh_ids(
            template,
            &["/SmsSid", "/MessageSid", "/CallSid"],
        ))
        .unwrap();
        let fields: Vec<(&str, &str)> = body
            .split('&')
            .map(|p| p.split_once('=').unwrap())
            .collect();
        assert_eq!(fields[0].1, fields[2].1, "one id, refreshed once");
        assert_ne!(fields[0].1, "SM7f3a9c2e1d0b4a5968e7f6d5c4b3a291");
        assert!(looks_like_sid(fields[0].1) && fields[0].1.starts_with("SM"));
        assert_eq!(fields[1], ("Body", "Hi%21"));
        assert_eq!(fields[3], ("CallSid", ""), "empty ids stay empty");
    }

    #[test]
    fn uuids_stay_uuids() {
        let id = uuid_v4();
        assert!(looks_like_uuid(&id));
        assert_eq!(&id[14..15], "4");
    }
}
