//! A per-route token bucket. It is applied after verification: forged
//! requests never reach the receiver anyway, and must not be able to spend
//! the provider's budget.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct TokenBucket {
    per_second: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub fn new(per_second: u32, burst: u32, now: Instant) -> Self {
        TokenBucket {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            state: Mutex::new((f64::from(burst.max(1)), now)),
        }
    }

    /// Takes one token, or says how long until one is available.
    pub fn take(&self, now: Instant) -> Result<(), Duration> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = &mut *state;
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_the_rate() {
        let t0 = Instant::now();
        let bucket = TokenBucket::new(10, 3, t0);
        for _ in 0..3 {
            assert!(bucket.take(t0).is_ok());
        }
        let wait = bucket.take(t0).unwrap_err();
        assert!(wait <= Duration::from_millis(100) && wait > Duration::ZERO);
        assert!(bucket.take(t0 + Duration::from_millis(100)).is_ok());
        assert!(bucket.take(t0 + Duration::from_millis(100)).is_err());
        // Idle time refills up to the burst, not beyond.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(bucket.take(later).is_ok());
        }
        assert!(bucket.take(later).is_err());
    }
}
