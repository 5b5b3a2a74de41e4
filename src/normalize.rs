//! SHIM (replaced by the real normalization module).
pub use crate::provider::ProviderKind;
use std::time::SystemTime;
pub struct EventContext<'a> {
    pub provider: ProviderKind,
    pub route: &'a str,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
    pub json: &'a serde_json::Value,
    pub delivery_id: &'a str,
    pub received_at: SystemTime,
    pub include_raw: bool,
}
pub struct Event {
    ty: String,
}
impl Event {
    pub fn to_structured(&self, ctx: &EventContext<'_>) -> Vec<u8> {
        let mut v = serde_json::json!({"specversion":"1.0","id":ctx.delivery_id,"source":format!("/{}", ctx.route),"type":self.ty});
        if ctx.include_raw {
            v["data"] = serde_json::json!({"raw": ctx.json});
        }
        serde_json::to_vec(&v).unwrap()
    }
    pub fn binary_headers(
        &self,
        ctx: &EventContext<'_>,
    ) -> Vec<(http::HeaderName, http::HeaderValue)> {
        vec![
            (
                http::HeaderName::from_static("ce-specversion"),
                http::HeaderValue::from_static("1.0"),
            ),
            (
                http::HeaderName::from_static("ce-id"),
                http::HeaderValue::from_str(ctx.delivery_id).unwrap(),
            ),
        ]
    }
    pub fn event_type(&self) -> &str {
        &self.ty
    }
}
pub fn normalize(_ctx: &EventContext<'_>) -> Event {
    Event {
        ty: "unknown".into(),
    }
}
pub mod nixflex {
    pub fn normalize(c: &super::EventContext<'_>) -> super::Event {
        super::normalize(c)
    }
}
pub mod agntix {
    pub fn normalize(c: &super::EventContext<'_>) -> super::Event {
        super::normalize(c)
    }
}
pub mod inboundflow {
    pub fn normalize(c: &super::EventContext<'_>) -> super::Event {
        super::normalize(c)
    }
}
pub mod allo {
    pub fn normalize(c: &super::EventContext<'_>) -> super::Event {
        super::normalize(c)
    }
}
pub mod voxagent {
    pub fn normalize(c: &super::EventContext<'_>) -> super::Event {
        super::normalize(c)
    }
}
