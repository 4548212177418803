//! Health facts: what AWS says of the pieces a user's chat goes through — the ECS
//! deployments and their stopped tasks, Open WebUI's targets, the file system, the
//! secrets the task definitions reference, the network path, the models, the alarms.
//! Read-only, and never a secret's value (DescribeSecret, not GetSecretValue). A read
//! that fails is a fact too (`Read::Failed`): health is a report and never fails a pass.
//!
//! Cost: a `Quick` read is free (it reuses the pass's DescribeServices); a `Full` read
//! is ~20 calls, made when something is not steady or on the health interval.

mod ecs;
mod infra;

pub use ecs::{stack_resources, stopped_tasks, task_definition_secrets};
pub use infra::{alarms, file_system, model_availability, network, secrets, targets};

use serde::Serialize;

use super::LiveService;
use crate::aws::Clients;
use crate::context::Context;

/// How much of the health a pass reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum HealthDepth {
    /// Only what the pass read anyway (the services and their deployments).
    Quick,
    /// Every component but the models (whose access changes rarely: read hourly).
    Infra,
    /// Every component.
    Full,
}

/// One component's read: its facts, or why there are none.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "read")]
pub enum Read<T> {
    /// Not read in this pass (a quick pass, or nothing to read).
    #[default]
    NotRead,
    Ok {
        value: T,
    },
    /// AWS refused or failed; `unimplemented` when the endpoint lacks the operation.
    Failed {
        message: String,
        unimplemented: bool,
    },
}

impl<T> Read<T> {
    fn failed(message: &str, unimplemented: bool) -> Self {
        Read::Failed {
            message: message.to_string(),
            unimplemented,
        }
    }

    pub(crate) fn from(result: crate::Result<T>) -> Self {
        match result {
            Ok(value) => Read::Ok { value },
            Err(e) => Read::Failed {
                unimplemented: e.is_unimplemented(),
                message: e.to_string(),
            },
        }
    }
}

/// A resource of the stack, as ListStackResources gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StackResource {
    pub logical_id: String,
    pub resource_type: String,
    pub physical_id: String,
}

/// A task ECS stopped, with the reasons it gives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoppedTask {
    pub task_arn: String,
    pub task_definition: String,
    pub stopped_reason: String,
    /// `TaskFailedToStart`, `EssentialContainerExited`, `ServiceSchedulerInitiated` …
    pub stop_code: String,
    pub stopped_at: Option<String>,
    pub containers: Vec<StoppedContainer>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoppedContainer {
    pub name: String,
    pub reason: Option<String>,
    pub exit_code: Option<i32>,
}

