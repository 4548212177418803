//! Test fixtures of the owned-field planners: a desired state and a live state that
//! match, which each test then bends.

use std::collections::BTreeMap;

use super::Plan;
use crate::names::CONFIG_TAG;
use crate::observe::{
    LiveBackup, LiveOwned, LivePlan, LiveRule, LiveScaling, LiveSelection, LiveService,
    PlanDetails, Selections,
};
use crate::render::{
    BackupDesired, BackupPlan, BackupRule, LiteLlmDesired, Outputs, OwnedDesired, SelectionSpec,
    ServicesDesired,
};

pub fn outputs() -> Outputs {
    Outputs {
        cluster: "chat".into(),
        openwebui_service: "chat-openwebui".into(),
        litellm_service: "chat-litellm".into(),
        config_bucket: "chat-config".into(),
        config_key: "litellm/config.yaml".into(),
        images_config_key: "litellm/images.yaml".into(),
        file_system_arn: "arn:aws:elasticfilesystem:us-west-2:1:file-system/fs-1".into(),
        backup_vault: "chat-vault".into(),
        backup_role_arn: "arn:aws:iam::1:role/backup".into(),
    }
}

pub(crate) fn owned_desired() -> OwnedDesired {
    let plan = BackupPlan {
        backup_plan_name: "chat-efs".into(),
        rules: vec![BackupRule {
            rule_name: "efs-scheduled".into(),
            target_backup_vault_name: "chat-vault".into(),
            schedule_expression: "cron(0 2 * * ? *)".into(),
            schedule_expression_timezone: "Etc/UTC".into(),
            start_window_minutes: 60,
            completion_window_minutes: 1440,
            lifecycle: crate::render::backup::Lifecycle {
                delete_after_days: 7,
            },
        }],
    };
    OwnedDesired {
        services: ServicesDesired {
            openwebui_count: 1,
            openwebui_autoscaling: None,
        },
        litellm: LiteLlmDesired {
            count: 2,
            config_body: "model_list: []".into(),
            images_config_body: "model_list: []".into(),
            config_sha256: "c".repeat(64),
            bedrock_models: vec![crate::render::BedrockModel {
                id: "amazon.nova-canvas-v1:0".into(),
                region: "us-west-2".into(),
            }],
        },
        backup: BackupDesired {
            plan,
            owner: "prod".into(),
            plan_sha256: "p".repeat(64),
            selection: SelectionSpec {
                name: "efs-abc".into(),
                role_arn: "arn:aws:iam::1:role/backup".into(),
                resources: vec!["arn:aws:elasticfilesystem:us-west-2:1:file-system/fs-1".into()],
            },
        },
    }
}

pub fn service(name: &str, desired: u32) -> LiveService {
    LiveService {
        name: name.into(),
        arn: format!("arn:aws:ecs:us-west-2:1:service/chat/{name}"),
        status: "ACTIVE".into(),
        desired,
        running: desired,
        tags: BTreeMap::from([(CONFIG_TAG.to_string(), "c".repeat(64))]),
        task_definition: format!("arn:aws:ecs:us-west-2:1:task-definition/{name}:1"),
        deployments: vec![crate::observe::LiveDeployment {
            status: "PRIMARY".into(),
            task_definition: format!("arn:aws:ecs:us-west-2:1:task-definition/{name}:1"),
            rollout_state: Some("COMPLETED".into()),
            rollout_state_reason: None,
            desired,
            running: desired,
            failed_tasks: 0,
        }],
    }
}

/// Everything as desired.
pub fn live() -> LiveOwned {
    LiveOwned {
        openwebui: Some(service("chat-openwebui", 1)),
        litellm: Some(service("chat-litellm", 2)),
        scaling: LiveScaling::default(),
        config_sha256: Some("c".repeat(64)),
        models: BTreeMap::new(),
        backup: LiveBackup {
            plan: Some(LivePlan {
                id: "plan-1".into(),
                arn: "arn:plan-1".into(),
                version_id: "v1".into(),
                details: Some(PlanDetails {
                    managed: true,
                    rules: vec![LiveRule {
                        name: "efs-scheduled".into(),
                        vault: "chat-vault".into(),
                        schedule: "cron(0 2 * * ? *)".into(),
                        timezone: "Etc/UTC".into(),
                        delete_after_days: Some(7),
                    }],
                }),
            }),
            selections: Selections::Known {
                selections: vec![LiveSelection {
                    id: "sel-1".into(),
                    name: "efs-abc".into(),
                    role: "arn:aws:iam::1:role/backup".into(),
                }],
            },
        },
    }
}

pub fn run(d: &OwnedDesired, l: &LiveOwned) -> Plan {
    let mut p = Plan {
        name: "prod".into(),
        stack_name: "chat".into(),
        region: "us-west-2".into(),
        actions: vec![],
        waiting: None,
        blocked: None,
        drift: Default::default(),
        problems: vec![],
        notes: vec![],
        resource_changes: None,
    };
    p.add(super::plan_owned(d, &outputs(), l));
    p
}

pub fn names(p: &Plan) -> Vec<&'static str> {
    p.actions.iter().map(|a| a.kind.name()).collect()
}
