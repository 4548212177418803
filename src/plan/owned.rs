//! Planning the fields the operator owns outside the template: ECS desired counts and
//! Open WebUI's autoscaling, LiteLLM's model config, the EFS backup schedule.

use super::{Action, ActionKind, Change, Plan};
use crate::observe::{LiveOwned, LiveService, Selections, scaling_resource_id};
use crate::render::{BackupRule, Outputs, OwnedDesired};

/// Tag on the LiteLLM service: sha256 of the config its running tasks started with.
pub const CONFIG_TAG: &str = "bedrock-chat-operator/config-sha256";

/// Adds the owned fields' actions, problems and notes to `plan`.
pub fn plan_owned(plan: &mut Plan, desired: &OwnedDesired, outputs: &Outputs, live: &LiveOwned) {
    services(plan, desired, outputs, live);
    models(plan, desired, outputs, live);
    backup(plan, desired, live);
}

fn usable<'a>(
    plan: &mut Plan,
    what: &str,
    name: &str,
    svc: &'a Option<LiveService>,
) -> Option<&'a LiveService> {
    match svc {
        Some(s) if s.status == "ACTIVE" => Some(s),
        Some(s) => {
            plan.problems.push(format!(
                "{what} service {name} is {}; the stack owns it, so the operator does not recreate it (update or recreate the stack)",
                s.status
            ));
            None
        }
        None => {
            plan.problems.push(format!(
                "{what} service {name} does not exist; the stack owns it, so the operator does not recreate it (update or recreate the stack)"
            ));
            None
        }
    }
}

fn services(plan: &mut Plan, desired: &OwnedDesired, outputs: &Outputs, live: &LiveOwned) {
    if let Some(ow) = usable(
        plan,
        "Open WebUI",
        &outputs.openwebui_service,
        &live.openwebui,
    ) {
        let resource_id = scaling_resource_id(&outputs.cluster, &ow.name);
        match desired.openwebui_autoscaling {
            Some(a) => {
                // The autoscaler owns the count now; the operator only sets its bounds.
                if live.scaling.target != Some((a.min_capacity, a.max_capacity)) {
                    plan.actions.push(Action {
                        reason: match live.scaling.target {
                            None => format!(
                                "autoscaling is wanted: register {}..{} tasks",
                                a.min_capacity, a.max_capacity
                            ),
                            Some((lo, hi)) => format!(
                                "capacity {lo}..{hi} → {}..{}",
                                a.min_capacity, a.max_capacity
                            ),
                        },
                        kind: ActionKind::RegisterScalableTarget {
                            resource_id: resource_id.clone(),
                            min: a.min_capacity,
                            max: a.max_capacity,
                            from: live.scaling.target,
                        },
                    });
                }
                let want = f64::from(a.target_cpu_percent);
                if live
                    .scaling
                    .cpu_policy
                    .is_none_or(|v| (v - want).abs() > f64::EPSILON)
                {
                    plan.actions.push(Action {
                        reason: match live.scaling.cpu_policy {
                            None => format!(
                                "no CPU target-tracking policy: track {}% CPU",
                                a.target_cpu_percent
                            ),
                            Some(v) => format!("CPU target {v}% → {}%", a.target_cpu_percent),
                        },
                        kind: ActionKind::PutCpuScalingPolicy {
                            resource_id,
                            target: a.target_cpu_percent,
                            from: live.scaling.cpu_policy,
                        },
                    });
                }
            }
            None => {
                if live.scaling.target.is_some() {
                    plan.actions.push(Action {
                        reason: "autoscaling is not in the desired state: deregister the scalable target so that it does not fight the fixed count".into(),
                        kind: ActionKind::DeregisterScalableTarget { resource_id },
                    });
                }
                count(plan, "Open WebUI", outputs, ow, desired.openwebui_count);
            }
        }
    }
    if let Some(ll) = usable(plan, "LiteLLM", &outputs.litellm_service, &live.litellm) {
        count(plan, "LiteLLM", outputs, ll, desired.litellm_count);
    }
}

