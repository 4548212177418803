//! Health paths moto cannot produce — tasks ECS stopped with its reasons (moto runs no
//! task), a circuit-breaker rollback, Bedrock's model availability (moto lacks the
//! operation) — read through the operator's observe code from the real API shapes with
//! aws-smithy-mocks, judged, and folded into `/status` conditions. Named `mocked_…`.

use std::time::Duration;

use aws_sdk_bedrock::Client as Bedrock;
use aws_sdk_bedrock::operation::get_foundation_model_availability::GetFoundationModelAvailabilityOutput;
use aws_sdk_bedrock::operation::list_foundation_models::ListFoundationModelsOutput;
use aws_sdk_bedrock::types::{
    AgreementAvailability, AgreementStatus, AuthorizationStatus, EntitlementAvailability,
    FoundationModelLifecycle, FoundationModelLifecycleStatus, FoundationModelSummary,
    RegionAvailability,
};
use aws_sdk_cloudformation::Client as Cfn;
use aws_sdk_cloudformation::operation::list_stack_resources::ListStackResourcesOutput;
use aws_sdk_cloudformation::types::{ResourceStatus, StackResourceSummary};
use aws_sdk_ecs::Client as Ecs;
use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::types::{Container, ContainerDefinition, Task, TaskDefinition, TaskStopCode};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;
use bedrock_chat_operator::aws::{CallCounter, Clients};
use bedrock_chat_operator::context::{Context, Settings};
use bedrock_chat_operator::controller::status::StackStatus;
use bedrock_chat_operator::controller::{Calls, Outcome, PassReport, Trigger};
use bedrock_chat_operator::observe::health::{HealthDepth, HealthTarget, observe_health};
use bedrock_chat_operator::observe::{LiveDeployment, LiveService};
use bedrock_chat_operator::plan::health::{Health, HealthStatus, judge};

const TD: &str = "arn:aws:ecs:us-west-2:123456789012:task-definition/bedrock-image-chat";

fn sdk_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-west-2"))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build()
}

fn clients(cfn: Cfn, ecs: Ecs, bedrock: Bedrock) -> Clients {
    let mut c = Clients::new(&sdk_config(), &CallCounter::default());
    c.cloudformation = cfn;
    c.ecs = ecs;
    c.bedrock = bedrock;
    c
}

/// Clients whose stack lists LiteLLM's task definition at `litellm_rev`.
fn stack_clients(litellm_rev: u32, ecs: Ecs, bedrock: Bedrock) -> Clients {
    let list = mock!(Cfn::list_stack_resources).then_output(move || resources(litellm_rev));
    clients(mock_client!(aws_sdk_cloudformation, [&list]), ecs, bedrock)
}

/// The stack's two task definitions: Open WebUI at revision 1, LiteLLM at `litellm_rev`.
fn resources(litellm_rev: u32) -> ListStackResourcesOutput {
    let summary = |logical: &str, physical: String| {
        StackResourceSummary::builder()
            .logical_resource_id(logical)
            .physical_resource_id(physical)
            .resource_type("AWS::ECS::TaskDefinition")
            .resource_status(ResourceStatus::UpdateComplete)
            .last_updated_timestamp(DateTime::from_secs(1_795_000_000))
            .build()
    };
    ListStackResourcesOutput::builder()
        .stack_resource_summaries(summary(
            "OpenWebUITaskDefinition",
            format!("{TD}-openwebui:1"),
        ))
        .stack_resource_summaries(summary(
            "LiteLLMTaskDefinition",
            format!("{TD}-litellm:{litellm_rev}"),
        ))
        .build()
}

fn service(name: &str, running: u32, deployments: Vec<LiveDeployment>) -> LiveService {
    LiveService {
        name: format!("bedrock-image-chat-{name}"),
        arn: format!(
            "arn:aws:ecs:us-west-2:123456789012:service/bedrock-image-chat/bedrock-image-chat-{name}"
        ),
        status: "ACTIVE".into(),
        desired: 2,
        running,
        tags: Default::default(),
        task_definition: deployments[0].task_definition.clone(),
        deployments,
    }
}

