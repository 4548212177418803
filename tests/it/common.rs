//! Test support: a moto server per test on a free loopback port, helpers to run the
//! operator's binary against an AWS endpoint through the standard `AWS_ENDPOINT_URL`, a
//! minimal HTTP client, and (in `daemon`) the harness for the long-running daemon.

pub mod bedrock;
mod daemon;
pub mod deployment;
pub mod openwebui;
pub mod servers;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub use daemon::{Daemon, Options, run_args};

pub const REGION: &str = "us-west-2";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bedrock-chat-operator"))
}

/// True when the test command was told to skip emulator tests explicitly. Otherwise a
/// missing emulator fails the test: a silently skipped suite proves nothing.
/// A skipped test says so, past libtest's output capture (it writes to the process's
/// stderr directly), so that a skipped suite never reads as a passed one.
pub fn skip_emulator_tests() -> bool {
    let skip = std::env::var("BCO_SKIP_EMULATOR_TESTS").is_ok_and(|v| v == "1");
    if skip {
        use std::io::Write;
        let test = std::thread::current()
            .name()
            .unwrap_or("an emulator test")
            .to_string();
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: BCO_SKIP_EMULATOR_TESTS=1"
        );
    }
    skip
}

/// The venv's Python, which runs moto and the other emulator helpers. Panics with the
/// fix when the venv is missing.
pub fn python() -> PathBuf {
    let python = repo_root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "the AWS emulator is not installed ({} is missing): run scripts/test, or scripts/setup-venv; \
         set BCO_SKIP_EMULATOR_TESTS=1 to skip emulator tests explicitly",
        python.display()
    );
    python
}

/// target/emulator-logs, where the emulator helpers' logs stay after the test.
pub fn log_dir() -> PathBuf {
    let dir = repo_root().join("target/emulator-logs");
    std::fs::create_dir_all(&dir).expect("create target/emulator-logs");
    dir
}

/// A new, empty, kept log file in `log_dir()`, named PREFIX….log.
pub fn new_log(prefix: &str) -> PathBuf {
    tempfile::Builder::new()
        .prefix(prefix)
        .suffix(".log")
        .tempfile_in(log_dir())
        .expect("emulator log file")
        .keep()
        .expect("keep emulator log")
        .1
}

/// Spawns a Python helper that prints one line once it serves, its stderr appended to
/// `log`; returns the child and that line (None when it exited or said nothing within
/// 90 s).
pub fn spawn_reporting(mut cmd: Command, log: &Path) -> (Child, Option<String>) {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("open helper log");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start a Python helper");
    let stdout = child.stdout.take().expect("helper stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        // Keep draining so the helper never blocks on a full pipe.
        for _ in lines {}
    });
    let line = rx.recv_timeout(Duration::from_secs(90)).ok();
    (child, line)
}

/// SDK configuration for an emulator at `endpoint`, as the environment would give it.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    use aws_sdk_cloudformation::config::Credentials;
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await
}

/// The operator's binary, with the environment a user would set for an emulator at
/// `endpoint`.
pub fn operator(endpoint: &str) -> Command {
    let mut cmd = Command::new(bin());
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env_remove("AWS_PROFILE")
        .env("BCO_LOG_FORMAT", "json");
    cmd
}

/// A moto server (through the project's launcher) that lives as long as this value.
pub struct Emulator {
    child: Child,
    pub endpoint: String,
    pub log: PathBuf,
    /// With IAM enforced: who the operator and the test are (see `start_iam_enforced`).
    pub iam: Option<Iam>,
}

/// Credentials of an emulator that enforces IAM: the operator holds exactly the task
/// role's policies of charts/operator.yaml; the test reads AWS as an admin.
#[derive(Clone, Debug)]
pub struct Iam {
    pub operator: (String, String),
    pub admin: (String, String),
    /// The operator's policies minus the actions dropped (`start_iam_enforced`).
    pub dropped: Option<(String, String)>,
    pub cfn_role_arn: String,
}

/// The default ManagedStackPrefix of charts/operator.yaml, which the operator's task
/// passes as --managed-prefix.
pub const MANAGED_PREFIX: &str = "bedrock-image-chat";

impl Emulator {
    /// Starts a fresh emulator on a free port. Panics with the fix when the venv is missing.
    pub fn start() -> Emulator {
        Emulator::start_with(&[])
    }

