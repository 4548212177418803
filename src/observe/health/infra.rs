//! The reads of the other components: target health (ELBv2), the file system and its
//! mount targets (EFS), the secrets (DescribeSecret), VPC endpoints and NAT gateways
//! (EC2), alarms (CloudWatch), and each model's lifecycle and availability (Bedrock).

use std::collections::BTreeMap;

use super::{
    LiveAlarm, LiveFileSystem, LiveNetwork, LiveSecret, LiveTarget, ModelAvailability, ModelHealth,
    Read, SecretState, rfc3339, task_definition_secrets,
};
use crate::Result;
use crate::aws::{self, Clients};
use crate::context::Context;
use crate::observe::{ModelCatalog, foundation_models};

/// Every target of Open WebUI's target group with the state and reason ELBv2 gives.
pub async fn targets(clients: &Clients, target_group_arn: &str) -> Result<Vec<LiveTarget>> {
    let out = clients
        .elbv2
        .describe_target_health()
        .target_group_arn(target_group_arn)
        .send()
        .await
        .map_err(|e| {
            aws::error(
                "ElasticLoadBalancingV2",
                "DescribeTargetHealth",
                target_group_arn,
                e,
            )
        })?;
    Ok(out
        .target_health_descriptions()
        .iter()
        .map(|d| {
            let health = d.target_health();
            LiveTarget {
                id: d
                    .target()
                    .and_then(|t| t.id())
                    .map(str::to_string)
                    .unwrap_or_default(),
                port: d.target().and_then(|t| t.port()),
                state: health
                    .and_then(|h| h.state())
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                reason: health
                    .and_then(|h| h.reason())
                    .map(|r| r.as_str().to_string()),
                description: health.and_then(|h| h.description()).map(str::to_string),
            }
        })
        .collect())
}

/// The file system's state and its mount targets'.
pub async fn file_system(clients: &Clients, id: &str) -> Result<LiveFileSystem> {
    let (fs, mounts) = tokio::join!(
        clients
            .efs
            .describe_file_systems()
            .file_system_id(id)
            .send(),
        clients
            .efs
            .describe_mount_targets()
            .file_system_id(id)
            .send(),
    );
    let state = match fs {
        Ok(out) => out
            .file_systems()
            .first()
            .map(|f| f.life_cycle_state().as_str().to_string()),
        Err(e) => {
            let err = aws::error("EFS", "DescribeFileSystems", id, e);
            // A deleted file system is an answer, not a failed read.
            if matches!(&err, crate::Error::Aws { code, .. } if code == "FileSystemNotFound") {
                None
            } else {
                return Err(err);
            }
        }
    };
    let mount_targets = match mounts {
        Ok(out) => out
            .mount_targets()
            .iter()
            .map(|m| {
                (
                    m.mount_target_id().to_string(),
                    m.availability_zone_name().unwrap_or_default().to_string(),
                    m.life_cycle_state().as_str().to_string(),
                )
            })
            .collect(),
        Err(_) if state.is_none() => Vec::new(),
        Err(e) => return Err(aws::error("EFS", "DescribeMountTargets", id, e)),
    };
    Ok(LiveFileSystem {
        id: id.to_string(),
        state,
        mount_targets,
    })
}

/// Every secret the task definitions reference, each with DescribeSecret's answer
/// (metadata only: no value is ever read here).
pub async fn secrets(
    clients: &Clients,
    task_definitions: &[String],
    remembered: &mut BTreeMap<String, Vec<(String, String)>>,
) -> Result<Vec<LiveSecret>> {
    let refs = task_definition_secrets(clients, task_definitions, remembered).await?;
    let read = futures::future::join_all(
        refs.keys()
            .map(|arn| clients.secrets.describe_secret().secret_id(arn).send()),
    )
    .await;
    Ok(refs
        .into_iter()
        .zip(read)
        .map(|((arn, used_by), out)| {
            let state = match out {
                Ok(s) => match s.deleted_date() {
                    Some(on) => SecretState::ScheduledForDeletion { on: rfc3339(on) },
                    None => SecretState::Present,
                },
                Err(e) => match aws::error("SecretsManager", "DescribeSecret", arn.clone(), e) {
                    crate::Error::Aws { code, .. } if code == "ResourceNotFoundException" => {
                        SecretState::Missing
                    }
                    other => SecretState::Unreadable {
                        message: other.to_string(),
                    },
                },
            };
            LiveSecret {
                arn,
                used_by,
                state,
            }
        })
        .collect())
}