fn deployment(status: &str, td: String, state: &str, reason: &str, running: u32) -> LiveDeployment {
    LiveDeployment {
        status: status.into(),
        task_definition: td,
        rollout_state: Some(state.into()),
        rollout_state_reason: Some(reason.into()),
        desired: 2,
        running,
        failed_tasks: 3,
    }
}

fn stopped_task(reason: &str, container_reason: Option<&str>, exit: Option<i32>, at: i64) -> Task {
    Task::builder()
        .task_arn(format!(
            "arn:aws:ecs:us-west-2:123456789012:task/bedrock-image-chat/{at}"
        ))
        .task_definition_arn(format!("{TD}-litellm:2"))
        .stopped_reason(reason)
        .stop_code(TaskStopCode::TaskFailedToStart)
        .stopped_at(DateTime::from_secs(at))
        .containers(
            Container::builder()
                .name("litellm")
                .set_reason(container_reason.map(str::to_string))
                .set_exit_code(exit)
                .build(),
        )
        .build()
}

/// ECS: task definitions without secrets, and `tasks` as the service's stopped tasks.
fn ecs(tasks: Vec<Task>) -> Ecs {
    let td = mock!(Ecs::describe_task_definition).then_output(|| {
        DescribeTaskDefinitionOutput::builder()
            .task_definition(
                TaskDefinition::builder()
                    .container_definitions(ContainerDefinition::builder().name("litellm").build())
                    .build(),
            )
            .build()
    });
    let arns: Vec<String> = tasks
        .iter()
        .map(|t| t.task_arn().unwrap().to_string())
        .collect();
    let list = mock!(Ecs::list_tasks)
        .match_requests(|r| {
            r.desired_status() == Some(&aws_sdk_ecs::types::DesiredStatus::Stopped)
                && r.service_name() == Some("bedrock-image-chat-litellm")
        })
        .then_output(move || {
            ListTasksOutput::builder()
                .set_task_arns(Some(arns.clone()))
                .build()
        });
    let describe = mock!(Ecs::describe_tasks).then_output(move || {
        DescribeTasksOutput::builder()
            .set_tasks(Some(tasks.clone()))
            .build()
    });
    mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&td, &list, &describe])
}

