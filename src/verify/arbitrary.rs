//! Arbitrary JSON documents for property tests.

use proptest::prelude::*;

/// Arbitrary JSON with the field names the mappings look for.
pub fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        "\\PC{0,20}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "event",
                        "call_id",
                        "data",
                        "id",
                        "transcript",
                        "history",
                        "role",
                        "text",
                        "started_at",
                        "duration_seconds",
                        "length",
                        "length_in_minutes",
                        "metadata",
                        "direction",
                        "type",
                        "from_number",
                        "transcriptions",
                        "transfer_to",
                        "analysis",
                    ])
                    .prop_map(str::to_owned),
                    inner
                ),
                0..6
            )
            .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
        ]
    })
}
