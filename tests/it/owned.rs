//! The fields the operator owns outside the template, end to end on moto: a hand-scaled
//! service is set back, autoscaling owns the count (and gives it back when removed), a
//! model added in Git reaches S3 and redeploys LiteLLM, a deleted backup plan returns.

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};

use crate::common::{Emulator, skip_emulator_tests};
use crate::stack::{desired_file, example, run};

struct Deployed {
    emu: Emulator,
    _dir: tempfile::TempDir,
    file: std::path::PathBuf,
    config: aws_config::SdkConfig,
}

async fn deployed(doc: &str) -> Deployed {
    let emu = Emulator::start();
    let (dir, file) = desired_file(doc);
    let first = run(&emu, &["apply"], &file);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let config = emu.sdk_config().await;
    Deployed {
        emu,
        _dir: dir,
        file,
        config,
    }
}

impl Deployed {
    fn apply(&self) -> crate::stack::Run {
        run(&self.emu, &["apply"], &self.file)
    }

    fn plan(&self) -> crate::stack::Run {
        run(&self.emu, &["plan", "--skip-drift"], &self.file)
    }

    fn edit(&self, f: impl Fn(String) -> String) {
        let doc = std::fs::read_to_string(&self.file).unwrap();
        std::fs::write(&self.file, f(doc)).unwrap();
    }

    /// A converged stack: apply writes nothing.
    fn assert_quiet(&self) {
        let again = self.apply();
        assert_eq!(again.code, 0, "{}", again.stdout);
        assert!(
            again.stdout.contains("stack demo: in sync") && again.stdout.contains(", 0 writes)"),
            "{}",
            again.stdout
        );
    }

    async fn output(&self, key: &str) -> String {
        let cfn = aws_sdk_cloudformation::Client::new(&self.config);
        let out = cfn
            .describe_stacks()
            .stack_name("bedrock-image-chat")
            .send()
            .await
            .unwrap();
        out.stacks()[0]
            .outputs()
            .iter()
            .find(|o| o.output_key() == Some(key))
            .and_then(|o| o.output_value())
            .unwrap()
            .to_string()
    }

    async fn service(&self, which: &str) -> aws_sdk_ecs::types::Service {
        let ecs = aws_sdk_ecs::Client::new(&self.config);
        let name = self.output(which).await;
        let out = ecs
            .describe_services()
            .cluster(self.output("ClusterName").await)
            .services(name)
            .include(aws_sdk_ecs::types::ServiceField::Tags)
            .send()
            .await
            .unwrap();
        out.services()[0].clone()
    }

    async fn scale(&self, which: &str, count: i32) {
        let ecs = aws_sdk_ecs::Client::new(&self.config);
        ecs.update_service()
            .cluster(self.output("ClusterName").await)
            .service(self.output(which).await)
            .desired_count(count)
            .send()
            .await
            .unwrap();
    }

    async fn scalable_target(&self) -> Option<(i32, i32)> {
        let aas = aws_sdk_applicationautoscaling::Client::new(&self.config);
        let id = format!(
            "service/{}/{}",
            self.output("ClusterName").await,
            self.output("OpenWebUIServiceName").await
        );
        let out = aas
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_ids(id)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .send()
            .await
            .unwrap();
        out.scalable_targets()
            .first()
            .map(|t| (t.min_capacity(), t.max_capacity()))
    }
}

/// The example's autoscaling line.
const AUTOSCALING_LINE: &str =
    "      autoscaling: {minCapacity: 1, maxCapacity: 3, targetCpuPercent: 70}\n";

#[tokio::test]
async fn hand_scaled_service_is_set_back_by_one_apply() {
    if skip_emulator_tests() {
        return;
    }
    let d = deployed(&example()).await;
    d.scale("LiteLLMServiceName", 4).await;

    let plan = d.plan();
    assert_eq!(plan.code, 2, "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("~ SetDesiredCount: LiteLLM desired count 4 → 1"),
        "{}",
        plan.stdout
    );
    let apply = d.apply();
    assert!(
        apply.stdout.contains("applied SetDesiredCount"),
        "{}",
        apply.stdout
    );
    assert_eq!(d.service("LiteLLMServiceName").await.desired_count(), 1);
    d.assert_quiet();
}

