//! A Bedrock runtime stand-in (moto does not emulate bedrock-runtime): records each call
//! with the region its SigV4 signature names, and answers in the documented shapes —
//! InvokeModel for the image families, Converse and ConverseStream (an AWS event stream,
//! CRC-checked frames as botocore decodes them) for text. Anything else is a 404 or 400
//! that the caller's test sees as a failed request.

use std::sync::{Arc, Mutex};

use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// One call the stand-in received.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// `invoke`, `converse` or `converse-stream`.
    pub operation: String,
    pub model_id: String,
    /// The region of the request's SigV4 credential scope.
    pub region: String,
    pub body: serde_json::Value,
}

pub struct BedrockRuntime {
    pub addr: String,
    invocations: Arc<Mutex<Vec<Invocation>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The image the stand-in returns for `model_id`, so a test can tell images apart.
pub fn image_for(model_id: &str) -> Vec<u8> {
    format!("\u{89}PNG stand-in image from {model_id}").into_bytes()
}

/// The text the stand-in answers `model_id` with when signed for `region`.
pub fn reply_for(model_id: &str, region: &str) -> String {
    format!("Stand-in reply from {model_id} in {region}.")
}

impl BedrockRuntime {
    pub fn start() -> BedrockRuntime {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let invocations = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let seen = Arc::clone(&invocations);
        // Its own thread and runtime: the test bodies block on processes and sockets.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let app = axum::Router::new().fallback(
                    move |uri: Uri, headers: HeaderMap, body: axum::body::Bytes| {
                        let seen = Arc::clone(&seen);
                        async move { answer(&seen, &uri, &headers, &body) }
                    },
                );
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        BedrockRuntime {
            addr,
            invocations,
            stop: Some(stop),
        }
    }

    /// The endpoint URL clients are pointed at.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The calls received since the last call.
    pub fn take(&self) -> Vec<Invocation> {
        std::mem::take(&mut *self.invocations.lock().unwrap())
    }
}

impl Drop for BedrockRuntime {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// `Credential=AKID/20261201/us-east-1/bedrock/aws4_request` → `us-east-1`.
fn signed_region(headers: &HeaderMap) -> String {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    auth.split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').nth(2))
        .unwrap_or_default()
        .to_string()
}

fn answer(seen: &Mutex<Vec<Invocation>>, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Response {
    let path = uri.path();
    let Some((model_id, operation)) = path
        .strip_prefix("/model/")
        .and_then(|p| p.rsplit_once('/'))
    else {
        return (StatusCode::NOT_FOUND, format!("stand-in: no route {path}")).into_response();
    };
    // Model ids carry a ':' that clients percent-encode.
    let model_id = model_id.replace("%3A", ":").replace("%3a", ":");
    let region = signed_region(headers);
    seen.lock().unwrap().push(Invocation {
        operation: operation.to_string(),
        model_id: model_id.clone(),
        region: region.clone(),
        body: serde_json::from_slice(body).unwrap_or(serde_json::Value::Null),
    });
    match operation {
        "invoke" => invoke_image(&model_id),
        "converse" => converse(&model_id, &region),
        "converse-stream" => converse_stream(&model_id, &region),
        _ => (
            StatusCode::NOT_FOUND,
            format!("stand-in: no operation {operation}"),
        )
            .into_response(),
    }
}

/// Documented InvokeModel response bodies: Nova Canvas and Titan Image answer
/// `{"images": [...]}`; Stability SD3.x `{"images", "finish_reasons", "seeds"}`.
fn invoke_image(model_id: &str) -> Response {
    let image = aws_smithy_types::base64::encode(image_for(model_id));
    let response = if model_id.starts_with("stability.") {
        serde_json::json!({"images": [image], "finish_reasons": [null], "seeds": [7]})
    } else if model_id.starts_with("amazon.nova-canvas")
        || model_id.starts_with("amazon.titan-image")
    {
        serde_json::json!({"images": [image]})
    } else {
        return (
            StatusCode::BAD_REQUEST,
            format!("stand-in: no image model {model_id}"),
        )
            .into_response();
    };
    json(response)
}

fn json(v: serde_json::Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

fn usage() -> serde_json::Value {
    serde_json::json!({"inputTokens": 12, "outputTokens": 9, "totalTokens": 21})
}

/// The Converse response (API reference, Converse: output.message, stopReason, usage,
/// metrics).
fn converse(model_id: &str, region: &str) -> Response {
    json(serde_json::json!({
        "output": {"message": {"role": "assistant", "content": [{"text": reply_for(model_id, region)}]}},
        "stopReason": "end_turn",
        "usage": usage(),
        "metrics": {"latencyMs": 5},
    }))
}

/// ConverseStream's events (API reference, ConverseStreamOutput: messageStart,
/// contentBlockDelta, contentBlockStop, messageStop, metadata), each an event-stream
/// frame whose `:event-type` header names the member and whose payload is its JSON.
fn converse_stream(model_id: &str, region: &str) -> Response {
    let text = reply_for(model_id, region);
    let mut events = vec![("messageStart", serde_json::json!({"role": "assistant"}))];
    // A delta per word, so that a client that keeps only one chunk shows a wrong text.
    for word in text.split_inclusive(' ') {
        events.push((
            "contentBlockDelta",
            serde_json::json!({"contentBlockIndex": 0, "delta": {"text": word}}),
        ));
    }
    events.push((
        "contentBlockStop",
        serde_json::json!({"contentBlockIndex": 0}),
    ));
    events.push(("messageStop", serde_json::json!({"stopReason": "end_turn"})));
    events.push((
        "metadata",
        serde_json::json!({"usage": usage(), "metrics": {"latencyMs": 5}}),
    ));
    let mut body = Vec::new();
    for (event, payload) in events {
        let message = Message::new(payload.to_string().into_bytes())
            .add_header(Header::new(
                ":event-type",
                HeaderValue::String(event.into()),
            ))
            .add_header(Header::new(
                ":content-type",
                HeaderValue::String("application/json".into()),
            ))
            .add_header(Header::new(
                ":message-type",
                HeaderValue::String("event".into()),
            ));
        aws_smithy_eventstream::frame::write_message_to(&message, &mut body)
            .expect("an event-stream frame");
    }
    (
        [(header::CONTENT_TYPE, "application/vnd.amazon.eventstream")],
        body,
    )
        .into_response()
}
