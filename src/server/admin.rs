//! The admin listener: `/healthz`, `/readyz`, `/metrics`. Kept off the
//! webhook port so it is never exposed to providers.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ReusedHttpStream};
use pingora::http::ResponseHeader;
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;
use tokio::time::timeout;

use super::State;

/// How long `/readyz` waits for the dedup backend.
const READY_PROBE: Duration = Duration::from_secs(1);

pub struct Admin {
    state: Arc<State>,
}

impl Admin {
    pub fn new(state: Arc<State>) -> Self {
        Admin { state }
    }

    async fn answer(&self, path: &str) -> (u16, &'static str, String) {
        match path {
            "/healthz" => (200, "application/json", r#"{"status":"ok"}"#.into()),
            "/readyz" => {
                let backend = self.state.dedup.store().backend_name();
                let reachable = matches!(
                    timeout(READY_PROBE, self.state.dedup.store().ping()).await,
                    Ok(Ok(()))
                );
                let routes = self.state.snapshot.load().config.routes().count();
                let body = serde_json::json!({
                    "status": if reachable { "ready" } else { "not_ready" },
                    "config": { "loaded": true, "routes": routes },
                    "dedup": { "backend": backend, "reachable": reachable },
                })
                .to_string();
                (if reachable { 200 } else { 503 }, "application/json", body)
            }
            "/metrics" => (
                200,
                "text/plain; version=0.0.4",
                self.state.metrics.render(),
            ),
            _ => (404, "application/json", r#"{"error":"not_found"}"#.into()),
        }
    }
}

#[async_trait]
impl HttpServerApp for Admin {
    async fn process_new_http(
        self: &Arc<Self>,
        mut session: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        session.set_read_timeout(Some(Duration::from_secs(10)));
        if !matches!(
            timeout(Duration::from_secs(30), session.read_request()).await,
            Ok(Ok(true))
        ) {
            return None;
        }
        let path = session.req_header().uri.path().to_owned();
        let (status, content_type, body) = self.answer(&path).await;
        let mut resp = ResponseHeader::build(status, Some(2)).expect("valid status");
        let _ = resp.insert_header(http::header::CONTENT_TYPE, content_type);
        let _ = resp.insert_header(http::header::CONTENT_LENGTH, body.len());
        if *shutdown.borrow() {
            session.set_keepalive(None);
        }
        if session.write_response_header(Box::new(resp)).await.is_err()
            || session
                .write_response_body(Bytes::from(body), true)
                .await
                .is_err()
        {
            return None;
        }
        let settings = HttpPersistentSettings::for_session(&session);
        match session.finish().await {
            Ok(Some(stream)) => Some(ReusedHttpStream::from_reusable_stream(stream, settings)),
            _ => None,
        }
    }
}
