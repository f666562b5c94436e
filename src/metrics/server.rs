//! The metrics listener (`[metrics] listen`): `GET /metrics` (Prometheus text
//! format), `GET /healthz` (the process is up) and `GET /readyz` (the bot can take
//! work: its store is open and writable, a Socket Mode connection said hello, and
//! Slack answered recently). Served by hyper's HTTP/1 server on a task of its own:
//! nothing here is on the path of an acknowledgement, and a scrape reads the store
//! on the blocking pool. Also owns the readiness facts the listener and the Slack
//! client of one bot report ([`Liveness`]).

use crate::store::Store;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How recent Slack's last answer must be for `/readyz`: three of the bot's own
/// pings (every [`PING_EVERY`]).
pub const SLACK_FRESH: Duration = Duration::from_secs(90);
/// How often the bot checks that Slack answers while nothing else talks to it.
pub const PING_EVERY: Duration = Duration::from_secs(30);

/// What one bot's listener and Slack client last saw, for `/readyz`. Milliseconds
/// since the Unix epoch; 0 for never. Shared (`Arc`) by the bot's Slack client and
/// its inbox; nothing else writes it.
#[derive(Debug, Default)]
pub struct Liveness {
    hello_at: AtomicI64,
    slack_at: AtomicI64,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Liveness {
    /// A Socket Mode connection said hello.
    pub fn hello(&self) {
        let now = now_ms();
        self.hello_at.store(now, Ordering::Relaxed);
        self.slack_at.store(now, Ordering::Relaxed);
    }

    /// Slack answered (an envelope arrived, or a Web API call succeeded).
    pub fn slack_answered(&self) {
        self.slack_at.store(now_ms(), Ordering::Relaxed);
    }

    /// Why Slack is not known to be there, if it is not.
    pub fn slack_problem(&self, fresh: Duration) -> Option<String> {
        let hello = self.hello_at.load(Ordering::Relaxed);
        let slack = self.slack_at.load(Ordering::Relaxed);
        if hello == 0 {
            return Some("no Socket Mode connection has opened yet".into());
        }
        let age = now_ms().saturating_sub(slack);
        if age > fresh.as_millis() as i64 {
            return Some(format!(
                "Slack has not answered for {} s (check slack.api_url and the network)",
                age / 1000
            ));
        }
        None
    }
}

/// Whether the bot can take work; the reason when it cannot.
pub type ReadyCheck = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// A bound metrics listener; serve it with [`MetricsServer::serve`].
pub struct MetricsServer {
    listener: TcpListener,
    endpoints: Arc<Endpoints>,
}

/// What the endpoints answer from: the bot's store (read at scrape time) and its
/// readiness check.
struct Endpoints {
    store: Store,
    ready: ReadyCheck,
}

impl MetricsServer {
    /// Binds `addr` now, so a port in use is said at start, not found at scrape.
    pub async fn bind(addr: SocketAddr, store: Store, ready: ReadyCheck) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr).await.map_err(|err| {
            anyhow::anyhow!(
                "cannot listen for metrics on {addr} ([metrics] listen): {err}; choose a free port or remove [metrics]"
            )
        })?;
        Ok(MetricsServer {
            listener,
            endpoints: Arc::new(Endpoints { store, ready }),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let (stream, _) = tokio::select! {
                _ = &mut shutdown => return,
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(err) => {
                        tracing::warn!(error = %err, "metrics listener: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let endpoints = self.endpoints.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let endpoints = endpoints.clone();
                    async move { Ok::<_, std::convert::Infallible>(answer(request, endpoints).await) }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                if let Err(err) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await
                {
                    tracing::debug!(error = %err, "metrics connection ended with an error");
                }
            });
        }
    }
}

async fn answer(request: Request<Incoming>, endpoints: Arc<Endpoints>) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET is served here\n");
    }
    match request.uri().path() {
        "/metrics" => {
            // The scrape reads the store: keep that off the runtime's workers.
            let store = endpoints.store.clone();
            let encoded = tokio::task::spawn_blocking(move || super::encode_for(&store)).await;
            match encoded {
                Ok(Ok(text)) => Response::builder()
                    .status(StatusCode::OK)
                    .header(
                        http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )
                    .body(Full::new(Bytes::from(text)))
                    .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "")),
                _ => plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the metrics could not be encoded; see the bot's log\n",
                ),
            }
        }
        "/healthz" => plain(StatusCode::OK, "ok\n"),
        "/readyz" => match (endpoints.ready)() {
            Ok(()) => plain(StatusCode::OK, "ready\n"),
            Err(why) => plain(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("not ready: {why}\n"),
            ),
        },
        _ => plain(
            StatusCode::NOT_FOUND,
            "not found: try /metrics, /healthz or /readyz\n",
        ),
    }
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
        let response = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    #[tokio::test]
    async fn health_readiness_and_metrics_are_served() {
        crate::tls::install_crypto_provider();
        let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = flag.clone();
        let ready: ReadyCheck = Arc::new(move || {
            if seen.load(Ordering::Relaxed) {
                Ok(())
            } else {
                Err("the store cannot be written".into())
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let server = MetricsServer::bind("127.0.0.1:0".parse().unwrap(), store, ready)
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(async {
            let _ = stopped.await;
        }));
        assert_eq!(get(addr, "/healthz").await, (200, "ok\n".into()));
        let (status, text) = get(addr, "/readyz").await;
        assert_eq!(status, 503);
        assert!(text.contains("the store cannot be written"), "{text}");
        flag.store(true, Ordering::Relaxed);
        assert_eq!(get(addr, "/readyz").await.0, 200);
        super::super::global().request("github", "git", true);
        let (status, text) = get(addr, "/metrics").await;
        assert_eq!(status, 200);
        assert!(
            text.contains("# TYPE lockstep_requests_total counter"),
            "{text}"
        );
        assert!(text.contains("lockstep_outbox_depth 0"), "{text}");
        assert_eq!(get(addr, "/nope").await.0, 404);
        let _ = stop.send(());
        task.await.unwrap();
    }

    #[test]
    fn readiness_needs_a_hello_and_a_recent_answer() {
        let liveness = Liveness::default();
        assert!(liveness
            .slack_problem(SLACK_FRESH)
            .unwrap()
            .contains("no Socket Mode"));
        liveness.hello();
        assert_eq!(liveness.slack_problem(SLACK_FRESH), None);
        liveness
            .slack_at
            .store(now_ms() - 120_000, Ordering::Relaxed);
        assert!(liveness
            .slack_problem(SLACK_FRESH)
            .unwrap()
            .contains("has not answered for 1"));
    }
}
