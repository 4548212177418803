//! An ECS service's health: its primary deployment against the task definition the stack
//! registered (a circuit-breaker rollback leaves the old one primary), its counts, and
//! its latest stopped tasks classified by the reasons ECS gives (ECS developer guide,
//! "Amazon ECS stopped task error codes").

use super::{Component, HealthStatus};
use crate::observe::health::{Read, ServiceHealth, StoppedTask, family_of};

/// A stopped task's cause: (reason, message, remedy).
pub fn classify_stopped(task: &StoppedTask, pull_through: bool) -> (&'static str, String, String) {
    let reasons: Vec<&str> = std::iter::once(task.stopped_reason.as_str())
        .chain(task.containers.iter().filter_map(|c| c.reason.as_deref()))
        .collect();
    let all = reasons.join(" | ");
    let has = |needle: &str| reasons.iter().any(|r| r.contains(needle));
    if has("CannotPullContainerError") {
        let path = if pull_through {
            "the image comes through ECR's pull-through cache: check the cache rule, its ecr-pullthroughcache/ secret and the ecr.api/ecr.dkr/s3 VPC endpoints"
        } else {
            "the image comes from the internet through the NAT gateway: check the NAT gateway, the route tables and that the image and tag exist"
        };
        return ("ImagePullFailed", all, path.to_string());
    }
    if has("ResourceInitializationError") {
        let lower = all.to_ascii_lowercase();
        if lower.contains("secret") || lower.contains("registry auth") {
            return (
                "SecretUnreadable",
                all,
                "the task could not read a secret at start: check the secret exists, the task execution role may read it, and the secretsmanager VPC endpoint (or NAT) is reachable".into(),
            );
        }
        if lower.contains("efs") || lower.contains("mount") || lower.contains("nfs") {
            return (
                "EfsMountFailed",
                all,
                "the task could not mount EFS: check a mount target exists in the task's availability zone and the EFS security group allows NFS (TCP 2049) from the tasks".into(),
            );
        }
        return (
            "ResourceInitializationFailed",
            all,
            "the task's resources could not be set up (secrets, EFS, logs): the message says which"
                .into(),
        );
    }
    if has("health check") {
        return (
            "HealthCheckFailed",
            all,
            "the task started but failed its health checks: read its log for a slow start or a crash, and check the health check path and grace period".into(),
        );
    }
    if has("OutOfMemory") {
        return (
            "OutOfMemory",
            all,
            "the container ran out of memory: raise DeploymentSize (task memory)".into(),
        );
    }
    if has("Essential container in task exited") || task.stop_code == "EssentialContainerExited" {
        let exited = task
            .containers
            .iter()
            .find(|c| c.exit_code.is_some_and(|code| code != 0));
        let message = match exited {
            Some(c) => format!(
                "{all}; container {} exited with code {}",
                c.name,
                c.exit_code.unwrap_or_default()
            ),
            None => all,
        };
        return (
            "ContainerExited",
            message,
            "the process stopped on its own: read the container's log in the stack's log group (output LogGroupName) for the error".into(),
        );
    }
    (
        "TaskStopped",
        if all.trim_matches([' ', '|']).is_empty() {
            "ECS gave no reason".into()
        } else {
            all
        },
        "see the stopped task in the ECS console (Tasks, Stopped) for details".into(),
    )
}

