//! Planning the CloudFormation stack: create, update, wait, or stop for a person.

use std::collections::BTreeMap;

use super::{Action, ActionKind, History, Plan, diff_maps};
use crate::chart::CREATE_SERVICES_AT_ZERO;
use crate::names::{MANAGED_BY, TAG_MANAGED_BY, TAG_NAME, TAG_PREFIX, TAG_TEMPLATE};
use crate::observe::{LiveStack, LiveState};
use crate::render::RenderedStack;

/// Statuses in which CloudFormation is still working; any write would be refused.
const IN_PROGRESS_SUFFIX: &str = "_IN_PROGRESS";
/// Settled statuses from which an update may start.
const SETTLED: &[&str] = &[
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_COMPLETE",
];

/// The key under which a ContinueUpdateRollback attempt is remembered: one per failure.
pub(crate) fn rollback_key(live: &LiveStack) -> String {
    format!("{}@{}", live.id, live.last_changed)
}

pub fn plan_stack(desired: &RenderedStack, live: &LiveState, history: &History) -> Plan {
    let mut plan = Plan {
        name: desired.name.clone(),
        stack_name: desired.stack_name.clone(),
        region: desired.region.clone(),
        actions: Vec::new(),
        waiting: None,
        blocked: None,
        drift: live.drift.clone(),
        problems: Vec::new(),
        notes: Vec::new(),
        resource_changes: None,
    };
    let Some(stack) = &live.stack else {
        plan.actions = create(desired, "the stack does not exist".into(), &BTreeMap::new());
        return plan;
    };

    // Ownership first: never touch a stack that another owner manages.
    let managed = stack.tags.get(TAG_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY);
    if !managed && !desired.policy.adopt {
        plan.blocked = Some(format!(
            "a stack named {} exists but was not created by bedrock-chat-operator (it has no {TAG_MANAGED_BY} tag); set spec.policy.adopt: true to take it over, or choose another spec.stackName",
            desired.stack_name
        ));
        return plan;
    }
    if let Some(owner) = stack.tags.get(TAG_NAME).filter(|o| **o != desired.name) {
        plan.blocked = Some(format!(
            "the stack is managed by the desired-state document {owner:?}, not {:?}; two documents must not manage one stack",
            desired.name
        ));
        return plan;
    }

    let status = stack.status.as_str();
    let reason = stack
        .status_reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    match status {
        "REVIEW_IN_PROGRESS" => {
            // A CREATE change set was made but never executed (e.g. the operator stopped
            // in between): creating again through a new change set finishes the job.
            plan.actions = create(
                desired,
                "the stack was left in REVIEW_IN_PROGRESS by a change set that was never executed"
                    .into(),
                &stack.tags,
            );
        }
        s if s.ends_with(IN_PROGRESS_SUFFIX) => {
            plan.waiting = Some(format!(
                "CloudFormation is busy: {s}; nothing is changed until it settles"
            ));
        }
        "ROLLBACK_COMPLETE" => {
            if desired.policy.recreate_failed_stack {
                let mut actions = vec![Action {
                    kind: ActionKind::DeleteFailedStack {
                        stack_id: stack.id.clone(),
                    },
                    reason: format!(
                        "the create failed and rolled back{reason}; spec.policy.recreateFailedStack is true (EFS data is retained)"
                    ),
                }];
                actions.extend(create(
                    desired,
                    "recreating after the failed create".into(),
                    &BTreeMap::new(),
                ));
                plan.actions = actions;
            } else {
                plan.blocked = Some(format!(
                    "the create failed and rolled back (ROLLBACK_COMPLETE{reason}); such a stack cannot be updated. Fix the cause, then delete the stack or set spec.policy.recreateFailedStack: true"
                ));
            }
        }
        "UPDATE_ROLLBACK_FAILED" => {
            if history.continue_rollback_tried.as_deref() == Some(rollback_key(stack).as_str()) {
                plan.blocked = Some(format!(
                    "UPDATE_ROLLBACK_FAILED{reason}, and ContinueUpdateRollback did not recover it; fix the resources named in the stack events, then run `aws cloudformation continue-update-rollback` (with --resources-to-skip if needed)"
                ));
            } else {
                plan.actions.push(Action {
                    kind: ActionKind::ContinueUpdateRollback {
                        attempt: rollback_key(stack),
                    },
                    reason: format!("the rollback of a failed update failed{reason}; trying ContinueUpdateRollback once"),
                });
            }
        }
        s if SETTLED.contains(&s) => {
            plan.actions = update(desired, stack);
            super::protect::refused_before(&mut plan, history);
            plan.actions
                .extend(super::protect::policy(&live.stack_policy));
        }
        other => {
            plan.blocked = Some(format!(
                "the stack is {other}{reason}; the operator does not act on it in that state"
            ));
        }
    }
    plan
}

