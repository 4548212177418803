//! Planning Open WebUI's task count, or its Application Auto Scaling target and CPU
//! policy when autoscaling is wanted (then the autoscaler owns the count).

use super::owned::usable;
use super::{Action, ActionKind, App, Part};
use crate::observe::{LiveOwned, LiveService, scaling_resource_id};
use crate::render::{Outputs, ServicesDesired};

pub(super) fn plan(desired: &ServicesDesired, outputs: &Outputs, live: &LiveOwned) -> Part {
    let mut part = Part::default();
    if let Some(ow) = usable(
        &mut part,
        "Open WebUI",
        &outputs.openwebui_service,
        &live.openwebui,
    ) {
        let resource_id = scaling_resource_id(&outputs.cluster, &ow.name);
        match desired.openwebui_autoscaling {
            Some(a) => {
                // The autoscaler owns the count now; the operator only sets its bounds.
                if live.scaling.target != Some((a.min_capacity, a.max_capacity)) {
                    part.actions.push(Action {
                        reason: match live.scaling.target {
                            None => format!(
                                "autoscaling is wanted: register {}..{} tasks",
                                a.min_capacity, a.max_capacity
                            ),
                            Some((lo, hi)) => format!(
                                "capacity {lo}..{hi} → {}..{}",
                                a.min_capacity, a.max_capacity
                            ),
                        },
                        kind: ActionKind::RegisterScalableTarget {
                            resource_id: resource_id.clone(),
                            min: a.min_capacity,
                            max: a.max_capacity,
                            from: live.scaling.target,
                        },
                    });
                }
                let want = f64::from(a.target_cpu_percent);
                if live
                    .scaling
                    .cpu_policy
                    .is_none_or(|v| (v - want).abs() > f64::EPSILON)
                {
                    part.actions.push(Action {
                        reason: match live.scaling.cpu_policy {
                            None => format!(
                                "no CPU target-tracking policy: track {}% CPU",
                                a.target_cpu_percent
                            ),
                            Some(v) => format!("CPU target {v}% → {}%", a.target_cpu_percent),
                        },
                        kind: ActionKind::PutCpuScalingPolicy {
                            resource_id,
                            target: a.target_cpu_percent,
                            from: live.scaling.cpu_policy,
                        },
                    });
                }
            }
            None => {
                if live.scaling.target.is_some() {
                    part.actions.push(Action {
                        reason: "autoscaling is not in the desired state: deregister the scalable target so that it does not fight the fixed count".into(),
                        kind: ActionKind::DeregisterScalableTarget { resource_id },
                    });
                }
                if let Some(a) = count_change(App::OpenWebUi, outputs, ow, desired.openwebui_count)
                {
                    part.actions.push(a);
                }
            }
        }
    }
    part
}

/// The action that sets `svc`'s desired count to `want`, if it differs.
pub(super) fn count_change(
    app: App,
    outputs: &Outputs,
    svc: &LiveService,
    want: u32,
) -> Option<Action> {
    let what = match app {
        App::OpenWebUi => "Open WebUI",
        App::LiteLlm => "LiteLLM",
    };
    (svc.desired != want).then(|| Action {
        reason: format!("{what} desired count {} → {want}", svc.desired),
        kind: ActionKind::SetDesiredCount {
            cluster: outputs.cluster.clone(),
            service: svc.name.clone(),
            app,
            from: svc.desired,
            to: want,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{live, names, owned_desired as desired, run};
    use crate::desired::Autoscaling;
    use crate::observe::LiveScaling;
    use crate::plan::PlanStatus;

    #[test]
    fn all_as_desired_means_no_action() {
        let p = run(&desired(), &live());
        assert!(p.actions.is_empty(), "{:?}", p.actions);
        assert_eq!(p.status(), PlanStatus::InSync);
    }

    #[test]
    fn autoscaling_registers_bounds_and_policy_and_never_writes_the_count() {
        let mut d = desired();
        d.services.openwebui_autoscaling = Some(Autoscaling {
            min_capacity: 1,
            max_capacity: 3,
            target_cpu_percent: 70,
        });
        let mut l = live();
        // The autoscaler moved the count: that is its job, not drift.
        l.openwebui.as_mut().unwrap().desired = 3;
        let p = run(&d, &l);
        assert_eq!(names(&p), ["RegisterScalableTarget", "PutCpuScalingPolicy"]);
        assert!(!names(&p).contains(&"SetDesiredCount"));

        l.scaling = LiveScaling {
            target: Some((1, 3)),
            cpu_policy: Some(70.0),
        };
        assert!(run(&d, &l).actions.is_empty());

        l.scaling = LiveScaling {
            target: Some((1, 2)),
            cpu_policy: Some(50.0),
        };
        let p = run(&d, &l);
        assert_eq!(p.actions[0].reason, "capacity 1..2 → 1..3");
        assert_eq!(p.actions[1].reason, "CPU target 50% → 70%");
    }

    #[test]
    fn removing_autoscaling_deregisters_then_restores_the_count() {
        let mut l = live();
        l.scaling = LiveScaling {
            target: Some((1, 3)),
            cpu_policy: Some(70.0),
        };
        l.openwebui.as_mut().unwrap().desired = 3;
        let p = run(&desired(), &l);
        assert_eq!(names(&p), ["DeregisterScalableTarget", "SetDesiredCount"]);
    }

    #[test]
    fn missing_or_draining_service_is_reported_not_recreated() {
        let mut l = live();
        l.openwebui = None;
        l.litellm.as_mut().unwrap().status = "DRAINING".into();
        let p = run(&desired(), &l);
        assert!(
            names(&p)
                .iter()
                .all(|n| !n.contains("Count") && *n != "RedeployLiteLlm"),
            "{:?}",
            names(&p)
        );
        assert_eq!(p.problems.len(), 2);
        assert!(p.problems[0].contains("chat-openwebui does not exist"));
        assert!(p.problems[1].contains("chat-litellm is DRAINING"));
        assert_eq!(p.status(), PlanStatus::Blocked);
    }
}
