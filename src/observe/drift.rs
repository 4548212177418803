//! CloudFormation drift detection: DetectStackDrift, poll its status, then list the
//! resources that differ. Slow and rate-limited on AWS, so callers run it on their own
//! interval; where the endpoint does not implement it, the result says so.

use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{StackDriftDetectionStatus, StackResourceDriftStatus};

use super::{Drift, DriftedResource};
use crate::aws::{self, Clients};
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
                // Partial results are still worth reporting; say why it failed.
                let reason = status
                    .detection_status_reason()
                    .unwrap_or("no reason given")
                    .to_string();
                tracing::warn!(stack, %reason, "drift detection failed for some resources");
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
            resources.push(DriftedResource {
                logical_id: d.logical_resource_id().unwrap_or_default().to_string(),
                resource_type: d.resource_type().unwrap_or_default().to_string(),
                status: d
                    .stack_resource_drift_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                properties: d
                    .property_differences()
                    .iter()
                    .map(|p| p.property_path().unwrap_or_default().to_string())
                    .collect(),
            });
        }
    }
    resources.sort_by(|a, b| a.logical_id.cmp(&b.logical_id));
    Ok(if resources.is_empty() {
        Drift::InSync
    } else {
        Drift::Drifted { resources }
    })
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
