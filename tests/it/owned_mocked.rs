//! Owned-field paths moto does not implement — UpdateBackupPlan, backup selections,
//! Bedrock's ListFoundationModels — against the real API shapes with aws-smithy-mocks.
//! Every test here is named `mocked_…`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_backup::Client as Backup;
use aws_sdk_backup::operation::create_backup_selection::CreateBackupSelectionOutput;
use aws_sdk_backup::operation::delete_backup_selection::DeleteBackupSelectionOutput;
use aws_sdk_backup::operation::get_backup_plan::GetBackupPlanOutput;
use aws_sdk_backup::operation::list_backup_plans::ListBackupPlansOutput;
use aws_sdk_backup::operation::list_backup_selections::ListBackupSelectionsOutput;
use aws_sdk_backup::operation::list_tags::ListTagsOutput;
use aws_sdk_backup::operation::update_backup_plan::UpdateBackupPlanOutput;
use aws_sdk_backup::types::{
    BackupPlan, BackupPlansListMember, BackupRule, BackupSelectionsListMember, Lifecycle,
};
use aws_sdk_bedrock::Client as Bedrock;
use aws_sdk_bedrock::operation::list_foundation_models::ListFoundationModelsOutput;
use aws_sdk_bedrock::types::{
    FoundationModelLifecycle, FoundationModelLifecycleStatus, FoundationModelSummary,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use bedrock_chat_operator::act::{self, Strategy};
use bedrock_chat_operator::aws::{CallCounter, Clients};
use bedrock_chat_operator::context::{Context, Settings};
use bedrock_chat_operator::desired::{self, ImageChatStack};
use bedrock_chat_operator::names::CONFIG_TAG;
use bedrock_chat_operator::observe::{self, LiveOwned, LiveScaling, LiveService};
use bedrock_chat_operator::plan::{self, Action, ActionKind, Plan};
use bedrock_chat_operator::render::{self, Outputs, OwnedDesired, RenderedStack};

use crate::common::{Emulator, skip_emulator_tests};
use crate::stack::{desired_file, example};

fn doc(edit: impl Fn(String) -> String) -> ImageChatStack {
    let (_dir, file) = desired_file(&edit(example()));
    desired::load(&[file]).unwrap().remove(0)
}

fn outputs() -> Outputs {
    Outputs {
        cluster: "chat".into(),
        openwebui_service: "chat-openwebui".into(),
        litellm_service: "chat-litellm".into(),
        config_bucket: "chat-config".into(),
        config_key: "litellm/config.yaml".into(),
        images_config_key: "litellm/images.yaml".into(),
        file_system_arn: "arn:aws:elasticfilesystem:us-west-2:123456789012:file-system/fs-1".into(),
        backup_vault: "chat-vault".into(),
        backup_role_arn: "arn:aws:iam::123456789012:role/chat-backup".into(),
    }
}

fn owned(d: &ImageChatStack) -> OwnedDesired {
    let rendered = RenderedStack::new(d).unwrap();
    render::owned(d, &rendered.parameters, &outputs()).unwrap()
}

fn sdk_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-west-2"))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build()
}

fn ctx() -> Context {
    Context::new(sdk_config(), Settings::default())
}

fn empty_plan() -> Plan {
    Plan {
        name: "demo".into(),
        stack_name: "bedrock-image-chat".into(),
        region: "us-west-2".into(),
        actions: vec![],
        waiting: None,
        blocked: None,
        drift: Default::default(),
        problems: vec![],
        notes: vec![],
        resource_changes: None,
    }
}

/// Services, scaling and config exactly as `want` has them, so only backup differs.
fn live_services(want: &OwnedDesired) -> LiveOwned {
    let svc = |name: &str, desired: u32| LiveService {
        name: name.into(),
        arn: format!("arn:aws:ecs:us-west-2:123456789012:service/chat/{name}"),
        status: "ACTIVE".into(),
        desired,
        running: desired,
        tags: BTreeMap::from([(CONFIG_TAG.to_string(), want.litellm.config_sha256.clone())]),
        task_definition: format!("arn:aws:ecs:us-west-2:123456789012:task-definition/{name}:1"),
        deployments: Vec::new(),
    };
    let a = want.services.openwebui_autoscaling.unwrap();
    LiveOwned {
        openwebui: Some(svc("chat-openwebui", 2)),
        litellm: Some(svc("chat-litellm", want.litellm.count)),
        scaling: LiveScaling {
            target: Some((a.min_capacity, a.max_capacity)),
            cpu_policy: Some(f64::from(a.target_cpu_percent)),
        },
        config_sha256: Some(want.litellm.config_sha256.clone()),
        models: Default::default(),
        backup: Default::default(),
    }
}

