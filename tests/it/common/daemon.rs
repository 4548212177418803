//! The operator's daemon (`run`) as a child process of a test: its log lines captured as
//! they come, its listen address read from its `serving /healthz` line, waits for log
//! lines with a deadline, requests to its endpoints, signals, and a stop that says how it
//! exited. Dropping it kills the process.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long `stop` gives the process to exit after SIGTERM.
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

/// Makes `cmd` the daemon on `file` as the tests run it: listening on a free loopback
/// port, and quick to notice an edit, so that a test waits for the operator rather than
/// for its intervals. The caller adds the rest (`--resync`, a lease, …).
pub fn run_args<'a>(cmd: &'a mut Command, file: &Path) -> &'a mut Command {
    cmd.arg("run").arg("--desired-state").arg(file).args([
        "--listen",
        "127.0.0.1:0",
        "--poll-interval",
        "100ms",
        "--debounce",
        "100ms",
    ])
}

/// How a daemon is started and waited on.
#[derive(Clone, Copy)]
pub struct Options {
    /// Capture stdout too, into the same log as stderr; else it is discarded.
    pub stdout: bool,
    /// How long a wait for a log line may take, the listen address's included.
    pub timeout: Duration,
    /// What a timed-out wait shows of the log lines so far.
    pub show: fn(&[String]) -> String,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            stdout: false,
            timeout: Duration::from_secs(60),
            show: |lines| lines.join("\n"),
        }
    }
}

pub struct Daemon {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
    /// Where it serves /healthz, /status, /metrics and /reconcile.
    pub addr: String,
    options: Options,
}

impl Daemon {
    /// Spawns `cmd`, the daemon with its arguments and environment (JSON logs, a
    /// `--listen` address), and waits for the line that says where it listens.
    pub fn start(cmd: &mut Command, options: Options) -> Daemon {
        let stdout = if options.stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        let mut child = cmd
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the daemon");
        let mut pipes: Vec<Box<dyn Read + Send>> = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            pipes.push(Box::new(stdout));
        }
        pipes.push(Box::new(child.stderr.take().expect("daemon stderr")));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let readers = pipes
            .into_iter()
            .map(|pipe| {
                let sink = Arc::clone(&lines);
                std::thread::spawn(move || {
                    for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                        sink.lock().unwrap().push(line);
                    }
                })
            })
            .collect();
        let mut d = Daemon {
            child,
            lines,
            readers,
            addr: String::new(),
            options,
        };
        let line = d.wait_for("listen address", |l| l.contains("serving /healthz"));
        let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
        d.addr = v["addr"].as_str().expect("addr").to_string();
        d
    }

    /// The number of lines so far: an index for `wait_from` and `lines_from` that leaves
    /// out what came before.
    pub fn mark(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    pub fn lines_from(&self, from: usize) -> Vec<String> {
        self.lines.lock().unwrap()[from..].to_vec()
    }

    /// Waits (up to the timeout of its `Options`) for a line matching `pred` among the
    /// lines from index `from`; returns (index, line).
    pub fn wait_from(
        &self,
        from: usize,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> (usize, String) {
        let deadline = Instant::now() + self.options.timeout;
        loop {
            {
                let lines = self.lines.lock().unwrap();
                if let Some((i, l)) = lines.iter().enumerate().skip(from).find(|(_, l)| pred(l)) {
                    return (i, l.clone());
                }
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; log:\n{}",
                (self.options.show)(&self.lines.lock().unwrap())
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Like `wait_from`, among all the lines; returns the line.
    pub fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.wait_from(0, what, pred).1
    }

    pub fn count(&self, pred: impl Fn(&str) -> bool) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| pred(l))
            .count()
    }

    pub fn http(&self, method: &str, path: &str) -> (u16, String) {
        super::http(&self.addr, method, path, &[], "")
    }

    /// `http` with headers and a body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        let r = super::http_bytes(&self.addr, method, path, headers, body);
        (r.status, String::from_utf8_lossy(&r.body).into_owned())
    }

    /// `/status`, parsed.
    pub fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.http("GET", "/status").1).expect("/status JSON")
    }

    /// Sends `sig` (as kill(1) takes it: "-TERM", "-HUP", …).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill {sig}");
    }

    /// SIGKILL, and the process reaped: a crash, with no chance to clean up.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL the daemon");
        self.child.wait().expect("reap the daemon");
    }

    /// Whether the process has not exited.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("daemon status").is_none()
    }

    /// SIGTERM, then the exit code.
    pub fn stop(mut self) -> i32 {
        self.terminate()
    }

    /// SIGTERM, the exit code, and the whole log once the pipes are drained.
    pub fn stop_with_log(mut self) -> (i32, String) {
        let code = self.terminate();
        // The pipes close with the process: the readers have then read every line.
        for reader in self.readers.drain(..) {
            reader.join().expect("log reader");
        }
        let log = self.lines.lock().unwrap().join("\n");
        (code, log)
    }

    fn terminate(&mut self) -> i32 {
        self.signal("-TERM");
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("daemon status") {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not exit within {EXIT_TIMEOUT:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
