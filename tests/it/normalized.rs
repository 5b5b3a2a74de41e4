//! What the receiver reads: a CloudEvent (checked with the `cloudevents-sdk`
//! crate) in normalized mode, the provider's exact bytes plus `ce-*` headers
//! in original mode, and forwards it can verify itself.

use cloudevents::{AttributesReader, Event};

use crate::harness::*;
use crate::signing::{as_json, providers, signed, unique};

const FORWARD_SECRET: &str = "whsec_Zm9yd2FyZC1zaWduaW5nLWtleS0xMjM0NTY3OA==";

fn header(r: &Recorded, name: &str) -> Option<String> {
    r.headers.get(name).map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn normalized_mode_delivers_a_valid_cloudevent_per_provider() {
    let (receiver, gw) = Gateway::with_receiver("", &all_routes("forward = \"normalized\"")).await;
    for (i, provider) in providers().iter().enumerate() {
        let (mut headers, body) = signed(provider, &unique());
        headers.push(("ce-type".into(), "forged".into()));
        headers.push(("X-Hookgate-Delivery-Id".into(), "forged".into()));
        let r = gw
            .post(&format!("/webhooks/{provider}"), &headers, &body)
            .await;
        assert_eq!(r.status, 200, "{provider}: {r:?}");
        let got = receiver.wait_for(i + 1).await;
        let req = &got[i];
        assert_eq!(
            header(req, "content-type").as_deref(),
            Some("application/cloudevents+json")
        );
        assert!(
            header(req, "ce-type").is_none(),
            "structured mode carries no ce- headers"
        );
        let event: Event = serde_json::from_slice(&req.body)
            .unwrap_or_else(|e| panic!("{provider}: not a CloudEvent: {e}"));
        assert_eq!(event.specversion().as_str(), "1.0");
        // Every provider's sample here is its call-ended event.
        assert_eq!(event.ty(), "call.ended", "{provider}");
        assert_eq!(event.source().to_string(), format!("/{provider}"));
        let delivery_id = header(req, "x-hookgate-delivery-id").unwrap();
        assert_ne!(delivery_id, "forged");
        assert_eq!(event.id(), delivery_id);
        assert!(event.time().is_some());
        let doc: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        let raw = as_json(provider, &body);
        assert_eq!(doc["data"]["raw"], raw, "{provider}: raw untouched");
        assert_eq!(doc["provider"], *provider);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn original_mode_delivers_the_exact_bytes_with_ce_headers() {
    let (receiver, gw) = Gateway::with_receiver("", &all_routes("forward = \"original\"")).await;
    for (i, provider) in providers().iter().enumerate() {
        let (mut headers, body) = signed(provider, &unique());
        headers.push(("ce-type".into(), "forged".into()));
        headers.push(("CE-Source".into(), "/forged".into()));
        let r = gw
            .post(&format!("/webhooks/{provider}"), &headers, &body)
            .await;
        assert_eq!(r.status, 200, "{provider}");
        let got = receiver.wait_for(i + 1).await;
        let req = &got[i];
        assert_eq!(
            req.body.as_ref(),
            body.as_slice(),
            "{provider}: bytes changed"
        );
        // The provider's own media type (Twilio posts forms).
        let media_type = match *provider {
            "twilio" => "application/x-www-form-urlencoded",
            _ => "application/json",
        };
        assert_eq!(
            header(req, "content-type").as_deref(),
            Some(media_type),
            "{provider}"
        );
        assert_eq!(header(req, "ce-specversion").as_deref(), Some("1.0"));
        assert_eq!(
            header(req, "ce-type").as_deref(),
            Some("call.ended"),
            "{provider}"
        );
        assert_eq!(header(req, "ce-source"), Some(format!("/{provider}")));
        assert_eq!(header(req, "ce-provider").as_deref(), Some(*provider));
        assert_eq!(header(req, "ce-id"), header(req, "x-hookgate-delivery-id"));
        assert!(header(req, "ce-time").is_some());
        assert_eq!(req.headers.get_all("ce-type").iter().count(), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn forwards_signed_by_the_sidecar_verify_with_standardwebhooks() {
    let receiver = Receiver::start().await;
    let routes = all_routes(&format!("forward_secret = \"{FORWARD_SECRET}\""));
    let gw = Gateway::start(&receiver.url(), "", &routes).await;
    let verifier = standardwebhooks::Webhook::new(FORWARD_SECRET).unwrap();
    for (i, provider) in providers().iter().enumerate() {
        let (headers, body) = signed(provider, &unique());
        assert_eq!(
            gw.post(&format!("/webhooks/{provider}"), &headers, &body)
                .await
                .status,
            200
        );
        let got = receiver.wait_for(i + 1).await;
        let req = &got[i];
        verifier
            .verify(&req.body, &req.headers)
            .unwrap_or_else(|e| panic!("{provider}: sidecar signature does not verify: {e:?}"));
        assert_eq!(
            header(req, "webhook-id"),
            header(req, "x-hookgate-delivery-id")
        );
        // A receiver with another key rejects it.
        let other = standardwebhooks::Webhook::new("whsec_b3RoZXIta2V5LW90aGVyLWtleQ==").unwrap();
        assert!(other.verify(&req.body, &req.headers).is_err());
    }
}