fn listed_plan() -> ListBackupPlansOutput {
    ListBackupPlansOutput::builder()
        .backup_plans_list(
            BackupPlansListMember::builder()
                .backup_plan_name("bedrock-image-chat-efs")
                .backup_plan_id("p1")
                .backup_plan_arn("arn:aws:backup:us-west-2:123456789012:backup-plan:p1")
                .version_id("v1")
                .build(),
        )
        .build()
}

/// The plan as AWS Backup stores it: the example's rule, 02:00 UTC, kept 7 days.
fn stored_plan() -> GetBackupPlanOutput {
    GetBackupPlanOutput::builder()
        .backup_plan(
            BackupPlan::builder()
                .backup_plan_name("bedrock-image-chat-efs")
                .rules(rule("cron(0 2 * * ? *)", 7))
                .build()
                .unwrap(),
        )
        .build()
}

/// The tags that make a plan the operator's.
fn managed_tags() -> ListTagsOutput {
    ListTagsOutput::builder()
        .tags("bedrock-chat-operator/managed-by", "bedrock-chat-operator")
        .build()
}

fn rule(schedule: &str, days: i64) -> BackupRule {
    BackupRule::builder()
        .rule_name("efs-scheduled")
        .target_backup_vault_name("chat-vault")
        .schedule_expression(schedule)
        .schedule_expression_timezone("Etc/UTC")
        .lifecycle(Lifecycle::builder().delete_after_days(days).build())
        .build()
        .unwrap()
}

fn clients_with_backup(b: Backup) -> Clients {
    let mut c = Clients::new(&sdk_config(), &CallCounter::default());
    c.backup = b;
    c
}

#[tokio::test]
async fn mocked_backup_changed_rule_is_updated_in_place_and_its_version_remembered() {
    let d = doc(|s| {
        s.replace(
            "cron(0 2 * * ? *)\", retentionDays: 7",
            "cron(0 4 * * ? *)\", retentionDays: 30",
        )
    });
    let want = owned(&d);
    let selection_name = want.backup.selection.name.clone();
    let list = mock!(Backup::list_backup_plans).then_output(listed_plan);
    let tags = mock!(Backup::list_tags)
        .match_requests(|r| {
            r.resource_arn() == Some("arn:aws:backup:us-west-2:123456789012:backup-plan:p1")
        })
        .then_output(|| {
            ListTagsOutput::builder()
                .tags("bedrock-chat-operator/managed-by", "bedrock-chat-operator")
                .build()
        });
    let get = mock!(Backup::get_backup_plan).then_output(stored_plan);
    let selections = mock!(Backup::list_backup_selections).then_output(move || {
        ListBackupSelectionsOutput::builder()
            .backup_selections_list(
                BackupSelectionsListMember::builder()
                    .selection_id("s1")
                    .selection_name(selection_name.clone())
                    .iam_role_arn("arn:aws:iam::123456789012:role/chat-backup")
                    .build(),
            )
            .build()
    });
    let update = mock!(Backup::update_backup_plan)
        .match_requests(|r| {
            let plan = r.backup_plan().unwrap();
            let rule = &plan.rules()[0];
            r.backup_plan_id() == Some("p1")
                && plan.backup_plan_name() == "bedrock-image-chat-efs"
                && rule.schedule_expression() == Some("cron(0 4 * * ? *)")
                && rule.schedule_expression_timezone() == Some("Etc/UTC")
                && rule.target_backup_vault_name() == "chat-vault"
                && rule.lifecycle().and_then(|l| l.delete_after_days()) == Some(30)
        })
        .then_output(|| {
            UpdateBackupPlanOutput::builder()
                .backup_plan_id("p1")
                .version_id("v2")
                .build()
        });
    let client = mock_client!(
        aws_sdk_backup,
        RuleMode::MatchAny,
        [&list, &tags, &get, &selections, &update]
    );
    let clients = clients_with_backup(client);

    let mut live = live_services(&want);
    live.backup = observe::describe_backup(&clients, "bedrock-image-chat-efs", None)
        .await
        .unwrap();
    let mut p = empty_plan();
    p.add(plan::plan_owned(&want, &outputs(), &live));
    let kinds: Vec<&str> = p.actions.iter().map(|a| a.kind.name()).collect();
    assert_eq!(kinds, ["UpdateBackupPlan"]);
    let text = p.to_string();
    assert!(
        text.contains("schedule: cron(0 2 * * ? *) → cron(0 4 * * ? *)"),
        "{text}"
    );
    assert!(text.contains("retentionDays: 7 → 30"), "{text}");

    let ctx = ctx();
    let applied = act::execute(&p, &p.actions, Strategy::Enforce, &ctx, &clients)
        .await
        .into_result()
        .unwrap();
    assert_eq!(applied[0].result, bedrock_chat_operator::act::Effect::Done);
    assert_eq!(update.num_calls(), 1);
    let key = plan::history_key("us-west-2", "bedrock-image-chat");
    assert_eq!(
        ctx.history(&key).backup_verified,
        Some(("v2".to_string(), want.backup.plan_sha256.clone()))
    );

    // Next pass: version v2 is known to match, so its details are not read again.
    let gets = get.num_calls();
    observe::describe_backup(&clients, "bedrock-image-chat-efs", Some("v1"))
        .await
        .unwrap();
    assert_eq!(
        get.num_calls(),
        gets,
        "a verified version is not read again"
    );
}

