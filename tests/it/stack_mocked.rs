//! Stack paths moto cannot produce — a failed create (ROLLBACK_COMPLETE), a failed
//! rollback (UPDATE_ROLLBACK_FAILED), drift results, an empty change set, a failing
//! update — tested against the real CloudFormation API shapes with aws-smithy-mocks.
//! Every test here is named `mocked_cfn_…`.

use std::time::Duration;

use aws_sdk_cloudformation::Client as Cfn;
use aws_sdk_cloudformation::operation::continue_update_rollback::ContinueUpdateRollbackOutput;
use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_change_set::DeleteChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_stack_drift_detection_status::DescribeStackDriftDetectionStatusOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stack_resource_drifts::DescribeStackResourceDriftsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
use aws_sdk_cloudformation::operation::detect_stack_drift::DetectStackDriftOutput;
use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
use aws_sdk_cloudformation::operation::set_stack_policy::SetStackPolicyOutput;
use aws_sdk_cloudformation::operation::update_termination_protection::UpdateTerminationProtectionOutput;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, ChangeSetType, DifferenceType, PropertyDifference, ResourceStatus,
    Stack, StackDriftDetectionStatus, StackEvent, StackResourceDrift, StackResourceDriftStatus,
    StackStatus, Tag,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;
use bedrock_chat_operator::act::{self, Strategy};
use bedrock_chat_operator::aws::{CallCounter, Clients};
use bedrock_chat_operator::context::{Context, Settings};
use bedrock_chat_operator::desired::{self, ImageChatStack};
use bedrock_chat_operator::observe::{self, Drift, LiveState};
use bedrock_chat_operator::plan::{self, ActionKind, PlanStatus};
use bedrock_chat_operator::render::RenderedStack;
use bedrock_chat_operator::{Error, chart};

use crate::stack::{desired_file, example};

const NAME: &str = "bedrock-image-chat";
const ID: &str = "arn:aws:cloudformation:us-west-2:123456789012:stack/bedrock-image-chat/abc";

fn doc(edit: impl Fn(String) -> String) -> ImageChatStack {
    let (_dir, file) = desired_file(&edit(example()));
    desired::load(&[file]).unwrap().remove(0)
}

fn sdk_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-west-2"))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build()
}

/// Real clients for every service but CloudFormation, which is the mock.
fn clients(cfn: Cfn) -> Clients {
    let mut c = Clients::new(&sdk_config(), &CallCounter::default());
    c.cloudformation = cfn;
    c
}

fn ctx() -> Context {
    Context::new(
        sdk_config(),
        Settings {
            poll_interval: Duration::from_millis(1),
            ..Settings::default()
        },
    )
}

