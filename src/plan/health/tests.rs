//! The judgement of each component from facts in AWS's shapes, without AWS.

use super::*;
use crate::observe::health::{
    HealthDepth, LiveAlarm, LiveFileSystem, LiveNetwork, LiveSecret, LiveTarget, ModelAvailability,
    ModelHealth, SecretState, ServiceHealth, StoppedContainer, StoppedTask,
};
use crate::observe::{LiveDeployment, LiveService};
use crate::plan::fixtures::service;

const TD: &str = "arn:aws:ecs:us-west-2:1:task-definition/chat-litellm";

fn facts(services: Vec<ServiceHealth>) -> HealthFacts {
    HealthFacts::of_services(HealthDepth::Full, services)
}

fn litellm(svc: LiveService, registered: Option<&str>, stopped: Vec<StoppedTask>) -> ServiceHealth {
    ServiceHealth {
        component: "litellm",
        service: Some(svc),
        registered: registered.map(str::to_string),
        stopped: Read::Ok { value: stopped },
    }
}

fn stopped(reason: &str, container_reason: Option<&str>, code: Option<i32>) -> StoppedTask {
    StoppedTask {
        task_arn: "arn:aws:ecs:us-west-2:1:task/chat/1".into(),
        task_definition: format!("{TD}:2"),
        stopped_reason: reason.into(),
        stop_code: "TaskFailedToStart".into(),
        stopped_at: Some("2026-12-01T10:00:00Z".into()),
        containers: vec![StoppedContainer {
            name: "litellm".into(),
            reason: container_reason.map(str::to_string),
            exit_code: code,
        }],
    }
}

fn only(h: &Health, name: &str) -> Component {
    h.components
        .iter()
        .find(|c| c.name == name)
        .cloned()
        .unwrap()
}

#[test]
fn a_steady_service_is_healthy_and_a_missing_one_blocks() {
    let h = judge(
        &facts(vec![litellm(service("chat-litellm", 2), None, vec![])]),
        false,
    );
    let c = only(&h, "litellm");
    assert_eq!(
        (c.status, c.reason.as_str()),
        (HealthStatus::Healthy, "Running")
    );
    assert!(!h.progressing() && h.blocking().is_none());

    let missing = ServiceHealth {
        service: None,
        ..litellm(service("x", 1), None, vec![])
    };
    let h = judge(&facts(vec![missing]), false);
    assert_eq!(h.blocking().unwrap().reason, "ServiceMissing");
}

#[test]
fn stopped_tasks_are_classified_by_the_reasons_ecs_gives() {
    let cases = [
        (
            "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref ghcr.io/x",
            None,
            None,
            "ImagePullFailed",
        ),
        (
            "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed",
            None,
            None,
            "SecretUnreadable",
        ),
        (
            "ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: mount.nfs4: Connection timed out",
            None,
            None,
            "EfsMountFailed",
        ),
        (
            "Essential container in task exited",
            Some("OutOfMemoryError: Container killed due to memory usage"),
            Some(137),
            "OutOfMemory",
        ),
        (
            "Essential container in task exited",
            None,
            Some(1),
            "ContainerExited",
        ),
        (
            "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-west-2:1:targetgroup/chat/1)",
            None,
            None,
            "HealthCheckFailed",
        ),
        (
            "Scaling activity initiated by (deployment ecs-svc/1)",
            None,
            None,
            "TaskStopped",
        ),
    ];
    for (reason, container, code, want) in cases {
        let (got, message, remedy) = classify_stopped(&stopped(reason, container, code), false);
        assert_eq!(got, want, "{reason}");
        assert!(message.contains(reason), "{message}");
        assert!(!remedy.is_empty());
    }
    let (_, message, _) = classify_stopped(
        &stopped("Essential container in task exited", None, Some(3)),
        false,
    );
    assert!(message.contains("exited with code 3"), "{message}");
    // The remedy names the pull path the stack uses.
    let pull = stopped("CannotPullContainerError: x", None, None);
    assert!(classify_stopped(&pull, true).2.contains("pull-through"));
    assert!(classify_stopped(&pull, false).2.contains("NAT"));
}