#[tokio::test]
async fn mocked_backup_selection_that_differs_is_replaced_create_first() {
    let want = owned(&doc(|s| s));
    let order = Arc::new(Mutex::new(Vec::new()));
    let (o1, o2) = (order.clone(), order.clone());
    let expected_name = want.backup.selection.name.clone();
    let create = mock!(Backup::create_backup_selection)
        .match_requests(move |r| {
            let s = r.backup_selection().unwrap();
            r.backup_plan_id() == Some("p1")
                && s.selection_name() == expected_name
                && s.iam_role_arn() == "arn:aws:iam::123456789012:role/chat-backup"
                && s.resources()
                    == ["arn:aws:elasticfilesystem:us-west-2:123456789012:file-system/fs-1"]
        })
        .then_compute_output(move |_| {
            o1.lock().unwrap().push("create");
            CreateBackupSelectionOutput::builder()
                .selection_id("s2")
                .build()
        });
    let delete = mock!(Backup::delete_backup_selection)
        .match_requests(|r| r.backup_plan_id() == Some("p1") && r.selection_id() == Some("s-old"))
        .then_compute_output(move |_| {
            o2.lock().unwrap().push("delete");
            DeleteBackupSelectionOutput::builder().build()
        });
    let clients = clients_with_backup(mock_client!(
        aws_sdk_backup,
        RuleMode::MatchAny,
        [&create, &delete]
    ));

    let mut p = empty_plan();
    p.actions.push(Action {
        kind: ActionKind::ReplaceBackupSelections {
            plan_id: "p1".into(),
            delete: vec![("s-old".into(), "efs-old".into())],
            create: Some(want.backup.selection.clone()),
        },
        reason: "test".into(),
    });
    act::execute(&p, &p.actions, Strategy::Enforce, &ctx(), &clients)
        .await
        .into_result()
        .unwrap();
    // The file system is never without a selection: create, then delete.
    assert_eq!(*order.lock().unwrap(), ["create", "delete"]);
}

