//! The HTTP endpoints ops read: `/healthz` (alive), `/readyz` (desired state loaded and
//! AWS answering), `/metrics` (Prometheus text), `/status` (JSON per stack), and
//! `POST /reconcile[?stack=NAME]` to ask for a pass now.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::controller::Shared;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/reconcile", post(reconcile))
        .with_state(shared)
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
    State(shared): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
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
