//! Planning LiteLLM: its config object (checked against Bedrock's model list), the
//! deployment that loads it, and its task count — in that order, because a LiteLLM task
//! reads its config once, at start, and exits when the object is missing. At no moment
//! does the plan make a LiteLLM task due while its config is not in S3.

use super::owned::usable;
use super::services::count_change;
use super::{Action, ActionKind, App, ConfigPush, Part, Plan};
use std::collections::BTreeMap;

use crate::desired::profile_base;
use crate::names::CONFIG_TAG;
use crate::observe::{LiveOwned, ModelCatalog};
use crate::render::{BedrockModel, LiteLlmDesired, Outputs};

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Model ids Bedrock does not offer where they are called, by region.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}; fix spec.models (modelId or region) or spec.parameters.BedrockRegion — the LiteLLM config is not pushed", .by_region.iter().map(|(region, ids)| format!("Bedrock in {region} offers no model {} (ListFoundationModels)", ids.join(", "))).collect::<Vec<_>>().join("; "))]
pub struct UnknownModels {
    pub by_region: BTreeMap<String, Vec<String>>,
}

/// Whether Bedrock offers every model in the region it is called in: `Err` with the
/// models it does not, else the notes (LEGACY models, lists that could not be read).
pub fn check_models(
    models: &[BedrockModel],
    catalogs: &BTreeMap<String, ModelCatalog>,
) -> Result<Vec<String>, UnknownModels> {
    let mut unknown: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut unchecked: BTreeMap<&str, String> = BTreeMap::new();
    let mut notes = Vec::new();
    for m in models {
        let base = profile_base(&m.id).unwrap_or(&m.id);
        match catalogs.get(&m.region) {
            Some(ModelCatalog::Listed { models, .. }) => match models.get(base).map(String::as_str) {
                None => unknown.entry(&m.region).or_default().push(&m.id),
                Some("LEGACY") => notes.push(format!(
                    "Bedrock marks {} LEGACY in {}: it still works but will be retired; plan a replacement",
                    m.id, m.region
                )),
                Some(_) => {}
            },
            Some(ModelCatalog::Unavailable { reason }) => {
                unchecked.entry(&m.region).or_insert_with(|| reason.clone());
            }
            Some(ModelCatalog::NotRead) | None => {
                unchecked
                    .entry(&m.region)
                    .or_insert_with(|| "Bedrock's model list was not read".to_string());
            }
        }
    }
    notes.extend(
        unchecked
            .into_iter()
            .map(|(region, reason)| format!("model ids not checked in {region}: {reason}")),
    );
    if unknown.is_empty() {
        return Ok(notes);
    }
    Err(UnknownModels {
        by_region: unknown
            .into_iter()
            .map(|(region, ids)| {
                (
                    region.to_string(),
                    ids.into_iter().map(str::to_string).collect(),
                )
            })
            .collect(),
    })
}

fn config_push(desired: &LiteLlmDesired, outputs: &Outputs, from: Option<String>) -> ConfigPush {
    ConfigPush {
        bucket: outputs.config_bucket.clone(),
        key: outputs.config_key.clone(),
        images_key: outputs.images_config_key.clone(),
        sha256: desired.config_sha256.clone(),
        from,
        body: desired.config_body.clone(),
        images_body: desired.images_config_body.clone(),
    }
}

