//! SHIM (replaced by the real dedup module).
use std::sync::Arc;
use std::time::Duration;
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnBackendError {
    Forward,
    Reject,
}
#[derive(Debug, thiserror::Error)]
#[error("dedup backend error")]
pub struct BackendError;
pub enum ClaimOutcome {
    Claimed(Claim),
    Duplicate,
    InFlight,
}
pub struct Claim {
    key: String,
}
#[async_trait::async_trait]
pub trait DedupStore: Send + Sync + 'static {
    async fn claim(&self, key: &str, claim_ttl: Duration) -> Result<ClaimOutcome, BackendError>;
    async fn commit(&self, claim: &Claim, window: Duration) -> Result<(), BackendError>;
    async fn release(&self, claim: &Claim) -> Result<(), BackendError>;
    async fn ping(&self) -> Result<(), BackendError>;
    fn entry_count(&self) -> Option<u64>;
    fn backend_name(&self) -> &'static str;
}
#[derive(Default)]
pub struct DedupStats {
    pub claimed: std::sync::atomic::AtomicU64,
}
pub struct Dedup {
    store: Arc<dyn DedupStore>,
    stats: DedupStats,
    on_error: OnBackendError,
}
pub enum Decision {
    Proceed(ClaimGuard),
    Bypass,
    Duplicate,
    InFlight,
    Unavailable,
}
pub struct ClaimGuard {
    store: Arc<dyn DedupStore>,
    claim: Option<Claim>,
}
impl ClaimGuard {
    pub async fn commit(mut self, window: Duration) {
        if let Some(c) = self.claim.take() {
            let _ = self.store.commit(&c, window).await;
        }
    }
    pub async fn release(mut self) {
        if let Some(c) = self.claim.take() {
            let _ = self.store.release(&c).await;
        }
    }
}
impl Dedup {
    pub fn new(store: Arc<dyn DedupStore>, on_error: OnBackendError) -> Self {
        Dedup {
            store,
            stats: DedupStats::default(),
            on_error,
        }
    }
    pub async fn begin(&self, key: &str, ttl: Duration) -> Decision {
        match self.store.claim(key, ttl).await {
            Ok(ClaimOutcome::Claimed(c)) => Decision::Proceed(ClaimGuard {
                store: self.store.clone(),
                claim: Some(c),
            }),
            Ok(ClaimOutcome::Duplicate) => Decision::Duplicate,
            Ok(ClaimOutcome::InFlight) => Decision::InFlight,
            Err(_) => {
                if self.on_error == OnBackendError::Forward {
                    Decision::Bypass
                } else {
                    Decision::Unavailable
                }
            }
        }
    }
    pub fn stats(&self) -> &DedupStats {
        &self.stats
    }
    pub fn store(&self) -> &Arc<dyn DedupStore> {
        &self.store
    }
}
pub mod memory {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;
    pub struct MemoryStore {
        m: Mutex<HashMap<String, bool>>,
    }
    impl MemoryStore {
        pub fn new(_max: u64) -> Self {
            MemoryStore {
                m: Mutex::new(HashMap::new()),
            }
        }
    }
    #[async_trait::async_trait]
    impl DedupStore for MemoryStore {
        async fn claim(&self, key: &str, _t: Duration) -> Result<ClaimOutcome, BackendError> {
            let mut m = self.m.lock().unwrap();
            match m.get(key) {
                Some(true) => Ok(ClaimOutcome::Duplicate),
                Some(false) => Ok(ClaimOutcome::InFlight),
                None => {
                    m.insert(key.into(), false);
                    Ok(ClaimOutcome::Claimed(Claim { key: key.into() }))
                }
            }
        }
        async fn commit(&self, c: &Claim, _w: Duration) -> Result<(), BackendError> {
            self.m.lock().unwrap().insert(c.key.clone(), true);
            Ok(())
        }
        async fn release(&self, c: &Claim) -> Result<(), BackendError> {
            self.m.lock().unwrap().remove(&c.key);
            Ok(())
        }
        async fn ping(&self) -> Result<(), BackendError> {
            Ok(())
        }
        fn entry_count(&self) -> Option<u64> {
            Some(self.m.lock().unwrap().len() as u64)
        }
        fn backend_name(&self) -> &'static str {
            "memory"
        }
    }
}
