//! The stack's resources (which task definitions, target group, endpoints and alarms it
//! made), the secrets its task definitions reference, and a service's latest stopped
//! tasks with the reasons ECS gives.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::DesiredStatus;

use super::rfc3339;
use super::{StackResource, StoppedContainer, StoppedTask};
use crate::Result;
use crate::aws::{self, Clients};

/// Every resource of the stack, across ListStackResources' pages.
pub async fn stack_resources(clients: &Clients, stack: &str) -> Result<Vec<StackResource>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = clients
            .cloudformation
            .list_stack_resources()
            .stack_name(stack)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| aws::error("CloudFormation", "ListStackResources", stack, e))?;
        out.extend(page.stack_resource_summaries().iter().filter_map(|r| {
            Some(StackResource {
                logical_id: r.logical_resource_id()?.to_string(),
                resource_type: r.resource_type()?.to_string(),
                physical_id: r.physical_resource_id()?.to_string(),
            })
        }));
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
}

/// The Secrets Manager ARN of a `valueFrom`: the whole secret's ARN, or the ARN with a
/// `:json-key:version-stage:version-id` suffix (ECS developer guide, "Pass Secrets
/// Manager secrets … as environment variables"); `None` for an SSM parameter.
pub(crate) fn secret_arn(value_from: &str) -> Option<String> {
    let parts: Vec<&str> = value_from.split(':').collect();
    if parts.len() < 7 || parts[2] != "secretsmanager" {
        return None;
    }
    Some(parts[..7].join(":"))
}

/// Secret ARN → every `container/VARIABLE` referencing it, over the task definitions.
/// A revision is immutable: one read per revision, then from `remembered`, which is
/// given back with what was read.
pub async fn task_definition_secrets(
    clients: &Clients,
    task_definitions: &[String],
    remembered: &mut BTreeMap<String, Vec<(String, String)>>,
) -> Result<BTreeMap<String, Vec<String>>> {
    let unread: Vec<&String> = task_definitions
        .iter()
        .filter(|arn| !remembered.contains_key(*arn))
        .collect();
    let read = futures::future::join_all(unread.iter().map(|arn| {
        clients
            .ecs
            .describe_task_definition()
            .task_definition(*arn)
            .send()
    }))
    .await;
    for (arn, out) in unread.into_iter().zip(read) {
        let out = out.map_err(|e| aws::error("ECS", "DescribeTaskDefinition", arn.clone(), e))?;
        let containers = out
            .task_definition()
            .map(|t| t.container_definitions())
            .unwrap_or_default();
        let mut refs = Vec::new();
        for c in containers {
            for s in c.secrets() {
                if let Some(secret) = secret_arn(s.value_from()) {
                    refs.push((
                        secret,
                        format!("{}/{}", c.name().unwrap_or_default(), s.name()),
                    ));
                }
            }
        }
        remembered.insert(arn.clone(), refs);
    }
    let mut by_secret: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for arn in task_definitions {
        for (secret, used_by) in remembered.get(arn).into_iter().flatten() {
            by_secret
                .entry(secret.clone())
                .or_default()
                .push(used_by.clone());
        }
    }
    Ok(by_secret)
}

/// The latest `limit` stopped tasks of a service (ECS keeps them for about an hour).
pub async fn stopped_tasks(
    clients: &Clients,
    cluster: &str,
    service: &str,
    limit: usize,
) -> Result<Vec<StoppedTask>> {
    let listed = clients
        .ecs
        .list_tasks()
        .cluster(cluster)
        .service_name(service)
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .map_err(|e| aws::error("ECS", "ListTasks", service, e))?;
    let arns: Vec<String> = listed.task_arns().to_vec();
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let described = clients
        .ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns))
        .send()
        .await
        .map_err(|e| aws::error("ECS", "DescribeTasks", service, e))?;
    let mut tasks: Vec<(i64, StoppedTask)> = described
        .tasks()
        .iter()
        .map(|t| {
            let at = t.stopped_at().map(|d| d.secs()).unwrap_or(0);
            let task = StoppedTask {
                task_arn: t.task_arn().unwrap_or_default().to_string(),
                task_definition: t.task_definition_arn().unwrap_or_default().to_string(),
                stopped_reason: t.stopped_reason().unwrap_or_default().to_string(),
                stop_code: t
                    .stop_code()
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default(),
                stopped_at: t.stopped_at().map(rfc3339),
                containers: t
                    .containers()
                    .iter()
                    .map(|c| StoppedContainer {
                        name: c.name().unwrap_or_default().to_string(),
                        reason: c.reason().map(str::to_string),
                        exit_code: c.exit_code(),
                    })
                    .collect(),
            };
            (at, task)
        })
        .collect();
    // Newest first: the latest failure is the one that explains the present.
    tasks.sort_by_key(|t| std::cmp::Reverse(t.0));
    Ok(tasks.into_iter().take(limit).map(|(_, t)| t).collect())
}
