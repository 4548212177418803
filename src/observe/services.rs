//! ECS services and Open WebUI's Application Auto Scaling target: one DescribeServices
//! for both services, one DescribeScalableTargets, and the scaling policies only when
//! autoscaling is wanted.

use std::collections::BTreeMap;

use aws_sdk_applicationautoscaling::types::{PolicyType, ScalableDimension, ServiceNamespace};
use aws_sdk_ecs::types::ServiceField;
use serde::Serialize;

use crate::Result;
use crate::aws::{self, Clients};
use crate::names::CPU_POLICY_NAME;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveService {
    pub name: String,
    pub arn: String,
    /// `ACTIVE`, `DRAINING` or `INACTIVE`.
    pub status: String,
    pub desired: u32,
    pub running: u32,
    pub tags: BTreeMap<String, String>,
    /// The task definition the service is set to run (its primary deployment's).
    pub task_definition: String,
    /// Its deployments, primary first (the health reads judge the rollout from them).
    pub deployments: Vec<LiveDeployment>,
}

/// One ECS deployment of a service, as DescribeServices gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveDeployment {
    /// `PRIMARY` (the newest) or `ACTIVE` (an older one still running or draining).
    pub status: String,
    pub task_definition: String,
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED` (the circuit breaker's verdict).
    pub rollout_state: Option<String>,
    pub rollout_state_reason: Option<String>,
    pub desired: u32,
    pub running: u32,
    pub failed_tasks: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveScaling {
    /// Min and max of the registered scalable target, if there is one.
    pub target: Option<(u32, u32)>,
    /// Target value of the operator's CPU target-tracking policy, if there is one.
    pub cpu_policy: Option<f64>,
}

/// `service/<cluster>/<service>`, the id Application Auto Scaling uses for ECS.
pub fn scaling_resource_id(cluster: &str, service: &str) -> String {
    format!("service/{cluster}/{service}")
}

/// Both services in one call; a service ECS does not know is `None`.
pub async fn describe_services(
    clients: &Clients,
    cluster: &str,
    names: [&str; 2],
) -> Result<[Option<LiveService>; 2]> {
    let out = clients
        .ecs
        .describe_services()
        .cluster(cluster)
        .services(names[0])
        .services(names[1])
        .include(ServiceField::Tags)
        .send()
        .await
        .map_err(|e| aws::error("ECS", "DescribeServices", cluster, e))?;
    let find = |name: &str| {
        out.services()
            .iter()
            .find(|s| s.service_name() == Some(name))
            .map(|s| LiveService {
                name: name.to_string(),
                arn: s.service_arn().unwrap_or_default().to_string(),
                status: s.status().unwrap_or_default().to_string(),
                desired: u32::try_from(s.desired_count()).unwrap_or(0),
                running: u32::try_from(s.running_count()).unwrap_or(0),
                tags: s
                    .tags()
                    .iter()
                    .filter_map(|t| {
                        Some((
                            t.key()?.to_string(),
                            t.value().unwrap_or_default().to_string(),
                        ))
                    })
                    .collect(),
                task_definition: s.task_definition().unwrap_or_default().to_string(),
                deployments: s
                    .deployments()
                    .iter()
                    .map(|d| LiveDeployment {
                        status: d.status().unwrap_or_default().to_string(),
                        task_definition: d.task_definition().unwrap_or_default().to_string(),
                        rollout_state: d.rollout_state().map(|r| r.as_str().to_string()),
                        rollout_state_reason: d.rollout_state_reason().map(str::to_string),
                        desired: u32::try_from(d.desired_count()).unwrap_or(0),
                        running: u32::try_from(d.running_count()).unwrap_or(0),
                        failed_tasks: u32::try_from(d.failed_tasks()).unwrap_or(0),
                    })
                    .collect(),
            })
    };
    Ok([find(names[0]), find(names[1])])
}

/// The scalable target of `resource_id` and, when `with_policy`, the operator's policy.
pub async fn describe_scaling(
    clients: &Clients,
    resource_id: &str,
    with_policy: bool,
) -> Result<LiveScaling> {
    let aas = &clients.autoscaling;
    let targets = aas
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids(resource_id)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .send()
        .await
        .map_err(|e| {
            aws::error(
                "ApplicationAutoScaling",
                "DescribeScalableTargets",
                resource_id,
                e,
            )
        })?;
    let target = targets.scalable_targets().first().map(|t| {
        (
            u32::try_from(t.min_capacity()).unwrap_or(0),
            u32::try_from(t.max_capacity()).unwrap_or(0),
        )
    });
    let mut scaling = LiveScaling {
        target,
        cpu_policy: None,
    };
    if with_policy && target.is_some() {
        let policies = aas
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(resource_id)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .policy_names(CPU_POLICY_NAME)
            .send()
            .await
            .map_err(|e| {
                aws::error(
                    "ApplicationAutoScaling",
                    "DescribeScalingPolicies",
                    resource_id,
                    e,
                )
            })?;
        scaling.cpu_policy = policies
            .scaling_policies()
            .iter()
            .filter(|p| p.policy_type() == &PolicyType::TargetTrackingScaling)
            .find_map(|p| {
                Some(
                    p.target_tracking_scaling_policy_configuration()?
                        .target_value(),
                )
            });
    }
    Ok(scaling)
}
