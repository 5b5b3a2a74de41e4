//! TEMPORARY: replaced by the fixtures under tests/fixtures.
use crate::provider::ProviderKind;

pub(super) const ID_POINTERS: &[&str] = &[
    "/call_id",
    "/id",
    "/delivery_id",
    "/data/session_id",
    "/data/id",
    "/data/call_id",
];

pub fn events(kind: ProviderKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        ProviderKind::Nixflex => &[(
            "call.ended",
            r#"{"event":"call.ended","call_id":"CA1234567890","agent_id":"agent_1","direction":"inbound","from_number":"+447386172392","to_number":"+447446466847","duration_seconds":146,"metadata":{}}"#,
        )],
        ProviderKind::Agntix => &[(
            "session.ended",
            r#"{"id":"4981804c-2658-4893-84ff-9c2fa90fb3c2","eventType":"session.ended","type":"VOICE","direction":"OUTBOUND","metadata":{"customerPhoneNumber":"+971501234567"}}"#,
        )],
        ProviderKind::InboundFlow => &[(
            "call.completed",
            r#"{"event":"call.completed","timestamp":"2026-02-24T21:00:00.000Z","organization_id":"org","delivery_id":"8a3c5e7f-1b2d-4e6f-8a9b-0c1d2e3f4a5b","data":{"call_id":"c1","caller_phone":"+1234567890"}}"#,
        )],
        ProviderKind::Allo => &[(
            "call.completed",
            r#"{"topic":"call.completed","version":"2.0","timestamp":"2026-02-24T21:00:00Z","data":{"id":"call_1","length_in_minutes":2.5}}"#,
        )],
        ProviderKind::Voxagent => &[(
            "ConversationComplete",
            r#"{"event":"ConversationComplete","data":{"session_id":"1ffd059c-17ea-40a8-8aef-70fd0307db82","duration_seconds":93.4}}"#,
        )],
    }
}