#[test]
fn a_service_without_its_tasks_blocks_with_the_latest_stop_reason() {
    let mut svc = service("chat-litellm", 2);
    svc.running = 0;
    let mut t = stopped(
        "ResourceInitializationError: unable to pull secrets or registry auth",
        None,
        None,
    );
    t.task_definition = svc.task_definition.clone();
    let h = judge(&facts(vec![litellm(svc.clone(), None, vec![t])]), false);
    let c = h.blocking().unwrap();
    assert_eq!((c.name, c.reason.as_str()), ("litellm", "SecretUnreadable"));
    assert!(c.message.contains("0/2 tasks running"), "{}", c.message);
    // Without a stopped task to explain it, tasks are on their way.
    let h = judge(&facts(vec![litellm(svc, None, vec![])]), false);
    assert_eq!(only(&h, "litellm").status, HealthStatus::Progressing);
    assert!(h.progressing());
}

#[test]
fn a_circuit_breaker_rollback_is_degraded_with_the_reason_while_the_old_version_serves() {
    // The stack registered revision 2; ECS rolled back to 1 and serves it.
    let mut svc = service("chat-litellm", 2);
    svc.task_definition = format!("{TD}:1");
    svc.deployments = vec![LiveDeployment {
        status: "PRIMARY".into(),
        task_definition: format!("{TD}:1"),
        rollout_state: Some("COMPLETED".into()),
        rollout_state_reason: Some(
            "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.".into(),
        ),
        desired: 2,
        running: 2,
        failed_tasks: 0,
    }];
    let t = stopped("Essential container in task exited", None, Some(1));
    let h = judge(
        &facts(vec![litellm(
            svc.clone(),
            Some(&format!("{TD}:2")),
            vec![t],
        )]),
        false,
    );
    let c = only(&h, "litellm");
    assert_eq!(
        (c.status, c.reason.as_str(), c.blocking),
        (HealthStatus::Degraded, "RolledBack", false)
    );
    assert!(
        c.message.contains("chat-litellm:1") && c.message.contains("chat-litellm:2"),
        "{}",
        c.message
    );
    assert!(c.message.contains("exited with code 1"), "{}", c.message);

    // While the rollback runs, the failed deployment is still listed, FAILED.
    svc.deployments.push(LiveDeployment {
        status: "ACTIVE".into(),
        task_definition: format!("{TD}:2"),
        rollout_state: Some("FAILED".into()),
        rollout_state_reason: Some("ECS deployment circuit breaker: tasks failed to start.".into()),
        desired: 0,
        running: 0,
        failed_tasks: 3,
    });
    let h = judge(
        &facts(vec![litellm(svc, Some(&format!("{TD}:2")), vec![])]),
        false,
    );
    let c = only(&h, "litellm");
    assert_eq!(c.reason, "RolloutFailed");
    assert!(c.message.contains("tasks failed to start"), "{}", c.message);
}

fn target(state: &str, reason: Option<&str>) -> LiveTarget {
    LiveTarget {
        id: "10.0.1.5".into(),
        port: Some(8080),
        state: state.into(),
        reason: reason.map(str::to_string),
        description: reason.map(|_| "Health checks failed with these codes: [502]".into()),
    }
}

fn with_targets(t: Vec<LiveTarget>, running: u32) -> Health {
    let mut svc = service("chat-openwebui", running);
    svc.running = running;
    let mut f = facts(vec![ServiceHealth {
        component: "openwebui",
        service: Some(svc),
        registered: None,
        stopped: Read::NotRead,
    }]);
    f.targets = Read::Ok { value: t };
    judge(&f, false)
}