pub(super) fn plan(desired: &LiteLlmDesired, outputs: &Outputs, live: &LiveOwned) -> Part {
    let mut part = Part::default();
    let want = &desired.config_sha256;
    let current = live.config_sha256.as_deref() == Some(want.as_str());
    let mut pushed = false;
    if !current {
        match check_models(&desired.bedrock_models, &live.models) {
            Err(problem) => part.problems.push(problem.to_string()),
            Ok(notes) => {
                part.notes.extend(notes);
                pushed = true;
                part.actions.push(Action {
                    reason: match live.config_sha256.as_deref() {
                        None => format!(
                            "no LiteLLM config at s3://{}/{}: push {} models",
                            outputs.config_bucket,
                            outputs.config_key,
                            desired.bedrock_models.len()
                        ),
                        Some("") => "the LiteLLM config object was written by someone else (no sha256): replace it".to_string(),
                        Some(old) => format!(
                            "the model list changed: config {} → {}",
                            short(old),
                            short(want)
                        ),
                    },
                    kind: ActionKind::PushModelConfig(config_push(
                        desired,
                        outputs,
                        live.config_sha256.clone(),
                    )),
                });
            }
        }
    }
    let Some(ll) = usable(
        &mut part,
        "LiteLLM",
        &outputs.litellm_service,
        &live.litellm,
    ) else {
        return part;
    };
    // The tag says which config the running tasks started with; LiteLLM reads it only
    // at start, so a new config needs a new deployment — once that config is in S3.
    let running = ll.tags.get(CONFIG_TAG);
    if (current || pushed) && running != Some(want) {
        part.actions.push(Action {
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
    if let Some(change) = count_change(App::LiteLlm, outputs, ll, desired.count) {
        let config_in_s3 = live.config_sha256.is_some() || pushed;
        if desired.count > ll.desired && !config_in_s3 {
            part.notes.push(format!(
                "LiteLLM stays at {} task(s) until its config can be pushed: a task started without it exits",
                ll.desired
            ));
        } else {
            part.actions.push(change);
        }
    }
    part
}

/// Before a stack update: the update may start LiteLLM tasks (a new task definition
/// rolls the service), so a config object that has gone missing (the bucket emptied out
/// of band) is written back first. When it cannot be, the update waits.
pub fn restore_config(
    plan: &mut Plan,
    desired: &LiteLlmDesired,
    outputs: &Outputs,
    config_sha256: Option<&str>,
    catalogs: &BTreeMap<String, ModelCatalog>,
) {
    let updates = |a: &Action| matches!(a.kind, ActionKind::UpdateStack { .. });
    if config_sha256.is_some() || !plan.actions.iter().any(updates) {
        return;
    }
    match check_models(&desired.bedrock_models, catalogs) {
        Ok(notes) => {
            plan.notes.extend(notes);
            plan.actions.insert(
                0,
                Action {
                    reason: format!(
                        "no LiteLLM config at s3://{}/{}: written before the stack update, which may start LiteLLM tasks",
                        outputs.config_bucket, outputs.config_key
                    ),
                    kind: ActionKind::RestoreModelConfig(config_push(desired, outputs, None)),
                },
            );
        }
        Err(problem) => {
            plan.actions.retain(|a| !updates(a));
            plan.problems.push(format!(
                "{problem}; the stack update waits, since it may start LiteLLM tasks and the config object is missing"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{live, names, outputs, owned_desired as desired, run};
    use super::*;
    use crate::plan::PlanStatus;

    fn listed(models: &[(&str, &str)]) -> BTreeMap<String, ModelCatalog> {
        let catalog = ModelCatalog::Listed {
            region: "us-west-2".into(),
            models: models
                .iter()
                .map(|(id, s)| (id.to_string(), s.to_string()))
                .collect::<BTreeMap<_, _>>(),
        };
        BTreeMap::from([("us-west-2".to_string(), catalog)])
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
            ActionKind::SetDesiredCount {
                from: 5,
                to: 2,
                app: App::LiteLlm,
                ..
            }
        ));
    }

    #[test]
    fn changed_model_list_pushes_then_redeploys() {
        let mut d = desired();
        d.litellm.config_sha256 = "d".repeat(64);
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

    /// Right after the create: services at 0, no config, no tag. The config goes first,
    /// then the deployment that loads it, then the count — all in one ordered concern.
    #[test]
    fn a_new_stack_gets_its_config_before_any_litellm_task_is_due() {
        let mut l = live();
        l.config_sha256 = None;
        let ll = l.litellm.as_mut().unwrap();
        ll.desired = 0;
        ll.tags.clear();
        let p = run(&desired(), &l);
        let litellm: Vec<&str> = p
            .actions
            .iter()
            .filter(|a| a.kind.concern() == crate::plan::Concern::LiteLlm)
            .map(|a| a.kind.name())
            .collect();
        assert_eq!(
            litellm,
            ["PushModelConfig", "RedeployLiteLlm", "SetDesiredCount"]
        );
    }

    #[test]
    fn unknown_model_is_a_problem_and_litellm_is_not_started_without_config() {
        let mut l = live();
        l.config_sha256 = None;
        l.litellm.as_mut().unwrap().desired = 0;
        l.models = listed(&[("amazon.titan-image-generator-v2:0", "ACTIVE")]);
        let p = run(&desired(), &l);
        assert!(names(&p).is_empty(), "{:?}", names(&p));
        assert_eq!(p.status(), PlanStatus::Blocked);
        assert!(
            p.problems[0].starts_with(
                "Bedrock in us-west-2 offers no model amazon.nova-canvas-v1:0 (ListFoundationModels)"
            ),
            "{:?}",
            p.problems
        );
        assert!(
            p.notes[0].contains("LiteLLM stays at 0 task(s)"),
            "{:?}",
            p.notes
        );

        // With an older config in S3 the count may change: tasks load that config.
        l.config_sha256 = Some("b".repeat(64));
        let p = run(&desired(), &l);
        assert_eq!(names(&p), ["SetDesiredCount"]);
    }

    #[test]
    fn legacy_and_profile_ids_pass_with_a_note() {
        let mut d = desired();
        d.litellm.bedrock_models = [
            "amazon.nova-canvas-v1:0",
            "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
        ]
        .iter()
        .map(|id| BedrockModel {
            id: id.to_string(),
            region: "us-west-2".into(),
        })
        .collect();
        d.litellm.config_sha256 = "d".repeat(64);
        let mut l = live();
        l.models = listed(&[
            ("amazon.nova-canvas-v1:0", "LEGACY"),
            ("anthropic.claude-3-5-sonnet-20241022-v2:0", "ACTIVE"),
        ]);
        let p = run(&d, &l);
        assert_eq!(names(&p), ["PushModelConfig", "RedeployLiteLlm"]);
        assert_eq!(
            p.notes,
            [
                "Bedrock marks amazon.nova-canvas-v1:0 LEGACY in us-west-2: it still works but will be retired; plan a replacement"
            ]
        );
    }

    fn update_plan() -> Plan {
        let mut p = run(&desired(), &live());
        p.actions.push(Action {
            kind: ActionKind::UpdateStack {
                parameters: BTreeMap::new(),
                tags: BTreeMap::new(),
                changes: vec![],
                allow_data_loss: vec![],
                digest: String::new(),
            },
            reason: "parameters differ (DeploymentSize)".into(),
        });
        p
    }

    #[test]
    fn a_missing_config_is_restored_before_a_stack_update() {
        let mut p = update_plan();
        restore_config(
            &mut p,
            &desired().litellm,
            &outputs(),
            None,
            &listed(&[("amazon.nova-canvas-v1:0", "ACTIVE")]),
        );
        assert_eq!(names(&p), ["RestoreModelConfig", "UpdateStack"]);
        assert_eq!(p.actions[0].kind.concern(), crate::plan::Concern::Stack);

        // Present (even an older one): nothing to restore.
        let mut p = update_plan();
        restore_config(
            &mut p,
            &desired().litellm,
            &outputs(),
            Some("b"),
            &BTreeMap::new(),
        );
        assert_eq!(names(&p), ["UpdateStack"]);

        // Cannot be restored: the update waits, and says why.
        let mut p = update_plan();
        restore_config(&mut p, &desired().litellm, &outputs(), None, &listed(&[]));
        assert!(names(&p).is_empty());
        assert!(
            p.problems[0].contains("the stack update waits"),
            "{:?}",
            p.problems
        );
    }
}
