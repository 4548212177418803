//! Test support: a moto server per test on a free loopback port, and helpers to run the
//! operator's binary against it through the standard `AWS_ENDPOINT_URL`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const REGION: &str = "us-west-2";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bedrock-chat-operator"))
}

/// True when the test command was told to skip emulator tests explicitly. Otherwise a
/// missing emulator fails the test: a silently skipped suite proves nothing.
pub fn skip_emulator_tests() -> bool {
    std::env::var("BCO_SKIP_EMULATOR_TESTS").is_ok_and(|v| v == "1")
}

/// A moto server (through the project's launcher) that lives as long as this value.
pub struct Emulator {
    child: Child,
    pub endpoint: String,
    pub log: PathBuf,
}

impl Emulator {
    /// Starts a fresh emulator on a free port. Panics with the fix when the venv is missing.
    pub fn start() -> Emulator {
        let root = repo_root();
        let python = root.join(".venv/bin/python");
        let launcher = root.join("tests/emulator/moto_launcher.py");
        assert!(
            python.exists(),
            "the AWS emulator is not installed ({} is missing): run scripts/test, or scripts/setup-venv; \
             set BCO_SKIP_EMULATOR_TESTS=1 to skip emulator tests explicitly",
            python.display()
        );
        let log_dir = root.join("target/emulator-logs");
        std::fs::create_dir_all(&log_dir).expect("create target/emulator-logs");
        let log = tempfile::Builder::new()
            .prefix("moto-")
            .suffix(".log")
            .tempfile_in(&log_dir)
            .expect("emulator log file")
            .keep()
            .expect("keep emulator log")
            .1;
        let stderr = std::fs::File::create(&log).expect("open emulator log");
        let mut child = Command::new(&python)
            .arg(&launcher)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", launcher.display()));
        let stdout = child.stdout.take().expect("launcher stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep draining so the launcher never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(90)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the emulator did not report its address within 90 s; its log: {}",
                    log.display()
                );
            }
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
        }
    }

    /// SDK configuration for this emulator, as the environment would give it.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        use aws_sdk_cloudformation::config::Credentials;
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
            .load()
            .await
    }

    /// The operator's binary, with the environment a user would set for this emulator.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(bin());
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", REGION)
            .env_remove("AWS_PROFILE")
            .env("BCO_LOG_FORMAT", "json");
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
/// enough for the operator's endpoints and LiteLLM, without an HTTP client dependency.
/// Returns (status, body); status 0 when nothing parsable came back.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s =
        std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let code = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}