#[test]
fn target_health_says_the_reason_elb_gives_and_blocks_only_without_a_healthy_target() {
    let c = only(
        &with_targets(vec![target("healthy", None), target("healthy", None)], 2),
        "loadBalancer",
    );
    assert_eq!(c.status, HealthStatus::Healthy);
    let h = with_targets(
        vec![
            target("healthy", None),
            target("unhealthy", Some("Target.FailedHealthChecks")),
        ],
        2,
    );
    let c = only(&h, "loadBalancer");
    assert_eq!(
        (c.status, c.reason.as_str(), c.blocking),
        (HealthStatus::Degraded, "Target.FailedHealthChecks", false)
    );
    assert!(c.message.contains("[502]"), "{}", c.message);
    let h = with_targets(vec![target("unhealthy", Some("Target.Timeout"))], 1);
    assert_eq!(h.blocking().unwrap().reason, "Target.Timeout");
    // One of two tasks deregistered by hand.
    let c = only(
        &with_targets(vec![target("healthy", None)], 2),
        "loadBalancer",
    );
    assert_eq!((c.reason.as_str(), c.blocking), ("TargetsMissing", false));
    assert_eq!(
        with_targets(vec![], 1).blocking().unwrap().reason,
        "TargetsMissing"
    );
    assert_eq!(
        only(
            &with_targets(
                vec![target("initial", Some("Elb.InitialHealthChecking"))],
                1
            ),
            "loadBalancer"
        )
        .status,
        HealthStatus::Progressing
    );
}

#[test]
fn states_aws_may_add_later_are_unknown_with_the_raw_value_never_a_panic() {
    let c = only(
        &with_targets(vec![target("warming.up", None)], 1),
        "loadBalancer",
    );
    assert_eq!(c.status, HealthStatus::Unknown);
    assert!(c.message.contains("warming.up"));
    let mut f = facts(vec![]);
    f.file_system = Read::Ok {
        value: LiveFileSystem {
            id: "fs-1".into(),
            state: Some("hibernating".into()),
            mount_targets: vec![],
        },
    };
    f.alarms = Read::Ok {
        value: vec![LiveAlarm {
            name: "a".into(),
            state: "MAYBE".into(),
            reason: String::new(),
            since: None,
        }],
    };
    let h = judge(&f, false);
    for name in ["efs", "alarms"] {
        let c = only(&h, name);
        assert_eq!(c.status, HealthStatus::Unknown, "{name}");
        assert!(c.message.contains("hibernating") || c.message.contains("MAYBE"));
    }
    // A read that failed is Unknown, saying why; it never fails the judgement.
    f.secrets = Read::Failed {
        message: "AccessDenied: not authorized to perform secretsmanager:DescribeSecret".into(),
        unimplemented: false,
    };
    let c = only(&judge(&f, false), "secrets");
    assert_eq!(
        (c.status, c.reason.as_str()),
        (HealthStatus::Unknown, "ReadFailed")
    );
}

#[test]
fn efs_needs_its_two_mount_targets() {
    let mt = |az: &str, state: &str| (format!("fsmt-{az}"), az.to_string(), state.to_string());
    let fs = |mounts| LiveFileSystem {
        id: "fs-1".into(),
        state: Some("available".into()),
        mount_targets: mounts,
    };
    let judge_fs = |f: LiveFileSystem| {
        let mut facts = facts(vec![]);
        facts.file_system = Read::Ok { value: f };
        only(&judge(&facts, false), "efs")
    };
    assert_eq!(
        judge_fs(fs(vec![mt("a", "available"), mt("b", "available")])).status,
        HealthStatus::Healthy
    );
    let c = judge_fs(fs(vec![mt("a", "available"), mt("b", "deleting")]));
    assert_eq!(
        (c.reason.as_str(), c.blocking),
        ("MountTargetsMissing", false)
    );
    assert!(
        c.message.contains("fsmt-b in b is deleting"),
        "{}",
        c.message
    );
    assert!(judge_fs(fs(vec![])).blocking);
    let gone = LiveFileSystem {
        id: "fs-1".into(),
        state: None,
        mount_targets: vec![],
    };
    assert_eq!(judge_fs(gone).reason, "FileSystemMissing");
}