fn summary(id: &str, status: FoundationModelLifecycleStatus) -> FoundationModelSummary {
    FoundationModelSummary::builder()
        .model_arn(format!("arn:aws:bedrock:us-west-2::foundation-model/{id}"))
        .model_id(id)
        .model_lifecycle(
            FoundationModelLifecycle::builder()
                .status(status)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

/// Bedrock's list of one region, with the example's models (Stable Image Ultra marked
/// LEGACY, to see it noted).
fn bedrock_listing() -> Bedrock {
    let list = mock!(Bedrock::list_foundation_models).then_output(|| {
        ListFoundationModelsOutput::builder()
            .model_summaries(summary(
                "stability.sd3-5-large-v1:0",
                FoundationModelLifecycleStatus::Active,
            ))
            .model_summaries(summary(
                "stability.stable-image-ultra-v1:1",
                FoundationModelLifecycleStatus::Legacy,
            ))
            .model_summaries(summary(
                "anthropic.claude-sonnet-4-6",
                FoundationModelLifecycleStatus::Active,
            ))
            .model_summaries(summary(
                "amazon.nova-pro-v1:0",
                FoundationModelLifecycleStatus::Active,
            ))
            .build()
    });
    mock_client!(aws_sdk_bedrock, RuleMode::MatchAny, [&list])
}

/// The plan of the owned fields when the config object is missing and Bedrock lists
/// what `bedrock_listing` does in each region the models are called in (read through
/// `observe`, as a pass reads it).
async fn plan_with_catalog(want: &OwnedDesired) -> Plan {
    let mut live = live_services(want);
    live.config_sha256 = None;
    for m in &want.litellm.bedrock_models {
        let catalog = observe::foundation_models(&bedrock_listing(), &m.region)
            .await
            .unwrap();
        live.models.insert(m.region.clone(), catalog);
    }
    let mut p = empty_plan();
    p.add(plan::plan_owned(want, &outputs(), &live));
    p
}

#[tokio::test]
async fn mocked_bedrock_unknown_model_id_stops_the_push_and_names_it() {
    let d = doc(|s| {
        s.replace(
            "modelId: stability.sd3-5-large-v1:0",
            "modelId: stability.sd3-5-large-v9:0",
        )
    });
    // Refused in the plan, so `plan` reports it as `apply` does, and nothing is pushed.
    let p = plan_with_catalog(&owned(&d)).await;
    let kinds: Vec<&str> = p.actions.iter().map(|a| a.kind.name()).collect();
    assert!(!kinds.contains(&"PushModelConfig"), "{kinds:?}");
    assert_eq!(p.status(), plan::PlanStatus::Blocked);
    assert!(
        p.problems[0].starts_with(
            "Bedrock in us-west-2 offers no model stability.sd3-5-large-v9:0 (ListFoundationModels); fix spec.models"
        ),
        "{:?}",
        p.problems
    );
}

#[tokio::test]
async fn mocked_bedrock_known_legacy_and_profile_ids_pass_and_the_config_is_pushed_to_moto() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    let counter = CallCounter::default();
    let mut clients = Clients::new(&config, &counter);
    clients.bedrock = bedrock_listing();
    clients
        .s3
        .create_bucket()
        .bucket("chat-config")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2)
                .build(),
        )
        .send()
        .await
        .unwrap();
    // Stable Image Ultra is LEGACY (noted, pushed); us.anthropic… is a cross-region
    // profile of a listed model; nova-pro is checked in its own region.
    let d = doc(|s| s);
    let want = owned(&d);
    let mut p = plan_with_catalog(&want).await;
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("stability.stable-image-ultra-v1:1 LEGACY in us-west-2")),
        "{:?}",
        p.notes
    );
    p.actions
        .retain(|a| matches!(a.kind, ActionKind::PushModelConfig(_)));
    let ActionKind::PushModelConfig(push) = &mut p.actions[0].kind else {
        panic!("{:?}", p.actions)
    };
    push.bucket = "chat-config".into();
    act::execute(&p, &p.actions, Strategy::Enforce, &ctx(), &clients)
        .await
        .into_result()
        .unwrap();
    let head = clients
        .s3
        .head_object()
        .bucket("chat-config")
        .key("litellm/config.yaml")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.metadata().and_then(|m| m.get("sha256")),
        Some(&want.litellm.config_sha256)
    );
    assert_eq!(head.content_type(), Some("application/yaml"));
}

/// A plan with more selections than one page holds: the operator's selection is on the
/// second page, so nothing is to be replaced (reading the first page alone, it would
/// create a duplicate selection every pass).
#[tokio::test]
async fn mocked_backup_selections_are_read_across_pages() {
    let want = owned(&doc(|s| s));
    let name = want.backup.selection.name.clone();
    let list = mock!(Backup::list_backup_plans).then_output(listed_plan);
    let tags = mock!(Backup::list_tags).then_output(managed_tags);
    let get = mock!(Backup::get_backup_plan).then_output(stored_plan);
    let member = |id: &str, name: &str| {
        BackupSelectionsListMember::builder()
            .selection_id(id)
            .selection_name(name)
            .iam_role_arn("arn:aws:iam::123456789012:role/chat-backup")
            .build()
    };
    let first = mock!(Backup::list_backup_selections)
        .match_requests(|r| r.next_token().is_none())
        .then_output(move || {
            ListBackupSelectionsOutput::builder()
                .next_token("page-2")
                .build()
        });
    let second = mock!(Backup::list_backup_selections)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(move || {
            ListBackupSelectionsOutput::builder()
                .backup_selections_list(member("s1", &name))
                .build()
        });
    let clients = clients_with_backup(mock_client!(
        aws_sdk_backup,
        RuleMode::MatchAny,
        [&list, &tags, &get, &first, &second]
    ));
    let mut live = live_services(&want);
    live.backup = observe::describe_backup(&clients, "bedrock-image-chat-efs", None)
        .await
        .unwrap();
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    let mut p = empty_plan();
    p.add(plan::plan_owned(&want, &outputs(), &live));
    let kinds: Vec<&str> = p.actions.iter().map(|a| a.kind.name()).collect();
    assert!(kinds.is_empty(), "{kinds:?}");
}
