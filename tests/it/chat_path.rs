//! The chat path end to end: the operator applies the example on moto, then the real
//! LiteLLM proxy (pinned, from PyPI, in `.venv/litellm/`) starts with exactly the
//! environment the stack's LiteLLM task definition gives it, loads the model list the
//! operator put in S3, and generates images through a Bedrock runtime stand-in (moto does
//! not emulate bedrock-runtime). A changed model list is served after the redeployment.
//!
//! Fails if the operator renders a config LiteLLM cannot load, puts it where the task
//! definition does not point, drops a model, or wires Open WebUI to the wrong place.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::ContainerDefinition;
use bedrock_chat_operator::desired::{self, ImageChatStack, ModelType};

use crate::common::{Emulator, REGION, http, repo_root, skip_emulator_tests};
use crate::stack::{desired_file, example, run};

/// One InvokeModel the stand-in received.
#[derive(Clone, Debug)]
struct Invocation {
    model_id: String,
    body: serde_json::Value,
    authorization: String,
}

/// A Bedrock runtime stand-in: records each `POST /model/{modelId}/invoke` and answers in
/// the documented response shape of the model's family. Anything else is a 404 that the
/// test will see as a failed generation.
struct BedrockRuntime {
    addr: String,
    invocations: Arc<Mutex<Vec<Invocation>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The image the stand-in returns for `model_id`, so the test can tell images apart.
fn image_for(model_id: &str) -> Vec<u8> {
    format!("\u{89}PNG stand-in image from {model_id}").into_bytes()
}

impl BedrockRuntime {
    fn start() -> BedrockRuntime {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let invocations = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let seen = Arc::clone(&invocations);
        // Its own thread and runtime: the test body blocks on processes and sockets.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let app = axum::Router::new().fallback(
                    move |uri: axum::http::Uri,
                          headers: axum::http::HeaderMap,
                          body: axum::body::Bytes| {
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

    /// The invocations received since the last call.
    fn take(&self) -> Vec<Invocation> {
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

fn answer(
    seen: &Mutex<Vec<Invocation>>,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> (axum::http::StatusCode, String) {
    use axum::http::StatusCode;
    let path = uri.path();
    let Some(model_id) = path
        .strip_prefix("/model/")
        .and_then(|p| p.strip_suffix("/invoke"))
    else {
        return (StatusCode::NOT_FOUND, format!("stand-in: no route {path}"));
    };
    // Model ids carry a ':' that clients may percent-encode.
    let model_id = model_id.replace("%3A", ":").replace("%3a", ":");
    seen.lock().unwrap().push(Invocation {
        model_id: model_id.clone(),
        body: serde_json::from_slice(body).unwrap_or(serde_json::Value::Null),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
    });
    let image = aws_smithy_types::base64::encode(image_for(&model_id));
    // Documented InvokeModel response bodies: Nova Canvas and Titan Image answer
    // {"images": [...]}; Stability SD3.x {"images", "finish_reasons", "seeds"}.
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
        );
    };
    (StatusCode::OK, response.to_string())
}

/// The real LiteLLM proxy as a child process, killed on drop.
struct LiteLlm {
    child: Child,
    addr: String,
    log: PathBuf,
}

impl LiteLlm {
    /// Starts `litellm` with `env` only (plus PATH/HOME) and waits until it serves.
    fn start(args: &[String], env: &BTreeMap<String, String>, home: &Path) -> LiteLlm {
        let exe = repo_root().join(".venv/litellm/bin/litellm");
        assert!(
            exe.exists(),
            "LiteLLM is not installed ({} is missing): run scripts/test or scripts/setup-venv; \
             set BCO_SKIP_EMULATOR_TESTS=1 to skip emulator tests explicitly",
            exe.display()
        );
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let log = home.join(format!("litellm-{port}.log"));
        let child = Command::new(&exe)
            .args(with_port(args, port))
            .args(["--host", "127.0.0.1"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home)
            .envs(env)
            .current_dir(home)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(home.join(format!("litellm-{port}.err"))).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", exe.display()));
        let mut proxy = LiteLlm { child, addr, log };
        proxy.wait_until_serving();
        proxy
    }

    fn wait_until_serving(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("LiteLLM exited ({status}) before serving:\n{}", self.logs());
            }
            if std::net::TcpStream::connect(&self.addr).is_ok()
                && http(&self.addr, "GET", "/health/liveliness", &[], "").0 == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "LiteLLM did not serve within 180 s:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn logs(&self) -> String {
        let err = self.log.with_extension("err");
        format!(
            "{}\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default(),
            std::fs::read_to_string(err).unwrap_or_default()
        )
    }

    /// `GET /v1/models` with `key`: (status, model ids).
    fn models(&self, key: Option<&str>) -> (u16, BTreeSet<String>) {
        let auth = key.map(|k| format!("Bearer {k}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let (code, body) = http(&self.addr, "GET", "/v1/models", &headers, "");
        if code != 200 {
            return (code, BTreeSet::new());
        }
        let v: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("/v1/models answered {body:?}: {e}"));
        let ids = v["data"]
            .as_array()
            .unwrap_or_else(|| panic!("/v1/models without data: {v}"))
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect();
        (code, ids)
    }
}

impl Drop for LiteLlm {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("LiteLLM logs:\n{}", self.logs());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The container's command with its `--port` value replaced: ECS gives each task its own
/// network namespace, a test shares loopback with everything else.
fn with_port(args: &[String], port: u16) -> Vec<String> {
    let mut out = args.to_vec();
    let i = out
        .iter()
        .position(|a| a == "--port")
        .unwrap_or_else(|| panic!("LiteLLM's command has no --port: {args:?}"));
    out[i + 1] = port.to_string();
    out
}

/// What a container of the deployed stack is given, with its secrets resolved the way
/// ECS resolves them (Secrets Manager `valueFrom` → the secret's string).
struct Container {
    command: Vec<String>,
    env: BTreeMap<String, String>,
    /// Secret environment variable → the ARN it comes from.
    secret_arns: BTreeMap<String, String>,
}

struct Deployment {
    config: aws_config::SdkConfig,
    outputs: BTreeMap<String, String>,
}

impl Deployment {
    async fn read(emu: &Emulator) -> Deployment {
        let config = emu.sdk_config().await;
        let cfn = aws_sdk_cloudformation::Client::new(&config);
        let stacks = cfn
            .describe_stacks()
            .stack_name("bedrock-image-chat")
            .send()
            .await
            .unwrap();
        let outputs = stacks.stacks()[0]
            .outputs()
            .iter()
            .map(|o| {
                (
                    o.output_key().unwrap().to_string(),
                    o.output_value().unwrap_or_default().to_string(),
                )
            })
            .collect();
        Deployment { config, outputs }
    }

    fn output(&self, key: &str) -> &str {
        self.outputs
            .get(key)
            .unwrap_or_else(|| panic!("stack output {key} missing: {:?}", self.outputs))
    }

    /// The container `name` of the task definition the ECS service `service_output` runs.
    async fn container(&self, service_output: &str, name: &str) -> Container {
        let ecs = aws_sdk_ecs::Client::new(&self.config);
        let services = ecs
            .describe_services()
            .cluster(self.output("ClusterName"))
            .services(self.output(service_output))
            .send()
            .await
            .unwrap();
        let task_definition = services.services()[0]
            .task_definition()
            .unwrap()
            .to_string();
        let td = ecs
            .describe_task_definition()
            .task_definition(&task_definition)
            .send()
            .await
            .unwrap();
        let container: &ContainerDefinition = td
            .task_definition()
            .unwrap()
            .container_definitions()
            .iter()
            .find(|c| c.name() == Some(name))
            .unwrap_or_else(|| panic!("{task_definition} has no container {name}"));
        Container {
            command: container.command().to_vec(),
            env: container
                .environment()
                .iter()
                .map(|kv| {
                    (
                        kv.name().unwrap().to_string(),
                        kv.value().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
            secret_arns: container
                .secrets()
                .iter()
                .map(|s| (s.name().to_string(), s.value_from().to_string()))
                .collect(),
        }
    }

    async fn secret(&self, arn: &str) -> String {
        aws_sdk_secretsmanager::Client::new(&self.config)
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("secret {arn}: {e:?}"))
            .secret_string()
            .unwrap()
            .to_string()
    }

    /// LiteLLM's command and environment, exactly as the task definition gives them,
    /// plus what only a test needs (each said below).
    async fn litellm_launch(
        &self,
        emu: &Emulator,
        bedrock: &BedrockRuntime,
    ) -> (Vec<String>, BTreeMap<String, String>) {
        let c = self.container("LiteLLMServiceName", "litellm").await;
        let mut env = c.env.clone();
        for (name, arn) in &c.secret_arns {
            env.insert(name.clone(), self.secret(arn).await);
        }
        for required in [
            "LITELLM_CONFIG_BUCKET_NAME",
            "LITELLM_CONFIG_BUCKET_OBJECT_KEY",
            "LITELLM_MASTER_KEY",
        ] {
            assert!(
                env.contains_key(required),
                "task definition lacks {required}: {env:?}"
            );
        }
        // On ECS the S3 endpoint is AWS's and credentials come from the task role.
        env.insert("AWS_ENDPOINT_URL".into(), emu.endpoint.clone());
        env.insert("AWS_ACCESS_KEY_ID".into(), "testing".into());
        env.insert("AWS_SECRET_ACCESS_KEY".into(), "testing".into());
        // moto has no bedrock-runtime: LiteLLM's own endpoint override, set only here,
        // so the rendered config stays what a real deployment needs.
        env.insert(
            "AWS_BEDROCK_RUNTIME_ENDPOINT".into(),
            format!("http://{}", bedrock.addr),
        );
        (c.command, env)
    }
}

fn models_of(doc: &str) -> ImageChatStack {
    let mut stacks = Vec::new();
    let mut diagnostics = Vec::new();
    desired::load_bytes(
        Path::new("stack.yaml"),
        doc.as_bytes(),
        &mut stacks,
        &mut diagnostics,
    );
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    stacks.remove(0)
}

/// `POST /v1/images/generations` the way Open WebUI's "openai" engine sends it.
fn generate(
    proxy: &LiteLlm,
    key: &str,
    model: &str,
    prompt: &str,
    size: &str,
) -> (u16, serde_json::Value) {
    let body = serde_json::json!({
        "model": model, "prompt": prompt, "n": 1, "size": size, "response_format": "b64_json"
    });
    let auth = format!("Bearer {key}");
    let (code, text) = http(
        &proxy.addr,
        "POST",
        "/v1/images/generations",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        &body.to_string(),
    );
    let v = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (code, v)
}

#[tokio::test]
async fn litellm_serves_the_reconciled_models_and_generates_images_through_bedrock() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let doc = example();
    let (dir, file) = desired_file(&doc);
    let applied = run(&emu, &["apply"], &file);
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);
    let desired = models_of(&doc);
    let deployment = Deployment::read(&emu).await;
    let bedrock = BedrockRuntime::start();
    let (command, env) = deployment.litellm_launch(&emu, &bedrock).await;
    let key = env["LITELLM_MASTER_KEY"].clone();

    // Open WebUI reaches LiteLLM on the container's port, with the same key.
    let webui = deployment
        .container("OpenWebUIServiceName", "openwebui")
        .await;
    let litellm_port = &command[command.iter().position(|a| a == "--port").unwrap() + 1];
    for var in ["OPENAI_API_BASE_URL", "IMAGES_OPENAI_API_BASE_URL"] {
        let url = &webui.env[var];
        assert!(
            url.ends_with(&format!(":{litellm_port}/v1")),
            "{var}={url} does not reach LiteLLM's port {litellm_port}"
        );
    }
    let litellm_key_arn = deployment
        .container("LiteLLMServiceName", "litellm")
        .await
        .secret_arns["LITELLM_MASTER_KEY"]
        .clone();
    for var in ["OPENAI_API_KEY", "IMAGES_OPENAI_API_KEY"] {
        assert_eq!(webui.secret_arns[var], litellm_key_arn, "{var}");
    }
    let webui_model = webui.env["IMAGE_GENERATION_MODEL"].clone();
    let webui_size = webui.env["IMAGE_SIZE"].clone();
    let image_generation = desired.spec.image_generation.clone();
    assert_eq!(webui_model, image_generation.model);
    assert_eq!(webui_size, image_generation.size);

    let proxy = LiteLlm::start(&command, &env, dir.path());

    // Every model of the desired state, and only those; no key, no models.
    let want: BTreeSet<String> = desired.spec.models.iter().map(|m| m.name.clone()).collect();
    assert_eq!(proxy.models(Some(&key)), (200, want.clone()));
    assert_eq!(proxy.models(None).0, 401);
    // A wrong key is refused too; LiteLLM without a database answers 400 ("no db
    // connected" to look the key up) rather than 401, either way no models.
    let wrong = proxy.models(Some("sk-not-the-master-key"));
    assert!(
        matches!(wrong.0, 400 | 401 | 403),
        "wrong key answered {wrong:?}"
    );

    // Images: Open WebUI's model and size first, then every other image model.
    let (w, h) = webui_size.split_once('x').unwrap();
    let (w, h): (u64, u64) = (w.parse().unwrap(), h.parse().unwrap());
    let mut image_models: Vec<_> = desired
        .spec
        .models
        .iter()
        .filter(|m| m.kind == ModelType::Image)
        .collect();
    image_models.sort_by_key(|m| m.name != webui_model);
    assert!(
        image_models.len() >= 2,
        "the example should exercise several image families"
    );
    for model in image_models {
        let prompt = format!("a lighthouse at dusk, drawn for {}", model.name);
        let (code, response) = generate(&proxy, &key, &model.name, &prompt, &webui_size);
        assert_eq!(code, 200, "{}: {response}", model.name);
        let calls = bedrock.take();
        assert_eq!(
            calls.len(),
            1,
            "{}: one InvokeModel expected, got {calls:?}",
            model.name
        );
        let call = &calls[0];
        assert_eq!(call.model_id, model.model_id, "{}", model.name);
        // Signed for the model's own region (its aws_region_name in the config).
        let region = model.region_or(REGION);
        assert!(
            call.authorization
                .contains(&format!("/{region}/bedrock/aws4_request")),
            "{}: {}",
            model.name,
            call.authorization
        );
        let body = &call.body;
        if model.model_id.starts_with("stability.") {
            // LiteLLM 1.80.11 maps no OpenAI parameter for Stability 3.x (SD3.5 takes an
            // aspect_ratio, default 1:1): the prompt is all it sends.
            assert_eq!(body["prompt"], prompt.as_str(), "{body}");
        } else {
            assert_eq!(body["taskType"], "TEXT_IMAGE", "{body}");
            assert_eq!(body["textToImageParams"]["text"], prompt.as_str(), "{body}");
            let config = &body["imageGenerationConfig"];
            assert_eq!(config["width"], w, "{body}");
            assert_eq!(config["height"], h, "{body}");
            assert_eq!(config["numberOfImages"], 1, "{body}");
        }
        let got = response["data"][0]["b64_json"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no b64_json in {response}", model.name));
        assert_eq!(
            aws_smithy_types::base64::decode(got).unwrap(),
            image_for(&model.model_id),
            "{}",
            model.name
        );
    }
    drop(proxy);

    // A new model list: one image model gone, one text model added.
    let changed = crate::stack::changed_models(&doc);
    std::fs::write(&file, &changed).unwrap();
    let reapplied = run(&emu, &["apply"], &file);
    assert_eq!(
        reapplied.code, 0,
        "{}\n{}",
        reapplied.stdout, reapplied.stderr
    );
    assert!(
        reapplied.stdout.contains("PushModelConfig")
            && reapplied.stdout.contains("RedeployLiteLlm"),
        "{}",
        reapplied.stdout
    );

    // The forced redeployment starts a new task from the same task definition.
    let (command, env) = deployment.litellm_launch(&emu, &bedrock).await;
    let proxy = LiteLlm::start(&command, &env, dir.path());
    let want: BTreeSet<String> = models_of(&changed)
        .spec
        .models
        .iter()
        .map(|m| m.name.clone())
        .collect();
    assert!(want.contains("nova-lite") && !want.contains("stable-image-ultra"));
    assert_eq!(proxy.models(Some(&key)), (200, want));
}
