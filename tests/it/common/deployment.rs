//! What the deployed stack gives its containers, read back from moto as ECS would read
//! it (task definition of the service, secrets resolved from Secrets Manager), and the
//! real processes the end-to-end tests start from it, each a child killed on drop.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::ContainerDefinition;

use super::bedrock::BedrockRuntime;
use super::{Emulator, http, repo_root};

/// A container of the deployed stack.
pub struct Container {
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Secret environment variable → the ARN it comes from.
    pub secret_arns: BTreeMap<String, String>,
    /// Where the container mounts its volumes.
    pub mount_paths: Vec<String>,
}

impl Container {
    /// The value of the container's `flag` argument (e.g. `--port`).
    pub fn arg(&self, flag: &str) -> &str {
        let i = self
            .command
            .iter()
            .position(|a| a == flag)
            .unwrap_or_else(|| panic!("the command has no {flag}: {:?}", self.command));
        &self.command[i + 1]
    }
}

pub struct Deployment {
    config: aws_config::SdkConfig,
    pub outputs: BTreeMap<String, String>,
}

impl Deployment {
    pub async fn read(emu: &Emulator, stack: &str) -> Deployment {
        let config = emu.sdk_config().await;
        let cfn = aws_sdk_cloudformation::Client::new(&config);
        let stacks = cfn
            .describe_stacks()
            .stack_name(stack)
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

    pub fn output(&self, key: &str) -> &str {
        self.outputs
            .get(key)
            .unwrap_or_else(|| panic!("stack output {key} missing: {:?}", self.outputs))
    }

    /// The container `name` of the task definition the ECS service `service_output` runs.
    pub async fn container(&self, service_output: &str, name: &str) -> Container {
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
            mount_paths: container
                .mount_points()
                .iter()
                .filter_map(|m| m.container_path().map(str::to_string))
                .collect(),
        }
    }

    pub async fn secret(&self, arn: &str) -> String {
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

    /// The container's environment as its process sees it on ECS: the plain values and
    /// each secret resolved (Secrets Manager `valueFrom` → the secret's string).
    pub async fn environment(&self, c: &Container) -> BTreeMap<String, String> {
        let mut env = c.env.clone();
        for (name, arn) in &c.secret_arns {
            env.insert(name.clone(), self.secret(arn).await);
        }
        env
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `args` with the value of `flag` replaced by `port`: ECS gives each task its own
/// network namespace, a test shares loopback with everything else.
pub fn with_port(args: &[String], flag: &str, port: u16) -> Vec<String> {
    let mut out = args.to_vec();
    let i = out
        .iter()
        .position(|a| a == flag)
        .unwrap_or_else(|| panic!("the command has no {flag}: {args:?}"));
    out[i + 1] = port.to_string();
    out
}

/// A server process of the chat stack (LiteLLM, Open WebUI) started with exactly the
/// environment given (plus PATH and HOME), killed on drop; its output is shown when the
/// test fails.
pub struct Process {
    name: String,
    child: Child,
    pub addr: String,
    log: PathBuf,
}

impl Process {
    /// Starts `exe args` and waits until `health` answers 200 on `port`.
    pub fn start(
        name: &str,
        exe: &Path,
        args: &[String],
        env: &BTreeMap<String, String>,
        dir: &Path,
        port: u16,
        health: &str,
    ) -> Process {
        assert!(
            exe.exists(),
            "{name} is not installed ({} is missing): run scripts/test or scripts/setup-venv; \
             set BCO_SKIP_EMULATOR_TESTS=1 to skip emulator tests explicitly",
            exe.display()
        );
        let addr = format!("127.0.0.1:{port}");
        let log = dir.join(format!("{name}-{port}.log"));
        let output = std::fs::File::create(&log).unwrap();
        let child = Command::new(exe)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir)
            .envs(env)
            .current_dir(dir)
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", exe.display()));
        let mut process = Process {
            name: name.to_string(),
            child,
            addr,
            log,
        };
        process.wait_until_serving(health);
        process
    }

    fn wait_until_serving(&mut self, health: &str) {
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "{} exited ({status}) before serving:\n{}",
                    self.name,
                    self.logs()
                );
            }
            if std::net::TcpStream::connect(&self.addr).is_ok()
                && http(&self.addr, "GET", health, &[], "").0 == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not serve within 240 s:\n{}",
                self.name,
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the process as ECS stops a task: SIGTERM, then SIGKILL after the grace
    /// period (ECS's default stopTimeout is 30 s).
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let logs = self.logs();
            let from = (logs.len().saturating_sub(20_000)..logs.len())
                .find(|i| logs.is_char_boundary(*i))
                .unwrap_or(0);
            let tail = &logs[from..];
            eprintln!("{} output (last 20 kB):\n{tail}", self.name);
        }
        self.kill();
    }
}

/// The two LiteLLM processes of the task: container name → what Open WebUI calls it by.
pub const LITELLM_CONTAINERS: [(&str, &str); 2] = [
    ("litellm", "OPENAI_API_BASE_URL"),
    ("litellm-images", "IMAGES_OPENAI_API_BASE_URL"),
];

/// LiteLLM container `name`'s command and environment, exactly as the task definition
/// gives them (secrets resolved as ECS resolves them), plus what only a test needs.
pub async fn litellm_launch(
    deployment: &Deployment,
    name: &str,
    emu: &Emulator,
    bedrock: &BedrockRuntime,
) -> (Vec<String>, BTreeMap<String, String>) {
    let c = deployment.container("LiteLLMServiceName", name).await;
    let mut env = deployment.environment(&c).await;
    for required in [
        "LITELLM_CONFIG_BUCKET_NAME",
        "LITELLM_CONFIG_BUCKET_OBJECT_KEY",
        "LITELLM_MASTER_KEY",
    ] {
        assert!(
            env.contains_key(required),
            "{name} lacks {required}: {:?}",
            c.env
        );
    }
    // On ECS the S3 endpoint is AWS's and credentials come from the task role.
    env.insert("AWS_ENDPOINT_URL".into(), emu.endpoint.clone());
    env.insert("AWS_ACCESS_KEY_ID".into(), "testing".into());
    env.insert("AWS_SECRET_ACCESS_KEY".into(), "testing".into());
    // moto has no bedrock-runtime: LiteLLM's own endpoint override, set only here, so
    // the rendered config stays what a real deployment needs.
    env.insert("AWS_BEDROCK_RUNTIME_ENDPOINT".into(), bedrock.url());
    (c.command, env)
}

/// Starts LiteLLM with `command` on a free port (instead of the container's) and
/// loopback (instead of the task's own network namespace).
pub fn start_litellm(
    name: &str,
    command: &[String],
    env: &BTreeMap<String, String>,
    dir: &Path,
) -> Process {
    let port = free_port();
    let mut args = with_port(command, "--port", port);
    args.extend(["--host".to_string(), "127.0.0.1".to_string()]);
    Process::start(
        name,
        &repo_root().join(".venv/litellm/bin/litellm"),
        &args,
        env,
        dir,
        port,
        "/health/liveliness",
    )
}
