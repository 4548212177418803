//! The judgement of the models (lifecycle, access) and of the stack's alarms.

use super::{Component, HealthStatus};
use crate::observe::health::{LiveAlarm, ModelHealth, Read};

pub(super) fn models(models: &[ModelHealth]) -> Component {
    const NAME: &str = "models";
    let mut problems = Vec::new();
    let mut unknown = Vec::new();
    let mut reason = "";
    let mut usable_text = 0;
    let mut text = 0;
    for m in models {
        text += usize::from(m.text);
        let what = format!("{} in {}", m.id, m.region);
        let mut bad = None;
        match &m.lifecycle {
            Read::Ok { value: None } => {
                bad = Some((
                    "ModelNotOffered",
                    format!("{what}: Bedrock does not list it in that region"),
                ))
            }
            Read::Ok { value: Some(s) } if s != "ACTIVE" && s != "LEGACY" => {
                bad = Some(("ModelNotActive", format!("{what}: lifecycle {s}")));
            }
            _ => {}
        }
        match &m.availability {
            // A value AWS added after this release is said as it came, not guessed at.
            Read::Ok { value: a } if bad.is_none() && !known_availability(a) => {
                unknown.push(format!(
                    "{what}: availability {a:?} has a value the operator does not know"
                ));
            }
            Read::Ok { value: a } if bad.is_none() => {
                bad = if a.authorization != "AUTHORIZED" {
                    Some((
                        "AccessNotAuthorized",
                        format!(
                            "{what}: authorization {} (the account's IAM or an SCP denies it)",
                            a.authorization
                        ),
                    ))
                } else if a.entitlement != "AVAILABLE" {
                    Some((
                        "AccessNotGranted",
                        format!("{what}: access not granted (entitlement {})", a.entitlement),
                    ))
                } else if a.region != "AVAILABLE" {
                    Some((
                        "NotInRegion",
                        format!("{what}: not available in the region ({})", a.region),
                    ))
                } else if !a.agreement.is_empty() && a.agreement != "AVAILABLE" {
                    Some((
                        "AgreementNeeded",
                        format!("{what}: the model's agreement is {}", a.agreement),
                    ))
                } else {
                    None
                };
            }
            Read::Failed { message, .. } => unknown.push(format!("{what}: {message}")),
            _ => {}
        }
        match bad {
            Some((r, msg)) => {
                reason = if reason.is_empty() { r } else { reason };
                problems.push(msg);
            }
            None => usable_text += usize::from(m.text),
        }
    }
    if !problems.is_empty() {
        let c = Component::degraded(
            NAME,
            reason,
            problems.join("; "),
            "request model access in the Bedrock console (Model access) of each region named, or change the model in the desired state".into(),
        );
        return if text > 0 && usable_text == 0 {
            c.blocking()
        } else {
            c
        };
    }
    if !unknown.is_empty() {
        return Component::new(
            NAME,
            HealthStatus::Unknown,
            "AvailabilityUnknown",
            unknown.join("; "),
        );
    }
    Component::healthy(
        NAME,
        "ModelsUsable",
        format!("{} models active and granted", models.len()),
    )
}

/// Whether every answer of GetFoundationModelAvailability is one its API model lists.
fn known_availability(a: &crate::observe::health::ModelAvailability) -> bool {
    let available = ["AVAILABLE", "NOT_AVAILABLE"];
    ["AUTHORIZED", "NOT_AUTHORIZED"].contains(&a.authorization.as_str())
        && available.contains(&a.entitlement.as_str())
        && available.contains(&a.region.as_str())
        && ["", "AVAILABLE", "PENDING", "NOT_AVAILABLE", "ERROR"].contains(&a.agreement.as_str())
}

pub(super) fn alarms(alarms: &[LiveAlarm]) -> Component {
    const NAME: &str = "alarms";
    if let Some(a) = alarms
        .iter()
        .find(|a| !["OK", "ALARM", "INSUFFICIENT_DATA"].contains(&a.state.as_str()))
    {
        return Component::new(
            NAME,
            HealthStatus::Unknown,
            "UnknownAlarmState",
            format!("{} is in state {:?}", a.name, a.state),
        );
    }
    let firing: Vec<&LiveAlarm> = alarms.iter().filter(|a| a.state == "ALARM").collect();
    if firing.is_empty() {
        let waiting = alarms
            .iter()
            .filter(|a| a.state == "INSUFFICIENT_DATA")
            .count();
        return Component::healthy(
            NAME,
            "NoAlarm",
            format!(
                "{} alarms, none in ALARM{}",
                alarms.len(),
                if waiting > 0 {
                    format!(" ({waiting} without data yet)")
                } else {
                    String::new()
                }
            ),
        );
    }
    Component::degraded(
        NAME,
        "AlarmFiring",
        firing
            .iter()
            .map(|a| format!("{} in ALARM since {}: {}", a.name, a.since.as_deref().unwrap_or("?"), a.reason))
            .collect::<Vec<_>>()
            .join("; "),
        "high CPU or memory: raise DeploymentSize or enable Open WebUI autoscaling; no running tasks: see the service's component".into(),
    )
}
