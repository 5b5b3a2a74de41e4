//! Answers hookgate writes itself: rejections, duplicates, and the head of a
//! relayed upstream answer. Each goes out in one write.

use crate::reject::Reject;

/// `HTTP/1.1 <status> <reason>\r\n`.
pub fn status_line(out: &mut Vec<u8>, status: u16) {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(itoa::Buffer::new().format(status).as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
}

pub fn header(out: &mut Vec<u8>, name: impl AsRef<[u8]>, value: &[u8]) {
    out.extend_from_slice(name.as_ref());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

pub fn number_header(out: &mut Vec<u8>, name: impl AsRef<[u8]>, value: u64) {
    header(out, name, itoa::Buffer::new().format(value).as_bytes());
}

/// A small JSON answer; `close` adds `Connection: close`.
pub fn json(out: &mut Vec<u8>, status: u16, extra: &[(&str, &[u8])], body: &[u8], close: bool) {
    out.clear();
    status_line(out, status);
    header(out, "Content-Type", b"application/json");
    number_header(out, "Content-Length", body.len() as u64);
    for (k, v) in extra {
        header(out, k, v);
    }
    if close {
        header(out, "Connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// A rejection: status, JSON body, `Retry-After` and `Allow` where they apply.
pub fn reject(out: &mut Vec<u8>, reject: &Reject, close: bool) {
    let retry = reject.retry_after().map(|s| s.to_string());
    let mut extra: Vec<(&str, &[u8])> = Vec::with_capacity(2);
    if let Some(r) = &retry {
        extra.push(("Retry-After", r.as_bytes()));
    }
    if let Some(allow) = reject.allow() {
        extra.push(("Allow", allow.as_bytes()));
    }
    json(out, reject.status(), &extra, &reject.body(), close);
}

pub const DUPLICATE_BODY: &[u8] =
    br#"{"status":"duplicate","message":"already delivered; not forwarded again"}"#;

/// 200 for a delivery already delivered.
pub fn duplicate(out: &mut Vec<u8>, delivery_id: &str, close: bool) {
    json(
        out,
        200,
        &[
            ("X-Hookgate-Duplicate", b"true"),
            ("X-Hookgate-Delivery-Id", delivery_id.as_bytes()),
        ],
        DUPLICATE_BODY,
        close,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_carry_their_headers_and_a_small_json_body() {
        let mut out = Vec::new();
        reject(
            &mut out,
            &Reject::InFlight {
                retry_after: std::time::Duration::from_secs(9),
            },
            false,
        );
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with("HTTP/1.1 409 Conflict\r\n"), "{text}");
        assert!(text.contains("\r\nRetry-After: 9\r\n"));
        assert!(!text.contains("Connection: close"));
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(text.contains(&format!("Content-Length: {}\r\n", body.len())));
        reject(&mut out, &Reject::MethodNotAllowed, true);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\r\nAllow: POST\r\n") && text.contains("Connection: close"));
    }
}