fn stack(status: StackStatus, reason: Option<&str>) -> Stack {
    let desired = RenderedStack::new(&doc(|d| d)).unwrap();
    Stack::builder()
        .stack_id(ID)
        .stack_name(NAME)
        .creation_time(DateTime::from_secs(1_795_000_000))
        .last_updated_time(DateTime::from_secs(1_795_000_100))
        .stack_status(status)
        .set_stack_status_reason(reason.map(str::to_string))
        .set_tags(Some(
            desired
                .tags
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build()
}

fn stacks(s: Stack) -> DescribeStacksOutput {
    DescribeStacksOutput::builder().stacks(s).build()
}

fn event(id: &str, resource: &str, status: ResourceStatus, reason: &str) -> StackEvent {
    StackEvent::builder()
        .stack_id(ID)
        .stack_name(NAME)
        .event_id(id)
        .logical_resource_id(resource)
        .resource_type("AWS::ECS::Service")
        .resource_status(status)
        .resource_status_reason(reason)
        .timestamp(DateTime::from_secs(1_795_000_200))
        .build()
}

async fn observe(cfn: &Cfn) -> LiveState {
    LiveState {
        stack: observe::describe_stack(&clients(cfn.clone()), NAME)
            .await
            .unwrap(),
        drift: Drift::NotChecked,
        stack_policy: Default::default(),
    }
}

#[tokio::test]
async fn mocked_cfn_rollback_complete_is_blocked_then_recreated_when_allowed() {
    let describe = mock!(Cfn::describe_stacks)
        .sequence()
        .output(|| {
            stacks(stack(
                StackStatus::RollbackComplete,
                Some("The following resource(s) failed to create: [ALB]"),
            ))
        })
        .output(|| stacks(stack(StackStatus::DeleteComplete, None)))
        .output(|| stacks(stack(StackStatus::CreateComplete, None)))
        .build();
    let events = mock!(Cfn::describe_stack_events)
        .then_output(|| DescribeStackEventsOutput::builder().build());
    let delete = mock!(Cfn::delete_stack)
        .match_requests(|r| r.stack_name() == Some(ID))
        .then_output(|| DeleteStackOutput::builder().build());
    let create_cs = mock!(Cfn::create_change_set)
        .match_requests(|r| {
            r.change_set_type() == Some(&ChangeSetType::Create)
                && r.capabilities().contains(&Capability::CapabilityIam)
                && r.template_body() == Some(chart::stack_template().unwrap().body.as_str())
                && r.tags()
                    .iter()
                    .any(|t| t.key() == Some("bedrock-chat-operator/managed-by"))
                && r.parameters().iter().any(|p| {
                    p.parameter_key() == Some("ImageGenerationModel")
                        && p.parameter_value() == Some("stable-diffusion")
                })
        })
        .then_output(|| {
            CreateChangeSetOutput::builder()
                .id("cs-1")
                .stack_id(ID)
                .build()
        });
    let describe_cs = mock!(Cfn::describe_change_set).then_output(|| {
        DescribeChangeSetOutput::builder()
            .status(ChangeSetStatus::CreateComplete)
            .build()
    });
    // A failed create must not leave its (retained) EFS file system behind.
    let execute = mock!(Cfn::execute_change_set)
        .match_requests(|r| {
            r.change_set_name() == Some("cs-1")
                && r.retain_except_on_create() == Some(true)
                && r.disable_rollback() == Some(false)
        })
        .then_output(|| ExecuteChangeSetOutput::builder().build());
    let protect = mock!(Cfn::update_termination_protection)
        .match_requests(|r| r.enable_termination_protection() == Some(true))
        .then_output(|| UpdateTerminationProtectionOutput::builder().build());
    let policy = mock!(Cfn::set_stack_policy)
        .match_requests(|r| {
            r.stack_policy_body()
                .is_some_and(|b| b.contains("LogicalResourceId/EFSFileSystem"))
        })
        .then_output(|| SetStackPolicyOutput::builder().build());
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [
            &describe,
            &events,
            &delete,
            &create_cs,
            &describe_cs,
            &execute,
            &protect,
            &policy
        ]
    );

    let live = observe(&cfn).await;
    let blocked = plan::plan_stack(
        &RenderedStack::new(&doc(|d| d)).unwrap(),
        &live,
        &Default::default(),
    );
    assert_eq!(blocked.status(), PlanStatus::Blocked);
    assert!(
        blocked
            .blocked
            .as_deref()
            .unwrap()
            .contains("failed to create: [ALB]")
    );

    let allowed = doc(|d| d.replace("recreateFailedStack: false", "recreateFailedStack: true"));
    let plan = plan::plan_stack(
        &RenderedStack::new(&allowed).unwrap(),
        &live,
        &Default::default(),
    );
    let applied = act::execute(
        &plan,
        &plan.actions,
        Strategy::Enforce,
        &ctx(),
        &clients(cfn),
    )
    .await
    .into_result()
    .unwrap();
    let names: Vec<&str> = applied.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(
        names,
        [
            "DeleteFailedStack",
            "CreateStack",
            "EnableTerminationProtection",
            "SetStackPolicy"
        ]
    );
    assert_eq!(delete.num_calls(), 1, "DeleteStack by stack id");
    assert_eq!(create_cs.num_calls(), 1);
    assert_eq!(execute.num_calls(), 1);
    assert_eq!(protect.num_calls(), 1);
    assert_eq!(
        policy.num_calls(),
        1,
        "the new stack gets the data-protecting policy"
    );
}

#[tokio::test]
async fn mocked_cfn_update_rollback_failed_gets_one_continue_then_is_blocked() {
    let describe = mock!(Cfn::describe_stacks).then_output(|| {
        stacks(stack(
            StackStatus::UpdateRollbackFailed,
            Some("Resource OpenWebUIService failed to roll back"),
        ))
    });
    let events = mock!(Cfn::describe_stack_events)
        .sequence()
        .output(|| DescribeStackEventsOutput::builder().build())
        .output(|| {
            DescribeStackEventsOutput::builder()
                .stack_events(event(
                    "e2",
                    "OpenWebUIService",
                    ResourceStatus::UpdateFailed,
                    "Service was deleted out of band",
                ))
                .build()
        })
        .build();
    let cont = mock!(Cfn::continue_update_rollback)
        .match_requests(|r| r.stack_name() == Some(NAME))
        .then_output(|| ContinueUpdateRollbackOutput::builder().build());
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&events, &cont, &describe]
    );
    let ctx = ctx();
    let desired = RenderedStack::new(&doc(|d| d)).unwrap();
    let key = plan::history_key(&desired.region, &desired.stack_name);

    let live = observe(&cfn).await;
    let first = plan::plan_stack(&desired, &live, &ctx.history(&key));
    assert!(matches!(
        first.actions[0].kind,
        ActionKind::ContinueUpdateRollback { .. }
    ));
    let err = act::execute(
        &first,
        &first.actions,
        Strategy::Enforce,
        &ctx,
        &clients(cfn.clone()),
    )
    .await
    .into_result()
    .unwrap_err();
    // The rollback still failed: the error names the status and the first failure.
    let msg = err.to_string();
    assert!(matches!(err, Error::StackFailed { .. }), "{msg}");
    assert!(
        msg.contains("UPDATE_ROLLBACK_FAILED")
            && msg.contains("OpenWebUIService: Service was deleted out of band"),
        "{msg}"
    );
    assert_eq!(cont.num_calls(), 1);

    let second = plan::plan_stack(&desired, &observe(&cfn).await, &ctx.history(&key));
    assert_eq!(second.status(), PlanStatus::Blocked);
    assert!(
        second.actions.is_empty(),
        "no second ContinueUpdateRollback"
    );
    assert!(second.blocked.unwrap().contains("continue-update-rollback"));
}

