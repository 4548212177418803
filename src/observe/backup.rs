//! The EFS backup plan (AWS Backup): found by name, read in full only when it changed
//! since the operator last verified it (its VersionId moves on every change).

use serde::Serialize;

use crate::aws::{self, Clients};
use crate::names::TAG_MANAGED_BY;
use crate::{Error, Result};

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveBackup {
    pub plan: Option<LivePlan>,
    pub selections: Selections,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LivePlan {
    pub id: String,
    pub arn: String,
    pub version_id: String,
    /// Read only when the version is new to the operator; `None`: the operator verified
    /// this version earlier and it matched the same desired plan.
    pub details: Option<PlanDetails>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanDetails {
    pub managed: bool,
    pub rules: Vec<LiveRule>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveRule {
    pub name: String,
    pub vault: String,
    pub schedule: String,
    pub timezone: String,
    pub delete_after_days: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum Selections {
    #[default]
    NotRead,
    /// The endpoint does not implement ListBackupSelections; reported once.
    Unavailable {
        reason: String,
    },
    Known {
        selections: Vec<LiveSelection>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveSelection {
    pub id: String,
    pub name: String,
    pub role: String,
}

/// Reads the plan named `name`. `verified_version`: a version the operator already
/// read and found matching the current desired plan, so its details can be skipped.
pub async fn describe_backup(
    clients: &Clients,
    name: &str,
    verified_version: Option<&str>,
) -> Result<LiveBackup> {
    describe_backup_with(clients, name, verified_version, None).await
}

/// `describe_backup`, where `selections_unimplemented` is the endpoint's earlier answer
/// that it does not implement ListBackupSelections: then that call is not made again.
pub async fn describe_backup_with(
    clients: &Clients,
    name: &str,
    verified_version: Option<&str>,
    selections_unimplemented: Option<&str>,
) -> Result<LiveBackup> {
    let b = &clients.backup;
    let mut found = None;
    let mut pages = b.list_backup_plans().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws::error("Backup", "ListBackupPlans", name, e))?;
        if let Some(p) = page
            .backup_plans_list()
            .iter()
            .find(|p| p.backup_plan_name() == Some(name))
        {
            found = Some(p.clone());
            break;
        }
    }
    let Some(p) = found else {
        return Ok(LiveBackup::default());
    };
    let id = p.backup_plan_id().unwrap_or_default().to_string();
    let arn = p.backup_plan_arn().unwrap_or_default().to_string();
    let version_id = p.version_id().unwrap_or_default().to_string();

    let details = if verified_version == Some(version_id.as_str()) {
        None
    } else {
        let tags = b
            .list_tags()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| aws::error("Backup", "ListTags", name, e))?;
        let managed = tags.tags().is_some_and(|t| t.contains_key(TAG_MANAGED_BY));
        let plan = b
            .get_backup_plan()
            .backup_plan_id(&id)
            .send()
            .await
            .map_err(|e| aws::error("Backup", "GetBackupPlan", name, e))?;
        let rules = plan
            .backup_plan()
            .map(|bp| {
                bp.rules()
                    .iter()
                    .map(|r| LiveRule {
                        name: r.rule_name().to_string(),
                        vault: r.target_backup_vault_name().to_string(),
                        schedule: r.schedule_expression().unwrap_or_default().to_string(),
                        timezone: r
                            .schedule_expression_timezone()
                            .unwrap_or_default()
                            .to_string(),
                        delete_after_days: r.lifecycle().and_then(|l| l.delete_after_days()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(PlanDetails { managed, rules })
    };

    let selections = match selections_unimplemented {
        Some(reason) => Selections::Unavailable {
            reason: reason.to_string(),
        },
        None => list_selections(b, &id, name).await?,
    };
    Ok(LiveBackup {
        plan: Some(LivePlan {
            id,
            arn,
            version_id,
            details,
        }),
        selections,
    })
}

/// The plan's selections; `Unavailable` where the endpoint does not implement the call.
async fn list_selections(b: &aws_sdk_backup::Client, id: &str, name: &str) -> Result<Selections> {
    // Every page: a selection on a later page is still the plan's (maxResults/nextToken).
    let mut pages = b
        .list_backup_selections()
        .backup_plan_id(id)
        .into_paginator()
        .send();
    let mut selections = Vec::new();
    while let Some(page) = pages.next().await {
        match page {
            Ok(out) => {
                selections.extend(out.backup_selections_list().iter().map(|s| LiveSelection {
                    id: s.selection_id().unwrap_or_default().to_string(),
                    name: s.selection_name().unwrap_or_default().to_string(),
                    role: s.iam_role_arn().unwrap_or_default().to_string(),
                }))
            }
            Err(e) => {
                let err: Error = aws::error("Backup", "ListBackupSelections", name, e);
                if !err.is_unimplemented() {
                    return Err(err);
                }
                return Ok(Selections::Unavailable {
                    reason: err.to_string(),
                });
            }
        }
    }
    Ok(Selections::Known { selections })
}
