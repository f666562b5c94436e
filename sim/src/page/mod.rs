//! The world page: one web page of the whole local world for `lockstep demo`. Beside
//! the Slack channel (the Slack sim's own page, its `/_sim/…` routes passed through
//! to the Slack sim untouched) it shows a panel for the config repository (branches,
//! pull requests with their files, body, reviews, merge state and Actions steps,
//! tags and releases) with "review as <person>" controls, and a panel per Frappe
//! site (its blueprints, the last migrate, backups and restores). Everything it shows
//! is read from the sims at each request, through their test APIs and Frappe's REST
//! API ([`state`]); a review from the page goes through the GitHub sim's test API as
//! the chosen person. It owns no state of its own and is not part of any service
//! the bot talks to.

mod state;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::world::{LocalWorld, REPO, REVIEWERS};

/// The Slack sim's page; the world page fills its `<!-- world -->` marker.
const SLACK_PAGE: &str = include_str!("../slack/page.html");
const WORLD_SCRIPT: &str = include_str!("world.js");
/// What the world page adds to the Slack page: the panels' styles, place and script.
const WORLD_PANELS: &str = concat!(
    "<style>\n",
    include_str!("world.css"),
    "</style>\n",
    r#"<aside id="world" aria-label="the config repository and the sites">
  <section id="repo-panel"><h2>Config repository</h2><div id="review"></div><div id="repo"></div></section>
  <div id="sites"></div>
</aside>
<script src="/_world/world.js"></script>"#
);

struct PageState {
    world: Arc<LocalWorld>,
    /// A line under the page's title (the demo says when it is), shown as text.
    note: String,
    http: reqwest::Client,
}

/// The world page, served on its own loopback port while it lives.
pub struct WorldPage {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for WorldPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorldPage").field("url", &self.url).finish()
    }
}

impl WorldPage {
    /// Serves the page of `world` on a free loopback port (`port` 0) or the one given,
    /// with `note` (plain text) under its title.
    pub async fn start(world: Arc<LocalWorld>, port: u16, note: &str) -> anyhow::Result<WorldPage> {
        // The pass-through to the Slack sim is plain HTTP, but a reqwest built with
        // rustls wants a process-wide provider chosen first.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .with_context(|| format!("while binding the world page to port {port}"))?;
        let addr: SocketAddr = listener.local_addr()?;
        let shared = Arc::new(PageState {
            world,
            note: note.to_string(),
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .context("while building the world page's HTTP client")?,
        });
        let router = Router::new()
            .route("/", get(page))
            .route("/_world/world.js", get(script))
            .route("/_world/state", get(world_state))
            .route("/_world/review", post(review))
            .fallback(to_slack)
            .with_state(shared);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let served = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = served.await {
                tracing::warn!(%error, "the world page stopped with an error");
            }
        });
        Ok(WorldPage {
            url: format!("http://{addr}"),
            stop: Some(stop),
            server: Some(server),
        })
    }

    /// "http://127.0.0.1:PORT" (no trailing slash).
    pub fn url(&self) -> String {
        self.url.clone()
    }
}

impl Drop for WorldPage {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

fn typed(body: String, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The whole page: the Slack sim's page, named as the demo with `note` under the
/// title, and the panels in its marker.
fn page_html(note: &str) -> String {
    let title = format!(
        r#"<h1>lockstep demo</h1><div id="clock" style="font-size: 12px; margin: -6px 0 12px">{}</div>"#,
        escape_html(note)
    );
    SLACK_PAGE
        .replace("<title>Slack sim</title>", "<title>lockstep demo</title>")
        .replace("<h1>Slack sim</h1>", &title)
        .replace("<!-- world -->", WORLD_PANELS)
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn page(State(page): State<Arc<PageState>>) -> Response {
    typed(page_html(&page.note), "text/html; charset=utf-8")
}

async fn script() -> Response {
    typed(WORLD_SCRIPT.to_string(), "text/javascript; charset=utf-8")
}

async fn world_state(State(page): State<Arc<PageState>>) -> Response {
    Json(state::read(&page.world, &page.http).await).into_response()
}

#[derive(Deserialize)]
struct ReviewRequest {
    pr: u64,
    user: String,
    /// `approve` or `request_changes`.
    verdict: String,
    #[serde(default)]
    body: String,
}

fn refused(status: StatusCode, message: String) -> Response {
    (status, Json(json!({"ok": false, "error": message}))).into_response()
}

/// A person reviews a pull request on GitHub, as the page's "review as" controls say.
async fn review(
    State(page): State<Arc<PageState>>,
    Json(request): Json<ReviewRequest>,
) -> Response {
    if !REVIEWERS.contains(&request.user.as_str()) {
        return refused(
            StatusCode::BAD_REQUEST,
            format!("{} is not a reviewer here", request.user),
        );
    }
    let repo = page.world.github.repo(REPO);
    let body = request.body.trim();
    let done = match request.verdict.as_str() {
        "approve" => {
            // An approval's words go in as a comment just before it, as a reviewer
            // who writes and then approves leaves them.
            let commented = if body.is_empty() {
                Ok(())
            } else {
                repo.comment(request.pr, &request.user, body)
            };
            commented.and_then(|()| repo.approve(request.pr, &request.user))
        }
        "request_changes" => {
            let comments: Vec<&str> = if body.is_empty() {
                Vec::new()
            } else {
                vec![body]
            };
            repo.request_changes(request.pr, &request.user, &comments)
        }
        other => {
            return refused(
                StatusCode::BAD_REQUEST,
                format!("unknown verdict {other:?}: approve or request_changes"),
            )
        }
    };
    match done {
        Ok(()) => Json(json!({"ok": true})).into_response(),
        Err(error) => refused(StatusCode::UNPROCESSABLE_ENTITY, format!("{error:#}")),
    }
}

/// The channel's routes (`/_sim/…`) go to the Slack sim as they came.
async fn to_slack(
    State(page): State<Arc<PageState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    if !path.starts_with("/_sim/") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut request = page
        .http
        .request(method, format!("{}{path}", page.world.slack.base_url()))
        .body(body);
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(error) => {
            return refused(
                StatusCode::BAD_GATEWAY,
                format!("the Slack sim did not answer: {error}"),
            )
        }
    };
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let bytes = answer.bytes().await.unwrap_or_default();
    let mut response = (status, bytes).into_response();
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_the_slack_page_with_the_panels() {
        let html = page_html("Wednesday <14:30>");
        assert!(html.contains(r#"id="clock""#) && html.contains("Wednesday &lt;14:30&gt;"));
        assert!(html.contains("/_sim/page.js"), "the channel's script");
        assert!(html.contains("/_world/world.js"), "the panels' script");
        assert!(html.contains(r#"id="repo-panel""#));
        assert!(html.contains("<h1>lockstep demo</h1>"), "named as the demo");
        assert!(
            !SLACK_PAGE.contains("world.js"),
            "the Slack page alone has none"
        );
    }
}
