//! Where the desired state comes from: a path watched for changes (debounced), or a Git
//! repository polled with the `git` binary (shipped in the operator image).

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};

use super::daemon::{Loaded, load};
use crate::desired::Rules;

pub type DesiredTx = watch::Sender<Option<(Loaded, Option<String>)>>;

/// Loads `path` now, then again whenever something under it changes.
pub async fn watch_path(
    path: PathBuf,
    rules: Rules,
    debounce: Duration,
    tx: DesiredTx,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), String> {
    let _ = tx.send(Some((load(&path, &rules), None)));
    // Watch the directory: editors save by writing a new file and renaming it.
    let dir = if path.is_dir() {
        path.clone()
    } else {
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    };
    // Only events on the desired-state files count: the directory may be busy with
    // others (logs, editors' swap files), which must neither trigger nor delay a load.
    let file_name = (!path.is_dir())
        .then(|| path.file_name().map(|n| n.to_os_string()))
        .flatten();
    let relevant = move |p: &Path| match &file_name {
        Some(name) => p.file_name() == Some(name.as_os_str()),
        None => p.extension().is_some_and(|x| x == "yaml" || x == "yml"),
    };
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if res.is_ok_and(|e| e.paths.iter().any(|p| relevant(p))) {
            let _ = events_tx.send(());
        }
    })
    .map_err(|e| format!("watching {}: {e}", dir.display()))?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|e| format!("watching {}: {e}", dir.display()))?;
    loop {
        tokio::select! {
            got = events.recv() => {
                if got.is_none() { return Ok(()); }
                // A save is often several events; load once they stop (or after ten quiet
                // periods at most, so that a file rewritten constantly is still read).
                for _ in 0..10 {
                    if !tokio::time::timeout(debounce, events.recv()).await.is_ok_and(|e| e.is_some()) {
                        break;
                    }
                }
                tracing::debug!(path = %path.display(), "desired state changed on disk");
                let _ = tx.send(Some((load(&path, &rules), None)));
            }
            _ = shutdown.changed() => return Ok(()),
        }
    }
}

/// Checks, before anything starts, that the Git checkout can be written where it is to
/// live: a directory the process cannot write (a Fargate bind mount is root-owned, 0755,
/// unless the image declares it) would otherwise fail every clone, quietly, forever.
pub fn check_workdir(workdir: &Path) -> Result<(), String> {
    let fix = "the image declares /work for it (owned by uid 65532, the operator's user); elsewhere pass --git-workdir DIR or set HOME to a directory this user can write";
    let probe = |dir: &Path| -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let file = dir.join(".bedrock-chat-operator-write-check");
        std::fs::write(&file, b"")?;
        std::fs::remove_file(&file)
    };
    probe(workdir).map_err(|e| {
        // /proc/self belongs to the process's effective user: the uid makes it precise.
        let uid = std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m).to_string())
            .unwrap_or_else(|_| "?".into());
        format!(
            "cannot write the Git checkout directory {} as uid {uid}: {e}; {fix}",
            workdir.display()
        )
    })
}

/// A Git source: `url` at `git_ref`, the desired state at `subpath` inside it.
#[derive(Clone, Debug)]
pub struct GitSource {
    pub rules: Rules,
    pub url: String,
    pub git_ref: String,
    pub subpath: PathBuf,
    pub workdir: PathBuf,
    pub interval: Duration,
}

async fn git(args: &[&str], cwd: Option<&Path>) -> Result<String, String> {
    let mut cmd = tokio::process::Command::new("git");
    cmd.args(args).env("GIT_TERMINAL_PROMPT", "0");
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = cmd
        .output()
        .await
        .map_err(|e| format!("running git: {e} (is git installed?)"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "git {}: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Brings the checkout to the newest commit of the ref; returns that commit.
async fn sync(src: &GitSource) -> Result<String, String> {
    let dir = src.workdir.to_string_lossy().to_string();
    if !src.workdir.join(".git").exists() {
        if let Some(parent) = src.workdir.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        git(
            &[
                "clone",
                "--quiet",
                "--no-tags",
                "--depth",
                "1",
                "--branch",
                &src.git_ref,
                &src.url,
                &dir,
            ],
            None,
        )
        .await?;
    } else {
        git(
            &[
                "fetch",
                "--quiet",
                "--no-tags",
                "--depth",
                "1",
                "origin",
                &src.git_ref,
            ],
            Some(&src.workdir),
        )
        .await?;
        git(
            &["reset", "--quiet", "--hard", "FETCH_HEAD"],
            Some(&src.workdir),
        )
        .await?;
    }
    git(&["rev-parse", "HEAD"], Some(&src.workdir)).await
}

/// Polls the repository; a new commit is loaded and delivered with its id. A fetch
/// that fails keeps the last version in force and is logged once per distinct error.
pub async fn poll_git(src: GitSource, tx: DesiredTx, mut shutdown: watch::Receiver<bool>) {
    let mut current: Option<String> = None;
    let mut last_error: Option<String> = None;
    loop {
        match sync(&src).await {
            Ok(rev) => {
                last_error = None;
                if current.as_deref() != Some(rev.as_str()) {
                    tracing::info!(revision = %rev, url = %src.url, git_ref = %src.git_ref, "desired state: new commit");
                    let loaded = load(&src.workdir.join(&src.subpath), &src.rules);
                    let _ = tx.send(Some((loaded, Some(rev.clone()))));
                    current = Some(rev);
                }
            }
            Err(e) => {
                if last_error.as_ref() != Some(&e) {
                    tracing::warn!(error = %e, "cannot update the Git source; the last version stays in force");
                    last_error = Some(e);
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(src.interval) => {}
            _ = shutdown.changed() => return,
        }
    }
}
