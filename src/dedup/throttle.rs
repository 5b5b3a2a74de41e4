//! At most one log line per interval for a repeated event, carrying how many
//! happened since the previous line: an outage hit by every request must not
//! flood the log, yet the line still says how much it affected.

use std::sync::atomic::{AtomicU64, Ordering::AcqRel, Ordering::Acquire, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use super::clock::{Clock, SystemClock};

pub struct Throttle {
    every_ms: u64,
    /// When the next line may be written, on `clock`.
    next_at: AtomicU64,
    /// Events since the last line.
    since: AtomicU64,
    clock: Arc<dyn Clock>,
}

impl Throttle {
    pub fn new(every: Duration) -> Throttle {
        Throttle::with_clock(every, Arc::new(SystemClock::default()))
    }

    pub fn with_clock(every: Duration, clock: Arc<dyn Clock>) -> Throttle {
        Throttle {
            every_ms: every.as_millis() as u64,
            next_at: AtomicU64::new(0),
            since: AtomicU64::new(0),
            clock,
        }
    }

    /// Counts one event. `Some(n)` when a line is due now: `n` events since
    /// the previous line, this one included. Lock-free; under contention
    /// exactly one caller per interval gets `Some`.
    pub fn hit(&self) -> Option<u64> {
        self.since.fetch_add(1, Relaxed);
        let now = self.clock.now_ms();
        let next = self.next_at.load(Acquire);
        if now >= next
            && self
                .next_at
                .compare_exchange(next, now + self.every_ms, AcqRel, Relaxed)
                .is_ok()
        {
            return Some(self.since.swap(0, AcqRel));
        }
        None
    }
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("every_ms", &self.every_ms)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::clock::ManualClock;

    #[test]
    fn one_line_per_interval_with_the_count_since_the_last() {
        let clock = Arc::new(ManualClock::at(1_000));
        let t = Throttle::with_clock(Duration::from_secs(10), clock.clone());
        assert_eq!(t.hit(), Some(1), "the first event is logged");
        for _ in 0..191 {
            assert_eq!(t.hit(), None);
        }
        clock.advance(Duration::from_millis(9_999));
        assert_eq!(t.hit(), None, "still inside the interval");
        clock.advance(Duration::from_millis(1));
        assert_eq!(t.hit(), Some(193), "191 + 1 suppressed, and this one");
        clock.advance(Duration::from_secs(60));
        assert_eq!(t.hit(), Some(1), "a quiet spell starts the count over");
    }

    #[test]
    fn concurrent_hits_log_once_and_lose_no_count() {
        let clock = Arc::new(ManualClock::at(5));
        let t = Arc::new(Throttle::with_clock(Duration::from_secs(10), clock.clone()));
        let lines: Vec<u64> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (0..1000).filter_map(|_| t.hit()).collect::<Vec<_>>()))
                .collect();
            threads
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        clock.advance(Duration::from_secs(10));
        let next = t.hit().expect("the next interval logs");
        assert_eq!(
            lines[0] + next,
            4001,
            "every event is in one line or the next"
        );
    }
}
