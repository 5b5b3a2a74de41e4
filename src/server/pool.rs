//! Idle upstream connections, kept per thread: a connection is only ever
//! used by the thread whose reactor it is registered with, so taking one
//! back needs no lock and no cross-thread wake-up. Last in, first out (the
//! warmest connection first); each has an idle deadline, checked when the
//! pool is touched and by one sweep per thread, never by a task per
//! connection.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pingora::protocols::Stream;

use crate::route::Upstream;

/// Idle connections kept per upstream per thread.
const MAX_IDLE: usize = 128;

struct Idle {
    stream: Stream,
    since: Instant,
}

/// Per upstream, its idle connections. A sidecar forwards to one receiver
/// or a few, so a short list is searched, by the configuration's own
/// `Arc` first (no string compared), then by value: a reload makes new
/// `Arc`s of the same upstreams, whose connections stay usable.
type Pool = Vec<(Arc<Upstream>, Vec<Idle>)>;

thread_local! {
    static POOL: RefCell<Pool> = const { RefCell::new(Vec::new()) };
}

fn find<'p>(pool: &'p mut Pool, upstream: &Arc<Upstream>) -> Option<&'p mut Vec<Idle>> {
    let at = match pool.iter().position(|(u, _)| Arc::ptr_eq(u, upstream)) {
        Some(at) => at,
        None => {
            let at = pool.iter().position(|(u, _)| u == upstream)?;
            // The current configuration's `Arc` from now on.
            pool[at].0 = upstream.clone();
            at
        }
    };
    Some(&mut pool[at].1)
}

/// An idle connection to `upstream` that has not outlived `idle`.
pub fn take(upstream: &Arc<Upstream>, idle: Duration) -> Option<Stream> {
    POOL.with_borrow_mut(|pool| {
        let list = find(pool, upstream)?;
        let now = Instant::now();
        // Oldest first in the list: drop the expired ones from the front.
        let fresh = list
            .iter()
            .position(|c| now.duration_since(c.since) < idle)
            .unwrap_or(list.len());
        list.drain(..fresh);
        list.pop().map(|c| c.stream)
    })
}

/// Keeps `stream` for reuse.
pub fn put(upstream: &Arc<Upstream>, stream: Stream) {
    POOL.with_borrow_mut(|pool| {
        if find(pool, upstream).is_none() {
            pool.push((upstream.clone(), Vec::new()));
        }
        let list = find(pool, upstream).expect("just added");
        if list.len() >= MAX_IDLE {
            list.remove(0);
        }
        list.push(Idle {
            stream,
            since: Instant::now(),
        });
    })
}

/// Closes this thread's connections idle for `idle` or longer.
pub fn sweep(idle: Duration) {
    POOL.with_borrow_mut(|pool| {
        let now = Instant::now();
        for (_, list) in pool.iter_mut() {
            list.retain(|c| now.duration_since(c.since) < idle);
        }
        pool.retain(|(_, list)| !list.is_empty());
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::{TcpListener, TcpStream};

    fn upstream(port: u16) -> Arc<Upstream> {
        Arc::new(Upstream {
            addr: ([127, 0, 0, 1], port).into(),
            tls: false,
            host: "127.0.0.1".into(),
            authority: format!("127.0.0.1:{port}"),
            base_path: String::new(),
        })
    }

    fn held() -> usize {
        POOL.with_borrow(|pool| pool.iter().map(|(_, list)| list.len()).sum())
    }

    async fn stream(listener: &TcpListener) -> Stream {
        let tcp = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        Box::new(pingora::protocols::l4::stream::Stream::from(tcp))
    }

    #[tokio::test]
    async fn last_in_first_out_per_upstream_and_idle_ones_are_closed() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (a, b) = (upstream(1), upstream(2));
        let first = stream(&listener).await;
        let first_id = first.id();
        put(&a, first);
        let second = stream(&listener).await;
        let second_id = second.id();
        put(&a, second);
        assert!(take(&b, Duration::from_secs(30)).is_none(), "per upstream");
        assert_eq!(
            take(&a, Duration::from_secs(30)).map(|s| s.id()),
            Some(second_id)
        );
        assert_eq!(
            take(&a, Duration::from_secs(30)).map(|s| s.id()),
            Some(first_id)
        );
        assert!(take(&a, Duration::from_secs(30)).is_none());

        put(&a, stream(&listener).await);
        assert!(
            take(&a, Duration::ZERO).is_none(),
            "an expired connection is not reused"
        );
        assert_eq!(held(), 0);
        put(&b, stream(&listener).await);
        sweep(Duration::ZERO);
        assert_eq!(held(), 0);

        // A reload makes a new `Arc` of the same upstream: its idle
        // connections are still taken, and one to another port is not.
        let kept = stream(&listener).await;
        let kept_id = kept.id();
        put(&a, kept);
        assert!(take(&upstream(3), Duration::from_secs(30)).is_none());
        assert_eq!(
            take(&upstream(1), Duration::from_secs(30)).map(|s| s.id()),
            Some(kept_id)
        );
    }
}
