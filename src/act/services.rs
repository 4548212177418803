//! ECS counts and Open WebUI's autoscaling target and policy.

use super::Effect;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ServiceNamespace,
    TargetTrackingScalingPolicyConfiguration,
};

use crate::Result;
use crate::aws::{self, Clients};
use crate::names::CPU_POLICY_NAME;
use crate::plan::{Action, ActionKind};

pub(super) async fn execute(action: &Action, clients: &Clients) -> Result<Effect> {
    let aas = &clients.autoscaling;
    match &action.kind {
        ActionKind::SetDesiredCount {
            cluster,
            service,
            to,
            ..
        } => {
            clients
                .ecs
                .update_service()
                .cluster(cluster)
                .service(service)
                .desired_count(i32::try_from(*to).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|e| aws::error("ECS", "UpdateService", service.as_str(), e))?;
        }
        ActionKind::RegisterScalableTarget {
            resource_id,
            min,
            max,
            ..
        } => {
            // No RoleARN: Application Auto Scaling uses its service-linked role for ECS.
            aas.register_scalable_target()
                .service_namespace(ServiceNamespace::Ecs)
                .resource_id(resource_id)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .min_capacity(i32::try_from(*min).unwrap_or(0))
                .max_capacity(i32::try_from(*max).unwrap_or(0))
                .send()
                .await
                .map_err(|e| {
                    aws::error(
                        "ApplicationAutoScaling",
                        "RegisterScalableTarget",
                        resource_id.as_str(),
                        e,
                    )
                })?;
        }
        ActionKind::PutCpuScalingPolicy {
            resource_id,
            target,
            ..
        } => {
            let metric = PredefinedMetricSpecification::builder()
                .predefined_metric_type(MetricType::EcsServiceAverageCpuUtilization)
                .build()
                .map_err(|e| aws::build_error("PutScalingPolicy", e))?;
            let config = TargetTrackingScalingPolicyConfiguration::builder()
                .target_value(f64::from(*target))
                .predefined_metric_specification(metric)
                // Out fast, in slowly: a chat burst should not wait, and tasks that
                // just started should not be stopped at once.
                .scale_out_cooldown(60)
                .scale_in_cooldown(300)
                .build()
                .map_err(|e| aws::build_error("PutScalingPolicy", e))?;
            aas.put_scaling_policy()
                .policy_name(CPU_POLICY_NAME)
                .service_namespace(ServiceNamespace::Ecs)
                .resource_id(resource_id)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .policy_type(PolicyType::TargetTrackingScaling)
                .target_tracking_scaling_policy_configuration(config)
                .send()
                .await
                .map_err(|e| {
                    aws::error(
                        "ApplicationAutoScaling",
                        "PutScalingPolicy",
                        resource_id.as_str(),
                        e,
                    )
                })?;
        }
        ActionKind::DeregisterScalableTarget { resource_id } => {
            aas.deregister_scalable_target()
                .service_namespace(ServiceNamespace::Ecs)
                .resource_id(resource_id)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .send()
                .await
                .map_err(|e| {
                    aws::error(
                        "ApplicationAutoScaling",
                        "DeregisterScalableTarget",
                        resource_id.as_str(),
                        e,
                    )
                })?;
        }
        other => return Err(super::misrouted(other)),
    }
    Ok(Effect::Done)
}