/// One ECS service with the task definition the stack registered for it and, when it
/// is not steady, its latest stopped tasks.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceHealth {
    /// `openwebui` or `litellm`: the component's name.
    pub component: &'static str,
    pub service: Option<LiveService>,
    /// The task definition ARN the stack registered (`None` when not read).
    pub registered: Option<String>,
    pub stopped: Read<Vec<StoppedTask>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveTarget {
    pub id: String,
    pub port: Option<i32>,
    /// `initial`, `healthy`, `unhealthy`, `draining`, `unused`, `unavailable` …
    pub state: String,
    pub reason: Option<String>,
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveFileSystem {
    pub id: String,
    /// `None`: DescribeFileSystems does not know it.
    pub state: Option<String>,
    /// (mount target id, availability zone, state).
    pub mount_targets: Vec<(String, String, String)>,
}

/// A secret a task definition references, and what DescribeSecret says of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveSecret {
    pub arn: String,
    /// `container/VARIABLE` of each reference, e.g. `openwebui/DATABASE_URL`.
    pub used_by: Vec<String>,
    pub state: SecretState,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum SecretState {
    Present,
    /// DescribeSecret's `DeletedDate`: the secret is scheduled for deletion then.
    ScheduledForDeletion {
        on: String,
    },
    Missing,
    Unreadable {
        message: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveNetwork {
    /// (logical id, endpoint id, state; `None` when EC2 does not know it).
    pub endpoints: Vec<(String, String, Option<String>)>,
    /// (NAT gateway id, state, failure message).
    pub nat_gateways: Vec<(String, Option<String>, Option<String>)>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelHealth {
    pub id: String,
    pub region: String,
    pub text: bool,
    /// Lifecycle from ListFoundationModels (`ACTIVE`, `LEGACY`), `None` when not listed.
    pub lifecycle: Read<Option<String>>,
    /// GetFoundationModelAvailability's four answers.
    pub availability: Read<ModelAvailability>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelAvailability {
    pub agreement: String,
    pub authorization: String,
    pub entitlement: String,
    pub region: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveAlarm {
    pub name: String,
    /// `OK`, `ALARM`, `INSUFFICIENT_DATA`.
    pub state: String,
    pub reason: String,
    pub since: Option<String>,
}

/// Everything one pass learned of the stack's health.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthFacts {
    pub depth: HealthDepth,
    pub services: Vec<ServiceHealth>,
    pub targets: Read<Vec<LiveTarget>>,
    pub file_system: Read<LiveFileSystem>,
    pub secrets: Read<Vec<LiveSecret>>,
    pub network: Read<LiveNetwork>,
    pub models: Vec<ModelHealth>,
    pub alarms: Read<Vec<LiveAlarm>>,
}

impl HealthFacts {
    /// The services' facts and nothing else read yet.
    pub fn of_services(depth: HealthDepth, services: Vec<ServiceHealth>) -> Self {
        HealthFacts {
            depth,
            services,
            targets: Read::NotRead,
            file_system: Read::NotRead,
            secrets: Read::NotRead,
            network: Read::NotRead,
            models: Vec::new(),
            alarms: Read::NotRead,
        }
    }
}

/// What the health reads need to know of the stack.
pub struct HealthTarget<'a> {
    pub region: &'a str,
    pub stack_name: &'a str,
    /// `stack id@last change`: the stack's resources are listed again when it moves.
    pub stack_version: &'a str,
    pub cluster: &'a str,
    /// (component, service name, live service) for Open WebUI then LiteLLM.
    pub services: [(&'static str, &'a str, Option<LiveService>); 2],
    pub file_system_id: Option<&'a str>,
    /// (model id, region, is a text model).
    pub models: Vec<(String, String, bool)>,
}

/// Whether a service needs its stopped tasks read: fewer tasks than wanted, a rollout
/// under way or failed, or tasks that failed to start.
fn unsteady(s: &Option<LiveService>) -> bool {
    s.as_ref().is_some_and(|s| {
        s.running < s.desired
            || s.deployments.len() > 1
            || s.deployments
                .iter()
                .any(|d| d.failed_tasks > 0 || d.rollout_state.as_deref() == Some("FAILED"))
    })
}

/// Reads the health of one stack. A quick read makes no call.
pub async fn observe_health(
    ctx: &Context,
    clients: &Clients,
    target: HealthTarget<'_>,
    depth: HealthDepth,
) -> HealthFacts {
    let mut facts = HealthFacts::of_services(
        depth,
        target
            .services
            .iter()
            .map(|(component, _, service)| ServiceHealth {
                component,
                service: service.clone(),
                registered: None,
                stopped: Read::NotRead,
            })
            .collect(),
    );
    // A quick pass lists nothing: it judges the services from the stack's resources as
    // last listed for this same stack version (none after a stack change: the next full
    // read lists them), so that a diagnosis does not flip between quick and full passes.
    let resources = if depth == HealthDepth::Quick {
        remembered_resources(ctx, &target).unwrap_or_default()
    } else {
        match memo_resources(ctx, clients, &target).await {
            Ok(r) => r,
            Err(e) => {
                // Without the stack's resources only the file system and models can be read.
                let (message, unimplemented) = (e.to_string(), e.is_unimplemented());
                facts.targets = Read::failed(&message, unimplemented);
                facts.secrets = Read::failed(&message, unimplemented);
                facts.network = Read::failed(&message, unimplemented);
                facts.alarms = Read::failed(&message, unimplemented);
                Vec::new()
            }
        }
    };
    let of_type = |t: &str| -> Vec<&StackResource> {
        resources.iter().filter(|r| r.resource_type == t).collect()
    };
    let task_definitions = of_type("AWS::ECS::TaskDefinition");
    for (health, (_, name, service)) in facts.services.iter_mut().zip(&target.services) {
        // The task definition the stack registered for this service: the one the
        // service's current task definition shares its family with.
        let family = service
            .as_ref()
            .map(|s| family_of(&s.task_definition).to_string());
        health.registered = task_definitions
            .iter()
            .map(|r| r.physical_id.clone())
            .find(|arn| family.as_deref().is_some_and(|f| family_of(arn) == f));
        // Read in quick passes too: a service that is not steady is an incident, and its
        // stopped tasks are what explains it (two reads, only then).
        if unsteady(service) {
            health.stopped = Read::from(stopped_tasks(clients, target.cluster, name, 10).await);
        }
    }
    if depth == HealthDepth::Quick {
        return facts;
    }
    let group = of_type("AWS::ElasticLoadBalancingV2::TargetGroup")
        .first()
        .map(|r| r.physical_id.clone());
    let endpoints: Vec<(String, String)> = of_type("AWS::EC2::VPCEndpoint")
        .iter()
        .map(|r| (r.logical_id.clone(), r.physical_id.clone()))
        .collect();
    let nats: Vec<String> = of_type("AWS::EC2::NatGateway")
        .iter()
        .map(|r| r.physical_id.clone())
        .collect();
    let alarm_names: Vec<String> = of_type("AWS::CloudWatch::Alarm")
        .iter()
        .map(|r| r.physical_id.clone())
        .collect();
    let definitions: Vec<String> = task_definitions
        .iter()
        .map(|r| r.physical_id.clone())
        .collect();
    let have_resources = !resources.is_empty();
    let key = crate::history::history_key(target.region, target.stack_name);
    let (t, fs, sec, net, alarm, models) = tokio::join!(
        async {
            match (&group, have_resources) {
                (Some(arn), _) => Read::from(targets(clients, arn).await),
                _ => Read::NotRead,
            }
        },
        async {
            match target.file_system_id {
                Some(id) => Read::from(file_system(clients, id).await),
                None => Read::NotRead,
            }
        },
        async {
            if have_resources {
                let mut remembered = ctx.history(&key).task_definition_secrets;
                let read = secrets(clients, &definitions, &mut remembered).await;
                // Only the revisions in use are kept.
                remembered.retain(|arn, _| definitions.contains(arn));
                ctx.update_history(&key, |h| h.task_definition_secrets = remembered);
                Read::from(read)
            } else {
                Read::NotRead
            }
        },
        async {
            if have_resources {
                Read::from(network(clients, &endpoints, &nats).await)
            } else {
                Read::NotRead
            }
        },
        async {
            if have_resources && !alarm_names.is_empty() {
                Read::from(alarms(clients, &alarm_names).await)
            } else {
                Read::NotRead
            }
        },
        async {
            if depth == HealthDepth::Full {
                model_availability(ctx, clients, &target.models).await
            } else {
                Vec::new()
            }
        },
    );
    if have_resources {
        facts.targets = t;
        facts.secrets = sec;
        facts.network = net;
        facts.alarms = alarm;
    }
    facts.file_system = fs;
    facts.models = models;
    facts
}

/// The stack's resources as last listed, if that was for this stack version.
fn remembered_resources(ctx: &Context, target: &HealthTarget<'_>) -> Option<Vec<StackResource>> {
    let key = crate::history::history_key(target.region, target.stack_name);
    let (_, rows) = ctx
        .history(&key)
        .stack_resources
        .filter(|(v, _)| v == target.stack_version)?;
    Some(
        rows.into_iter()
            .map(|[logical_id, resource_type, physical_id]| StackResource {
                logical_id,
                resource_type,
                physical_id,
            })
            .collect(),
    )
}

/// The stack's resources; listed again only when the stack changed (a resource's physical
/// id changes only through a stack operation), else from the context's memory.
async fn memo_resources(
    ctx: &Context,
    clients: &Clients,
    target: &HealthTarget<'_>,
) -> crate::Result<Vec<StackResource>> {
    if let Some(rows) = remembered_resources(ctx, target) {
        return Ok(rows);
    }
    let key = crate::history::history_key(target.region, target.stack_name);
    let listed = stack_resources(clients, target.stack_name).await?;
    let rows = listed
        .iter()
        .map(|r| {
            [
                r.logical_id.clone(),
                r.resource_type.clone(),
                r.physical_id.clone(),
            ]
        })
        .collect();
    let version = target.stack_version.to_string();
    ctx.update_history(&key, |h| h.stack_resources = Some((version, rows)));
    Ok(listed)
}

/// `family` of `arn:aws:ecs:…:task-definition/family:3` (or of `family:3`).
pub(crate) fn family_of(task_definition: &str) -> &str {
    let name = task_definition
        .rsplit_once('/')
        .map_or(task_definition, |(_, n)| n);
    name.rsplit_once(':').map_or(name, |(f, _)| f)
}

/// An AWS timestamp as RFC 3339.
pub(crate) fn rfc3339(t: &aws_smithy_types::DateTime) -> String {
    t.fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}
