//! Interop with the providers' official SDKs: requests they sign are
//! accepted by the real gateway and tampered ones refused; what hookgate
//! signs verifies with them. The SDKs run in a Python virtualenv that
//! `scripts/test.sh` installs (`scripts/sdk-env.sh`, pinned in
//! `tests/sdk/requirements.txt`); each `tests/sdk/<sdk>.py` reads one JSON
//! request on stdin and writes one JSON answer.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::harness::*;
use crate::signing::{now, unique};

/// The virtualenv's python: `HOOKGATE_SDK_PYTHON`, or the one
/// `scripts/sdk-env.sh` makes.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("HOOKGATE_SDK_PYTHON") {
        return p.into();
    }
    let default = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/sdk-venv/bin/python");
    assert!(
        default.exists(),
        "the providers' SDKs are not installed: run scripts/test.sh (or scripts/sdk-env.sh)"
    );
    default
}

/// Runs `tests/sdk/<script>` with `request` on stdin; its JSON answer.
pub async fn sdk(script: &str, request: &Value) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sdk")
        .join(script);
    let mut child = tokio::process::Command::new(python())
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the SDK script starts");
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(request.to_string().as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let out = tokio::time::timeout(STEP * 3, child.wait_with_output())
        .await
        .expect("the SDK script answers in time")
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{script}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The SDK's headers as request headers.
pub fn headers(v: &Value) -> Vec<(String, String)> {
    v["headers"]
        .as_object()
        .expect("headers")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn standard_webhooks_sdk_signs_allo_deliveries_the_gateway_accepts() {
    let (receiver, gw) = Gateway::with_receiver("", &all_routes("")).await;
    let body = format!(
        r#"{{"topic":"call.completed","version":"2.0","data":{{"id":"call_{}","type":"INBOUND"}}}}"#,
        unique()
    );
    let signed = sdk(
        "standardwebhooks_sdk.py",
        &json!({"op": "sign", "secret": ALLO_SECRET, "id": format!("msg_{}", unique()), "timestamp": now(), "body": body}),
    )
    .await;
    let mut h = headers(&signed);
    h.push(("Content-Type".into(), "application/json".into()));
    let r = gw.post("/webhooks/allo", &h, body.as_bytes()).await;
    assert_eq!(r.status, 200, "{r:?}");
    let tampered = body.replace("INBOUND", "OUTBOUND");
    let r = gw.post("/webhooks/allo", &h, tampered.as_bytes()).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.error(), "invalid_signature");
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn forwards_signed_by_the_sidecar_verify_with_the_standard_webhooks_sdk() {
    let receiver = Receiver::start().await;
    let forward_secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    let gw = Gateway::start(
        &receiver.url(),
        "",
        &all_routes(&format!("forward_secret = \"{forward_secret}\"")),
    )
    .await;
    let (h, body) = crate::signing::signed("nixflex", &unique());
    assert_eq!(gw.post("/webhooks/nixflex", &h, &body).await.status, 200);
    let got = receiver.wait_for(1).await;
    let r = &got[0];
    let header = |n: &str| r.headers[n].to_str().unwrap().to_owned();
    let verdict = sdk(
        "standardwebhooks_sdk.py",
        &json!({
            "op": "verify",
            "secret": forward_secret,
            "body": String::from_utf8(r.body.to_vec()).unwrap(),
            "headers": {
                "webhook-id": header("webhook-id"),
                "webhook-timestamp": header("webhook-timestamp"),
                "webhook-signature": header("webhook-signature"),
            },
        }),
    )
    .await;
    assert_eq!(verdict["ok"], true, "{verdict}");
}
