//! The request the receiver gets, rebuilt from scratch: hookgate's own
//! framing (`Content-Length` of the bytes it sends, never the client's), its
//! own `X-Hookgate-*` and `ce-*` attributes, its own view of the peer, and
//! of the client's headers only what the route's forwarding policy lets
//! through (README: "What the receiver gets").

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::gate::{Accepted, Rendered};
use crate::http1::{self, RequestHead};
use crate::provider::standard;
use crate::route::{ForwardMode, Route};

/// What the head is built from.
pub struct Outbound<'a, 'b> {
    pub route: &'a Route,
    /// The client's request head and the buffer its spans point into.
    pub head: &'a RequestHead,
    pub buf: &'a [u8],
    pub accepted: &'a Accepted<'b>,
    pub rendered: &'a Rendered<'a>,
    pub peer: Option<IpAddr>,
    /// The peer is a configured trusted proxy: its forwarding headers stay.
    pub peer_trusted: bool,
    pub tls: bool,
}

const CREDENTIALS: [&[u8]; 2] = [b"authorization", b"cookie"];

fn starts_with_ignore_case(name: &[u8], prefix: &[u8]) -> bool {
    name.len() >= prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn is_proxy_view(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"forwarded")
        || name.eq_ignore_ascii_case(b"x-real-ip")
        || starts_with_ignore_case(name, b"x-forwarded-")
}

/// Whether a client header reaches the receiver (`false` for the ones
/// hookgate replaces with its own).
fn passes(o: &Outbound<'_, '_>, name: &[u8], connection_listed: &[&[u8]]) -> bool {
    let route = o.route;
    let allowed = route
        .forward_headers
        .iter()
        .any(|a| a.as_bytes().eq_ignore_ascii_case(name));
    let always_dropped = http1::is_hop_by_hop(name)
        || connection_listed.iter().any(|c| c.eq_ignore_ascii_case(name))
        || name.eq_ignore_ascii_case(b"host")
        || starts_with_ignore_case(name, b"x-hookgate-")
        || starts_with_ignore_case(name, b"ce-")
        || (route.forward_signer.is_some() && starts_with_ignore_case(name, b"webhook-"))
        // Written below: the trusted proxy's own value with the peer added.
        || name.eq_ignore_ascii_case(b"x-forwarded-for")
        || name.eq_ignore_ascii_case(b"forwarded");
    if always_dropped {
        return false;
    }
    if is_proxy_view(name) {
        return o.peer_trusted;
    }
    match route.forward {
        ForwardMode::Normalized => allowed || (name.eq_ignore_ascii_case(b"user-agent")),
        ForwardMode::Original => {
            let credential = CREDENTIALS.iter().any(|c| c.eq_ignore_ascii_case(name))
                || starts_with_ignore_case(name, b"proxy-");
            !credential || allowed
        }
    }
}

fn header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Writes the upstream request head into `out` (cleared first).
pub fn write_head(out: &mut Vec<u8>, o: &Outbound<'_, '_>) {
    let route = o.route;
    out.clear();
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(route.upstream.base_path.as_bytes());
    match &route.upstream_path {
        Some(p) => out.extend_from_slice(p.as_bytes()),
        None => out.extend_from_slice(o.head.path(o.buf)),
    }
    if route.forward_query {
        if let Some(q) = o.head.query(o.buf) {
            out.push(b'?');
            out.extend_from_slice(q);
        }
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    header(out, b"Host", route.upstream.authority.as_bytes());
    header(
        out,
        b"Content-Length",
        itoa::Buffer::new().format(o.rendered.body.len()).as_bytes(),
    );
    if route.forward == ForwardMode::Normalized {
        header(out, b"Content-Type", b"application/cloudevents+json");
    }

    let connection_listed: Vec<&[u8]> = o
        .head
        .headers(o.buf)
        .filter(|(n, _)| n.eq_ignore_ascii_case(b"connection"))
        .flat_map(|(_, v)| http1::connection_tokens(v))
        .collect();
    let mut forwarded_for: Option<&[u8]> = None;
    let mut forwarded: Option<&[u8]> = None;
    for (name, value) in o.head.headers(o.buf) {
        if o.peer_trusted {
            if name.eq_ignore_ascii_case(b"x-forwarded-for") {
                forwarded_for = Some(value);
            } else if name.eq_ignore_ascii_case(b"forwarded") {
                forwarded = Some(value);
            }
        }
        if passes(o, name, &connection_listed) {
            header(out, name, value);
        }
    }

    header(out, b"X-Hookgate-Verified", b"true");
    header(
        out,
        b"X-Hookgate-Provider",
        route.provider_name().as_bytes(),
    );
    let accepted = o.accepted;
    header(
        out,
        b"X-Hookgate-Delivery-Id",
        accepted.delivery_id().as_bytes(),
    );
    if let Some(id) = accepted.provider_delivery_id() {
        header(out, b"X-Hookgate-Provider-Delivery-Id", id.as_bytes());
    }
    for (name, value) in &o.rendered.ce_headers {
        header(out, name.as_bytes(), value.as_bytes());
    }
    if let Some(signer) = &route.forward_signer {
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let sig = standard::sign(signer, accepted.delivery_id(), ts, &o.rendered.body);
        header(out, b"webhook-id", accepted.delivery_id().as_bytes());
        header(
            out,
            b"webhook-timestamp",
            itoa::Buffer::new().format(ts).as_bytes(),
        );
        out.extend_from_slice(b"webhook-signature: v1,");
        out.extend_from_slice(sig.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    peer_view(out, o, forwarded_for, forwarded);
    out.extend_from_slice(b"\r\n");
}

/// hookgate's own view of the peer; a trusted proxy's view is kept and the
/// peer added to it.
fn peer_view(
    out: &mut Vec<u8>,
    o: &Outbound<'_, '_>,
    forwarded_for: Option<&[u8]>,
    forwarded: Option<&[u8]>,
) {
    let proto: &[u8] = if o.tls { b"https" } else { b"http" };
    let Some(ip) = o.peer else {
        return;
    };
    let ip_text = ip.to_string();
    out.extend_from_slice(b"X-Forwarded-For: ");
    if let Some(prior) = forwarded_for {
        out.extend_from_slice(prior);
        out.extend_from_slice(b", ");
    }
    out.extend_from_slice(ip_text.as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(b"Forwarded: ");
    if let Some(prior) = forwarded {
        out.extend_from_slice(prior);
        out.extend_from_slice(b", ");
    }
    match ip {
        IpAddr::V4(_) => {
            out.extend_from_slice(b"for=");
            out.extend_from_slice(ip_text.as_bytes());
        }
        IpAddr::V6(_) => {
            out.extend_from_slice(b"for=\"[");
            out.extend_from_slice(ip_text.as_bytes());
            out.extend_from_slice(b"]\"");
        }
    }
    out.extend_from_slice(b";proto=");
    out.extend_from_slice(proto);
    out.extend_from_slice(b"\r\n");
    if !o.peer_trusted {
        header(out, b"X-Forwarded-Proto", proto);
        header(out, b"X-Real-IP", ip_text.as_bytes());
    }
}