/// Tags to send: the operator's, plus any others already on the stack (CloudFormation
/// replaces the whole tag set on update, and people's own tags are not ours to drop).
fn merged_tags(
    desired: &RenderedStack,
    live_tags: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut tags: BTreeMap<String, String> = live_tags
        .iter()
        .filter(|(k, _)| !k.starts_with(TAG_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    tags.extend(desired.tags.clone());
    tags
}

fn create(
    desired: &RenderedStack,
    reason: String,
    live_tags: &BTreeMap<String, String>,
) -> Vec<Action> {
    // Both services start at 0 tasks: the operator scales LiteLLM once its config is in
    // S3, so no task ever starts without it (charts/stack.yaml, CreateServicesAtZero).
    let mut parameters = desired.parameters.clone();
    parameters.insert(CREATE_SERVICES_AT_ZERO.to_string(), "true".to_string());
    vec![
        Action {
            kind: ActionKind::CreateStack {
                parameters,
                tags: merged_tags(desired, live_tags),
            },
            reason,
        },
        Action {
            kind: ActionKind::EnableTerminationProtection,
            reason: "a new stack is protected from accidental deletion".into(),
        },
        super::protect::set_policy(
            "a new stack's data resources are protected from replacement and deletion",
        ),
    ]
}

fn update(desired: &RenderedStack, stack: &LiveStack) -> Vec<Action> {
    let mut actions = Vec::new();
    let mut changes = diff_maps(&stack.parameters, &desired.parameters);
    let ours: BTreeMap<String, String> = stack
        .tags
        .iter()
        .filter(|(k, _)| k.starts_with(TAG_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let tag_changes = diff_maps(&ours, &desired.tags);
    let template_changed = tag_changes.iter().any(|c| c.key == TAG_TEMPLATE);
    // "true" from the create turns "false" with the next update that happens anyway; it
    // changes nothing running, so it is no reason for an update of its own.
    if changes.iter().all(|c| c.key == CREATE_SERVICES_AT_ZERO) {
        changes.clear();
    }
    let mut why = Vec::new();
    if !changes.is_empty() {
        let keys: Vec<&str> = changes
            .iter()
            .map(|c| c.key.as_str())
            .filter(|k| *k != CREATE_SERVICES_AT_ZERO)
            .collect();
        why.push(format!("parameters differ ({})", keys.join(", ")));
    }
    if template_changed {
        why.push("the template changed".to_string());
    }
    if tag_changes.iter().any(|c| c.key != TAG_TEMPLATE) {
        why.push(if stack.tags.contains_key(TAG_MANAGED_BY) {
            "the operator's tags differ".to_string()
        } else {
            "adopting the stack (spec.policy.adopt)".to_string()
        });
    }
    if !why.is_empty() {
        if stack.status == "UPDATE_ROLLBACK_COMPLETE" {
            why.push(format!(
                "the last update rolled back{}",
                stack
                    .status_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ));
        }
        changes.extend(tag_changes.into_iter().map(|mut c| {
            c.key = format!("tag {}", c.key);
            c
        }));
        let tags = merged_tags(desired, &stack.tags);
        let allow_data_loss: Vec<String> = desired
            .policy
            .allow_data_loss
            .iter()
            .map(|r| r.to_string())
            .collect();
        let digest = super::protect::update_digest(desired, &tags, &allow_data_loss);
        actions.push(Action {
            kind: ActionKind::UpdateStack {
                parameters: desired.parameters.clone(),
                tags,
                changes,
                allow_data_loss,
                digest,
            },
            reason: why.join("; "),
        });
    }
    if !stack.termination_protection {
        actions.push(Action {
            kind: ActionKind::EnableTerminationProtection,
            reason: "termination protection is off; the operator keeps its stacks protected".into(),
        });
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::{Mode, Policy};
    use crate::observe::{Drift, DriftedResource};
    use crate::plan::PlanStatus;

    fn desired() -> RenderedStack {
        RenderedStack {
            name: "prod".into(),
            stack_name: "chat".into(),
            region: "us-west-2".into(),
            parameters: BTreeMap::from([
                ("DeploymentSize".into(), "small".into()),
                ("ProjectName".into(), "chat".into()),
            ]),
            template_sha256: "t1".into(),
            tags: BTreeMap::from([
                (TAG_MANAGED_BY.into(), MANAGED_BY.into()),
                (TAG_NAME.into(), "prod".into()),
                (TAG_TEMPLATE.into(), "t1".into()),
            ]),
            policy: Policy {
                mode: Mode::Enforce,
                suspend: false,
                adopt: false,
                recreate_failed_stack: false,
                allow_data_loss: vec![],
            },
        }
    }

    fn live(status: &str) -> LiveStack {
        let d = desired();
        LiveStack {
            id: "arn:aws:cloudformation:us-west-2:123456789012:stack/chat/1".into(),
            status: status.into(),
            status_reason: None,
            parameters: d.parameters.clone(),
            outputs: BTreeMap::new(),
            tags: d.tags.clone(),
            termination_protection: true,
            last_changed: "2026-11-27T00:00:00Z".into(),
        }
    }

    fn state(stack: Option<LiveStack>) -> LiveState {
        LiveState {
            stack,
            drift: Drift::NotChecked,
            stack_policy: Default::default(),
        }
    }

    fn kinds(p: &Plan) -> Vec<&'static str> {
        p.actions
            .iter()
            .map(|a| match a.kind {
                ActionKind::CreateStack { .. } => "create",
                ActionKind::UpdateStack { .. } => "update",
                ActionKind::EnableTerminationProtection => "protect",
                ActionKind::SetStackPolicy { .. } => "policy",
                ActionKind::ContinueUpdateRollback { .. } => "continue-rollback",
                ActionKind::DeleteFailedStack { .. } => "delete-failed",
                _ => "owned",
            })
            .collect()
    }

    #[test]
    fn missing_stack_is_created_then_protected() {
        let p = plan_stack(&desired(), &state(None), &History::default());
        assert_eq!(kinds(&p), ["create", "protect", "policy"]);
        assert_eq!(p.status(), PlanStatus::ChangesPending);
        assert!(p.actions[0].reason.contains("does not exist"));
        let ActionKind::CreateStack { parameters, tags } = &p.actions[0].kind else {
            panic!()
        };
        // Every desired parameter, and the services start at 0 tasks.
        let mut want = desired().parameters;
        want.insert(CREATE_SERVICES_AT_ZERO.into(), "true".into());
        assert_eq!(parameters, &want);
        assert_eq!(tags[TAG_TEMPLATE], "t1");
    }

    #[test]
    fn matching_stack_is_in_sync_with_no_actions() {
        for status in SETTLED {
            let p = plan_stack(&desired(), &state(Some(live(status))), &History::default());
            assert!(p.actions.is_empty(), "{status}: {:?}", p.actions);
            assert_eq!(p.status(), PlanStatus::InSync, "{status}");
        }
    }

    #[test]
    fn parameter_change_updates_with_from_and_to() {
        let mut l = live("UPDATE_COMPLETE");
        l.parameters.insert("DeploymentSize".into(), "large".into());
        let p = plan_stack(&desired(), &state(Some(l)), &History::default());
        assert_eq!(kinds(&p), ["update"]);
        let ActionKind::UpdateStack { changes, .. } = &p.actions[0].kind else {
            panic!()
        };
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].to_string(), "DeploymentSize: large → small");
        assert!(
            p.actions[0]
                .reason
                .contains("parameters differ (DeploymentSize)")
        );
    }

    #[test]
    fn template_change_is_seen_through_the_hash_tag() {
        let mut l = live("CREATE_COMPLETE");
        l.tags.insert(TAG_TEMPLATE.into(), "t0".into());
        let p = plan_stack(&desired(), &state(Some(l)), &History::default());
        assert_eq!(kinds(&p), ["update"]);
        assert!(p.actions[0].reason.contains("the template changed"));
    }

    #[test]
    fn parameter_missing_on_the_live_stack_counts_as_a_change() {
        let mut l = live("CREATE_COMPLETE");
        l.parameters.remove("ProjectName");
        let p = plan_stack(&desired(), &state(Some(l)), &History::default());
        let ActionKind::UpdateStack { changes, .. } = &p.actions[0].kind else {
            panic!()
        };
        assert_eq!(changes[0].to_string(), "ProjectName: (none) → chat");
    }

    #[test]
    fn people_s_own_tags_are_kept_on_update() {
        let mut l = live("UPDATE_COMPLETE");
        l.tags.insert("cost-center".into(), "42".into());
        l.parameters.insert("DeploymentSize".into(), "large".into());
        let p = plan_stack(&desired(), &state(Some(l)), &History::default());
        let ActionKind::UpdateStack { tags, changes, .. } = &p.actions[0].kind else {
            panic!()
        };
        assert_eq!(tags["cost-center"], "42");
        assert!(changes.iter().all(|c| !c.key.contains("cost-center")));
    }

    #[test]
    fn unprotected_stack_gets_protection_back() {
        let mut l = live("UPDATE_COMPLETE");
        l.termination_protection = false;
        let p = plan_stack(&desired(), &state(Some(l)), &History::default());
        assert_eq!(kinds(&p), ["protect"]);
    }

    #[test]
    fn busy_stack_waits() {
        for status in [
            "CREATE_IN_PROGRESS",
            "UPDATE_IN_PROGRESS",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "ROLLBACK_IN_PROGRESS",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "DELETE_IN_PROGRESS",
        ] {
            let p = plan_stack(&desired(), &state(Some(live(status))), &History::default());
            assert!(p.actions.is_empty(), "{status}");
            assert_eq!(p.status(), PlanStatus::Waiting, "{status}");
            assert!(p.waiting.as_deref().unwrap().contains(status));
        }
    }

    #[test]
    fn unexecuted_create_change_set_is_finished() {
        let p = plan_stack(
            &desired(),
            &state(Some(live("REVIEW_IN_PROGRESS"))),
            &History::default(),
        );
        assert_eq!(kinds(&p), ["create", "protect", "policy"]);
        assert!(p.actions[0].reason.contains("REVIEW_IN_PROGRESS"));
    }

    #[test]
    fn untagged_stack_is_refused_unless_adopted() {
        let mut l = live("CREATE_COMPLETE");
        l.tags.clear();
        let p = plan_stack(&desired(), &state(Some(l.clone())), &History::default());
        assert_eq!(p.status(), PlanStatus::Blocked);
        assert!(p.actions.is_empty());
        assert!(
            p.blocked
                .as_deref()
                .unwrap()
                .contains("spec.policy.adopt: true")
        );

        let mut d = desired();
        d.policy.adopt = true;
        let p = plan_stack(&d, &state(Some(l)), &History::default());
        assert_eq!(kinds(&p), ["update"]);
        assert!(p.actions[0].reason.contains("adopting the stack"));
    }

    #[test]
    fn stack_of_another_document_is_refused_even_when_adopting() {
        let mut l = live("CREATE_COMPLETE");
        l.tags.insert(TAG_NAME.into(), "staging".into());
        let mut d = desired();
        d.policy.adopt = true;
        let p = plan_stack(&d, &state(Some(l)), &History::default());
        assert_eq!(p.status(), PlanStatus::Blocked);
        assert!(p.blocked.as_deref().unwrap().contains("\"staging\""));
    }

    #[test]
    fn failed_create_is_blocked_or_recreated_when_allowed() {
        let mut l = live("ROLLBACK_COMPLETE");
        l.status_reason = Some("The following resource(s) failed to create: [ALB]".into());
        let p = plan_stack(&desired(), &state(Some(l.clone())), &History::default());
        assert_eq!(p.status(), PlanStatus::Blocked);
        let b = p.blocked.unwrap();
        assert!(
            b.contains("recreateFailedStack") && b.contains("[ALB]"),
            "{b}"
        );

        let mut d = desired();
        d.policy.recreate_failed_stack = true;
        let p = plan_stack(&d, &state(Some(l)), &History::default());
        assert_eq!(kinds(&p), ["delete-failed", "create", "protect", "policy"]);
        assert!(p.actions[0].reason.contains("EFS data is retained"));
    }

    #[test]
    fn failed_rollback_gets_one_continue_then_blocks() {
        let l = live("UPDATE_ROLLBACK_FAILED");
        let p = plan_stack(&desired(), &state(Some(l.clone())), &History::default());
        assert_eq!(kinds(&p), ["continue-rollback"]);

        let tried = History {
            continue_rollback_tried: Some(rollback_key(&l)),
            ..Default::default()
        };
        let p = plan_stack(&desired(), &state(Some(l.clone())), &tried);
        assert_eq!(p.status(), PlanStatus::Blocked);
        assert!(p.blocked.unwrap().contains("continue-update-rollback"));

        // A later, different failure earns its own attempt.
        let mut later = l;
        later.last_changed = "2026-11-28T00:00:00Z".into();
        let p = plan_stack(&desired(), &state(Some(later)), &tried);
        assert_eq!(kinds(&p), ["continue-rollback"]);
    }

    #[test]
    fn terminal_failures_are_blocked_with_the_status() {
        for status in [
            "DELETE_FAILED",
            "ROLLBACK_FAILED",
            "CREATE_FAILED",
            "UPDATE_FAILED",
        ] {
            let p = plan_stack(&desired(), &state(Some(live(status))), &History::default());
            assert_eq!(p.status(), PlanStatus::Blocked, "{status}");
            assert!(p.blocked.unwrap().contains(status));
        }
    }

    #[test]
    fn retry_after_rolled_back_update_says_so() {
        let mut l = live("UPDATE_ROLLBACK_COMPLETE");
        l.parameters.insert("DeploymentSize".into(), "large".into());
        let p = plan_stack(&desired(), &state(Some(l)), &History::default());
        assert!(p.actions[0].reason.contains("the last update rolled back"));
    }

    #[test]
    fn drift_is_reported_without_actions() {
        let mut s = state(Some(live("UPDATE_COMPLETE")));
        s.drift = Drift::Drifted {
            ignored: vec![],
            resources: vec![DriftedResource {
                logical_id: "ALBSecurityGroup".into(),
                resource_type: "AWS::EC2::SecurityGroup".into(),
                status: "MODIFIED".into(),
                properties: vec!["/Properties/SecurityGroupIngress".into()],
            }],
        };
        let p = plan_stack(&desired(), &s, &History::default());
        assert!(p.actions.is_empty());
        assert_eq!(p.status(), PlanStatus::Drifted);
        let text = p.to_string();
        assert!(text.contains("ALBSecurityGroup AWS::EC2::SecurityGroup MODIFIED (/Properties/SecurityGroupIngress)"), "{text}");
    }

    #[test]
    fn plan_text_shows_changes_from_to() {
        let mut l = live("UPDATE_COMPLETE");
        l.parameters
            .insert("DeploymentSize".into(), "medium".into());
        let p = plan_stack(&desired(), &state(Some(l)), &History::default());
        let text = p.to_string();
        assert!(
            text.starts_with("stack prod (chat in us-west-2): 1 change\n"),
            "{text}"
        );
        assert!(
            text.contains("  ~ UpdateStack: parameters differ (DeploymentSize)"),
            "{text}"
        );
        assert!(
            text.contains("      DeploymentSize: medium → small"),
            "{text}"
        );
    }

    #[test]
    fn a_new_stack_starts_its_services_at_zero_and_an_update_keeps_the_counts() {
        let mut d = desired();
        d.parameters
            .insert(CREATE_SERVICES_AT_ZERO.into(), "false".into());
        let p = plan_stack(&d, &state(None), &History::default());
        let ActionKind::CreateStack { parameters, .. } = &p.actions[0].kind else {
            panic!()
        };
        assert_eq!(parameters[CREATE_SERVICES_AT_ZERO], "true");

        // Right after the create the live stack says "true": that alone is no update.
        let mut l = live("CREATE_COMPLETE");
        l.parameters
            .insert(CREATE_SERVICES_AT_ZERO.into(), "true".into());
        let p = plan_stack(&d, &state(Some(l.clone())), &History::default());
        assert!(p.actions.is_empty(), "{:?}", p.actions);

        // An update for another reason sends "false": DesiredCount is left out from then on.
        l.parameters.insert("DeploymentSize".into(), "large".into());
        let p = plan_stack(&d, &state(Some(l)), &History::default());
        let ActionKind::UpdateStack {
            parameters,
            changes,
            ..
        } = &p.actions[0].kind
        else {
            panic!()
        };
        assert_eq!(parameters[CREATE_SERVICES_AT_ZERO], "false");
        let keys: Vec<&str> = changes.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, [CREATE_SERVICES_AT_ZERO, "DeploymentSize"]);
    }
}
