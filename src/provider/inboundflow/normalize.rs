//! InboundFlow's payload: an envelope `{event, timestamp, delivery_id,
//! data}`.

use crate::event::{Appointment, Call, Caller, Event, Lead, Transfer};
use crate::normalize::{first_text, unsigned_header_id, view, Field, Obj};
use crate::provider::{Identity, Payload};
use crate::verify::Request;

view! {
    pub(super) struct Body<'a> {
        event: Field<'a>,
        timestamp: Field<'a>,
        delivery_id: Field<'a>,
        data: Obj<Data<'a>>,
    }

    struct Data<'a> {
        call_id: Field<'a>,
        caller_phone: Field<'a>,
        caller_name: Field<'a>,
        caller_email: Field<'a>,
        duration_seconds: Field<'a>,
        summary: Field<'a>,
        call_summary: Field<'a>,
        recording_url: Field<'a>,
        started_at: Field<'a>,
        ended_at: Field<'a>,
        transferred_to_number: Field<'a>,
        transferred_to_label: Field<'a>,
        reason: Field<'a>,
        appointment_date: Field<'a>,
        appointment_time_start: Field<'a>,
        appointment_time_end: Field<'a>,
        service_type: Field<'a>,
        calendar_event_id: Field<'a>,
        calendar_event_link: Field<'a>,
        intent: Field<'a>,
        urgency: Field<'a>,
        interest: Field<'a>,
    }
}

impl<'a> Payload<'a> for Body<'a> {
    /// The body's `delivery_id` is signed; the header of the same name is
    /// not, and is only reported when the body has none.
    fn identity(&self, request: &Request<'_>) -> Identity<'a> {
        match self.delivery_id.scalar() {
            Some(id) => Identity {
                key: Some(vec![id]),
                unsigned_id: None,
                exempt: false,
            },
            None => Identity {
                key: None,
                unsigned_id: unsigned_header_id(request, "x-inboundflow-delivery-id"),
                exempt: false,
            },
        }
    }

    fn normalize(&self, _with_data: bool) -> Event<'a> {
        // Only the signed body names the event: the `X-InboundFlow-Event`
        // header is not signed.
        let name = self.event.text();
        let event_type = match name.as_deref() {
            Some("call.completed") => "call.ended",
            Some("call.transferred") => "call.transferred",
            Some("appointment.booked") => "appointment.booked",
            Some("lead.created") => "lead.created",
            _ => return Event::unknown(name),
        };
        let d = &self.data.0;
        let mut event = Event {
            event_type,
            provider_event: name,
            subject: d.call_id.text(),
            caller: Caller {
                name: d.caller_name.text(),
                phone: d.caller_phone.text(),
                email: d.caller_email.text(),
            },
            ..Event::default()
        };
        match event_type {
            "call.ended" | "call.transferred" => {
                event.call = Call {
                    id: d.call_id.text(),
                    from: d.caller_phone.text(),
                    started_at: d.started_at.time(),
                    ended_at: d.ended_at.time(),
                    duration_seconds: d.duration_seconds.duration(),
                    summary: first_text(&[&d.summary, &d.call_summary]),
                    recording_url: d.recording_url.text(),
                    transfer: (event_type == "call.transferred")
                        .then(|| Transfer {
                            to: d.transferred_to_number.text(),
                            label: d.transferred_to_label.text(),
                            reason: d.reason.text(),
                        })
                        .and_then(Transfer::non_empty),
                    ..Call::default()
                };
                event.time = d.ended_at.time().or_else(|| self.timestamp.time());
            }
            "appointment.booked" => {
                event.appointment = Appointment {
                    date: d.appointment_date.text(),
                    time_start: d.appointment_time_start.text(),
                    time_end: d.appointment_time_end.text(),
                    service: d.service_type.text(),
                    calendar_event_id: d.calendar_event_id.text(),
                    calendar_event_link: d.calendar_event_link.text(),
                    call_id: d.call_id.text(),
                };
                event.time = self.timestamp.time();
            }
            _ => {
                event.lead = Lead {
                    intent: d.intent.text(),
                    urgency: d.urgency.text(),
                    interest: d.interest.text(),
                    summary: first_text(&[&d.call_summary, &d.summary]),
                    call_id: d.call_id.text(),
                };
                event.time = self.timestamp.time();
            }
        }
        event
    }
}