/// Bedrock: both models ACTIVE, each with the availability `image` / `text` gives.
fn bedrock(text: AuthorizationStatus, image_entitlement: EntitlementAvailability) -> Bedrock {
    let list = mock!(Bedrock::list_foundation_models).then_output(|| {
        let model = |id: &str| {
            FoundationModelSummary::builder()
                .model_arn(format!("arn:aws:bedrock:us-west-2::foundation-model/{id}"))
                .model_id(id)
                .model_lifecycle(
                    FoundationModelLifecycle::builder()
                        .status(FoundationModelLifecycleStatus::Active)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        };
        ListFoundationModelsOutput::builder()
            .model_summaries(model("anthropic.claude-sonnet-4-6"))
            .model_summaries(model("stability.sd3-5-large-v1:0"))
            .build()
    });
    let text_rule = mock!(Bedrock::get_foundation_model_availability)
        .match_requests(|r| r.model_id() == Some("anthropic.claude-sonnet-4-6"))
        .then_output(move || availability_output(text.clone(), EntitlementAvailability::Available));
    let image_rule = mock!(Bedrock::get_foundation_model_availability)
        .match_requests(|r| r.model_id() == Some("stability.sd3-5-large-v1:0"))
        .then_output(move || {
            availability_output(AuthorizationStatus::Authorized, image_entitlement.clone())
        });
    mock_client!(
        aws_sdk_bedrock,
        RuleMode::MatchAny,
        [&list, &text_rule, &image_rule]
    )
}

fn availability_output(
    auth: AuthorizationStatus,
    entitlement: EntitlementAvailability,
) -> GetFoundationModelAvailabilityOutput {
    GetFoundationModelAvailabilityOutput::builder()
        .model_id("m")
        .agreement_availability(
            AgreementAvailability::builder()
                .status(AgreementStatus::Available)
                .build()
                .unwrap(),
        )
        .authorization_status(auth)
        .entitlement_availability(entitlement)
        .region_availability(RegionAvailability::Available)
        .build()
        .unwrap()
}

/// Reads and judges the health of a stack whose services are `openwebui` and `litellm`,
/// with the inference profile and the image model of the example.
async fn health(
    c: &Clients,
    openwebui: LiveService,
    litellm: LiveService,
    pull_through: bool,
) -> Health {
    let ctx = Context::new(
        sdk_config(),
        Settings {
            poll_interval: Duration::from_millis(1),
            ..Settings::default()
        },
    );
    let target = HealthTarget {
        region: "us-west-2",
        stack_name: "bedrock-image-chat",
        stack_version: "arn:aws:cloudformation:us-west-2:123456789012:stack/bedrock-image-chat/1@2026-12-01T10:00:00Z",
        cluster: "bedrock-image-chat",
        services: [
            ("openwebui", "bedrock-image-chat-openwebui", Some(openwebui)),
            ("litellm", "bedrock-image-chat-litellm", Some(litellm)),
        ],
        file_system_id: None,
        models: vec![
            (
                "us.anthropic.claude-sonnet-4-6".into(),
                "us-west-2".into(),
                true,
            ),
            (
                "stability.sd3-5-large-v1:0".into(),
                "us-west-2".into(),
                false,
            ),
        ],
    };
    let facts = observe_health(&ctx, c, target, HealthDepth::Full).await;
    judge(&facts, pull_through)
}

fn steady(name: &str) -> LiveService {
    let mut d = deployment(
        "PRIMARY",
        format!("{TD}-{name}:1"),
        "COMPLETED",
        "ECS deployment ecs-svc/1 completed.",
        2,
    );
    d.failed_tasks = 0;
    service(name, 2, vec![d])
}

/// The conditions `/status` shows after a pass that judged `health`.
fn status(health: Health, ready: bool) -> StackStatus {
    let report = PassReport {
        name: "demo".into(),
        trigger: Trigger::Resync,
        outcome: Outcome::InSync,
        plan: None,
        applied: Vec::new(),
        error: None,
        error_message: None,
        calls: Calls::default(),
        duration_ms: 1,
        ready: Some((ready, "counts".into())),
        health: Some(health),
    };
    let mut s = StackStatus::default();
    s.record(&report, Duration::from_secs(60));
    s
}

#[tokio::test]
async fn mocked_ecs_tasks_that_cannot_pull_their_image_make_ready_false_with_the_pull_path_remedy()
{
    let litellm = service(
        "litellm",
        0,
        vec![deployment(
            "PRIMARY",
            format!("{TD}-litellm:2"),
            "IN_PROGRESS",
            "ECS deployment ecs-svc/2 in progress.",
            0,
        )],
    );
    let tasks = vec![
        stopped_task("Task stopped by the scheduler", None, None, 1_795_000_100),
        stopped_task(
            "CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref 123456789012.dkr.ecr.us-west-2.amazonaws.com/ghcr/berriai/litellm:v1.80.11-stable.1: not found",
            None,
            None,
            1_795_000_200,
        ),
    ];
    let c = stack_clients(
        2,
        ecs(tasks),
        bedrock(
            AuthorizationStatus::Authorized,
            EntitlementAvailability::Available,
        ),
    );
    let h = health(&c, steady("openwebui"), litellm, true).await;
    let b = h.blocking().expect("LiteLLM without tasks blocks");
    assert_eq!(
        (b.name, b.reason.as_str()),
        ("litellm", "ImagePullFailed"),
        "{h:#?}"
    );
    // The newest stop explains it, with ECS's own words and the pull path's remedy.
    assert!(
        b.message.contains("0/2 tasks running") && b.message.contains("failed to resolve ref"),
        "{}",
        b.message
    );
    assert!(
        b.remedy.as_deref().unwrap().contains("pull-through cache"),
        "{b:?}"
    );
    let s = status(h, false);
    let ready = s.condition("Ready").unwrap();
    assert_eq!(
        (ready.status, ready.reason.as_str()),
        ("False", "ImagePullFailed")
    );
    assert!(ready.message.starts_with("litellm: "), "{}", ready.message);
}

#[tokio::test]
async fn mocked_ecs_a_circuit_breaker_rollback_makes_synced_false_while_the_old_version_serves() {
    // The stack registered LiteLLM revision 2 (UPDATE_COMPLETE); ECS's circuit breaker
    // rolled the service back to revision 1, which serves.
    let litellm = service(
        "litellm",
        2,
        vec![deployment(
            "PRIMARY",
            format!("{TD}-litellm:1"),
            "COMPLETED",
            "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.",
            2,
        )],
    );
    let tasks = vec![stopped_task(
        "Essential container in task exited",
        None,
        Some(1),
        1_795_000_300,
    )];
    let c = stack_clients(
        2,
        ecs(tasks),
        bedrock(
            AuthorizationStatus::Authorized,
            EntitlementAvailability::Available,
        ),
    );
    let h = health(&c, steady("openwebui"), litellm, false).await;
    let l = h.components.iter().find(|c| c.name == "litellm").unwrap();
    assert_eq!(
        (l.status, l.reason.as_str(), l.blocking),
        (HealthStatus::Degraded, "RolledBack", false),
        "{h:#?}"
    );
    assert!(
        l.message.contains("bedrock-image-chat-litellm:1")
            && l.message.contains("bedrock-image-chat-litellm:2"),
        "{}",
        l.message
    );
    assert!(
        l.message.contains("exited with code 1") && l.message.contains("rolling back"),
        "{}",
        l.message
    );
    let s = status(h, true);
    let synced = s.condition("Synced").unwrap();
    assert_eq!(
        (synced.status, synced.reason.as_str()),
        ("False", "RolledBack"),
        "the change did not take"
    );
    assert_eq!(
        s.condition("Ready").unwrap().status,
        "True",
        "the old version serves"
    );
    assert_eq!(s.condition("Degraded").unwrap().status, "True");
}

#[tokio::test]
async fn mocked_bedrock_a_model_without_access_is_named_with_the_console_remedy() {
    let c = stack_clients(
        1,
        ecs(Vec::new()),
        bedrock(
            AuthorizationStatus::Authorized,
            EntitlementAvailability::NotAvailable,
        ),
    );
    let h = health(&c, steady("openwebui"), steady("litellm"), false).await;
    let m = h.components.iter().find(|c| c.name == "models").unwrap();
    assert_eq!(
        (m.status, m.reason.as_str(), m.blocking),
        (HealthStatus::Degraded, "AccessNotGranted", false),
        "{h:#?}"
    );
    assert!(
        m.message
            .contains("stability.sd3-5-large-v1:0 in us-west-2")
            && !m.message.contains("claude"),
        "{}",
        m.message
    );
    assert!(m.remedy.as_deref().unwrap().contains("Model access"));
    // The profile id is asked as the foundation model it routes to (the rule matched it).
    let s = status(h, true);
    assert_eq!(s.condition("Degraded").unwrap().reason, "AccessNotGranted");
    assert_eq!(
        s.condition("Ready").unwrap().status,
        "True",
        "text chat still works"
    );

    // Access to the text model denied as well: nobody can chat.
    let c = stack_clients(
        1,
        ecs(Vec::new()),
        bedrock(
            AuthorizationStatus::NotAuthorized,
            EntitlementAvailability::NotAvailable,
        ),
    );
    let h = health(&c, steady("openwebui"), steady("litellm"), false).await;
    assert_eq!(h.blocking().map(|b| b.name), Some("models"), "{h:#?}");

    // A value AWS adds later is Unknown, with the raw value, never a panic.
    let c = stack_clients(
        1,
        ecs(Vec::new()),
        bedrock(
            AuthorizationStatus::from("PROVISIONALLY_AUTHORIZED"),
            EntitlementAvailability::Available,
        ),
    );
    let h = health(&c, steady("openwebui"), steady("litellm"), false).await;
    let m = h.components.iter().find(|c| c.name == "models").unwrap();
    assert_eq!(m.status, HealthStatus::Unknown, "{m:?}");
    assert!(
        m.message.contains("PROVISIONALLY_AUTHORIZED"),
        "{}",
        m.message
    );
}
