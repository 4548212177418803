//! The HTTP endpoints: `/healthz` (alive), `/readyz` (desired state loaded and AWS
//! answering), `/metrics` (Prometheus text) and `/status` (JSON per stack), open to
//! whoever reaches the port; `POST /reconcile[?stack=NAME]` asks for a pass now (a bearer
//! token beyond loopback, see `auth`); `POST /hooks/git` is a GitHub or GitLab push
//! webhook that makes the Git poller fetch now (see `hooks`).

mod auth;
mod hooks;

pub use auth::{Reconcile, Secret};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRef, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};

use crate::controller::Shared;

/// Who may start passes over HTTP; decided once, at start.
#[derive(Debug)]
pub struct Access {
    pub reconcile: Reconcile,
    /// The push webhook's shared secret; without one the hook answers 404.
    pub webhook: Option<Secret>,
}

/// The handlers' state.
#[derive(Clone)]
struct App {
    shared: Arc<Shared>,
    access: Arc<Access>,
}

impl FromRef<App> for Arc<Shared> {
    fn from_ref(app: &App) -> Arc<Shared> {
        Arc::clone(&app.shared)
    }
}

/// The routes. Serve them with `into_make_service_with_connect_info::<SocketAddr>()`, so
/// that a refused request's log line names its peer.
pub(crate) fn router(shared: Arc<Shared>, access: Access) -> Router {
    let app = App {
        shared,
        access: Arc::new(access),
    };
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/reconcile", post(reconcile))
        .route(
            "/hooks/git",
            post(hooks::git_hook).layer(DefaultBodyLimit::max(hooks::MAX_BODY)),
        )
        .with_state(app)
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    match shared.ready() {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let body = shared.metrics.render(&shared.ctx.calls);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn status(State(shared): State<Arc<Shared>>) -> Response {
    let status = shared
        .status
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    axum::Json(status).into_response()
}

async fn reconcile(
    State(app): State<App>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let peer = peer.map(|Extension(ConnectInfo(a))| a);
    if let Err(denied) = app.access.reconcile.check(&headers, peer) {
        return denied.into_response();
    }
    let shared = &app.shared;
    let only = q.get("stack").map(String::as_str);
    let triggered = shared.request(only);
    if triggered.is_empty() {
        let what = only.map_or("no stack is loaded".to_string(), |s| {
            format!("no stack named {s:?}")
        });
        return (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({ "error": what })),
        )
            .into_response();
    }
    (
        StatusCode::ACCEPTED,
        axum::Json(serde_json::json!({ "triggered": triggered })),
    )
        .into_response()
}
