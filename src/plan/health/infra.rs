//! The judgement of the infrastructure a chat goes through: Open WebUI's targets, the
//! file system, the secrets, the network path.

use super::{Component, HealthStatus};
use crate::observe::health::{LiveFileSystem, LiveNetwork, LiveSecret, LiveTarget, SecretState};

pub(super) fn targets(targets: &[LiveTarget], openwebui_running: u32) -> Component {
    const NAME: &str = "loadBalancer";
    let healthy = targets.iter().filter(|t| t.state == "healthy").count();
    let starting = targets.iter().filter(|t| t.state == "initial").count();
    let leaving = |t: &&LiveTarget| matches!(t.state.as_str(), "draining" | "unused");
    let known = |s: &str| {
        [
            "healthy",
            "initial",
            "unhealthy",
            "unhealthy.draining",
            "draining",
            "unused",
            "unavailable",
        ]
        .contains(&s)
    };
    if let Some(t) = targets.iter().find(|t| !known(&t.state)) {
        return Component::new(
            NAME,
            HealthStatus::Unknown,
            "UnknownTargetState",
            format!(
                "target {} is in state {:?}, which the operator does not know",
                t.id, t.state
            ),
        );
    }
    let bad: Vec<&LiveTarget> = targets
        .iter()
        .filter(|t| {
            matches!(
                t.state.as_str(),
                "unhealthy" | "unhealthy.draining" | "unavailable"
            )
        })
        .collect();
    let describe = |t: &LiveTarget| {
        format!(
            "{}{} {} ({}{})",
            t.id,
            t.port.map(|p| format!(":{p}")).unwrap_or_default(),
            t.state,
            t.reason.as_deref().unwrap_or("no reason given"),
            t.description
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        )
    };
    if let Some(first) = bad.first() {
        let reason = first
            .reason
            .clone()
            .unwrap_or_else(|| "TargetUnhealthy".into());
        let c = Component::degraded(
            NAME,
            &reason,
            format!(
                "{healthy} of {} Open WebUI targets healthy; {}",
                targets.iter().filter(|t| !leaving(t)).count(),
                bad.iter()
                    .map(|t| describe(t))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            target_remedy(&reason),
        );
        return if healthy == 0 { c.blocking() } else { c };
    }
    if healthy == 0 && starting > 0 {
        return Component::new(
            NAME,
            HealthStatus::Progressing,
            "HealthChecksStarting",
            format!("{starting} Open WebUI targets in their first health checks"),
        );
    }
    let registered = healthy + starting;
    if (registered as u32) < openwebui_running {
        let c = Component::degraded(
            NAME,
            "TargetsMissing",
            format!(
                "{registered} of {openwebui_running} running Open WebUI tasks are registered with the target group"
            ),
            "ECS registers a service's tasks itself: a target deregistered by hand returns when its task is replaced; `aws ecs update-service --force-new-deployment` replaces them now".into(),
        );
        return if healthy == 0 { c.blocking() } else { c };
    }
    Component::healthy(
        NAME,
        "TargetsHealthy",
        format!("{healthy} of {healthy} Open WebUI targets healthy"),
    )
}

fn target_remedy(reason: &str) -> String {
    match reason {
        "Target.FailedHealthChecks" | "Target.ResponseCodeMismatch" | "Target.Timeout" => {
            "Open WebUI does not answer its health check: read its log group (stream prefix openwebui) for a crash or a slow start, and check the task has CPU and memory to spare".into()
        }
        "Target.NotRegistered" | "Target.NotInUse" => {
            "the target is not in use: check the service's load balancer settings and the target group's availability zones".into()
        }
        "Target.IpUnusable" | "Target.InvalidState" => {
            "the task's address cannot be used: check the subnets and security groups of the service".into()
        }
        _ => format!("see ELBv2's description of {reason} in the target group's Targets tab"),
    }
}

pub(super) fn file_system(fs: &LiveFileSystem) -> Component {
    const NAME: &str = "efs";
    let Some(state) = &fs.state else {
        return Component::degraded(
            NAME,
            "FileSystemMissing",
            format!("EFS does not know file system {}", fs.id),
            "the stack's file system is gone: Open WebUI's data lives there; restore it from the backup vault (AWS Backup) and update the stack".into(),
        )
        .blocking();
    };
    match state.as_str() {
        "available" => {}
        "creating" | "updating" => {
            return Component::new(
                NAME,
                HealthStatus::Progressing,
                "FileSystemChanging",
                format!("{} is {state}", fs.id),
            );
        }
        "deleting" | "deleted" | "error" => {
            return Component::degraded(
                NAME,
                "FileSystemUnavailable",
                format!("{} is {state}", fs.id),
                "restore Open WebUI's data from the backup vault (AWS Backup) before anything writes a new one".into(),
            )
            .blocking();
        }
        other => {
            return Component::new(
                NAME,
                HealthStatus::Unknown,
                "UnknownFileSystemState",
                format!("{} is in state {other:?}", fs.id),
            );
        }
    }
    let available: Vec<&(String, String, String)> = fs
        .mount_targets
        .iter()
        .filter(|m| m.2 == "available")
        .collect();
    // The template makes one mount target in each of its two availability zones.
    if available.len() >= 2 {
        return Component::healthy(
            NAME,
            "Available",
            format!(
                "{} available, mount targets in {}",
                fs.id,
                available
                    .iter()
                    .map(|m| m.1.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    let others = fs
        .mount_targets
        .iter()
        .filter(|m| m.2 != "available")
        .map(|m| format!("{} in {} is {}", m.0, m.1, m.2))
        .collect::<Vec<_>>();
    let c = Component::degraded(
        NAME,
        "MountTargetsMissing",
        format!(
            "{} has {} available mount target(s), the stack makes 2{}",
            fs.id,
            available.len(),
            if others.is_empty() { String::new() } else { format!("; {}", others.join("; ")) }
        ),
        "tasks in an availability zone without a mount target fail with ResourceInitializationError: run `apply` (the stack recreates it) and check the EFS security group allows NFS (TCP 2049) from the tasks".into(),
    );
    if available.is_empty() {
        c.blocking()
    } else {
        c
    }
}

pub(super) fn secrets(secrets: &[LiveSecret]) -> Component {
    const NAME: &str = "secrets";
    let mut problems = Vec::new();
    let mut unreadable = Vec::new();
    let mut reason = "";
    for s in secrets {
        let used = s.used_by.join(", ");
        let problem = match &s.state {
            SecretState::Present => continue,
            SecretState::ScheduledForDeletion { on } => {
                reason = if reason.is_empty() {
                    "SecretScheduledForDeletion"
                } else {
                    reason
                };
                format!(
                    "{} (used by {used}) is scheduled for deletion on {on}; restore it with `aws secretsmanager restore-secret --secret-id {}`",
                    s.arn, s.arn
                )
            }
            SecretState::Missing => {
                reason = if reason.is_empty() {
                    "SecretMissing"
                } else {
                    reason
                };
                format!(
                    "{} (used by {used}) does not exist; new tasks cannot start until it does",
                    s.arn
                )
            }
            SecretState::Unreadable { message } => {
                unreadable.push(format!(
                    "{} (used by {used}) cannot be described: {message}",
                    s.arn
                ));
                continue;
            }
        };
        problems.push(problem);
    }
    if problems.is_empty() && !unreadable.is_empty() {
        // The operator could not look (its own permissions, a throttle): not the stack's fault.
        return Component::new(
            NAME,
            HealthStatus::Unknown,
            "SecretUnreadable",
            unreadable.join("; "),
        );
    }
    if problems.is_empty() {
        return Component::healthy(
            NAME,
            "SecretsPresent",
            format!(
                "{} secrets referenced by the task definitions exist",
                secrets.len()
            ),
        );
    }
    Component::degraded(
        NAME,
        reason,
        problems.join("; "),
        "a task reads its secrets when it starts: a secret missing or deleted fails every new task with ResourceInitializationError".into(),
    )
    .blocking()
}

pub(super) fn network(net: &LiveNetwork) -> Component {
    const NAME: &str = "network";
    let mut problems = Vec::new();
    for (logical, id, state) in &net.endpoints {
        match state.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("available") => {}
            Some(s) => problems.push(format!("VPC endpoint {logical} ({id}) is {s}")),
            None => problems.push(format!("VPC endpoint {logical} ({id}) does not exist")),
        }
    }
    for (id, state, failure) in &net.nat_gateways {
        match state.as_deref() {
            Some("available") => {}
            Some(s) => problems.push(format!(
                "NAT gateway {id} is {s}{}",
                failure
                    .as_deref()
                    .map(|f| format!(": {f}"))
                    .unwrap_or_default()
            )),
            None => problems.push(format!("NAT gateway {id} does not exist")),
        }
    }
    if problems.is_empty() {
        return Component::healthy(
            NAME,
            "PathsAvailable",
            format!(
                "{} VPC endpoints and {} NAT gateways available",
                net.endpoints.len(),
                net.nat_gateways.len()
            ),
        );
    }
    Component::degraded(
        NAME,
        "PathUnavailable",
        problems.join("; "),
        "tasks reach ECR, Secrets Manager, CloudWatch Logs, S3 and Bedrock through these: run `apply` to have the stack recreate them (an endpoint deleted by hand is drift)".into(),
    )
    .blocking()
}
