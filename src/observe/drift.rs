//! CloudFormation drift detection: DetectStackDrift, poll its status, then list the
//! resources that differ. Slow and rate-limited on AWS, so callers run it on their own
//! interval; where the endpoint does not implement it, the result says so. Differences
//! that are not drift (known CloudFormation false positives, fields the operator owns)
//! are set apart with their reason, so that `Drifted` is not stuck on a healthy stack.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{
    DifferenceType, StackDriftDetectionStatus, StackResourceDriftStatus,
};
use regex::Regex;

use super::{Drift, DriftedResource, IgnoredDrift};
use crate::aws::{self, Clients};
use crate::names::TAG_PREFIX;
use crate::{Error, Result};

/// Runs drift detection on `stack` and waits up to `timeout` for it.
pub async fn detect_drift(
    clients: &Clients,
    stack: &str,
    poll: Duration,
    timeout: Duration,
) -> Result<Drift> {
    let cfn = &clients.cloudformation;
    let started = match cfn.detect_stack_drift().stack_name(stack).send().await {
        Ok(out) => out,
        Err(e) => {
            let err = aws::error("CloudFormation", "DetectStackDrift", stack, e);
            return unavailable_or(err);
        }
    };
    let id = started
        .stack_drift_detection_id()
        .unwrap_or_default()
        .to_string();
    let deadline = Instant::now() + timeout;
    let mut incomplete = None;
    loop {
        let status = cfn
            .describe_stack_drift_detection_status()
            .stack_drift_detection_id(&id)
            .send()
            .await
            .map_err(|e| {
                aws::error(
                    "CloudFormation",
                    "DescribeStackDriftDetectionStatus",
                    stack,
                    e,
                )
            })?;
        match status.detection_status() {
            Some(StackDriftDetectionStatus::DetectionComplete) => break,
            Some(StackDriftDetectionStatus::DetectionFailed) => {
                // Some resources were not checked: what was found is still worth
                // reporting, but the stack is not known to be in sync.
                let reason = status
                    .detection_status_reason()
                    .unwrap_or("no reason given")
                    .to_string();
                tracing::warn!(stack, %reason, "drift detection failed for some resources");
                incomplete = Some(reason);
                break;
            }
            _ => {}
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                what: format!("drift detection on stack {stack}"),
                state: "DETECTION_IN_PROGRESS".into(),
                waited_secs: timeout.as_secs(),
            });
        }
        tokio::time::sleep(poll).await;
    }

    let mut resources = Vec::new();
    let mut ignored = Vec::new();
    let mut pages = cfn
        .describe_stack_resource_drifts()
        .stack_name(stack)
        .stack_resource_drift_status_filters(StackResourceDriftStatus::Modified)
        .stack_resource_drift_status_filters(StackResourceDriftStatus::Deleted)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page
            .map_err(|e| aws::error("CloudFormation", "DescribeStackResourceDrifts", stack, e))?;
        for d in page.stack_resource_drifts() {
            let logical_id = d.logical_resource_id().unwrap_or_default().to_string();
            let resource_type = d.resource_type().unwrap_or_default().to_string();
            let status = d
                .stack_resource_drift_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            let mut properties = Vec::new();
            for p in d.property_differences() {
                let path = p.property_path().unwrap_or_default();
                let kind = p.difference_type().map(DifferenceType::as_str);
                // Values are read here only, never kept: a property may hold anything.
                match known_false_positive(&resource_type, path, kind, p.actual_value()) {
                    Some(reason) => ignored.push(IgnoredDrift {
                        logical_id: logical_id.clone(),
                        property: path.to_string(),
                        reason,
                    }),
                    None => properties.push(path.to_string()),
                }
            }
            // A resource whose every difference is a known false positive is in sync.
            let all_ignored = status == "MODIFIED"
                && properties.is_empty()
                && !d.property_differences().is_empty();
            if !all_ignored {
                resources.push(DriftedResource {
                    logical_id,
                    resource_type,
                    status,
                    properties,
                });
            }
        }
    }
    resources.sort_by(|a, b| a.logical_id.cmp(&b.logical_id));
    Ok(match incomplete {
        Some(reason) => Drift::Incomplete {
            reason,
            resources,
            ignored,
        },
        None if resources.is_empty() => Drift::InSync { ignored },
        None => Drift::Drifted { resources, ignored },
    })
}

