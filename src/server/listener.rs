//! A listening service on pingora's server: one `SO_REUSEPORT` socket and
//! one accept loop per runtime thread, each connection served on the thread
//! that accepted it. pingora's own accept loop hands each connection to a
//! random thread, whose every wake-up then crosses threads (its socket stays
//! registered with the accepting thread's reactor); per-thread sockets let
//! the kernel spread connections instead.

use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use pingora::server::{ListenFds, ShutdownWatch};
use pingora::time::timeout;
use pingora_rustls::TlsAcceptor;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

use super::budget::{Budget, ConnectionSlot};
use super::conn::Conn;
use super::{admin, gateway, pool, State};
use crate::http1::Limits;

/// Pending connections the kernel queues per socket.
const BACKLOG: i32 = 1024;
/// A TLS client must finish its handshake within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Which application a listener serves.
#[derive(Clone)]
pub enum App {
    Gateway(Arc<State>),
    Admin(Arc<State>),
}

impl App {
    async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        io: S,
        peer: SocketAddr,
        tls: bool,
        slot: &ConnectionSlot,
    ) {
        match self {
            App::Gateway(state) => {
                let limits = state.snapshot.load().limits;
                let conn = Conn::new(io, limits, Some(peer), tls, Some(slot.watch()));
                gateway::serve(state, conn).await
            }
            App::Admin(state) => {
                let conn = Conn::new(io, Limits::default(), Some(peer), tls, None);
                admin::serve(state, conn).await
            }
        }
    }
}

pub struct Listener {
    name: String,
    app: App,
    sockets: Vec<std::net::TcpListener>,
    tls: Option<Arc<TlsAcceptor>>,
    budget: Arc<Budget>,
}

/// Binds `threads` sockets to `addr` with `SO_REUSEPORT`. The address is
/// first bound alone, without the option, so a port some other process
/// holds is refused rather than silently shared.
pub fn bind(addr: SocketAddr, threads: usize) -> std::io::Result<Vec<std::net::TcpListener>> {
    drop(std::net::TcpListener::bind(addr)?);
    (0..threads)
        .map(|_| {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
            socket.set_reuse_address(true)?;
            socket.set_reuse_port(true)?;
            socket.set_nonblocking(true)?;
            socket.bind(&addr.into())?;
            socket.listen(BACKLOG)?;
            Ok(socket.into())
        })
        .collect()
}

impl Listener {
    pub fn new(
        name: &str,
        app: App,
        sockets: Vec<std::net::TcpListener>,
        tls: Option<Arc<TlsAcceptor>>,
        budget: Arc<Budget>,
    ) -> Self {
        Listener {
            name: name.to_owned(),
            app,
            sockets,
            tls,
            budget,
        }
    }
}

thread_local! {
    /// Whether this runtime thread runs an accept loop already.
    static ACCEPTING: Cell<bool> = const { Cell::new(false) };
}

#[async_trait]
impl pingora::services::Service for Listener {
    async fn start_service(
        &mut self,
        _fds: Option<ListenFds>,
        shutdown: ShutdownWatch,
        _listeners_per_fd: usize,
    ) {
        let sockets = Arc::new(Mutex::new(std::mem::take(&mut self.sockets)));
        let wanted = sockets.lock().map_or(0, |s| s.len());
        // pingora hands out a random thread's handle: probe until every
        // thread runs one loop (a probe landing on a thread that has one
        // leaves).
        let mut loops = Vec::with_capacity(wanted);
        let mut probes = 0;
        while loops.len() < wanted && probes < 64 * wanted.max(1) {
            probes += 1;
            let sockets = sockets.clone();
            let app = self.app.clone();
            let tls = self.tls.clone();
            let budget = self.budget.clone();
            let shutdown = shutdown.clone();
            let spread = probes < 32 * wanted.max(1);
            let probe = pingora_runtime::current_handle().spawn(async move {
                if spread && ACCEPTING.with(|a| a.replace(true)) {
                    return None;
                }
                let socket = sockets.lock().ok()?.pop()?;
                let listener = TcpListener::from_std(socket).ok()?;
                Some(tokio::spawn(accept_loop(
                    listener, app, tls, budget, shutdown,
                )))
            });
            if let Ok(Some(handle)) = probe.await {
                loops.push(handle);
            }
        }
        for l in loops {
            let _ = l.await;
        }
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn threads(&self) -> Option<usize> {
        Some(self.sockets.len().max(1))
    }
}

async fn accept_loop(
    listener: TcpListener,
    app: App,
    tls: Option<Arc<TlsAcceptor>>,
    budget: Arc<Budget>,
    mut shutdown: ShutdownWatch,
) {
    if matches!(app, App::Gateway(_)) {
        // One sweep per thread closes its idle upstream connections.
        tokio::spawn(async {
            loop {
                pingora::time::sleep(gateway::UPSTREAM_IDLE / 2).await;
                pool::sweep(gateway::UPSTREAM_IDLE);
            }
        });
    }
    loop {
        if *shutdown.borrow() {
            return;
        }
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => return,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                // Out of file descriptors returns at once: do not spin.
                pingora::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Past the cap, the connection is closed at once: nothing is read.
        let Some(slot) = budget.connect() else {
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        tokio::spawn(async move { serve(app, tcp, peer, tls, slot).await });
    }
}

async fn serve(
    app: App,
    tcp: TcpStream,
    peer: SocketAddr,
    tls: Option<Arc<TlsAcceptor>>,
    slot: ConnectionSlot,
) {
    match tls {
        None => app.serve(tcp, peer, false, &slot).await,
        Some(acceptor) => {
            // Boxed, so a plain connection's task is not sized for TLS.
            let tls = Box::pin(async move {
                if let Ok(Ok(stream)) = timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    app.serve(stream, peer, true, &slot).await;
                }
            });
            tls.await
        }
    }
}
