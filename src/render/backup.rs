//! The AWS Backup plan for the stack's EFS file system, in the shape of
//! CreateBackupPlan's `BackupPlan` input.

use serde::Serialize;

use super::{Outputs, sha256_hex};
use crate::desired::Spec;
use crate::names::BACKUP_RULE_NAME;

/// Backup plans are named after the stack, so the operator finds its own by name.
pub fn backup_plan_name(spec: &Spec) -> String {
    format!("{}-efs", spec.stack_name)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupPlan {
    pub backup_plan_name: String,
    pub rules: Vec<BackupRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupRule {
    pub rule_name: String,
    /// The stack's vault: its `BackupVaultName` output, known once the stack exists.
    pub target_backup_vault_name: String,
    pub schedule_expression: String,
    /// Cron expressions are read in UTC, as the desired-state docs say.
    pub schedule_expression_timezone: String,
    pub start_window_minutes: i64,
    pub completion_window_minutes: i64,
    pub lifecycle: Lifecycle,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Lifecycle {
    pub delete_after_days: i64,
}

pub fn backup_plan(spec: &Spec, vault_name: &str) -> BackupPlan {
    BackupPlan {
        backup_plan_name: backup_plan_name(spec),
        rules: vec![BackupRule {
            rule_name: BACKUP_RULE_NAME.to_string(),
            target_backup_vault_name: vault_name.to_string(),
            schedule_expression: spec.backup.schedule.clone(),
            schedule_expression_timezone: "Etc/UTC".to_string(),
            // A job that cannot start within an hour is skipped and reported by AWS
            // Backup, rather than piling onto the next one.
            start_window_minutes: 60,
            completion_window_minutes: 24 * 60,
            lifecycle: Lifecycle {
                delete_after_days: i64::from(spec.backup.retention_days),
            },
        }],
    }
}

/// The backup selection the operator wants: its name carries a hash of what it
/// selects, so ListBackupSelections alone tells whether it is still right.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SelectionSpec {
    pub name: String,
    pub role_arn: String,
    pub resources: Vec<String>,
}

/// What the desired state wants of the EFS backups: the plan and the selection.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupDesired {
    pub plan: BackupPlan,
    /// The document's `metadata.name`, tagged on the plan.
    pub owner: String,
    /// sha256 of the plan, to know whether a version verified earlier still fits.
    pub plan_sha256: String,
    pub selection: SelectionSpec,
}

pub fn backup(spec: &Spec, owner: &str, outputs: &Outputs) -> Result<BackupDesired, crate::Error> {
    let plan = backup_plan(spec, &outputs.backup_vault);
    let plan_json = serde_json::to_string(&plan).map_err(|e| crate::Error::Render {
        what: "backup plan",
        message: e.to_string(),
    })?;
    let resources = vec![outputs.file_system_arn.clone()];
    let selection_hash =
        sha256_hex(format!("{}|{}", outputs.backup_role_arn, resources.join(",")).as_bytes());
    Ok(BackupDesired {
        plan_sha256: sha256_hex(plan_json.as_bytes()),
        plan,
        owner: owner.to_string(),
        selection: SelectionSpec {
            name: format!("efs-{}", &selection_hash[..12]),
            role_arn: outputs.backup_role_arn.clone(),
            resources,
        },
    })
}