    /// `start` with environment variables for the launcher (e.g. `BCO_ECS_TASKS`, moto's
    /// `INITIAL_NO_AUTH_ACTION_COUNT`).
    pub fn start_with(env: &[(&str, &str)]) -> Emulator {
        let launcher = repo_root().join("tests/emulator/moto_launcher.py");
        let mut cmd = Command::new(python());
        cmd.arg(&launcher)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .envs(env.iter().copied());
        let log = new_log("moto-");
        let (mut child, line) = spawn_reporting(cmd, &log);
        let Some(line) = line else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the emulator did not report its address within 90 s; its log: {}",
                log.display()
            );
        };
        let endpoint = line
            .strip_prefix("moto listening on ")
            .unwrap_or_else(|| panic!("unexpected launcher output: {line:?}"))
            .trim()
            .to_string();
        Emulator {
            child,
            endpoint,
            log,
            iam: None,
        }
    }

    /// A fresh emulator that enforces IAM as AWS does (tests/emulator/iam_like_aws.py)
    /// for every request after its set-up (tests/emulator/iam_user.py): the operator's
    /// stack from charts/operator.yaml is deployed, and the operator acts as a user
    /// holding its task role's policies, with its CloudFormation service role, under
    /// its managed prefix. `drop` names actions a second user lacks.
    pub fn start_iam_enforced(drop: &[&str]) -> Emulator {
        let mut emu = Emulator::start();
        let mut cmd = Command::new(python());
        cmd.arg(repo_root().join("tests/emulator/iam_user.py"))
            .args(["--endpoint", &emu.endpoint]);
        for a in drop {
            cmd.args(["--drop", a]);
        }
        let out = cmd.output().expect("run iam_user.py");
        assert!(
            out.status.success(),
            "iam_user.py failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("iam_user.py prints JSON");
        let keys = |u: &serde_json::Value| {
            (
                u["AccessKeyId"].as_str().unwrap().to_string(),
                u["SecretAccessKey"].as_str().unwrap().to_string(),
            )
        };
        emu.iam = Some(Iam {
            operator: keys(&v),
            admin: keys(&v["Admin"]),
            dropped: (!v["Dropped"].is_null()).then(|| keys(&v["Dropped"])),
            cfn_role_arn: v["CloudFormationRoleArn"].as_str().unwrap().to_string(),
        });
        emu
    }

    /// SDK configuration for this emulator, as the environment would give it (the
    /// test's own reads: as the admin when IAM is enforced).
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        match &self.iam {
            None => sdk_config(&self.endpoint).await,
            Some(iam) => {
                use aws_sdk_cloudformation::config::Credentials;
                let (id, secret) = &iam.admin;
                aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(aws_config::Region::new(REGION))
                    .endpoint_url(&self.endpoint)
                    .credentials_provider(Credentials::new(id, secret, None, None, "admin"))
                    .load()
                    .await
            }
        }
    }

    /// The operator's binary, with the environment a user would set for this emulator;
    /// with IAM enforced, what the operator's task has: its credentials, its service
    /// role and its managed prefix.
    pub fn command(&self) -> Command {
        let mut cmd = operator(&self.endpoint);
        if let Some(iam) = &self.iam {
            cmd.env("AWS_ACCESS_KEY_ID", &iam.operator.0)
                .env("AWS_SECRET_ACCESS_KEY", &iam.operator.1)
                .env("BEDROCK_CHAT_OPERATOR_CFN_ROLE_ARN", &iam.cfn_role_arn)
                .env("BEDROCK_CHAT_OPERATOR_MANAGED_PREFIX", MANAGED_PREFIX);
        }
        cmd
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("emulator log: {}", self.log.display());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the operator's binary without AWS access at all: any AWS call it tried would
/// fail (no endpoint is listening on the discard port).
pub fn run_offline(args: &[&str], cwd: &Path) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(cwd)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "unused")
        .env("AWS_SECRET_ACCESS_KEY", "unused")
        .env("BCO_LOG_FORMAT", "json")
        .output()
        .expect("run bedrock-chat-operator")
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`, body read to EOF):
/// enough for the operator's endpoints, the emulator helpers' control endpoints, LiteLLM
/// and Open WebUI, without an HTTP client dependency. A server silent for 120 s fails the
/// request rather than hanging the test. Returns (status, body); status 0 when nothing
/// parsable came back.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let r = http_bytes(addr, method, path, headers, body.as_bytes());
    (r.status, String::from_utf8_lossy(&r.body).into_owned())
}

/// An HTTP response: status, headers (names lowercase) and the body, de-chunked.
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `http` with a byte body and the response's headers; a chunked body is de-chunked.
pub fn http_bytes(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    use std::io::{Read, Write};
    let mut s =
        std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    // A server may answer before it has read the whole body (413 on a body over its
    // limit) and close: its answer is then what counts, not the failed write.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    if let Err(e) = s.read_to_end(&mut raw) {
        assert!(!raw.is_empty(), "read from {addr}: {e}");
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = raw.get(split + 4..).unwrap_or_default();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    HttpResponse {
        status,
        headers,
        body,
    }
}

/// The body of a `Transfer-Encoding: chunked` response (sizes in hex, CRLF-separated).
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&rest[..eol])
            .ok()
            .and_then(|l| usize::from_str_radix(l.split(';').next()?.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        let end = (start + size).min(rest.len());
        out.extend_from_slice(&rest[start..end]);
        rest = rest.get(end + 2..).unwrap_or_default();
    }
    out
}
