//! The AWS Backup plan for the stack's EFS file system, in the shape of
//! CreateBackupPlan's `BackupPlan` input.

use serde::Serialize;

use crate::desired::Spec;

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

pub const RULE_NAME: &str = "efs-scheduled";

pub fn backup_plan(spec: &Spec, vault_name: &str) -> BackupPlan {
    BackupPlan {
        backup_plan_name: backup_plan_name(spec),
        rules: vec![BackupRule {
            rule_name: RULE_NAME.to_string(),
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
