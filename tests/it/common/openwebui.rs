//! The real Open WebUI (pinned, from PyPI, in `.venv/openwebui/`) started from the
//! deployed task definition, a client for its HTTP API, and a recorder of any outbound
//! connection it attempts.
//!
//! Test-only deviations from the task definition, each needed because a test shares one
//! machine with no VPC:
//! - `open-webui serve --host 127.0.0.1 --port <free>` instead of the image's `start.sh`
//!   on 0.0.0.0:8080 (both run uvicorn on `open_webui.main:app`);
//! - `OPENAI_API_BASE_URL` / `IMAGES_OPENAI_API_BASE_URL`: the Cloud Map name
//!   `litellm.<ProjectName>.internal` resolves inside the VPC only, so each URL's host
//!   and port become the loopback address of the LiteLLM process serving that container
//!   port (the test checks the original URL names the stack's namespace and the port);
//! - `DATA_DIR`: the EFS mount path (checked to be the container's mount point) becomes
//!   a scratch directory, which a restart reuses as a new task reuses EFS;
//! - `HTTP(S)_PROXY` point at a recorder, so that any connection Open WebUI tries beyond
//!   loopback is seen (on AWS in pull-through mode it would time out).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::bedrock::BedrockRuntime;
use super::deployment::{Container, Deployment, Process, free_port, litellm_launch, start_litellm};
use super::{Emulator, http, http_bytes, repo_root};

/// A chat stack applied on moto with its LiteLLM task's two real processes serving, the
/// Bedrock stand-in behind them: what Open WebUI tasks are started in front of.
pub struct ChatStack {
    pub deployment: Deployment,
    pub bedrock: BedrockRuntime,
    litellm: Vec<(Container, Process)>,
    pub outbound: Outbound,
    /// Logs and homes of the processes.
    pub dir: tempfile::TempDir,
}

impl ChatStack {
    /// Applies `doc` (stack `bedrock-image-chat`) and starts LiteLLM's processes.
    pub async fn deploy(emu: &Emulator, doc: &str) -> ChatStack {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("stack.yaml");
        std::fs::write(&file, doc).unwrap();
        let out = emu
            .command()
            .arg("apply")
            .arg(&file)
            .output()
            .expect("run the operator");
        assert!(
            out.status.success(),
            "apply: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let deployment = Deployment::read(emu, "bedrock-image-chat").await;
        let bedrock = BedrockRuntime::start();
        let mut litellm = Vec::new();
        for name in ["litellm", "litellm-images"] {
            let (command, env) = litellm_launch(&deployment, name, emu, &bedrock).await;
            let process = start_litellm(name, &command, &env, dir.path());
            let container = deployment.container("LiteLLMServiceName", name).await;
            litellm.push((container, process));
        }
        ChatStack {
            deployment,
            bedrock,
            litellm,
            outbound: Outbound::start(),
            dir,
        }
    }

    /// Open WebUI's environment for a task whose data directory is `data`.
    pub async fn openwebui_env(&self, data: &Path) -> BTreeMap<String, String> {
        let pairs: Vec<(&Container, &Process)> = self.litellm.iter().map(|(c, p)| (c, p)).collect();
        launch_env(&self.deployment, &pairs, data, &self.outbound).await
    }

    /// Starts an Open WebUI task with `env`.
    pub fn start_openwebui(&self, env: &BTreeMap<String, String>) -> Process {
        start(env, self.dir.path())
    }
}

/// Records the first line of every connection made to it as an HTTP proxy (a
/// `CONNECT host:443` or `GET http://host/...`), then closes it.
pub struct Outbound {
    pub addr: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Outbound {
    pub fn start() -> Outbound {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut first = [0u8; 512];
                let mut s = stream;
                let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let n = s.read(&mut first).unwrap_or(0);
                let line = String::from_utf8_lossy(&first[..n])
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                record.lock().unwrap().push(line);
            }
        });
        Outbound { addr, seen }
    }

    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// The address `url`'s host and port are served at in the test, from `(container port,
/// loopback address)` pairs; panics when the URL names another host than `namespace`.
fn local_url(url: &str, namespace: &str, local: &[(String, String)]) -> String {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("{url} is not http://"));
    let (host_port, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (host, port) = host_port
        .split_once(':')
        .unwrap_or_else(|| panic!("{url} names no port"));
    assert_eq!(host, format!("litellm.{namespace}"), "{url}");
    let (_, addr) = local
        .iter()
        .find(|(p, _)| p == port)
        .unwrap_or_else(|| panic!("{url}: no LiteLLM process serves port {port}"));
    format!("http://{addr}/{path}")
}

