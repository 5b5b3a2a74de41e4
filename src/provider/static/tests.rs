//! The static token: constant-time match in a named header or as a bearer
//! token, rotation, and the warning every such route carries.

use super::*;
use crate::provider::test_support::*;

const TOKEN: &str = "cb_tok_8d2c1f0a9b7e";
const BODY: &[u8] = br#"{"id":"evt_1","event":"call.ended","data":{}}"#;

fn verify(options: &str, secrets: &[&str], fields: &[(&str, &str)]) -> Result<(), Reject> {
    let s = scheme(&PROVIDER, secrets, options);
    check(&*s, &Fields::new(fields), BODY, now())
}

#[test]
fn a_named_header_with_rotation() {
    let o = "token_header = \"X-Callback-Token\"";
    assert_eq!(verify(o, &[TOKEN], &[("x-callback-token", TOKEN)]), Ok(()));
    assert_eq!(
        verify(o, &["old", TOKEN], &[("X-Callback-Token", TOKEN)]),
        Ok(())
    );
    for wrong in [
        "cb_tok_8d2c1f0a9b7",
        "cb_tok_8d2c1f0a9b7e0",
        "Bearer cb_tok_8d2c1f0a9b7e",
    ] {
        assert_eq!(
            verify(o, &[TOKEN], &[("X-Callback-Token", wrong)]),
            Err(Reject::InvalidSignature),
            "{wrong}"
        );
    }
    assert_eq!(
        verify(o, &[TOKEN], &[]),
        Err(Reject::MissingSignature {
            header: "x-callback-token"
        })
    );
    assert_eq!(
        verify(
            o,
            &[TOKEN],
            &[("X-Callback-Token", TOKEN), ("X-Callback-Token", TOKEN)]
        ),
        Err(Reject::MalformedSignature {
            header: "x-callback-token"
        })
    );
}

#[test]
fn a_bearer_token() {
    let o = "bearer = true";
    for ok in [format!("Bearer {TOKEN}"), format!("bearer {TOKEN}")] {
        assert_eq!(
            verify(o, &[TOKEN], &[("Authorization", &ok)]),
            Ok(()),
            "{ok}"
        );
    }
    assert_eq!(
        verify(o, &[TOKEN], &[("Authorization", TOKEN)]),
        Err(Reject::MalformedSignature {
            header: "authorization"
        })
    );
    assert_eq!(
        verify(o, &[TOKEN], &[("Authorization", "Basic Zm9vOmJhcg==")]),
        Err(Reject::MalformedSignature {
            header: "authorization"
        })
    );
    assert_eq!(
        verify(o, &[TOKEN], &[("Authorization", "Bearer nope")]),
        Err(Reject::InvalidSignature)
    );
    // Bearer in a header of its own choosing.
    let o = "bearer = true\ntoken_header = \"X-Vapi-Secret\"";
    assert_eq!(
        verify(
            o,
            &[TOKEN],
            &[("X-Vapi-Secret", &format!("Bearer {TOKEN}"))]
        ),
        Ok(())
    );
}

#[test]
fn every_static_route_is_warned_about_and_has_no_window() {
    let s = scheme(&PROVIDER, &[TOKEN], "token_header = \"X-T\"");
    let w = s.warnings();
    assert_eq!(w.len(), 1);
    assert!(
        w[0].contains("no body integrity, no replay window"),
        "{w:?}"
    );
    // Any body passes with the token: that is what the warning says.
    let f = Fields::new(&[("X-T", TOKEN)]);
    assert_eq!(check(&*s, &f, b"{\"forged\":true}", now()), Ok(()));

    let secrets = [Secret::new(TOKEN)];
    let table: toml::Table = toml::from_str("token_header = \"X-T\"").unwrap();
    let errors = PROVIDER
        .scheme(SchemeSetup {
            secrets: &secrets,
            tolerance: Some(std::time::Duration::from_secs(300)),
            options: &table,
        })
        .err()
        .unwrap();
    assert_eq!(errors[0].key, "tolerance");
}

#[test]
fn refused_settings_name_their_key() {
    for (options, secret, key) in [
        ("", TOKEN, "token_header"),
        ("token_header = \"X T\"", TOKEN, "token_header"),
        ("bearer = \"yes\"", TOKEN, "bearer"),
        ("bearer = true\ndelivery_id = \"id\"", TOKEN, "delivery_id"),
        (
            "bearer = true\nevent_pointer = \"event\"",
            TOKEN,
            "event_pointer",
        ),
        ("bearer = true", " padded ", "secrets[0]"),
    ] {
        let errors = try_scheme(&PROVIDER, &[secret], options).err().unwrap();
        assert_eq!(errors[0].key, key, "{options}");
    }
}

#[test]
fn identity_and_type_come_from_the_body() {
    let s = scheme(
        &PROVIDER,
        &[TOKEN],
        "token_header = \"X-T\"\ndelivery_id = \"json:/id\"\nevent_pointer = \"/event\"",
    );
    let mut f = Fields::new(&[("X-T", TOKEN)]);
    f.add("X-Delivery", "dlv-1");
    verified(&*s, &f, BODY, |v, payload| {
        let id = payload.identity(v.request());
        assert_eq!(id.key.unwrap()[0].as_str(), "evt_1");
        assert_eq!(payload.normalize(true).event_type, "call.ended");
    });
    // A header id is never more than reported.
    let s = scheme(
        &PROVIDER,
        &[TOKEN],
        "token_header = \"X-T\"\ndelivery_id = \"header:X-Delivery\"",
    );
    verified(&*s, &f, BODY, |v, payload| {
        let id = payload.identity(v.request());
        assert!(id.key.is_none());
        assert_eq!(id.unsigned_id.as_deref(), Some("dlv-1"));
    });
}

#[test]
fn send_puts_the_token_where_the_route_reads_it() {
    for options in ["token_header = \"X-Callback-Token\"", "bearer = true"] {
        let table: toml::Table = toml::from_str(options).unwrap();
        let d = delivery("call.ended", &table);
        let headers = PROVIDER.sign(&Secret::new(TOKEN), BODY, &d).unwrap();
        let s = scheme(&PROVIDER, &[TOKEN], options);
        assert_eq!(
            check(&*s, &Fields::from_owned(headers), BODY, now()),
            Ok(())
        );
    }
}