#[tokio::test]
async fn mocked_cfn_drift_results_are_reported_by_plan() {
    let detect = mock!(Cfn::detect_stack_drift)
        .match_requests(|r| r.stack_name() == Some(NAME))
        .then_output(|| {
            DetectStackDriftOutput::builder()
                .stack_drift_detection_id("d-1")
                .build()
        });
    let status = mock!(Cfn::describe_stack_drift_detection_status)
        .sequence()
        .output(|| drift_status(StackDriftDetectionStatus::DetectionInProgress))
        .output(|| drift_status(StackDriftDetectionStatus::DetectionComplete))
        .build();
    let drifts = mock!(Cfn::describe_stack_resource_drifts)
        .match_requests(|r| {
            r.stack_resource_drift_status_filters()
                == [
                    StackResourceDriftStatus::Modified,
                    StackResourceDriftStatus::Deleted,
                ]
        })
        .then_output(|| {
            DescribeStackResourceDriftsOutput::builder()
                .stack_resource_drifts(drift(
                    "ContainerSecurityGroup",
                    "AWS::EC2::SecurityGroup",
                    StackResourceDriftStatus::Modified,
                    Some("/Properties/SecurityGroupIngress/0/CidrIp"),
                ))
                .stack_resource_drifts(drift(
                    "AlarmHighCPU",
                    "AWS::CloudWatch::Alarm",
                    StackResourceDriftStatus::Deleted,
                    None,
                ))
                .build()
        });
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&detect, &status, &drifts]
    );

    let result = detect_drift(cfn).await;
    let Drift::Drifted { resources, .. } = &result else {
        panic!("expected drift, got {result:?}")
    };
    let ids: Vec<&str> = resources.iter().map(|r| r.logical_id.as_str()).collect();
    assert_eq!(ids, ["AlarmHighCPU", "ContainerSecurityGroup"]);
    assert_eq!(status.num_calls(), 2);

    let live = LiveState {
        stack: None,
        drift: result,
        stack_policy: Default::default(),
    };
    let text = plan::plan_stack(
        &RenderedStack::new(&doc(|d| d)).unwrap(),
        &live,
        &Default::default(),
    )
    .to_string();
    assert!(text.contains("! drift: 2 resource(s) differ"), "{text}");
    assert!(text.contains("ContainerSecurityGroup AWS::EC2::SecurityGroup MODIFIED (/Properties/SecurityGroupIngress/0/CidrIp)"), "{text}");
    assert!(
        text.contains("AlarmHighCPU AWS::CloudWatch::Alarm DELETED"),
        "{text}"
    );
}