#[test]
fn a_secret_scheduled_for_deletion_blocks_and_names_who_uses_it() {
    let secret = |arn: &str, state| LiveSecret {
        arn: arn.into(),
        used_by: vec!["openwebui/DATABASE_URL".into()],
        state,
    };
    let mut f = facts(vec![]);
    f.secrets = Read::Ok {
        value: vec![
            secret(
                "arn:aws:secretsmanager:us-west-2:1:secret:key-AbCdEf",
                SecretState::Present,
            ),
            secret(
                "arn:aws:secretsmanager:us-west-2:1:secret:db-AbCdEf",
                SecretState::ScheduledForDeletion {
                    on: "2026-12-08T10:00:00Z".into(),
                },
            ),
        ],
    };
    let h = judge(&f, false);
    let c = h.blocking().unwrap();
    assert_eq!(
        (c.name, c.reason.as_str()),
        ("secrets", "SecretScheduledForDeletion")
    );
    assert!(
        c.message.contains("secret:db-AbCdEf")
            && c.message.contains("openwebui/DATABASE_URL")
            && c.message.contains("2026-12-08"),
        "{}",
        c.message
    );
    assert!(c.message.contains("restore-secret"));
    assert!(
        !c.message.contains("key-AbCdEf"),
        "a present secret is not named: {}",
        c.message
    );
}

#[test]
fn network_paths_must_be_available_whatever_the_case_ec2_writes() {
    let mut f = facts(vec![]);
    f.network = Read::Ok {
        value: LiveNetwork {
            endpoints: vec![
                (
                    "BedrockRuntimeEndpoint".into(),
                    "vpce-1".into(),
                    Some("Available".into()),
                ),
                (
                    "SecretsManagerEndpoint".into(),
                    "vpce-2".into(),
                    Some("available".into()),
                ),
            ],
            nat_gateways: vec![("nat-1".into(), Some("available".into()), None)],
        },
    };
    assert_eq!(
        only(&judge(&f, false), "network").status,
        HealthStatus::Healthy
    );
    if let Read::Ok { value } = &mut f.network {
        value.endpoints[1].2 = Some("deleted".into());
        value.nat_gateways[0] = (
            "nat-1".into(),
            Some("failed".into()),
            Some("Subnet has insufficient free addresses".into()),
        );
    }
    let c = only(&judge(&f, false), "network");
    assert!(c.blocking);
    assert!(
        c.message
            .contains("SecretsManagerEndpoint (vpce-2) is deleted")
            && c.message.contains("insufficient free addresses"),
        "{}",
        c.message
    );
}

fn model(id: &str, text: bool, a: ModelAvailability) -> ModelHealth {
    ModelHealth {
        id: id.into(),
        region: "us-west-2".into(),
        text,
        lifecycle: Read::Ok {
            value: Some("ACTIVE".into()),
        },
        availability: Read::Ok { value: a },
    }
}

fn usable() -> ModelAvailability {
    ModelAvailability {
        agreement: "AVAILABLE".into(),
        authorization: "AUTHORIZED".into(),
        entitlement: "AVAILABLE".into(),
        region: "AVAILABLE".into(),
    }
}

#[test]
fn a_model_without_access_is_named_with_the_console_remedy_and_blocks_only_without_text() {
    let denied = ModelAvailability {
        entitlement: "NOT_AVAILABLE".into(),
        ..usable()
    };
    let mut f = facts(vec![]);
    f.models = vec![
        model("amazon.nova-pro-v1:0", true, usable()),
        model("stability.sd3-5-large-v1:0", false, denied.clone()),
    ];
    let c = only(&judge(&f, false), "models");
    assert_eq!(
        (c.status, c.reason.as_str(), c.blocking),
        (HealthStatus::Degraded, "AccessNotGranted", false)
    );
    assert!(
        c.message
            .contains("stability.sd3-5-large-v1:0 in us-west-2"),
        "{}",
        c.message
    );
    assert!(c.remedy.unwrap().contains("Model access"));
    f.models[0] = model("amazon.nova-pro-v1:0", true, denied);
    assert!(
        judge(&f, false).blocking().is_some(),
        "no text model: nobody can chat"
    );
    // Not listed in its region, or not authorized by IAM.
    f.models = vec![ModelHealth {
        lifecycle: Read::Ok { value: None },
        ..model("x.y", true, usable())
    }];
    assert_eq!(only(&judge(&f, false), "models").reason, "ModelNotOffered");
    f.models = vec![model(
        "x.y",
        true,
        ModelAvailability {
            authorization: "NOT_AUTHORIZED".into(),
            ..usable()
        },
    )];
    assert_eq!(
        only(&judge(&f, false), "models").reason,
        "AccessNotAuthorized"
    );
}

