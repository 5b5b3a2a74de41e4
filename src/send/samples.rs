//! The payloads `hookgate send` signs: one per documented event of each
//! provider (the same files the tests normalize), the first being the
//! default. Agntix's `.chat` entries are its session events for a CHAT
//! session.

use crate::provider::ProviderKind;

/// Where a payload carries ids; `send` replaces them with fresh ones.
pub(super) const ID_POINTERS: &[&str] = &[
    "/call_id",
    "/message_id",
    "/id",
    "/delivery_id",
    "/data/session_id",
    "/data/id",
    "/data/call_id",
];

macro_rules! fixture {
    ($provider:literal, $event:literal) => {
        (
            $event,
            include_str!(concat!(
                "../../tests/fixtures/",
                $provider,
                "/",
                $event,
                ".json"
            )),
        )
    };
}

pub fn events(kind: ProviderKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        ProviderKind::Nixflex => &[
            fixture!("nixflex", "call.ended"),
            fixture!("nixflex", "call.failed"),
            fixture!("nixflex", "sms.received"),
            fixture!("nixflex", "sms.delivered"),
        ],
        ProviderKind::Agntix => &[
            fixture!("agntix", "session.ended"),
            fixture!("agntix", "session.created"),
            fixture!("agntix", "session.created.chat"),
            fixture!("agntix", "session.ended.chat"),
        ],
        ProviderKind::InboundFlow => &[
            fixture!("inboundflow", "call.completed"),
            fixture!("inboundflow", "call.transferred"),
            fixture!("inboundflow", "appointment.booked"),
            fixture!("inboundflow", "lead.created"),
        ],
        ProviderKind::Allo => &[
            fixture!("allo", "call.completed"),
            fixture!("allo", "call.received"),
            fixture!("allo", "call.triggered"),
            fixture!("allo", "sms.received"),
            fixture!("allo", "sms.sent"),
            fixture!("allo", "contact.created"),
            fixture!("allo", "contact.updated"),
            fixture!("allo", "tag.added"),
            fixture!("allo", "tag.removed"),
            fixture!("allo", "CALL_RECEIVED"),
            fixture!("allo", "SMS_RECEIVED"),
            fixture!("allo", "SMS_SENT"),
            fixture!("allo", "CONTACT_CREATED"),
            fixture!("allo", "CONTACT_UPDATED"),
            fixture!("allo", "PING"),
        ],
        ProviderKind::Voxagent => &[
            fixture!("voxagent", "ConversationComplete"),
            fixture!("voxagent", "SessionStarted"),
        ],
    }
}