/// Drift detection on the stack through `cfn`, polling without delay.
async fn detect_drift(cfn: Cfn) -> Drift {
    observe::detect_drift(
        &clients(cfn),
        NAME,
        Duration::from_millis(1),
        Duration::from_secs(5),
    )
    .await
    .unwrap()
}

fn drift_status(s: StackDriftDetectionStatus) -> DescribeStackDriftDetectionStatusOutput {
    DescribeStackDriftDetectionStatusOutput::builder()
        .stack_id(ID)
        .stack_drift_detection_id("d-1")
        .detection_status(s)
        .timestamp(DateTime::from_secs(1_795_000_300))
        .build()
}

fn drift(
    id: &str,
    ty: &str,
    status: StackResourceDriftStatus,
    path: Option<&str>,
) -> StackResourceDrift {
    StackResourceDrift::builder()
        .stack_id(ID)
        .logical_resource_id(id)
        .resource_type(ty)
        .stack_resource_drift_status(status)
        .timestamp(DateTime::from_secs(1_795_000_300))
        .set_property_differences(path.map(|p| {
            vec![
                PropertyDifference::builder()
                    .property_path(p)
                    .expected_value("10.0.0.0/16")
                    .actual_value("0.0.0.0/0")
                    .difference_type(DifferenceType::NotEqual)
                    .build(),
            ]
        }))
        .build()
}

#[tokio::test]
async fn mocked_cfn_empty_change_set_is_deleted_and_counts_as_in_sync() {
    let create_cs = mock!(Cfn::create_change_set)
        .match_requests(|r| r.change_set_type() == Some(&ChangeSetType::Update))
        .then_output(|| CreateChangeSetOutput::builder().id("cs-2").build());
    let describe_cs = mock!(Cfn::describe_change_set).then_output(|| {
        DescribeChangeSetOutput::builder()
            .status(ChangeSetStatus::Failed)
            .status_reason("The submitted information didn't contain changes. Submit different information to create a change set.")
            .build()
    });
    let delete_cs = mock!(Cfn::delete_change_set)
        .match_requests(|r| r.change_set_name() == Some("cs-2"))
        .then_output(|| DeleteChangeSetOutput::builder().build());
    // No rule for ExecuteChangeSet: executing would fail the test.
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&create_cs, &describe_cs, &delete_cs]
    );

    let mut live_stack = observe::LiveStack {
        id: ID.into(),
        status: "UPDATE_COMPLETE".into(),
        status_reason: None,
        parameters: Default::default(),
        outputs: Default::default(),
        tags: RenderedStack::new(&doc(|d| d)).unwrap().tags,
        termination_protection: true,
        last_changed: String::new(),
    };
    live_stack
        .parameters
        .insert("DeploymentSize".into(), "large".into());
    let live = LiveState {
        stack: Some(live_stack),
        drift: Drift::NotChecked,
        stack_policy: Default::default(),
    };
    let plan = plan::plan_stack(
        &RenderedStack::new(&doc(|d| d)).unwrap(),
        &live,
        &Default::default(),
    );
    let applied = act::execute(
        &plan,
        &plan.actions,
        Strategy::Enforce,
        &ctx(),
        &clients(cfn),
    )
    .await
    .into_result()
    .unwrap();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].result, bedrock_chat_operator::act::Effect::NoOp);
    assert_eq!(delete_cs.num_calls(), 1);
}