#[test]
fn a_firing_alarm_is_degraded_but_does_not_block() {
    let alarm = |name: &str, state: &str| LiveAlarm {
        name: name.into(),
        state: state.into(),
        reason: "Threshold Crossed: 3 datapoints were greater than 80.0".into(),
        since: Some("2026-12-01T10:00:00Z".into()),
    };
    let mut f = facts(vec![]);
    f.alarms = Read::Ok {
        value: vec![
            alarm("chat-litellm-high-cpu", "OK"),
            alarm("chat-openwebui-high-cpu", "INSUFFICIENT_DATA"),
        ],
    };
    assert_eq!(
        only(&judge(&f, false), "alarms").status,
        HealthStatus::Healthy
    );
    f.alarms = Read::Ok {
        value: vec![alarm("chat-litellm-high-cpu", "ALARM")],
    };
    let h = judge(&f, false);
    let c = only(&h, "alarms");
    assert_eq!((c.status, c.blocking), (HealthStatus::Degraded, false));
    assert!(
        c.message.contains("chat-litellm-high-cpu in ALARM")
            && c.message.contains("Threshold Crossed")
    );
    assert!(h.blocking().is_none() && !h.progressing());
}

#[test]
fn a_newer_revision_than_the_stacks_is_not_a_rollback_and_old_crashes_explain_nothing() {
    // Deployed outside CloudFormation: revision 3 runs, the stack registered 2.
    let mut svc = service("chat-litellm", 2);
    svc.task_definition = format!("{TD}:3");
    svc.deployments[0].task_definition = format!("{TD}:3");
    let h = judge(
        &facts(vec![litellm(svc, Some(&format!("{TD}:2")), vec![])]),
        false,
    );
    assert_eq!(only(&h, "litellm").reason, "TaskDefinitionDiffers");

    // Tasks missing; the only stop is an older revision's crash, and a routine scale-in:
    // neither explains the present, so the tasks are on their way.
    let mut svc = service("chat-litellm", 2);
    svc.running = 1;
    let old = stopped("Essential container in task exited", None, Some(1));
    let mut routine = stopped(
        "Scaling activity initiated by (deployment ecs-svc/1)",
        None,
        None,
    );
    routine.task_definition = svc.task_definition.clone();
    routine.stop_code = "ServiceSchedulerInitiated".into();
    let h = judge(
        &facts(vec![litellm(svc.clone(), None, vec![old, routine])]),
        false,
    );
    assert_eq!(only(&h, "litellm").status, HealthStatus::Progressing);
    // The scheduler stopping this revision for failed health checks does explain it.
    let mut failing = stopped(
        "Task failed ELB health checks in (target-group x)",
        None,
        None,
    );
    failing.task_definition = svc.task_definition.clone();
    failing.stop_code = "ServiceSchedulerInitiated".into();
    let h = judge(&facts(vec![litellm(svc, None, vec![failing])]), false);
    assert_eq!(only(&h, "litellm").reason, "HealthCheckFailed");
}

#[test]
fn a_reading_speaks_for_what_its_depth_covers() {
    let quick = HealthFacts::of_services(HealthDepth::Quick, vec![]);
    let h = judge(&quick, false);
    assert!(h.covers("litellm") && !h.covers("secrets") && !h.covers("models"));
    let infra = judge(&HealthFacts::of_services(HealthDepth::Infra, vec![]), false);
    assert!(infra.covers("secrets") && !infra.covers("models"));
    assert!(judge(&facts(vec![]), false).covers("models"));
}
