//! The simulator's accept loop. axum's own `serve` cannot drop a connection on purpose, and a
//! dropped connection (after the request acted, before the answer) is exactly the failure the
//! client must survive; so each connection gets a [`ConnectionKill`] that a handler can pull.

use std::sync::Arc;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower_service::Service;

/// Pulling it closes the connection the request came on, without an answer.
#[derive(Clone, Debug)]
pub struct ConnectionKill(Arc<Notify>);

impl ConnectionKill {
    /// Closes the connection.
    pub fn pull(&self) {
        self.0.notify_one();
    }
}

/// Serves `router` on `listener` until the task is aborted.
pub async fn serve(listener: TcpListener, router: Router) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors and the like: wait a moment rather than spin.
                tracing::warn!(%error, "simulator: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let router = router.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let service = {
                let kill = kill.clone();
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request
                        .extensions_mut()
                        .insert(ConnectionKill(kill.clone()));
                    let mut router = router.clone();
                    async move { router.call(request.map(axum::body::Body::new)).await }
                })
            };
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = kill.notified() => {}
            }
        });
    }
}
