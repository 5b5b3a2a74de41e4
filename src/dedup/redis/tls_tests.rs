//! The store against a TLS-only redis-server whose only user is an ACL user
//! with a password (escaped in the URL) and the store's commands alone; its
//! certificate signed by a test CA; a client certificate required.

use std::sync::Arc;

use super::*;
use crate::dedup::contract::{self, Subject};
use crate::dedup::test_redis::{escape, RedisServer, TlsOptions, ACL_PASSWORD};

fn config(server: &RedisServer, url: &str, ca: Option<&std::path::Path>) -> RedisConfig {
    let pki = server.pki();
    RedisConfig {
        nodes: RedisNodes::Single(RedisUrl::parse(url).unwrap()),
        tls: RedisTls {
            ca_file: ca.map(ToOwned::to_owned),
            client_cert: Some((pki.client_cert.clone(), pki.client_key.clone())),
        },
    }
}

fn store(server: &RedisServer) -> RedisStore {
    RedisStore::new(&config(server, &server.url(), Some(&server.pki().ca))).unwrap()
}

fn tls_server() -> RedisServer {
    RedisServer::start_tls(TlsOptions {
        client_certificates: true,
    })
}

async fn subject() -> Subject {
    let server = tls_server();
    let replicas: (Arc<dyn DedupStore>, Arc<dyn DedupStore>) =
        (Arc::new(store(&server)), Arc::new(store(&server)));
    let sleep = |by| tokio::time::sleep(by + Duration::from_millis(20));
    Subject::new(replicas, Duration::from_millis(100), sleep, server)
}

contract::contract_tests!(subject, rounds = 10);

/// What `/readyz` and the start-up check say about `config`.
async fn why_not(config: &RedisConfig) -> String {
    let store = RedisStore::new(config).unwrap();
    let from_store = store.ping().await.unwrap_err().to_string();
    let from_probe = probe(config).await.unwrap_err().to_string();
    assert!(!from_store.contains(ACL_PASSWORD) && !from_probe.contains(ACL_PASSWORD));
    assert!(!from_store.contains(&escape(ACL_PASSWORD)));
    from_store
}

#[tokio::test]
async fn the_start_up_check_passes_with_the_right_settings() {
    let server = tls_server();
    probe(&config(&server, &server.url(), Some(&server.pki().ca)))
        .await
        .unwrap();
}

#[tokio::test]
async fn certificate_problems_are_reported_in_words() {
    let server = tls_server();
    let url = server.url();
    // The system trust store does not know the test CA.
    let unknown = why_not(&config(&server, &url, None)).await;
    assert!(unknown.contains("certificate"), "{unknown}");
    let other = why_not(&config(&server, &url, Some(&server.pki().other_ca))).await;
    assert!(other.contains("certificate"), "{other}");
    // The certificate names 127.0.0.1 and localhost, not 127.0.0.2.
    let wrong_name = url.replace("127.0.0.1", "127.0.0.2");
    let mismatch = why_not(&config(&server, &wrong_name, Some(&server.pki().ca))).await;
    assert!(mismatch.contains("certificate"), "{mismatch}");
    // No client certificate where the server asks for one.
    let mut anonymous = config(&server, &url, Some(&server.pki().ca));
    anonymous.tls.client_cert = None;
    let refused = why_not(&anonymous).await;
    assert!(!refused.is_empty());
}

#[tokio::test]
async fn a_wrong_password_is_reported_without_the_password() {
    let server = tls_server();
    let wrong = server
        .url()
        .replace(&escape(ACL_PASSWORD), "not-the-password");
    let why = why_not(&config(&server, &wrong, Some(&server.pki().ca))).await;
    assert!(
        why.contains("authentication failed") || why.contains("WRONGPASS"),
        "{why}"
    );
    assert!(!why.contains("not-the-password"), "{why}");
}

#[tokio::test]
async fn plain_tcp_to_a_tls_port_fails_promptly() {
    let server = tls_server();
    let plain = format!("redis://127.0.0.1:{}/0", server.port());
    let store = RedisStore::new(&RedisConfig::single(RedisUrl::parse(&plain).unwrap())).unwrap();
    let started = Instant::now();
    assert!(store.ping().await.is_err());
    assert!(started.elapsed() < Duration::from_secs(5));
}
