//! The operator as its image runs it: uid 65532, a read-only root filesystem, HOME on a
//! Fargate bind mount. Fargate creates that mount root-owned, 0755, unless the image
//! declares the path (ECS Developer Guide, "Use bind mounts"), and then a Git clone
//! fails and no desired state ever loads. As the image's user (CI runs as root, so
//! `setpriv` can switch): an unwritable work directory fails at start-up with one line
//! naming the path, and the directory the Dockerfile declares takes the clone.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::{Daemon, Options, bin, repo_root, skip_emulator_tests};

/// What the Dockerfile says of the runtime user and its writable directory.
struct Layout {
    uid: u32,
    gid: u32,
    mode: u32,
    dir: String,
}

fn dockerfile_layout() -> Layout {
    let text = std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap();
    let re = regex::Regex::new(r"install -d -o (\d+) -g (\d+) -m (\d+) (/\S+)").unwrap();
    let c = re
        .captures(&text)
        .expect("the Dockerfile creates the operator's directory with `install -d -o UID -g GID -m MODE DIR`");
    let layout = Layout {
        uid: c[1].parse().unwrap(),
        gid: c[2].parse().unwrap(),
        mode: u32::from_str_radix(&c[3], 8).unwrap(),
        dir: c[4].to_string(),
    };
    // The same user runs the process, the directory is HOME and a declared VOLUME, and
    // the task definition agrees (user, HOME, mount path).
    let user = format!("USER {}:{}", layout.uid, layout.gid);
    assert!(text.contains(&user), "Dockerfile: {user} missing");
    assert!(
        text.contains(&format!("ENV HOME={}", layout.dir)),
        "Dockerfile: HOME"
    );
    assert!(
        text.contains(&format!("VOLUME [\"{}\"]", layout.dir)),
        "Dockerfile: VOLUME"
    );
    let task = std::fs::read_to_string(repo_root().join("charts/operator.yaml")).unwrap();
    for needle in [
        format!("User: \"{}:{}\"", layout.uid, layout.gid),
        format!("ContainerPath: {}", layout.dir),
        format!("Value: {}", layout.dir),
    ] {
        assert!(
            task.contains(&needle),
            "charts/operator.yaml: {needle} missing"
        );
    }
    layout
}

fn chown_r(path: &Path, uid: u32, gid: u32) {
    let ok = Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{gid}"))
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "chown {}", path.display());
}

/// A Git repository holding the minimal example, owned by the image's user (git refuses
/// to read a repository another user owns).
fn desired_repo(root: &Path, l: &Layout) -> String {
    let repo = root.join("desired.git");
    std::fs::create_dir_all(repo.join("desired-state")).unwrap();
    std::fs::copy(
        repo_root().join("desired-state/minimal.yaml"),
        repo.join("desired-state/minimal.yaml"),
    )
    .unwrap();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&repo)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "--quiet", "--initial-branch", "main"]);
    git(&["add", "."]);
    git(&["commit", "--quiet", "-m", "desired state"]);
    chown_r(&repo, l.uid, l.gid);
    format!("file://{}", repo.display())
}

/// The daemon as the image's user, with `home` as HOME, following `url`.
fn as_image_user(l: &Layout, home: &Path, url: &str) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid",
        &l.uid.to_string(),
        "--regid",
        &l.gid.to_string(),
        "--clear-groups",
        "--",
    ])
    .arg(bin())
    .args(["run", "--git-url", url, "--git-ref", "main"])
    .args([
        "--desired-state",
        "desired-state/minimal.yaml",
        "--listen",
        "127.0.0.1:0",
    ])
    .env_clear()
    .env("PATH", std::env::var("PATH").unwrap_or_default())
    .env("HOME", home)
    // No AWS here: the passes fail, which is not what this test is about.
    .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    .env("AWS_ACCESS_KEY_ID", "unused")
    .env("AWS_SECRET_ACCESS_KEY", "unused")
    .env("AWS_REGION", "us-west-2")
    .env("BCO_LOG_FORMAT", "json");
    cmd
}

/// Runs `cmd` to its end; a process still running after `limit` (a daemon that did not
/// stop at start-up) is killed and fails the test.
fn output_within(cmd: &mut Command, limit: Duration) -> std::process::Output {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("still running after {limit:?}: it should have stopped at start-up");
        }
    }
}

#[test]
fn as_the_images_user_an_unwritable_home_fails_at_start_and_the_dockerfile_layout_clones() {
    if skip_emulator_tests() {
        return;
    }
    let me = std::fs::metadata("/proc/self").unwrap().uid();
    assert_eq!(
        me, 0,
        "this test switches to the image's uid with setpriv, which needs root (CI runs as \
         root); set BCO_SKIP_EMULATOR_TESTS=1 to skip it explicitly"
    );
    let l = dockerfile_layout();
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let url = desired_repo(root.path(), &l);

    // A Fargate bind mount that the image did not declare: root-owned, 0755.
    let mount = root.path().join("mount");
    std::fs::create_dir(&mount).unwrap();
    std::fs::set_permissions(&mount, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = output_within(
        &mut as_image_user(&l, &mount, &url),
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line, got:\n{stderr}");
    let checkout = mount.join("bedrock-chat-operator-git");
    assert!(
        lines[0].starts_with(&format!(
            "error: cannot write the Git checkout directory {} as uid {}: Permission denied",
            checkout.display(),
            l.uid
        )),
        "{stderr}"
    );

    // The directory as the Dockerfile makes it: the clone works, the state loads.
    let work = root.path().join(l.dir.trim_start_matches('/'));
    std::fs::create_dir_all(&work).unwrap();
    std::fs::set_permissions(&work, std::fs::Permissions::from_mode(l.mode)).unwrap();
    chown_r(&work, l.uid, l.gid);
    let d = Daemon::start(
        &mut as_image_user(&l, &work, &url),
        Options {
            timeout: Duration::from_secs(60),
            ..Options::default()
        },
    );
    d.wait_for("the clone", |line| {
        line.contains("desired state: new commit")
    });
    assert!(work.join("bedrock-chat-operator-git/.git").is_dir());
    assert_eq!(d.stop(), 0);
}
