//! The admin listener: `/healthz`, `/readyz`, `/metrics`. Kept off the
//! webhook port (never exposed to providers) and on its own thread and
//! connection budget, so it answers while the webhook listener is saturated.

use std::time::Duration;

use pingora::time::timeout;
use tokio::io::{AsyncRead, AsyncWrite};

use super::conn::{Conn, Next};
use super::{respond, State};
use crate::http1::Method;

/// How long `/readyz` waits for the dedup backend.
const READY_PROBE: Duration = Duration::from_secs(1);
const IDLE: Duration = Duration::from_secs(30);
const HEAD: Duration = Duration::from_secs(10);

pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(state: &State, mut conn: Conn<S>) {
    let mut out = Vec::with_capacity(4096);
    loop {
        match conn.next_request(IDLE, HEAD).await {
            Next::Request => {}
            _ => return,
        }
        let path = conn.head.path(&conn.buf).to_vec();
        let (status, content_type, body) =
            if matches!(conn.head.method(), Method::Get | Method::Head) {
                answer(state, &path).await
            } else {
                (
                    405,
                    "application/json",
                    r#"{"error":"method_not_allowed"}"#.to_owned(),
                )
            };
        let keep = conn.head.keep_alive() && conn.head.framing() == crate::http1::Framing::None;
        out.clear();
        respond::status_line(&mut out, status);
        respond::header(&mut out, "Content-Type", content_type.as_bytes());
        respond::number_header(&mut out, "Content-Length", body.len() as u64);
        if !keep {
            respond::header(&mut out, "Connection", b"close");
        }
        out.extend_from_slice(b"\r\n");
        if conn.head.method() != Method::Head {
            out.extend_from_slice(body.as_bytes());
        }
        if conn.send(&out).await.is_err() || !keep {
            return;
        }
        conn.finish_request();
    }
}

async fn answer(state: &State, path: &[u8]) -> (u16, &'static str, String) {
    match path {
        b"/healthz" => (200, "application/json", r#"{"status":"ok"}"#.into()),
        b"/readyz" => {
            let store = state.dedup.store();
            // Why not, in words (a refused connection, a certificate, an
            // ACL refusal); backend errors never carry a password.
            let error = match timeout(READY_PROBE, store.ping()).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some(format!("no answer within {READY_PROBE:?}")),
            };
            let reachable = error.is_none();
            let routes = state.snapshot.load().config.routes().count();
            let mut dedup = serde_json::json!({
                "backend": store.backend_name(),
                "reachable": reachable,
            });
            if let Some(error) = error {
                dedup["error"] = error.into();
            }
            let body = serde_json::json!({
                "status": if reachable { "ready" } else { "not_ready" },
                "config": { "loaded": true, "routes": routes },
                "dedup": dedup,
            })
            .to_string();
            (if reachable { 200 } else { 503 }, "application/json", body)
        }
        b"/metrics" => (200, "text/plain; version=0.0.4", state.metrics.render()),
        _ => (404, "application/json", r#"{"error":"not_found"}"#.into()),
    }
}
