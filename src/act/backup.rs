//! The EFS backup plan and its selection (AWS Backup).

use super::Effect;
use std::collections::HashMap;

use aws_sdk_backup::types::{BackupPlanInput, BackupRuleInput, BackupSelection, Lifecycle};

use crate::Result;
use crate::aws::{self, Clients};
use crate::context::Context;
use crate::plan::{Action, ActionKind, Plan, history_key};
use crate::render::{BackupPlan, SelectionSpec};

pub(super) async fn execute(
    action: &Action,
    plan: &Plan,
    ctx: &Context,
    clients: &Clients,
) -> Result<Effect> {
    let b = &clients.backup;
    let remember = |version: Option<&str>, sha: &str| {
        if let Some(v) = version {
            ctx.update_history(&history_key(&plan.region, &plan.stack_name), |h| {
                h.backup_verified = Some((v.to_string(), sha.to_string()));
            });
        }
    };
    match &action.kind {
        ActionKind::CreateBackupPlan {
            plan: want,
            selection,
            plan_sha256,
            owner,
        } => {
            let tags = HashMap::from([
                (
                    crate::names::TAG_MANAGED_BY.to_string(),
                    crate::names::MANAGED_BY.to_string(),
                ),
                (crate::names::TAG_NAME.to_string(), owner.clone()),
            ]);
            let out = b
                .create_backup_plan()
                .backup_plan(input(want)?)
                .set_backup_plan_tags(Some(tags))
                .send()
                .await
                .map_err(|e| {
                    aws::error(
                        "Backup",
                        "CreateBackupPlan",
                        want.backup_plan_name.as_str(),
                        e,
                    )
                })?;
            remember(out.version_id(), plan_sha256);
            let plan_id = out.backup_plan_id().unwrap_or_default();
            match create_selection(clients, plan_id, selection).await {
                Ok(()) => Ok(Effect::Done),
                // An endpoint without selections (an emulator) still gets the plan; the
                // next pass lists selections and creates it wherever that works.
                Err(e) if e.is_unimplemented() => {
                    if ctx.first_time("backup-selection-unavailable") {
                        tracing::warn!(error = %e, "the endpoint cannot create backup selections: the plan exists without one (said once)");
                    }
                    Ok(Effect::Partial)
                }
                Err(e) => Err(e),
            }
        }
        ActionKind::UpdateBackupPlan {
            plan_id,
            plan: want,
            plan_sha256,
            ..
        } => {
            let out = b
                .update_backup_plan()
                .backup_plan_id(plan_id)
                .backup_plan(input(want)?)
                .send()
                .await
                .map_err(|e| {
                    aws::error(
                        "Backup",
                        "UpdateBackupPlan",
                        want.backup_plan_name.as_str(),
                        e,
                    )
                })?;
            remember(out.version_id(), plan_sha256);
            Ok(Effect::Done)
        }
        ActionKind::ReplaceBackupSelections {
            plan_id,
            delete,
            create,
        } => {
            // Create first: the file system is never left without a selection.
            if let Some(spec) = create {
                create_selection(clients, plan_id, spec).await?;
            }
            for (id, name) in delete {
                b.delete_backup_selection()
                    .backup_plan_id(plan_id)
                    .selection_id(id)
                    .send()
                    .await
                    .map_err(|e| aws::error("Backup", "DeleteBackupSelection", name.as_str(), e))?;
            }
            Ok(Effect::Done)
        }
        other => Err(super::misrouted(other)),
    }
}

fn input(plan: &BackupPlan) -> Result<BackupPlanInput> {
    let rules = plan
        .rules
        .iter()
        .map(|r| {
            BackupRuleInput::builder()
                .rule_name(&r.rule_name)
                .target_backup_vault_name(&r.target_backup_vault_name)
                .schedule_expression(&r.schedule_expression)
                .schedule_expression_timezone(&r.schedule_expression_timezone)
                .start_window_minutes(r.start_window_minutes)
                .completion_window_minutes(r.completion_window_minutes)
                .lifecycle(
                    Lifecycle::builder()
                        .delete_after_days(r.lifecycle.delete_after_days)
                        .build(),
                )
                .build()
                .map_err(|e| aws::build_error("BackupRuleInput", e))
        })
        .collect::<Result<Vec<_>>>()?;
    BackupPlanInput::builder()
        .backup_plan_name(&plan.backup_plan_name)
        .set_rules(Some(rules))
        .build()
        .map_err(|e| aws::build_error("BackupPlanInput", e))
}

async fn create_selection(clients: &Clients, plan_id: &str, spec: &SelectionSpec) -> Result<()> {
    let selection = BackupSelection::builder()
        .selection_name(&spec.name)
        .iam_role_arn(&spec.role_arn)
        .set_resources(Some(spec.resources.clone()))
        .build()
        .map_err(|e| aws::build_error("BackupSelection", e))?;
    clients
        .backup
        .create_backup_selection()
        .backup_plan_id(plan_id)
        .backup_selection(selection)
        .send()
        .await
        .map_err(|e| aws::error("Backup", "CreateBackupSelection", spec.name.as_str(), e))
        .map(|_| ())
}
