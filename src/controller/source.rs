//! Where the desired state comes from: a path watched for changes (debounced), or a Git
//! repository polled with the `git` binary (shipped in the operator image).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::{Notify, mpsc, watch};

use super::daemon::{Loaded, load};
use crate::desired::Rules;

pub(crate) type DesiredTx = watch::Sender<Option<(Loaded, Option<String>)>>;

/// Why a desired-state source cannot deliver.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("watching {dir}: {source}")]
    Watch {
        dir: PathBuf,
        #[source]
        source: notify::Error,
    },
    #[error("cannot write the Git checkout directory {dir} as uid {uid}: {source}; {fix}")]
    Workdir {
        dir: PathBuf,
        uid: String,
        fix: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("running git: {0} (is git installed?)")]
    GitMissing(#[source] std::io::Error),
    #[error("git {command}: {stderr}")]
    Git { command: String, stderr: String },
    #[error("{dir}: {source}")]
    Io {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Loads `path` now, then again whenever something under it changes.
pub(crate) async fn watch_path(
    path: PathBuf,
    rules: Rules,
    debounce: Duration,
    tx: DesiredTx,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), SourceError> {
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
    .map_err(|source| SourceError::Watch {
        dir: dir.clone(),
        source,
    })?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|source| SourceError::Watch {
            dir: dir.clone(),
            source,
        })?;
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
pub(crate) fn check_workdir(workdir: &Path) -> Result<(), SourceError> {
    let fix = "the image declares /work for it (owned by uid 65532, the operator's user); elsewhere pass --git-workdir DIR or set HOME to a directory this user can write";
    let probe = |dir: &Path| -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let file = dir.join(".bedrock-chat-operator-write-check");
        std::fs::write(&file, b"")?;
        std::fs::remove_file(&file)
    };
    probe(workdir).map_err(|source| {
        // /proc/self belongs to the process's effective user: the uid makes it precise.
        let uid = std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m).to_string())
            .unwrap_or_else(|_| "?".into());
        SourceError::Workdir {
            dir: workdir.to_path_buf(),
            uid,
            fix,
            source,
        }
    })
}

/// A Git source: `url` at `git_ref`, the desired state at `subpath` inside it.
#[derive(Clone, Debug)]
pub(crate) struct GitSource {
    pub rules: Rules,
    pub url: String,
    pub git_ref: String,
    pub subpath: PathBuf,
    pub workdir: PathBuf,
    pub interval: Duration,
}

async fn git(args: &[&str], cwd: Option<&Path>) -> Result<String, SourceError> {
    let mut cmd = tokio::process::Command::new("git");
    cmd.args(args).env("GIT_TERMINAL_PROMPT", "0");
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = cmd.output().await.map_err(SourceError::GitMissing)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(SourceError::Git {
            command: args.first().unwrap_or(&"").to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Brings the checkout to the newest commit of the ref; returns that commit.
async fn sync(src: &GitSource) -> Result<String, SourceError> {
    let dir = src.workdir.to_string_lossy().to_string();
    if !src.workdir.join(".git").exists() {
        if let Some(parent) = src.workdir.parent() {
            std::fs::create_dir_all(parent).map_err(|source| SourceError::Io {
                dir: parent.to_path_buf(),
                source,
            })?;
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

/// Polls the repository every interval, or at once when `fetch_now` is notified (a push
/// webhook); a new commit is loaded and delivered with its id. A fetch that fails keeps
/// the last version in force and is logged once per distinct error.
pub(crate) async fn poll_git(
    src: GitSource,
    fetch_now: Arc<Notify>,
    tx: DesiredTx,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut current: Option<String> = None;
    // Compared as text: the same failure is said once, a different one again.
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
                let said = e.to_string();
                if last_error.as_ref() != Some(&said) {
                    tracing::warn!(error = %said, "cannot update the Git source; the last version stays in force");
                    last_error = Some(said);
                }
            }
        }
        // A push announced during the fetch left a permit: the commit it names may be
        // newer than the one just fetched, so the next fetch starts at once.
        tokio::select! {
            _ = tokio::time::sleep(src.interval) => {}
            _ = fetch_now.notified() => tracing::debug!("fetching now: a push was announced"),
            _ = shutdown.changed() => return,
        }
    }
}
