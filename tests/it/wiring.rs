//! The operator's own SDK clients reach the emulator the standard way (an endpoint
//! override, as `AWS_ENDPOINT_URL` gives it), S3 included, and every call is counted.

use bedrock_chat_operator::aws::{CallCounter, Clients};

use crate::common::{Emulator, skip_emulator_tests};

#[tokio::test]
async fn operator_clients_read_from_the_emulator_and_count_calls() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let counter = CallCounter::default();
    let clients = Clients::new(&emu.sdk_config().await, &counter);

    let stacks = clients
        .cloudformation
        .describe_stacks()
        .send()
        .await
        .expect("DescribeStacks on a fresh emulator");
    assert!(stacks.stacks().is_empty());

    // Path-style addressing: a bucket name that is not a resolvable host name.
    clients
        .s3
        .create_bucket()
        .bucket("wiring-check")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2)
                .build(),
        )
        .send()
        .await
        .expect("CreateBucket");
    let listed = clients.s3.list_buckets().send().await.expect("ListBuckets");
    assert!(
        listed
            .buckets()
            .iter()
            .any(|b| b.name() == Some("wiring-check"))
    );

    let services = clients
        .ecs
        .list_clusters()
        .send()
        .await
        .expect("ListClusters");
    assert!(services.cluster_arns().is_empty());

    let tally = counter.since(&Default::default());
    assert_eq!(tally.reads, 3, "{:?}", counter.snapshot());
    assert_eq!(tally.writes, 1, "{:?}", counter.snapshot());
    assert_eq!(
        counter.writes_since(&Default::default()),
        ["S3.CreateBucket"]
    );
}
