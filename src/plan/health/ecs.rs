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
    let latest_stop = match &s.stopped {
        Read::Ok { value } => value
            .iter()
            .find(|t| t.stop_code != "ServiceSchedulerInitiated" && t.stop_code != "UserInitiated"),
        _ => None,
    };
    // The circuit breaker rolled back: the service runs a task definition older than the
    // one the stack registered (the change did not take), whatever CloudFormation says.
    if let (Some(registered), Some(p)) = (&s.registered, primary)
        && !p.task_definition.is_empty()
        && &p.task_definition != registered
        && family_of(&p.task_definition) == family_of(registered)
        && svc
            .deployments
            .iter()
            .all(|d| &d.task_definition != registered)
    {
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

/// `family:revision` of a task definition ARN.
fn short(task_definition: &str) -> &str {
    task_definition
        .rsplit_once('/')
        .map_or(task_definition, |(_, n)| n)
}
