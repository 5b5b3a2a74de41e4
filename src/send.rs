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
/// when `None`), with fresh ids and the current time. `options` are the
/// provider's own settings (e.g. Voxagent's `signature_header`).
pub fn sign_event(
    provider: &dyn Provider,
    event: Option<&str>,
    secret: &Secret,
    options: &toml::Table,
) -> Result<SignedEvent, SendError> {
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
    let body = with_fresh_ids(sample.body, provider.sample_ids());
    let message_id = fresh_token("msg");
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let delivery = Outgoing {
        id: &message_id,
        timestamp,
        event: sample.event,
        options,
    };
    let mut headers = provider
        .sign(secret, &body, &delivery)
        .map_err(SendError::Secret)?;
    headers.push(("Content-Type".into(), "application/json".into()));
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
            let fresh = if looks_like_uuid(old) {
                uuid_v4()
            } else {
                format!("{old}_{}", &fresh_token("")[1..9])
            };
            text = text.replace(&format!("\"{old}\""), &format!("\"{fresh}\""));
        }
    }
    text.into_bytes()
}

fn looks_like_uuid(s: &str) -> bool {
    s.len() == 36 && s.bytes().filter(|b| *b == b'-').count() == 4
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
    use crate::provider::test_support::{check, try_scheme, Fields};
    use crate::provider::{self, Provider};

    fn secret(p: &dyn Provider) -> Secret {
        let whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        Secret::new(if try_scheme(p, &["raw-secret"], "").is_ok() {
            "raw-secret"
        } else {
            whsec
        })
    }

    #[test]
    fn every_documented_event_signs_and_verifies_with_fresh_identity() {
        let options = toml::Table::new();
        for p in provider::all() {
            let s = secret(*p);
            let scheme = try_scheme(*p, &[s.expose()], "").unwrap();
            for sample in p.samples() {
                let a = sign_event(*p, Some(sample.event), &s, &options).unwrap();
                let b = sign_event(*p, Some(sample.event), &s, &options).unwrap();
                // Whatever the provider dedups on must be fresh: the body
                // for those keyed on it, the signed message id for the rest.
                assert!(
                    a.body != b.body || a.headers[0] != b.headers[0],
                    "{} {}: ids not refreshed",
                    p.name(),
                    sample.event
                );
                let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
                let t: serde_json::Value = serde_json::from_str(sample.body).unwrap();
                assert_eq!(
                    v.as_object().map(|o| o.len()),
                    t.as_object().map(|o| o.len())
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
        let err = sign_event(p, Some("call.exploded"), &secret(p), &toml::Table::new())
            .err()
            .unwrap();
        assert!(err.to_string().contains("call.ended"), "{err}");
    }

    #[test]
    fn uuids_stay_uuids() {
        let id = uuid_v4();
        assert!(looks_like_uuid(&id));
        assert_eq!(&id[14..15], "4");
    }
}