/// Plans and executes the update of a stack (as `cfn` describes it) whose
/// DeploymentSize drifted to `large`: the change-set path of an update.
async fn update_deployment_size(cfn: Cfn) -> bedrock_chat_operator::Result<Vec<act::Applied>> {
    let mut live_stack = observe(&cfn).await.stack.unwrap();
    live_stack
        .parameters
        .insert("DeploymentSize".into(), "large".into());
    live_stack.termination_protection = true;
    let live = LiveState {
        stack: Some(live_stack),
        drift: Drift::NotChecked,
        stack_policy: Default::default(),
    };
    let plan = plan::plan_stack(
        &RenderedStack::new(&doc(|d| d)).unwrap(),
        &live,
        &Default::default(),
    );
    act::execute(
        &plan,
        &plan.actions,
        Strategy::Enforce,
        &ctx(),
        &clients(cfn),
    )
    .await
    .into_result()
}

#[tokio::test]
async fn mocked_cfn_failed_update_reports_the_first_failure() {
    let create_cs = mock!(Cfn::create_change_set)
        .then_output(|| CreateChangeSetOutput::builder().id("cs-3").build());
    let describe_cs = mock!(Cfn::describe_change_set).then_output(|| {
        DescribeChangeSetOutput::builder()
            .status(ChangeSetStatus::CreateComplete)
            .build()
    });
    // An update's rollback keeps Retain as it is (the data of a replaced file system).
    let execute = mock!(Cfn::execute_change_set)
        .match_requests(|r| r.retain_except_on_create().is_none())
        .then_output(|| ExecuteChangeSetOutput::builder().build());
    let events = mock!(Cfn::describe_stack_events)
        .sequence()
        .output(|| {
            DescribeStackEventsOutput::builder()
                .stack_events(event("old", NAME, ResourceStatus::UpdateComplete, ""))
                .build()
        })
        .output(|| {
            DescribeStackEventsOutput::builder()
                .stack_events(event(
                    "e3",
                    "LiteLLMService",
                    ResourceStatus::UpdateRollbackComplete,
                    "",
                ))
                .stack_events(event(
                    "e2",
                    "LiteLLMService",
                    ResourceStatus::UpdateFailed,
                    "Resource handler returned message: \"Invalid CPU/memory combination\"",
                ))
                .stack_events(event("old", NAME, ResourceStatus::UpdateComplete, ""))
                .build()
        })
        .build();
    let describe = mock!(Cfn::describe_stacks)
        .then_output(|| stacks(stack(StackStatus::UpdateRollbackComplete, None)));
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&create_cs, &describe_cs, &execute, &events, &describe]
    );

    let err = update_deployment_size(cfn).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("ended in UPDATE_ROLLBACK_COMPLETE; first failure: LiteLLMService: Resource handler returned message: \"Invalid CPU/memory combination\""),
        "{msg}"
    );
}

/// A throttled read while waiting (after the SDK's retries, which are off here) does not
/// end the wait: CloudFormation carries on, so the operator keeps polling to the end.
#[tokio::test]
async fn mocked_cfn_a_throttled_poll_does_not_end_the_wait() {
    use aws_sdk_cloudformation::error::ErrorMetadata;
    use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetError;
    use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError;
    let throttled = || {
        ErrorMetadata::builder()
            .code("Throttling")
            .message("Rate exceeded")
            .build()
    };
    let create_cs = mock!(Cfn::create_change_set)
        .then_output(|| CreateChangeSetOutput::builder().id("cs-4").build());
    let describe_cs = mock!(Cfn::describe_change_set)
        .sequence()
        .error(move || DescribeChangeSetError::generic(throttled()))
        .output(|| {
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::CreateComplete)
                .build()
        })
        // The read of its changes before it executes (nothing that holds data).
        .output(|| {
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::CreateComplete)
                .build()
        })
        .build();
    let execute =
        mock!(Cfn::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build());
    let events = mock!(Cfn::describe_stack_events)
        .then_output(|| DescribeStackEventsOutput::builder().build());
    let describe = mock!(Cfn::describe_stacks)
        .sequence()
        .output(|| stacks(stack(StackStatus::UpdateComplete, None)))
        .error(move || DescribeStacksError::generic(throttled()))
        .output(|| stacks(stack(StackStatus::UpdateInProgress, None)))
        .output(|| stacks(stack(StackStatus::UpdateComplete, None)))
        .build();
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&create_cs, &describe_cs, &execute, &events, &describe],
        |c| c.retry_config(aws_sdk_cloudformation::config::retry::RetryConfig::disabled())
    );

    let applied = update_deployment_size(cfn).await.unwrap();
    assert_eq!(applied[0].result, bedrock_chat_operator::act::Effect::Done);
    assert_eq!(describe_cs.num_calls(), 3);
    assert_eq!(describe.num_calls(), 4);
    assert_eq!(execute.num_calls(), 1);
}