/// The stack's VPC endpoints (logical id, endpoint id) and NAT gateways, with EC2's states.
pub async fn network(
    clients: &Clients,
    endpoints: &[(String, String)],
    nat_gateways: &[String],
) -> Result<LiveNetwork> {
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    if !endpoints.is_empty() {
        let out = clients
            .ec2
            .describe_vpc_endpoints()
            .set_vpc_endpoint_ids(Some(endpoints.iter().map(|(_, id)| id.clone()).collect()))
            .send()
            .await;
        match out {
            Ok(out) => {
                for e in out.vpc_endpoints() {
                    found.insert(
                        e.vpc_endpoint_id().unwrap_or_default().to_string(),
                        e.state()
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default(),
                    );
                }
            }
            // EC2 refuses the whole call when one id is gone; asked one by one then.
            Err(e)
                if e.as_service_error().and_then(|s| s.meta().code())
                    == Some("InvalidVpcEndpointId.NotFound") =>
            {
                for (_, id) in endpoints {
                    if let Ok(out) = clients
                        .ec2
                        .describe_vpc_endpoints()
                        .vpc_endpoint_ids(id)
                        .send()
                        .await
                        && let Some(e) = out.vpc_endpoints().first()
                    {
                        found.insert(
                            id.clone(),
                            e.state()
                                .map(|s| s.as_str().to_string())
                                .unwrap_or_default(),
                        );
                    }
                }
            }
            Err(e) => {
                return Err(aws::error(
                    "EC2",
                    "DescribeVpcEndpoints",
                    "the stack's VPC endpoints",
                    e,
                ));
            }
        }
    }
    let mut nats = Vec::new();
    if !nat_gateways.is_empty() {
        let out = clients
            .ec2
            .describe_nat_gateways()
            .set_nat_gateway_ids(Some(nat_gateways.to_vec()))
            .send()
            .await
            .map_err(|e| aws::error("EC2", "DescribeNatGateways", nat_gateways.join(","), e))?;
        for id in nat_gateways {
            let gw = out
                .nat_gateways()
                .iter()
                .find(|g| g.nat_gateway_id() == Some(id.as_str()));
            nats.push((
                id.clone(),
                gw.and_then(|g| g.state()).map(|s| s.as_str().to_string()),
                gw.and_then(|g| g.failure_message()).map(str::to_string),
            ));
        }
    }
    Ok(LiveNetwork {
        endpoints: endpoints
            .iter()
            .map(|(logical, id)| (logical.clone(), id.clone(), found.get(id).cloned()))
            .collect(),
        nat_gateways: nats,
    })
}

/// The stack's alarms with their states.
pub async fn alarms(clients: &Clients, names: &[String]) -> Result<Vec<LiveAlarm>> {
    let out = clients
        .cloudwatch
        .describe_alarms()
        .set_alarm_names(Some(names.to_vec()))
        .send()
        .await
        .map_err(|e| aws::error("CloudWatch", "DescribeAlarms", names.join(","), e))?;
    Ok(out
        .metric_alarms()
        .iter()
        .map(|a| LiveAlarm {
            name: a.alarm_name().unwrap_or_default().to_string(),
            state: a
                .state_value()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            reason: a.state_reason().unwrap_or_default().to_string(),
            since: a.state_updated_timestamp().map(rfc3339),
        })
        .collect())
}

/// Each model's lifecycle (one ListFoundationModels per region) and whether the account
/// may use it (GetFoundationModelAvailability, of the foundation model behind a profile).
pub async fn model_availability(
    ctx: &Context,
    clients: &Clients,
    models: &[(String, String, bool)],
) -> Vec<ModelHealth> {
    let bedrock = |region: &str| {
        if region == clients.region {
            clients.bedrock.clone()
        } else {
            ctx.clients(region, &clients.counter).bedrock
        }
    };
    let mut regions: Vec<&str> = models.iter().map(|(_, r, _)| r.as_str()).collect();
    regions.sort_unstable();
    regions.dedup();
    let catalogs = futures::future::join_all(
        regions
            .iter()
            .map(|r| async move { foundation_models(&bedrock(r), r).await }),
    )
    .await;
    let catalogs: BTreeMap<&str, Read<ModelCatalog>> = regions
        .into_iter()
        .zip(catalogs.into_iter().map(Read::from))
        .collect();
    let availability = futures::future::join_all(models.iter().map(|(id, region, _)| {
        let base = crate::desired::profile_base(id).unwrap_or(id).to_string();
        let client = bedrock(region);
        async move {
            client
                .get_foundation_model_availability()
                .model_id(&base)
                .send()
                .await
                .map(|out| ModelAvailability {
                    agreement: out
                        .agreement_availability()
                        .map(|a| a.status().as_str().to_string())
                        .unwrap_or_default(),
                    authorization: out.authorization_status().as_str().to_string(),
                    entitlement: out.entitlement_availability().as_str().to_string(),
                    region: out.region_availability().as_str().to_string(),
                })
                .map_err(|e| aws::error("Bedrock", "GetFoundationModelAvailability", base, e))
        }
    }))
    .await;
    models
        .iter()
        .zip(availability)
        .map(|((id, region, text), avail)| {
            let base = crate::desired::profile_base(id).unwrap_or(id);
            let lifecycle = match catalogs.get(region.as_str()) {
                Some(Read::Ok {
                    value: ModelCatalog::Listed { models, .. },
                }) => Read::Ok {
                    value: models.get(base).cloned(),
                },
                Some(Read::Ok {
                    value: ModelCatalog::Unavailable { reason },
                }) => Read::Failed {
                    message: reason.clone(),
                    unimplemented: true,
                },
                Some(Read::Failed {
                    message,
                    unimplemented,
                }) => Read::Failed {
                    message: message.clone(),
                    unimplemented: *unimplemented,
                },
                _ => Read::NotRead,
            };
            ModelHealth {
                id: id.clone(),
                region: region.clone(),
                text: *text,
                lifecycle,
                availability: Read::from(avail),
            }
        })
        .collect()
}
