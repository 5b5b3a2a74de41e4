//! `hookgate send`: a realistic, correctly signed test event, like the
//! providers' own "send test event" buttons, to prove a deployment end to
//! end. Each send gets fresh ids, so it is never taken for a duplicate.

use std::net::ToSocketAddrs;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pingora::connectors::http::v1::Connector;
use pingora::http::RequestHeader;
use pingora::upstreams::peer::HttpPeer;
use rand::RngCore;

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
    let build = || -> pingora::Result<RequestHeader> {
        let mut req = RequestHeader::build(method, path.as_bytes(), Some(headers.len() + 3))?;
        req.insert_header("Host", authority.as_str())?;
        req.insert_header(
            "User-Agent",
            concat!("hookgate/", env!("CARGO_PKG_VERSION")),
        )?;
        if method == "POST" {
            req.insert_header("Content-Length", body.len())?;
        }
        for (k, v) in headers {
            req.append_header(k.clone(), v.as_str())?;
        }
        Ok(req)
    };
    let req = build().map_err(|e| SendError::Http(e.to_string()))?;

    let exchange = async {
        let connector = Connector::new(None);
        let (mut session, _) = connector.get_http_session(&peer).await?;
        session.read_timeout = Some(limit);
        session.write_timeout = Some(limit);
        session.write_request_header(Box::new(req)).await?;
        if !body.is_empty() {
            session.write_body(body).await?;
        }
        session.finish_body().await?;
        loop {
            session.read_response().await?;
            match session.resp_header() {
                Some(h) if h.status.is_informational() => continue,
                _ => break,
            }
        }
        let header = session.resp_header().cloned();
        let mut body = Vec::new();
        while let Some(chunk) = session.read_body_bytes().await? {
            body.extend_from_slice(&chunk);
        }
        Ok::<_, Box<pingora::Error>>((header, body))
    };
    let (header, body) = tokio::time::timeout(limit, exchange)
        .await
        .map_err(|_| SendError::Http(format!("no answer within {limit:?}")))?
        .map_err(|e| SendError::Http(e.to_string()))?;
    let header = header.ok_or_else(|| SendError::Http("no response header".into()))?;
    Ok(Answer {
        status: header.status.as_u16(),
        headers: header
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::test_support::{check, test_options, test_route, try_scheme, Fields};
    use crate::provider::{self, Provider};

    fn secret(p: &dyn Provider) -> Secret {
        Secret::new(test_route(p).signing_secret)
    }

    #[test]
    fn every_documented_event_signs_and_verifies_with_fresh_identity() {
        for p in provider::all() {
            let s = secret(*p);
            let route = test_route(*p);
            let options = test_options(*p);
            let scheme = try_scheme(*p, &[route.secret], route.options).unwrap();
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