/// Drift detection as ops must read it: a detection that failed for some resources is
/// not "in sync" (it is incomplete, and what it found is still shown), and the known
/// false positives — the operator's own tag and count on an ECS service, the EFS volume
/// CloudFormation reads as null on a task definition — are set apart with their reason,
/// so `Drifted` is not stuck True on a healthy stack.
#[tokio::test]
async fn mocked_cfn_failed_detection_is_incomplete_and_known_false_positives_are_set_apart() {
    let diff = |path: &str, kind: DifferenceType, actual: &str| {
        PropertyDifference::builder()
            .property_path(path)
            .expected_value("")
            .actual_value(actual)
            .difference_type(kind)
            .build()
    };
    let resource = |id: &str, ty: &str, diffs: Vec<PropertyDifference>| {
        StackResourceDrift::builder()
            .stack_id(ID)
            .logical_resource_id(id)
            .resource_type(ty)
            .stack_resource_drift_status(StackResourceDriftStatus::Modified)
            .timestamp(DateTime::from_secs(1_795_000_300))
            .set_property_differences(Some(diffs))
            .build()
    };
    let detect = mock!(Cfn::detect_stack_drift).then_output(|| {
        DetectStackDriftOutput::builder()
            .stack_drift_detection_id("d-2")
            .build()
    });
    let status = mock!(Cfn::describe_stack_drift_detection_status).then_output(|| {
        let mut s = drift_status(StackDriftDetectionStatus::DetectionFailed);
        s.detection_status_reason =
            Some("Failed to detect drift on resource [LiteLLMMasterKey]".into());
        s
    });
    let drifts = mock!(Cfn::describe_stack_resource_drifts).then_output(move || {
        DescribeStackResourceDriftsOutput::builder()
            .stack_resource_drifts(resource(
                "LiteLLMService",
                "AWS::ECS::Service",
                vec![
                    diff("/DesiredCount", DifferenceType::NotEqual, "2"),
                    diff(
                        "/Tags/1",
                        DifferenceType::Add,
                        r#"{"Key":"bedrock-chat-operator/config-sha256","Value":"abc"}"#,
                    ),
                ],
            ))
            .stack_resource_drifts(resource(
                "OpenWebUITaskDefinition",
                "AWS::ECS::TaskDefinition",
                vec![diff(
                    "/Volumes/0/EFSVolumeConfiguration",
                    DifferenceType::Remove,
                    "null",
                )],
            ))
            .build()
    });
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&detect, &status, &drifts]
    );
    let result = detect_drift(cfn).await;
    let Drift::Incomplete {
        reason,
        resources,
        ignored,
    } = &result
    else {
        panic!("a failed detection is incomplete, got {result:?}")
    };
    assert!(reason.contains("LiteLLMMasterKey"), "{reason}");
    assert!(resources.is_empty(), "{resources:?}");
    assert_eq!(ignored.len(), 3, "{ignored:?}");
    let live = LiveState {
        stack: None,
        drift: result,
        stack_policy: Default::default(),
    };
    let plan = plan::plan_stack(
        &RenderedStack::new(&doc(|d| d)).unwrap(),
        &live,
        &Default::default(),
    );
    let text = plan.to_string();
    assert!(text.contains("drift: not checked in full"), "{text}");
    assert!(
        text.contains("drift ignored: OpenWebUITaskDefinition /Volumes/0/EFSVolumeConfiguration: CloudFormation reads a task definition's EFSVolumeConfiguration as null (aws-cloudformation/cloudformation-coverage-roadmap#1283)"),
        "{text}"
    );
    assert!(
        text.contains(
            "drift ignored: LiteLLMService /DesiredCount: the operator owns the task count"
        ),
        "{text}"
    );
    assert!(!text.contains("resource(s) differ"), "{text}");
}
