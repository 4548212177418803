//! Planning the EFS backup schedule: an AWS Backup plan (created, or updated when its
//! rule differs) and the selection of the stack's file system. A plan of that name that
//! the operator did not create is left alone.

use super::{Action, ActionKind, Change, Part};
use crate::observe::{LiveOwned, Selections};
use crate::render::{BackupDesired, BackupRule};

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

pub(super) fn plan(desired: &BackupDesired, live: &LiveOwned) -> Part {
    let mut part = Part::default();
    let want = &desired.plan;
    let Some(live_plan) = &live.backup.plan else {
        part.actions.push(Action {
            reason: format!(
                "no backup plan {}: create it ({} in UTC, kept {} days) and select the EFS file system",
                want.backup_plan_name, want.rules[0].schedule_expression, want.rules[0].lifecycle.delete_after_days
            ),
            kind: ActionKind::CreateBackupPlan {
                plan: want.clone(),
                selection: desired.selection.clone(),
                plan_sha256: desired.plan_sha256.clone(),
                owner: desired.owner.clone(),
            },
        });
        return part;
    };
    if let Some(details) = &live_plan.details {
        if !details.managed {
            part.problems.push(format!(
                "a backup plan named {} exists but was not created by bedrock-chat-operator; it is left alone (rename or delete it to let the operator manage the schedule)",
                want.backup_plan_name
            ));
            return part;
        }
        let changes = rule_changes(&want.rules[0], &details.rules);
        if !changes.is_empty() {
            let keys: Vec<&str> = changes.iter().map(|c| c.key.as_str()).collect();
            part.actions.push(Action {
                reason: format!("the backup rule differs ({})", keys.join(", ")),
                kind: ActionKind::UpdateBackupPlan {
                    plan_id: live_plan.id.clone(),
                    plan: want.clone(),
                    plan_sha256: desired.plan_sha256.clone(),
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
                part.actions.push(Action {
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
        Selections::Unavailable { reason } => part
            .notes
            .push(format!("backup selections not checked: {reason}")),
        Selections::NotRead => {}
    }
    part
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{live, names, owned_desired as desired, run};
    use super::*;
    use crate::observe::{LiveBackup, LiveSelection};
    use crate::plan::PlanStatus;

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
        d.backup.plan.rules[0].schedule_expression = "cron(0 4 * * ? *)".into();
        d.backup.plan.rules[0].lifecycle.delete_after_days = 30;
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
        d.backup.plan.rules[0].schedule_expression = "cron(0 4 * * ? *)".into();
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
        d.backup.plan.rules[0].schedule_expression = "cron(0 4 * * ? *)".into();
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
