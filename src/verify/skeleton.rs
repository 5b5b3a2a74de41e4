//! The body's JSON without its arrays, in one validating pass.
//!
//! With `forward = "original"` the receiver gets the provider's bytes; from
//! the JSON hookgate needs only the few scalars that name the event (type,
//! subject, time, ids), and none of them sits inside an array. Arrays are
//! where the bulk of a webhook is (transcripts, message lists), and building
//! them as a `Value` tree was the larger part of a request's CPU. This pass
//! checks the whole document exactly as a full parse would (syntax, UTF-8,
//! nesting depth, trailing bytes) but keeps every array empty.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses `body` as JSON, keeping objects and scalars and leaving every
/// array empty.
pub fn parse(body: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = Skeleton.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

#[derive(Clone, Copy)]
struct Skeleton;

impl<'de> DeserializeSeed<'de> for Skeleton {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skeleton {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element_seed(Skip)?.is_some() {}
        Ok(Value::Array(Vec::new()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Skeleton)?;
            // A repeated key keeps its last value, as a full parse does.
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Checks a value as strictly as a full parse and keeps nothing. Unlike
/// `serde::de::IgnoredAny`, which lets the parser skim strings and numbers
/// (no UTF-8 or surrogate check, no range check), every string and number
/// is decoded, borrowed where it can be, and dropped.
#[derive(Clone, Copy)]
struct Skip;

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Skip)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Skip)?.is_some() {
            map.next_value_seed(Skip)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// `value` with every array emptied.
    fn without_arrays(value: &Value) -> Value {
        match value {
            Value::Array(_) => Value::Array(Vec::new()),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), without_arrays(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    #[test]
    fn keeps_objects_and_scalars_and_empties_arrays() {
        let body = br#"{"event":"call.ended","n":-3,"f":1.5,"big":18446744073709551615,
            "ok":true,"none":null,"data":{"id":"a","turns":[{"x":1},[2]]},"tags":["a"]}"#;
        let full: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(parse(body).unwrap(), without_arrays(&full));
        assert_eq!(parse(body).unwrap()["data"]["turns"], json!([]));
    }

    #[test]
    fn refuses_what_a_full_parse_refuses() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for bad in [
            &b"{\"a\":[1,}"[..],
            b"{\"a\":[1,2]} x",
            b"[\"\xff\"]",
            b"{\"a\":[\"\\ud800\"]}",
            b"{\"a\":[1e400]}",
            b"{\"a\":[{\"\xff\":1}]}",
            b"",
            deep.as_bytes(),
        ] {
            assert!(serde_json::from_slice::<Value>(bad).is_err());
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    proptest! {
        #[test]
        fn agrees_with_a_full_parse(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let full = serde_json::from_slice::<Value>(&bytes);
            let skeleton = parse(&bytes);
            prop_assert_eq!(full.is_ok(), skeleton.is_ok());
            if let (Ok(f), Ok(s)) = (full, skeleton) {
                prop_assert_eq!(without_arrays(&f), s);
            }
        }

        #[test]
        fn agrees_on_generated_documents(value in crate::verify::arbitrary::arbitrary_json()) {
            let text = serde_json::to_vec(&value).unwrap();
            let full: Value = serde_json::from_slice(&text).unwrap();
            prop_assert_eq!(parse(&text).unwrap(), without_arrays(&full));
        }
    }
}