/// The judged component of one service.
pub(super) fn service(s: &ServiceHealth, pull_through: bool) -> Component {
    let name = s.component;
    let what = if name == "openwebui" {
        "Open WebUI"
    } else {
        "LiteLLM"
    };
    let Some(svc) = &s.service else {
        return Component::degraded(
            name,
            "ServiceMissing",
            format!("{what}'s ECS service does not exist"),
            "run `apply`: the stack creates it".into(),
        )
        .blocking();
    };
    if svc.status != "ACTIVE" {
        return Component::degraded(
            name,
            "ServiceNotActive",
            format!("{what}'s service is {}", svc.status),
            "run `apply`: the stack recreates it".into(),
        )
        .blocking();
    }
    let counts = format!("{}/{} tasks running", svc.running, svc.desired);
    let primary = svc.deployments.iter().find(|d| d.status == "PRIMARY");
    // The newest stop of the revision in question (the primary's, or the registered one
    // a rollback left behind) that says something: scheduler and user stops are routine
    // (scale-in, replacement), unless the scheduler stopped a task for failed health
    // checks. An older revision's crash, up to an hour old, explains nothing now.
    let relevant = |t: &&StoppedTask| {
        let revision = primary.is_some_and(|p| p.task_definition == t.task_definition)
            || s.registered.as_deref() == Some(t.task_definition.as_str());
        let routine = matches!(
            t.stop_code.as_str(),
            "ServiceSchedulerInitiated" | "UserInitiated"
        ) && !t.stopped_reason.contains("health check");
        revision && !routine
    };
    let latest_stop = match &s.stopped {
        Read::Ok { value } => value.iter().find(relevant),
        _ => None,
    };
    // The service runs a task definition of its family other than the one the stack
    // registered, and no deployment of the registered one is left.
    if let (Some(registered), Some(p)) = (&s.registered, primary)
        && !p.task_definition.is_empty()
        && &p.task_definition != registered
        && family_of(&p.task_definition) == family_of(registered)
        && svc
            .deployments
            .iter()
            .all(|d| &d.task_definition != registered)
    {
        if revision(&p.task_definition) >= revision(registered) {
            // Newer than the stack's: deployed outside CloudFormation (a person, a pipeline).
            return Component::degraded(
                name,
                "TaskDefinitionDiffers",
                format!(
                    "{what} runs {}, not {} that the stack registered: it was deployed outside the stack",
                    short(&p.task_definition),
                    short(registered)
                ),
                "run `apply` to put the stack's task definition back, or make the change in the desired state".into(),
            );
        }
        // Older: the circuit breaker rolled back (the change did not take), whatever
        // CloudFormation says.
        let why = latest_stop
            .map(|t| {
                format!(
                    "; the new tasks stopped: {}",
                    classify_stopped(t, pull_through).1
                )
            })
            .unwrap_or_default();
        let c = Component::degraded(
            name,
            "RolledBack",
            format!(
                "{what} runs {} but the stack registered {}: the deployment was rolled back ({}){why}",
                short(&p.task_definition),
                short(registered),
                p.rollout_state_reason.as_deref().unwrap_or("no reason given")
            ),
            "fix what stopped the new tasks, then run `apply` again (the stack is not changed by the rollback)".into(),
        );
        return if svc.running == 0 { c.blocking() } else { c };
    }
    // A failed deployment (the primary, or the one a rollback is replacing).
    if let Some(p) = svc
        .deployments
        .iter()
        .find(|d| d.rollout_state.as_deref() == Some("FAILED"))
    {
        let c = Component::degraded(
            name,
            "RolloutFailed",
            format!(
                "{what}'s deployment failed: {} ({counts})",
                p.rollout_state_reason
                    .as_deref()
                    .unwrap_or("no reason given")
            ),
            latest_stop
                .map(|t| classify_stopped(t, pull_through).2)
                .unwrap_or_else(|| "see the service's events in the ECS console".into()),
        );
        return if svc.running == 0 { c.blocking() } else { c };
    }
    if svc.running < svc.desired {
        if let Some(t) = latest_stop {
            let (reason, message, remedy) = classify_stopped(t, pull_through);
            let c = Component::degraded(
                name,
                reason,
                format!("{counts}; latest stopped task: {message}"),
                remedy,
            );
            return if svc.running == 0 { c.blocking() } else { c };
        }
        return Component::new(name, HealthStatus::Progressing, "TasksStarting", counts);
    }
    if svc.deployments.len() > 1
        || primary.is_some_and(|p| p.rollout_state.as_deref() == Some("IN_PROGRESS"))
    {
        return Component::new(
            name,
            HealthStatus::Progressing,
            "RollingOut",
            format!("{what}'s deployment is rolling out ({counts})"),
        );
    }
    if svc.desired == 0 {
        return Component::healthy(name, "ScaledToZero", format!("{what} has no tasks wanted"));
    }
    Component::healthy(
        name,
        "Running",
        format!("{counts} of {}", short(&svc.task_definition)),
    )
}

/// The revision number of a task definition ARN (0 when it has none).
fn revision(task_definition: &str) -> u64 {
    task_definition
        .rsplit_once(':')
        .and_then(|(_, r)| r.parse().ok())
        .unwrap_or(0)
}

/// `family:revision` of a task definition ARN.
fn short(task_definition: &str) -> &str {
    task_definition
        .rsplit_once('/')
        .map_or(task_definition, |(_, n)| n)
}