fn count(plan: &mut Plan, what: &str, outputs: &Outputs, svc: &LiveService, want: u32) {
    if svc.desired != want {
        plan.actions.push(Action {
            reason: format!("{what} desired count {} → {want}", svc.desired),
            kind: ActionKind::SetDesiredCount {
                cluster: outputs.cluster.clone(),
                service: svc.name.clone(),
                from: svc.desired,
                to: want,
            },
        });
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

fn models(plan: &mut Plan, desired: &OwnedDesired, outputs: &Outputs, live: &LiveOwned) {
    let want = &desired.config_sha256;
    if live.config_sha256.as_deref() != Some(want.as_str()) {
        plan.actions.push(Action {
            reason: match live.config_sha256.as_deref() {
                None => format!(
                    "no LiteLLM config at s3://{}/{}: push {} models",
                    outputs.config_bucket,
                    outputs.config_key,
                    desired.model_ids.len()
                ),
                Some("") => {
                    "the LiteLLM config object was written by someone else (no sha256): replace it"
                        .to_string()
                }
                Some(old) => format!(
                    "the model list changed: config {} → {}",
                    short(old),
                    short(want)
                ),
            },
            kind: ActionKind::PushModelConfig {
                bucket: outputs.config_bucket.clone(),
                key: outputs.config_key.clone(),
                sha256: want.clone(),
                from: live.config_sha256.clone(),
                body: desired.config_body.clone(),
                model_ids: desired.model_ids.clone(),
                bedrock_region: desired.bedrock_region.clone(),
            },
        });
    }
    // The tag says which config the running tasks started with; LiteLLM reads it only
    // at start, so a new config needs a new deployment.
    if let Some(ll) = live.litellm.as_ref().filter(|s| s.status == "ACTIVE") {
        let running = ll.tags.get(CONFIG_TAG);
        if running != Some(want) {
            plan.actions.push(Action {
                reason: match running {
                    None => format!(
                        "LiteLLM's tasks were not started by the operator with config {}: redeploy",
                        short(want)
                    ),
                    Some(old) => format!(
                        "LiteLLM runs config {}, wants {}: redeploy (it reads the config at start)",
                        short(old),
                        short(want)
                    ),
                },
                kind: ActionKind::RedeployLiteLlm {
                    cluster: outputs.cluster.clone(),
                    service: ll.name.clone(),
                    service_arn: ll.arn.clone(),
                    sha256: want.clone(),
                    from: running.cloned(),
                },
            });
        }
    }
}

fn rule_changes(want: &BackupRule, have: &[crate::observe::LiveRule]) -> Vec<Change> {
    let c = |key: &str, from: Option<String>, to: String| Change {
        key: key.to_string(),
        from,
        to: Some(to),
    };
    let [h] = have else {
        return vec![Change {
            key: "rules".into(),
            from: Some(format!("{} rules", have.len())),
            to: Some("1 rule".into()),
        }];
    };
    let mut out = Vec::new();
    if h.schedule != want.schedule_expression {
        out.push(c(
            "schedule",
            Some(h.schedule.clone()),
            want.schedule_expression.clone(),
        ));
    }
    if h.delete_after_days != Some(want.lifecycle.delete_after_days) {
        out.push(c(
            "retentionDays",
            h.delete_after_days.map(|d| d.to_string()),
            want.lifecycle.delete_after_days.to_string(),
        ));
    }
    if h.vault != want.target_backup_vault_name {
        out.push(c(
            "vault",
            Some(h.vault.clone()),
            want.target_backup_vault_name.clone(),
        ));
    }
    if h.timezone != want.schedule_expression_timezone {
        out.push(c(
            "timezone",
            Some(h.timezone.clone()),
            want.schedule_expression_timezone.clone(),
        ));
    }
    if h.name != want.rule_name {
        out.push(c("rule", Some(h.name.clone()), want.rule_name.clone()));
    }
    out
}

fn backup(plan: &mut Plan, desired: &OwnedDesired, live: &LiveOwned) {
    let want = &desired.backup_plan;
    let Some(live_plan) = &live.backup.plan else {
        plan.actions.push(Action {
            reason: format!(
                "no backup plan {}: create it ({} in UTC, kept {} days) and select the EFS file system",
                want.backup_plan_name, want.rules[0].schedule_expression, want.rules[0].lifecycle.delete_after_days
            ),
            kind: ActionKind::CreateBackupPlan {
                plan: want.clone(),
                selection: desired.selection.clone(),
                plan_sha256: desired.backup_plan_sha256.clone(),
                owner: plan.name.clone(),
            },
        });
        return;
    };
    if let Some(details) = &live_plan.details {
        if !details.managed {
            plan.problems.push(format!(
                "a backup plan named {} exists but was not created by bedrock-chat-operator; it is left alone (rename or delete it to let the operator manage the schedule)",
                want.backup_plan_name
            ));
            return;
        }
        let changes = rule_changes(&want.rules[0], &details.rules);
        if !changes.is_empty() {
            let keys: Vec<&str> = changes.iter().map(|c| c.key.as_str()).collect();
            plan.actions.push(Action {
                reason: format!("the backup rule differs ({})", keys.join(", ")),
                kind: ActionKind::UpdateBackupPlan {
                    plan_id: live_plan.id.clone(),
                    plan: want.clone(),
                    plan_sha256: desired.backup_plan_sha256.clone(),
                    changes,
                },
            });
        }
    }
    match &live.backup.selections {
        Selections::Known { selections } => {
            let ok = |s: &&crate::observe::LiveSelection| {
                s.name == desired.selection.name && s.role == desired.selection.role_arn
            };
            let keep = selections.iter().any(|s| ok(&s));
            let delete: Vec<(String, String)> = selections
                .iter()
                .filter(|s| !ok(s))
                .map(|s| (s.id.clone(), s.name.clone()))
                .collect();
            if !keep || !delete.is_empty() {
                let names: Vec<&str> = delete.iter().map(|(_, n)| n.as_str()).collect();
                plan.actions.push(Action {
                    reason: match (keep, names.is_empty()) {
                        (false, true) => {
                            "the EFS file system is not selected for backup: select it".to_string()
                        }
                        (false, false) => format!(
                            "the backup selection differs: replace {} with {}",
                            names.join(", "),
                            desired.selection.name
                        ),
                        _ => format!("remove stray backup selections {}", names.join(", ")),
                    },
                    kind: ActionKind::ReplaceBackupSelections {
                        plan_id: live_plan.id.clone(),
                        delete,
                        create: (!keep).then(|| desired.selection.clone()),
                    },
                });
            }
        }
        Selections::Unavailable { reason } => plan
            .notes
            .push(format!("backup selections not checked: {reason}")),
        Selections::NotRead => {}
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::desired::Autoscaling;
    use crate::observe::{LiveBackup, LivePlan, LiveRule, LiveScaling, LiveSelection, PlanDetails};
    use crate::plan::PlanStatus;
    use crate::render::{BackupPlan, SelectionSpec};

    fn outputs() -> Outputs {
        Outputs {
            cluster: "chat".into(),
            openwebui_service: "chat-openwebui".into(),
            litellm_service: "chat-litellm".into(),
            config_bucket: "chat-config".into(),
            config_key: "litellm/config.yaml".into(),
            file_system_arn: "arn:aws:elasticfilesystem:us-west-2:1:file-system/fs-1".into(),
            backup_vault: "chat-vault".into(),
            backup_role_arn: "arn:aws:iam::1:role/backup".into(),
        }
    }

    fn desired() -> OwnedDesired {
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
            openwebui_count: 1,
            openwebui_autoscaling: None,
            litellm_count: 2,
            config_body: "model_list: []".into(),
            config_sha256: "c".repeat(64),
            model_ids: vec!["amazon.nova-canvas-v1:0".into()],
            bedrock_region: "us-west-2".into(),
            backup_plan: plan,
            backup_plan_sha256: "p".repeat(64),
            selection: SelectionSpec {
                name: "efs-abc".into(),
                role_arn: "arn:aws:iam::1:role/backup".into(),
                resources: vec!["arn:aws:elasticfilesystem:us-west-2:1:file-system/fs-1".into()],
            },
        }
    }

    fn service(name: &str, desired: u32) -> LiveService {
        LiveService {
            name: name.into(),
            arn: format!("arn:aws:ecs:us-west-2:1:service/chat/{name}"),
            status: "ACTIVE".into(),
            desired,
            running: desired,
            tags: BTreeMap::from([(CONFIG_TAG.to_string(), "c".repeat(64))]),
        }
    }

    /// Everything as desired.
    fn live() -> LiveOwned {
        LiveOwned {
            openwebui: Some(service("chat-openwebui", 1)),
            litellm: Some(service("chat-litellm", 2)),
            scaling: LiveScaling::default(),
            config_sha256: Some("c".repeat(64)),
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

    fn run(d: &OwnedDesired, l: &LiveOwned) -> Plan {
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
        };
        plan_owned(&mut p, d, &outputs(), l);
        p
    }

    fn names(p: &Plan) -> Vec<&'static str> {
        p.actions.iter().map(|a| a.kind.name()).collect()
    }

    #[test]
    fn all_as_desired_means_no_action() {
        let p = run(&desired(), &live());
        assert!(p.actions.is_empty(), "{:?}", p.actions);
        assert_eq!(p.status(), PlanStatus::InSync);
    }

    #[test]
    fn hand_scaled_service_is_set_back() {
        let mut l = live();
        l.litellm.as_mut().unwrap().desired = 5;
        let p = run(&desired(), &l);
        assert_eq!(names(&p), ["SetDesiredCount"]);
        assert_eq!(p.actions[0].reason, "LiteLLM desired count 5 → 2");
        assert!(matches!(
            p.actions[0].kind,
            ActionKind::SetDesiredCount { from: 5, to: 2, .. }
        ));
    }

    #[test]
    fn autoscaling_registers_bounds_and_policy_and_never_writes_the_count() {
        let mut d = desired();
        d.openwebui_autoscaling = Some(Autoscaling {
            min_capacity: 1,
            max_capacity: 3,
            target_cpu_percent: 70,
        });
        let mut l = live();
        // The autoscaler moved the count: that is its job, not drift.
        l.openwebui.as_mut().unwrap().desired = 3;
        let p = run(&d, &l);
        assert_eq!(names(&p), ["RegisterScalableTarget", "PutCpuScalingPolicy"]);
        assert!(!names(&p).contains(&"SetDesiredCount"));

        l.scaling = LiveScaling {
            target: Some((1, 3)),
            cpu_policy: Some(70.0),
        };
        assert!(run(&d, &l).actions.is_empty());

        l.scaling = LiveScaling {
            target: Some((1, 2)),
            cpu_policy: Some(50.0),
        };
        let p = run(&d, &l);
        assert_eq!(p.actions[0].reason, "capacity 1..2 → 1..3");
        assert_eq!(p.actions[1].reason, "CPU target 50% → 70%");
    }

    #[test]
    fn removing_autoscaling_deregisters_then_restores_the_count() {
        let mut l = live();
        l.scaling = LiveScaling {
            target: Some((1, 3)),
            cpu_policy: Some(70.0),
        };
        l.openwebui.as_mut().unwrap().desired = 3;
        let p = run(&desired(), &l);
        assert_eq!(names(&p), ["DeregisterScalableTarget", "SetDesiredCount"]);
    }

    #[test]
    fn missing_or_draining_service_is_reported_not_recreated() {
        let mut l = live();
        l.openwebui = None;
        l.litellm.as_mut().unwrap().status = "DRAINING".into();
        let p = run(&desired(), &l);
        assert!(
            names(&p)
                .iter()
                .all(|n| !n.contains("Count") && *n != "RedeployLiteLlm"),
            "{:?}",
            names(&p)
        );
        assert_eq!(p.problems.len(), 2);
        assert!(p.problems[0].contains("chat-openwebui does not exist"));
        assert!(p.problems[1].contains("chat-litellm is DRAINING"));
        assert_eq!(p.status(), PlanStatus::Blocked);
    }

    #[test]
    fn changed_model_list_pushes_then_redeploys() {
        let mut d = desired();
        d.config_sha256 = "d".repeat(64);
        let p = run(&d, &live());
        assert_eq!(names(&p), ["PushModelConfig", "RedeployLiteLlm"]);
        assert_eq!(
            p.actions[0].reason,
            "the model list changed: config cccccccccccc → dddddddddddd"
        );
    }

    #[test]
    fn config_pushed_but_not_deployed_only_redeploys() {
        let mut l = live();
        l.litellm.as_mut().unwrap().tags.clear();
        let p = run(&desired(), &l);
        assert_eq!(names(&p), ["RedeployLiteLlm"]);
    }

    #[test]
    fn foreign_config_object_is_replaced() {
        let mut l = live();
        l.config_sha256 = Some(String::new());
        let p = run(&desired(), &l);
        assert_eq!(names(&p), ["PushModelConfig"]);
        assert!(p.actions[0].reason.contains("written by someone else"));
    }

    #[test]
    fn missing_backup_plan_is_created_with_its_selection() {
        let mut l = live();
        l.backup = LiveBackup::default();
        let p = run(&desired(), &l);
        assert_eq!(names(&p), ["CreateBackupPlan"]);
        assert!(
            p.actions[0]
                .reason
                .contains("cron(0 2 * * ? *) in UTC, kept 7 days"),
            "{}",
            p.actions[0].reason
        );
    }

    #[test]
    fn changed_rule_updates_the_plan_with_from_and_to() {
        let mut d = desired();
        d.backup_plan.rules[0].schedule_expression = "cron(0 4 * * ? *)".into();
        d.backup_plan.rules[0].lifecycle.delete_after_days = 30;
        let p = run(&d, &live());
        assert_eq!(names(&p), ["UpdateBackupPlan"]);
        let text = p.to_string();
        assert!(
            text.contains("schedule: cron(0 2 * * ? *) → cron(0 4 * * ? *)"),
            "{text}"
        );
        assert!(text.contains("retentionDays: 7 → 30"), "{text}");
    }

    #[test]
    fn verified_plan_version_is_not_compared_again() {
        let mut l = live();
        l.backup.plan.as_mut().unwrap().details = None;
        let mut d = desired();
        d.backup_plan.rules[0].schedule_expression = "cron(0 4 * * ? *)".into();
        // The controller passes a verified version only for the same desired plan; the
        // planner trusts it.
        assert!(run(&d, &l).actions.is_empty());
    }

    #[test]
    fn foreign_backup_plan_is_never_touched() {
        let mut l = live();
        l.backup
            .plan
            .as_mut()
            .unwrap()
            .details
            .as_mut()
            .unwrap()
            .managed = false;
        let mut d = desired();
        d.backup_plan.rules[0].schedule_expression = "cron(0 4 * * ? *)".into();
        let p = run(&d, &l);
        assert!(p.actions.is_empty(), "{:?}", names(&p));
        assert!(p.problems[0].contains("not created by bedrock-chat-operator"));
    }

    #[test]
    fn selection_that_differs_is_replaced() {
        let mut l = live();
        l.backup.selections = Selections::Known {
            selections: vec![LiveSelection {
                id: "sel-0".into(),
                name: "efs-old".into(),
                role: "r".into(),
            }],
        };
        let p = run(&desired(), &l);
        assert_eq!(names(&p), ["ReplaceBackupSelections"]);
        let ActionKind::ReplaceBackupSelections { delete, create, .. } = &p.actions[0].kind else {
            panic!()
        };
        assert_eq!(delete, &[("sel-0".to_string(), "efs-old".to_string())]);
        assert_eq!(create.as_ref().unwrap().name, "efs-abc");

        l.backup.selections = Selections::Known { selections: vec![] };
        let p = run(&desired(), &l);
        assert!(p.actions[0].reason.contains("not selected for backup"));
    }

    #[test]
    fn unreadable_selections_are_noted_not_acted_on() {
        let mut l = live();
        l.backup.selections = Selections::Unavailable {
            reason: "HTTP 500".into(),
        };
        let p = run(&desired(), &l);
        assert!(p.actions.is_empty());
        assert_eq!(p.notes, ["backup selections not checked: HTTP 500"]);
        assert_eq!(p.status(), PlanStatus::InSync);
    }
}
