//! `run`: wires the daemon's parts — desired-state source, workers, HTTP server, lease,
//! signals — and shuts them down in order. Wiring lives with the command line, so that
//! the controller knows nothing of flags, HTTP or the lease.

use std::process::ExitCode;
use std::sync::Arc;

use tokio::sync::watch;

use super::RunArgs;
use crate::context::Context;
use crate::controller::Shared;
use crate::controller::daemon::{self, DaemonOptions};
use crate::controller::source::{self, GitSource};
use crate::{Error, Result, http, lease};

pub async fn run(args: RunArgs, rules: crate::desired::Rules) -> Result<ExitCode> {
    // Where a Git checkout lives, checked before anything starts: a clone into a
    // directory this user cannot write would otherwise fail quietly, every interval.
    let workdir = args.git_workdir.clone().unwrap_or_else(|| {
        std::env::var_os("HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
            .join("bedrock-chat-operator-git")
    });
    if args.git_url.is_some() {
        source::check_workdir(&workdir)?;
    }
    // Credentials are read before anything starts, so that a missing file stops the
    // daemon at once rather than leaving an endpoint in an unexpected state.
    let access = http::Access {
        reconcile: http::Reconcile::new(
            args.listen,
            http::Secret::load(
                "--api-token-file",
                args.api_token_file.as_deref(),
                "BCO_API_TOKEN",
            )?,
        ),
        webhook: http::Secret::load(
            "--webhook-secret-file",
            args.webhook_secret_file.as_deref(),
            "BCO_WEBHOOK_SECRET",
        )?,
    };
    if matches!(access.reconcile, http::Reconcile::Refused) {
        tracing::warn!(listen = %args.listen, "POST /reconcile answers 403: listening beyond loopback without a token (set --api-token-file or BCO_API_TOKEN)");
    }
    let ctx = Arc::new(Context::from_env(args.aws.settings()).await);
    let shared = Arc::new(Shared::new(Arc::clone(&ctx)));
    let (shutdown_tx, shutdown) = watch::channel(false);
    let (desired_tx, desired_rx) = watch::channel(None);

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| Error::Io {
            what: format!("cannot listen on {}", args.listen),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Io {
        what: "listen address".into(),
        source,
    })?;
    tracing::info!(
        %addr,
        webhook = access.webhook.is_some(),
        "serving /healthz /readyz /metrics /status and POST /reconcile, /hooks/git"
    );
    let mut stop_http = shutdown.clone();
    let app = http::router(Arc::clone(&shared), access)
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stop_http.wait_for(|s| *s).await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "the HTTP server stopped");
        }
    });

    shared
        .status
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .desired
        .source = match &args.git_url {
        Some(url) => format!("{url}@{}:{}", args.git_ref, args.desired_state.display()),
        None => args.desired_state.display().to_string(),
    };
    let source = match &args.git_url {
        Some(url) => {
            let src = GitSource {
                rules: rules.clone(),
                url: url.clone(),
                git_ref: args.git_ref.clone(),
                subpath: args.desired_state.clone(),
                workdir: workdir.clone(),
                interval: args.git_interval,
            };
            let fetch_now = shared.git_poller();
            tokio::spawn(source::poll_git(
                src,
                fetch_now,
                desired_tx,
                shutdown.clone(),
            ))
        }
        None => {
            let path = args.desired_state.clone();
            let debounce = args.debounce;
            let stop = shutdown.clone();
            tokio::spawn(async move {
                if let Err(e) = source::watch_path(path, rules, debounce, desired_tx, stop).await {
                    tracing::error!(error = %e, "cannot watch the desired state; edits are not seen until restart");
                }
            })
        }
    };

    let lease_task = match &args.lease_table {
        Some(table) => {
            let region = ctx.default_region().ok_or_else(|| {
                Error::Usage("--lease-table needs a region: set AWS_REGION".into())
            })?;
            shared.set_leader(false);
            let db = ctx.clients(&region, &ctx.calls).dynamodb;
            let opts = lease::LeaseOptions {
                table: table.clone(),
                ttl: args.lease_ttl,
                holder: lease::holder_id(),
            };
            // The lease only says whether this process holds it; the daemon's state
            // follows.
            let (leader_tx, mut leader_rx) = watch::channel(false);
            let s = Arc::clone(&shared);
            tokio::spawn(async move {
                while leader_rx.changed().await.is_ok() {
                    let leader = *leader_rx.borrow_and_update();
                    s.set_leader(leader);
                }
            });
            let stop = shutdown.clone();
            Some(tokio::spawn(async move {
                if let Err(e) = lease::run(db, opts, leader_tx, stop).await {
                    tracing::error!(error = %e, "the lease cannot be taken; this operator only observes");
                }
            }))
        }
        None => {
            shared.set_leader(true);
            None
        }
    };

    tokio::spawn(signals(shutdown_tx));
    let opts = DaemonOptions {
        resync: args.resync,
        max_concurrent: args.max_concurrent,
        drift_interval: args.drift_interval,
        health_interval: args.health_interval,
        shutdown_timeout: args.shutdown_timeout,
    };
    daemon::run(Arc::clone(&shared), opts, desired_rx, shutdown).await;
    if let Some(task) = lease_task {
        let _ = tokio::time::timeout(args.shutdown_timeout, task).await;
    }
    source.abort();
    let _ = server.await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// First SIGTERM or SIGINT: stop taking work and shut down gracefully. Second: exit now.
async fn signals(shutdown: watch::Sender<bool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!(signal = "SIGTERM", "shutting down; a second signal stops at once"),
        _ = int.recv() => tracing::info!(signal = "SIGINT", "shutting down; a second signal stops at once"),
    }
    let _ = shutdown.send(true);
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::warn!("second signal: stopping at once");
    std::process::exit(130);
}