/// `/Properties` is optional in a property path: match either form.
static EFS_VOLUME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(/Properties)?/Volumes/[0-9]+/EFSVolumeConfiguration(/.*)?$")
        .unwrap_or_else(|e| panic!("built-in pattern: {e}"))
});
static DESIRED_COUNT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(/Properties)?/DesiredCount$").unwrap_or_else(|e| panic!("built-in pattern: {e}"))
});
static TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(/Properties)?/Tags/[0-9]+$").unwrap_or_else(|e| panic!("built-in pattern: {e}"))
});

/// Why a reported difference is not drift, or `None` when it is.
pub fn known_false_positive(
    resource_type: &str,
    path: &str,
    kind: Option<&str>,
    actual: Option<&str>,
) -> Option<&'static str> {
    let absent = kind == Some("REMOVE") || matches!(actual, None | Some("null") | Some(""));
    if resource_type == "AWS::ECS::TaskDefinition" && EFS_VOLUME.is_match(path) && absent {
        return Some(
            "CloudFormation reads a task definition's EFSVolumeConfiguration as null (aws-cloudformation/cloudformation-coverage-roadmap#1283)",
        );
    }
    if resource_type == "AWS::ECS::Service" && DESIRED_COUNT.is_match(path) {
        return Some(
            "the operator owns the task count; DesiredCount is in the template at create only",
        );
    }
    if TAG.is_match(path) && kind == Some("ADD") {
        let key = actual
            .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
            .and_then(|v| v.get("Key").and_then(|k| k.as_str().map(str::to_string)))
            .unwrap_or_default();
        if key.starts_with(TAG_PREFIX) {
            return Some("a tag the operator sets itself (outside the template)");
        }
        if key.starts_with("aws:") {
            return Some("a tag AWS sets itself (aws: prefix)");
        }
    }
    None
}

/// An endpoint that does not implement drift detection is a missing capability to
/// report, not a failed pass.
fn unavailable_or(err: Error) -> Result<Drift> {
    if err.is_unimplemented() {
        Ok(Drift::Unavailable {
            reason: err.to_string(),
        })
    } else {
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_false_positives_are_recognised_and_nothing_else() {
        let td = "AWS::ECS::TaskDefinition";
        let efs = "/Volumes/0/EFSVolumeConfiguration";
        assert!(known_false_positive(td, efs, Some("REMOVE"), Some("null")).is_some());
        assert!(
            known_false_positive(td, &format!("/Properties{efs}/FilesystemId"), None, None)
                .is_some()
        );
        // A real change next to it still counts.
        assert_eq!(
            known_false_positive(
                td,
                "/ContainerDefinitions/0/Image",
                Some("NOT_EQUAL"),
                Some("x")
            ),
            None
        );
        // An EFS configuration that really differs (a value, not null) still counts.
        assert_eq!(
            known_false_positive(
                td,
                efs,
                Some("NOT_EQUAL"),
                Some("{\"FilesystemId\":\"fs-2\"}")
            ),
            None
        );
        let svc = "AWS::ECS::Service";
        assert!(known_false_positive(svc, "/DesiredCount", Some("NOT_EQUAL"), Some("2")).is_some());
        let ours = r#"{"Key":"bedrock-chat-operator/config-sha256","Value":"abc"}"#;
        assert!(known_false_positive(svc, "/Tags/1", Some("ADD"), Some(ours)).is_some());
        let aws = r#"{"Key":"aws:cloudformation:stack-name","Value":"x"}"#;
        assert!(
            known_false_positive("AWS::ECS::Cluster", "/Tags/3", Some("ADD"), Some(aws)).is_some()
        );
        let people = r#"{"Key":"cost-center","Value":"42"}"#;
        assert_eq!(
            known_false_positive(svc, "/Tags/1", Some("ADD"), Some(people)),
            None
        );
        // A tag of ours removed or changed is drift.
        assert_eq!(
            known_false_positive(svc, "/Tags/1", Some("REMOVE"), Some(ours)),
            None
        );
        assert_eq!(
            known_false_positive(
                "AWS::EC2::SecurityGroup",
                "/DesiredCount",
                Some("NOT_EQUAL"),
                Some("1")
            ),
            None
        );
    }
}
