//! The comparison point for the load bench: pingora's own proxy
//! (`ProxyHttp`), passing every request through to one upstream with no
//! body work, on the same runtime settings hookgate uses (one worker
//! thread, no work stealing).
//!
//! `cargo bench --bench passthrough -- <listen addr> <upstream addr>`; it
//! serves until killed. Not a criterion benchmark: `scripts/bench.sh`
//! starts it and measures it from outside.

use std::net::SocketAddr;

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::proxy::{http_proxy_service, ProxyHttp, Session};
use pingora::server::configuration::ServerConf;

struct PassThrough {
    upstream: SocketAddr,
}

#[async_trait]
impl ProxyHttp for PassThrough {
    type CTX = ();

    fn new_ctx(&self) -> Self::CTX {}

    async fn upstream_peer(&self, _: &mut Session, _: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.upstream, false, String::new())))
    }
}

fn main() {
    // `cargo bench` appends `--bench`; only the positional arguments count.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    // `cargo test --all-targets` runs every bench target once, with no
    // arguments: there is nothing to serve then.
    if args.is_empty() {
        println!("passthrough: a comparison proxy for scripts/bench.sh; nothing to test");
        return;
    }
    let [listen, upstream] = args.as_slice() else {
        eprintln!("usage: passthrough <listen addr> <upstream addr>");
        std::process::exit(2);
    };
    let upstream: SocketAddr = upstream.parse().expect("an upstream socket address");
    // The bench stops it with SIGTERM: no 300 s grace period before exiting.
    let conf = ServerConf {
        threads: 1,
        work_stealing: false,
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy = http_proxy_service(&server.configuration, PassThrough { upstream });
    proxy.add_tcp(listen);
    server.add_service(proxy);
    server.run_forever();
}