/// Open WebUI's environment on ECS (secrets resolved) with the deviations above.
/// `litellm` pairs each LiteLLM container's `--port` with its local process.
pub async fn launch_env(
    deployment: &Deployment,
    litellm: &[(&Container, &Process)],
    data_dir: &Path,
    outbound: &Outbound,
) -> BTreeMap<String, String> {
    let c = deployment
        .container("OpenWebUIServiceName", "openwebui")
        .await;
    let mut env = deployment.environment(&c).await;
    let internal = deployment.output("LiteLLMInternalUrl");
    let namespace = internal
        .trim_start_matches("http://litellm.")
        .split(':')
        .next()
        .unwrap()
        .to_string();
    let local: Vec<(String, String)> = litellm
        .iter()
        .map(|(c, p)| (c.arg("--port").to_string(), p.addr.clone()))
        .collect();
    for var in ["OPENAI_API_BASE_URL", "IMAGES_OPENAI_API_BASE_URL"] {
        let url = env[var].clone();
        env.insert(var.into(), local_url(&url, &namespace, &local));
    }
    assert!(
        c.mount_paths.contains(&env["DATA_DIR"]),
        "DATA_DIR={} is not the EFS mount ({:?}): the data would not survive a task",
        env["DATA_DIR"],
        c.mount_paths
    );
    env.insert("DATA_DIR".into(), data_dir.display().to_string());
    let proxy = format!("http://{}", outbound.addr);
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
        env.insert(var.into(), proxy.clone());
    }
    for var in ["NO_PROXY", "no_proxy"] {
        env.insert(var.into(), "127.0.0.1,localhost".into());
    }
    env
}

pub fn start(env: &BTreeMap<String, String>, dir: &Path) -> Process {
    let port = free_port();
    let args: Vec<String> = ["serve", "--host", "127.0.0.1", "--port", &port.to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    Process::start(
        "open-webui",
        &repo_root().join(".venv/openwebui/bin/open-webui"),
        &args,
        env,
        dir,
        port,
        "/health",
    )
}

/// Open WebUI's HTTP API, as one signed-in user (or none).
pub struct Api<'a> {
    pub addr: &'a str,
    pub token: String,
}

pub fn json_or_text(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::String(text.to_string()))
}

impl<'a> Api<'a> {
    pub fn anonymous(addr: &'a str) -> Api<'a> {
        Api {
            addr,
            token: String::new(),
        }
    }

    fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![("Content-Type", "application/json".to_string())];
        if !self.token.is_empty() {
            h.push(("Authorization", format!("Bearer {}", self.token)));
        }
        h
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let headers = self.headers();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let (code, text) = http(self.addr, method, path, &headers, &body);
        (code, json_or_text(&text))
    }

    /// Signs up (`signup`) or in; on success the API acts as that user.
    pub fn auth(&mut self, how: &str, email: &str, password: &str) -> (u16, serde_json::Value) {
        let body = serde_json::json!({"name": email.split('@').next(), "email": email, "password": password});
        let (code, v) = self.call("POST", &format!("/api/v1/auths/{how}"), &body);
        if code == 200 {
            self.token = v["token"].as_str().unwrap_or_default().to_string();
        }
        (code, v)
    }

    /// The ids `GET /api/models` offers this user.
    pub fn models(&self) -> Vec<String> {
        let (code, v) = self.call("GET", "/api/models?refresh=true", &serde_json::Value::Null);
        assert_eq!(code, 200, "{v}");
        let mut ids: Vec<String> = v["data"]
            .as_array()
            .unwrap_or_else(|| panic!("no model list: {v}"))
            .iter()
            .map(|m| m["id"].as_str().unwrap_or_default().to_string())
            .collect();
        ids.sort();
        ids
    }

    /// One chat turn; the answer's text (streamed: every delta, in order).
    pub fn chat(&self, model: &str, prompt: &str, stream: bool) -> Result<String, (u16, String)> {
        let body = serde_json::json!({
            "model": model, "stream": stream,
            "messages": [{"role": "user", "content": prompt}],
        });
        let headers = self.headers();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = http_bytes(
            self.addr,
            "POST",
            "/api/chat/completions",
            &headers,
            body.to_string().as_bytes(),
        );
        let text = String::from_utf8_lossy(&r.body).into_owned();
        if r.status != 200 {
            return Err((r.status, text));
        }
        if !stream {
            let v = json_or_text(&text);
            return v["choices"][0]["message"]["content"]
                .as_str()
                .map(str::to_string)
                .ok_or((r.status, text));
        }
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("text/event-stream")),
            "a stream answers text/event-stream: {:?}",
            r.headers
        );
        let mut out = String::new();
        for line in text.lines() {
            let Some(data) = line.strip_prefix("data: ") else {
                continue;
            };
            if data.trim() == "[DONE]" {
                return Ok(out);
            }
            let v = json_or_text(data);
            if let Some(delta) = v["choices"][0]["delta"]["content"].as_str() {
                out.push_str(delta);
            }
        }
        Err((
            r.status,
            format!("the stream did not end with [DONE]:\n{text}"),
        ))
    }

    /// Generates an image through Open WebUI's image endpoint; the image's bytes.
    pub fn generate_image(&self, prompt: &str) -> Result<Vec<u8>, (u16, serde_json::Value)> {
        let (code, v) = self.call(
            "POST",
            "/api/v1/images/generations",
            &serde_json::json!({"prompt": prompt}),
        );
        if code != 200 {
            return Err((code, v));
        }
        let url = v[0]["url"].as_str().ok_or((code, v.clone()))?.to_string();
        let auth = format!("Bearer {}", self.token);
        let r = http_bytes(self.addr, "GET", &url, &[("Authorization", &auth)], b"");
        if r.status != 200 {
            return Err((r.status, json_or_text(&String::from_utf8_lossy(&r.body))));
        }
        Ok(r.body)
    }
}