#[tokio::test]
async fn autoscaling_owns_the_count_and_hands_it_back_when_removed() {
    if skip_emulator_tests() {
        return;
    }
    let d = deployed(&example()).await;
    // The first apply registered the bounds and the CPU policy, and set no count.
    assert_eq!(d.scalable_target().await, Some((1, 3)));
    let aas = aws_sdk_applicationautoscaling::Client::new(&d.config);
    let policies = aas
        .describe_scaling_policies()
        .service_namespace(ServiceNamespace::Ecs)
        .send()
        .await
        .unwrap();
    let policy = &policies.scaling_policies()[0];
    assert_eq!(policy.policy_name(), "bedrock-chat-operator-cpu");
    assert_eq!(
        policy
            .target_tracking_scaling_policy_configuration()
            .map(|c| c.target_value()),
        Some(70.0)
    );

    // The autoscaler moving the count is not drift: no write, no fight.
    d.scale("OpenWebUIServiceName", 3).await;
    let plan = d.plan();
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    d.assert_quiet();
    assert_eq!(d.service("OpenWebUIServiceName").await.desired_count(), 3);

    // Bounds edited in Git are applied to the target, still without touching the count.
    d.edit(|doc| doc.replace("maxCapacity: 3", "maxCapacity: 5"));
    let apply = d.apply();
    assert!(
        apply.stdout.contains("applied RegisterScalableTarget ("),
        "{}",
        apply.stdout
    );
    assert_eq!(d.scalable_target().await, Some((1, 5)));

    // Autoscaling removed: the target goes, the fixed count comes back.
    d.edit(|doc| {
        doc.replace(
            &AUTOSCALING_LINE.replace("maxCapacity: 3", "maxCapacity: 5"),
            "",
        )
    });
    let apply = d.apply();
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert!(
        apply
            .stdout
            .contains("applied DeregisterScalableTarget, SetDesiredCount"),
        "{}",
        apply.stdout
    );
    assert_eq!(d.scalable_target().await, None);
    assert_eq!(d.service("OpenWebUIServiceName").await.desired_count(), 1);
    d.assert_quiet();
}

#[tokio::test]
async fn model_added_in_git_reaches_s3_and_redeploys_litellm() {
    if skip_emulator_tests() {
        return;
    }
    let d = deployed(&example()).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&d.config)
            .force_path_style(true)
            .build(),
    );
    let bucket = d.output("ConfigBucketName").await;
    let key = d.output("ConfigObjectKey").await;
    let tag_of = |svc: &aws_sdk_ecs::types::Service| {
        svc.tags()
            .iter()
            .find(|t| t.key() == Some("bedrock-chat-operator/config-sha256"))
            .and_then(|t| t.value())
            .map(str::to_string)
    };
    let before =
        tag_of(&d.service("LiteLLMServiceName").await).expect("LiteLLM tagged by the first apply");

    d.edit(|doc| {
        doc.replace(
            "    - {name: claude-sonnet,",
            "    - {name: nova-lite, modelId: us.amazon.nova-lite-v1:0, type: text}\n    - {name: claude-sonnet,",
        )
    });
    let plan = d.plan();
    assert_eq!(plan.code, 2);
    assert!(
        plan.stdout
            .contains("~ PushModelConfig: the model list changed"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("~ RedeployLiteLlm: LiteLLM runs config"),
        "{}",
        plan.stdout
    );
    let apply = d.apply();
    // The stack first: the LiteLLM task role may invoke exactly the models listed, so a
    // new model is granted before LiteLLM is redeployed to serve it.
    assert!(
        apply
            .stdout
            .contains("applied UpdateStack, PushModelConfig, RedeployLiteLlm"),
        "{}",
        apply.stdout
    );

    let object = s3
        .get_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    let sha = object
        .metadata()
        .and_then(|m| m.get("sha256"))
        .cloned()
        .unwrap();
    let body = String::from_utf8(object.body.collect().await.unwrap().to_vec()).unwrap();
    assert!(body.contains("model_name: nova-lite"), "{body}");
    assert!(
        body.contains("model: bedrock/converse/us.amazon.nova-lite-v1:0"),
        "{body}"
    );
    let after = tag_of(&d.service("LiteLLMServiceName").await).unwrap();
    assert_eq!(
        after, sha,
        "the service is tagged with the config it now runs"
    );
    assert_ne!(after, before);
    d.assert_quiet();
}

#[tokio::test]
async fn backup_plan_deleted_out_of_band_is_recreated_with_its_schedule() {
    if skip_emulator_tests() {
        return;
    }
    let d = deployed(&example().replace(
        "cron(0 2 * * ? *)\", retentionDays: 7",
        "cron(30 3 ? * SUN *)\", retentionDays: 35",
    ))
    .await;
    let backup = aws_sdk_backup::Client::new(&d.config);
    let find = || async {
        let plans = backup.list_backup_plans().send().await.unwrap();
        plans
            .backup_plans_list()
            .iter()
            .find(|p| p.backup_plan_name() == Some("bedrock-image-chat-efs"))
            .and_then(|p| p.backup_plan_id().map(str::to_string))
    };
    let id = find().await.expect("the first apply created the plan");
    backup
        .delete_backup_plan()
        .backup_plan_id(&id)
        .send()
        .await
        .unwrap();
    assert!(find().await.is_none());

    let apply = d.apply();
    assert!(
        apply.stdout.contains("applied CreateBackupPlan"),
        "{}",
        apply.stdout
    );
    let id = find().await.expect("recreated");
    let plan = backup
        .get_backup_plan()
        .backup_plan_id(&id)
        .send()
        .await
        .unwrap();
    let rule = &plan.backup_plan().unwrap().rules()[0];
    assert_eq!(rule.schedule_expression(), Some("cron(30 3 ? * SUN *)"));
    assert_eq!(
        rule.lifecycle().and_then(|l| l.delete_after_days()),
        Some(35)
    );
    assert_eq!(
        rule.target_backup_vault_name(),
        d.output("BackupVaultName").await
    );
    d.assert_quiet();
}
