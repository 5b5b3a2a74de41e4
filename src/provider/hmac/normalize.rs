//! The envelope of the generic schemes (`hmac`, `static`): hookgate knows
//! nothing of the sender's payload but what the route says. `type` is the
//! value at the route's `event_pointer` when it names one of the schema's
//! types, else `unknown`; `providerevent` is that value as sent; `data`
//! holds only `raw`. The delivery id comes from the route's `delivery_id`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::value::RawValue;

use crate::event::{Event, TYPES};
use crate::normalize::{header_scalar, Field};
use crate::provider::{Identity, Payload};
use crate::verify::{Request, Scalar};

/// Where a generic route finds the delivery id, and whether the signature
/// covers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeliveryId {
    Header { name: &'static str, signed: bool },
    Json { pointer: String, signed: bool },
}

/// What a generic route reads from its payloads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Reading {
    pub event_pointer: Option<String>,
    pub delivery_id: Option<DeliveryId>,
}

/// A generic route's view of one payload: the two values it names.
pub(crate) struct Envelope<'a> {
    event: Field<'a>,
    id: Field<'a>,
    delivery_id: Option<DeliveryId>,
}

/// A JSON object's members, read one level deep.
type Members<'a> = BTreeMap<Cow<'a, str>, &'a RawValue>;

impl Reading {
    pub(crate) fn read<'a>(&self, text: &'a str) -> serde_json::Result<Envelope<'a>> {
        // One pass reads (and checks) the top level of an object, which
        // every pointer starts from; anything else is only checked.
        // Malformed JSON is refused, as every provider's reading does.
        let top: Result<Members<'a>, &'a RawValue> = match serde_json::from_str(text) {
            Ok(members) => Ok(members),
            Err(_) => Err(serde_json::from_str::<&'a RawValue>(text)?),
        };
        let at = |pointer: &Option<String>| {
            let pointer = pointer.as_deref()?;
            let value = match &top {
                Err(root) => lookup(root, pointer)?,
                Ok(members) => {
                    let tokens = pointer.strip_prefix('/')?;
                    let (first, rest) = match tokens.split_once('/') {
                        Some((first, rest)) => (first, Some(rest)),
                        None => (tokens, None),
                    };
                    let first = first.replace("~1", "/").replace("~0", "~");
                    let value = *members.get(first.as_str())?;
                    match rest {
                        None => value,
                        Some(rest) => lookup(value, &format!("/{rest}"))?,
                    }
                }
            };
            serde_json::from_str::<Field<'a>>(value.get()).ok()
        };
        let at = |pointer: &Option<String>| at(pointer).unwrap_or_default();
        let id_pointer = match &self.delivery_id {
            Some(DeliveryId::Json { pointer, .. }) => Some(pointer.clone()),
            _ => None,
        };
        Ok(Envelope {
            event: at(&self.event_pointer),
            id: at(&id_pointer),
            delivery_id: self.delivery_id.clone(),
        })
    }
}

/// The value at a JSON pointer (RFC 6901), reading each level only as far
/// as the pointer goes.
pub(crate) fn lookup<'a>(root: &'a RawValue, pointer: &str) -> Option<&'a RawValue> {
    if pointer.is_empty() {
        return Some(root);
    }
    let mut at = root;
    for token in pointer.strip_prefix('/')?.split('/') {
        let token = token.replace("~1", "/").replace("~0", "~");
        at = match at.get().as_bytes().first()? {
            b'{' => {
                let mut map: Members<'a> = serde_json::from_str(at.get()).ok()?;
                map.remove(token.as_str())?
            }
            b'[' => {
                let list: Vec<&'a RawValue> = serde_json::from_str(at.get()).ok()?;
                let i: usize = token.parse().ok().filter(|_| !token.starts_with('+'))?;
                *list.get(i)?
            }
            _ => return None,
        };
    }
    Some(at)
}

impl<'a> Payload<'a> for Envelope<'a> {
    fn identity(&self, request: &Request<'_>) -> Identity<'a> {
        let (value, signed): (Option<Scalar<'a>>, bool) = match &self.delivery_id {
            None => (None, false),
            Some(DeliveryId::Json { signed, .. }) => (self.id.scalar(), *signed),
            Some(DeliveryId::Header { name, signed }) => (header_scalar(request, name), *signed),
        };
        match value {
            Some(v) if signed => Identity {
                key: Some(vec![v]),
                ..Identity::default()
            },
            Some(v) => Identity {
                unsigned_id: Some(v.as_str().to_owned()),
                ..Identity::default()
            },
            None => Identity::default(),
        }
    }

    fn normalize(&self, _with_data: bool) -> Event<'a> {
        let name = self.event.text();
        match name.as_deref() {
            Some(t) if t != "unknown" => match TYPES.iter().find(|known| **known == t) {
                Some(known) => Event {
                    event_type: known,
                    provider_event: name,
                    ..Event::default()
                },
                None => Event::unknown(name),
            },
            _ => Event::unknown(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at<'a>(text: &'a str, pointer: &str) -> Option<&'a str> {
        let root: &RawValue = serde_json::from_str(text).unwrap();
        lookup(root, pointer).map(|r| r.get())
    }

    #[test]
    fn a_reading_finds_what_lookup_finds() {
        let doc = r#"{"a":{"b":[10,{"c":"d"}]},"x/y":"1","":"e","t":"call.ended"}"#;
        let root: &RawValue = serde_json::from_str(doc).unwrap();
        for pointer in [
            "/a/b/0", "/a/b/1/c", "/x~1y", "/", "/t", "/a/b/9", "/a/", "/zz",
        ] {
            let reading = Reading {
                event_pointer: Some(pointer.to_owned()),
                delivery_id: None,
            };
            let found = reading.read(doc).unwrap().event;
            let expected: Field = lookup(root, pointer)
                .and_then(|r| serde_json::from_str(r.get()).ok())
                .unwrap_or_default();
            assert_eq!(found, expected, "{pointer}");
        }
        let list = Reading {
            event_pointer: Some("/1/t".into()),
            delivery_id: None,
        };
        assert_eq!(
            list.read(r#"[{}, {"t": "ping"}]"#)
                .unwrap()
                .event
                .text()
                .as_deref(),
            Some("ping")
        );
        assert!(list.read("{").is_err());
        assert!(list.read("[1,").is_err());
    }

    #[test]
    fn json_pointers_per_rfc_6901() {
        let doc = r#"{"a":{"b":[10,{"c":"d"}]},"x/y":1,"m~n":2,"":3,"e\u0073c":4}"#;
        assert_eq!(at(doc, "/a/b/0"), Some("10"));
        assert_eq!(at(doc, "/a/b/1/c"), Some("\"d\""));
        assert_eq!(at(doc, "/x~1y"), Some("1"));
        assert_eq!(at(doc, "/m~0n"), Some("2"));
        assert_eq!(at(doc, "/"), Some("3"));
        assert_eq!(at(doc, "/esc"), Some("4"), "escaped keys are read");
        assert_eq!(at(doc, ""), Some(doc));
        for missing in ["/a/b/2", "/a/b/-1", "/a/b/+1", "/a/z", "/a/b/0/q", "a"] {
            assert_eq!(at(doc, missing), None, "{missing}");
        }
    }
}
