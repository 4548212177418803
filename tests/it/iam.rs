//! The IAM of `charts/operator.yaml` against AWS's own data: for every resource type of
//! `charts/stack.yaml`, the permissions its CloudFormation resource handlers list
//! (`handlers.{create,read,update,delete}.permissions` of the resource provider schemas
//! cfn-lint ships) must be granted to the CloudFormation service role, and the read
//! handlers' ones to the operator's task role (drift detection reads with the caller's
//! rights). Left out on purpose: `LEFT_OUT`, each tied to a property the template does not
//! set (checked here, so adding the property fails this test) or to a name IAM does not
//! have. Also: no `*` action, and every policy fits IAM's size limits.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::common::{repo_root, skip_emulator_tests};

/// Handler permissions not granted, and why. `property`: the property of `resource_type`
/// whose use would need them (asserted absent from the template). `iam`: the IAM action
/// that authorizes an operation the schema lists under its API name (asserted granted).
struct LeftOut {
    action: &'static str,
    resource_type: &'static str,
    why: Why,
}

enum Why {
    /// Only used with this property, which the template does not set.
    Unused(&'static str),
    /// Not an IAM action: IAM authorizes the operation as this one.
    IamName(&'static str),
    /// Not an IAM action at all (cfn-lint W3037); nothing to grant.
    NotIam,
    /// Changes an account-wide default: nothing in the template asks for it.
    AccountWide,
}

const LEFT_OUT: &[LeftOut] = &[
    // S3 documents these operations under the permission shown (e.g. DeleteBucketCors:
    // "you must have permission to perform the s3:PutBucketCORS action").
    lo(
        "s3:DeleteBucketAnalyticsConfiguration",
        "AWS::S3::Bucket",
        Why::IamName("s3:PutAnalyticsConfiguration"),
    ),
    lo(
        "s3:DeleteBucketCors",
        "AWS::S3::Bucket",
        Why::IamName("s3:PutBucketCORS"),
    ),
    lo(
        "s3:DeleteBucketEncryption",
        "AWS::S3::Bucket",
        Why::IamName("s3:PutEncryptionConfiguration"),
    ),
    lo(
        "s3:DeleteBucketLifecycle",
        "AWS::S3::Bucket",
        Why::IamName("s3:PutLifecycleConfiguration"),
    ),
    lo(
        "s3:DeleteBucketMetricsConfiguration",
        "AWS::S3::Bucket",
        Why::IamName("s3:PutMetricsConfiguration"),
    ),
    lo(
        "s3:DeleteBucketReplication",
        "AWS::S3::Bucket",
        Why::IamName("s3:PutReplicationConfiguration"),
    ),
    lo(
        "s3:PutBucketReplication",
        "AWS::S3::Bucket",
        Why::IamName("s3:PutReplicationConfiguration"),
    ),
    lo(
        "s3:PutObjectLockConfiguration",
        "AWS::S3::Bucket",
        Why::IamName("s3:PutBucketObjectLockConfiguration"),
    ),
    lo("s3:REST.PUT.OBJECT", "AWS::Logs::LogGroup", Why::NotIam),
    lo(
        "vpc-lattice:DescribeServiceNetworkVpcEndpointAssociation",
        "AWS::EC2::VPCEndpoint",
        Why::NotIam,
    ),
    lo(
        "backup-storage:Mount",
        "AWS::Backup::BackupVault",
        Why::NotIam,
    ),
    // S3 metadata tables (S3 Tables) are not configured on the config bucket.
    lo(
        "s3:CreateBucketMetadataTableConfiguration",
        "AWS::S3::Bucket",
        Why::Unused("MetadataTableConfiguration"),
    ),
    lo(
        "s3:DeleteBucketMetadataTableConfiguration",
        "AWS::S3::Bucket",
        Why::Unused("MetadataTableConfiguration"),
    ),
    lo(
        "s3:UpdateBucketMetadataAnnotationTableConfiguration",
        "AWS::S3::Bucket",
        Why::Unused("MetadataConfiguration"),
    ),
    lo(
        "s3:UpdateBucketMetadataInventoryTableConfiguration",
        "AWS::S3::Bucket",
        Why::Unused("MetadataConfiguration"),
    ),
    lo(
        "s3:UpdateBucketMetadataJournalTableConfiguration",
        "AWS::S3::Bucket",
        Why::Unused("MetadataConfiguration"),
    ),
    lo(
        "s3tables:CreateNamespace",
        "AWS::S3::Bucket",
        Why::Unused("MetadataConfiguration"),
    ),
    lo(
        "s3tables:CreateTable",
        "AWS::S3::Bucket",
        Why::Unused("MetadataConfiguration"),
    ),
    lo(
        "s3tables:CreateTableBucket",
        "AWS::S3::Bucket",
        Why::Unused("MetadataConfiguration"),
    ),
    lo(
        "s3tables:GetTable",
        "AWS::S3::Bucket",
        Why::Unused("MetadataConfiguration"),
    ),
    lo(
        "s3tables:GetTableMetadataLocation",
        "AWS::S3::Bucket",
        Why::Unused("MetadataConfiguration"),
    ),
    lo(
        "s3tables:PutTableBucketPolicy",
        "AWS::S3::Bucket",
        Why::Unused("MetadataConfiguration"),
    ),
    lo(
        "s3tables:PutTableEncryption",
        "AWS::S3::Bucket",
        Why::Unused("MetadataConfiguration"),
    ),
    lo(
        "s3tables:PutTablePolicy",
        "AWS::S3::Bucket",
        Why::Unused("MetadataConfiguration"),
    ),
    lo(
        "s3tables:UpdateTableMetadataLocation",
        "AWS::S3::Bucket",
        Why::Unused("MetadataConfiguration"),
    ),
    // The log group: no delivery class, bearer tokens, policies, indexes, key or lock.
    lo(
        "firehose:TagDeliveryStream",
        "AWS::Logs::LogGroup",
        Why::Unused("LogGroupClass"),
    ),
    lo(
        "logs:CreateLogDelivery",
        "AWS::Logs::LogGroup",
        Why::Unused("LogGroupClass"),
    ),
    lo(
        "logs:PutBearerTokenAuthentication",
        "AWS::Logs::LogGroup",
        Why::Unused("BearerTokenAuthenticationEnabled"),
    ),
    lo(
        "logs:PutDataProtectionPolicy",
        "AWS::Logs::LogGroup",
        Why::Unused("DataProtectionPolicy"),
    ),
    lo(
        "logs:DeleteDataProtectionPolicy",
        "AWS::Logs::LogGroup",
        Why::Unused("DataProtectionPolicy"),
    ),
    lo(
        "logs:PutIndexPolicy",
        "AWS::Logs::LogGroup",
        Why::Unused("FieldIndexPolicies"),
    ),
    lo(
        "logs:DeleteIndexPolicy",
        "AWS::Logs::LogGroup",
        Why::Unused("FieldIndexPolicies"),
    ),
    lo(
        "logs:PutResourcePolicy",
        "AWS::Logs::LogGroup",
        Why::Unused("ResourcePolicyDocument"),
    ),
    lo(
        "logs:DeleteResourcePolicy",
        "AWS::Logs::LogGroup",
        Why::Unused("ResourcePolicyDocument"),
    ),
    lo(
        "logs:AssociateKmsKey",
        "AWS::Logs::LogGroup",
        Why::Unused("KmsKeyId"),
    ),
    lo(
        "logs:DisassociateKmsKey",
        "AWS::Logs::LogGroup",
        Why::Unused("KmsKeyId"),
    ),
    lo(
        "logs:PutLogGroupDeletionProtection",
        "AWS::Logs::LogGroup",
        Why::Unused("DeletionProtectionEnabled"),
    ),
    // The listeners authenticate nobody through Cognito.
    lo(
        "cognito-idp:DescribeUserPoolClient",
        "AWS::ElasticLoadBalancingV2::Listener",
        Why::Unused("AuthenticateCognitoConfig"),
    ),
    // Networking features the template does not use.
    lo(
        "ec2:AcceptAddressTransfer",
        "AWS::EC2::EIP",
        Why::Unused("TransferAddress"),
    ),
    lo(
        "ec2:AttachVpnGateway",
        "AWS::EC2::VPCGatewayAttachment",
        Why::Unused("VpnGatewayId"),
    ),
    lo(
        "ec2:DetachVpnGateway",
        "AWS::EC2::VPCGatewayAttachment",
        Why::Unused("VpnGatewayId"),
    ),
    lo(
        "ec2:AssignPrivateNatGatewayAddress",
        "AWS::EC2::NatGateway",
        Why::Unused("SecondaryPrivateIpAddresses"),
    ),
    lo(
        "ec2:UnassignPrivateNatGatewayAddress",
        "AWS::EC2::NatGateway",
        Why::Unused("SecondaryPrivateIpAddresses"),
    ),
    lo(
        "ec2:AssociateNatGatewayAddress",
        "AWS::EC2::NatGateway",
        Why::Unused("SecondaryAllocationIds"),
    ),
    lo(
        "ec2:DisassociateNatGatewayAddress",
        "AWS::EC2::NatGateway",
        Why::Unused("SecondaryAllocationIds"),
    ),
    lo(
        "ec2:AssociateSubnetCidrBlock",
        "AWS::EC2::Subnet",
        Why::Unused("Ipv6CidrBlock"),
    ),
    lo(
        "ec2:DisassociateSubnetCidrBlock",
        "AWS::EC2::Subnet",
        Why::Unused("Ipv6CidrBlock"),
    ),
    lo(
        "ec2:CreateVpcEncryptionControl",
        "AWS::EC2::VPC",
        Why::Unused("VpcEncryptionControl"),
    ),
    lo(
        "ec2:ModifyVpcTenancy",
        "AWS::EC2::VPC",
        Why::Unused("InstanceTenancy"),
    ),
    lo(
        "vpc-lattice:CreateServiceNetworkVpcEndpointAssociation",
        "AWS::EC2::VPCEndpoint",
        Why::Unused("ServiceNetworkArn"),
    ),
    lo(
        "vpce:AllowMultiRegion",
        "AWS::EC2::VPCEndpoint",
        Why::Unused("ServiceRegion"),
    ),
    lo(
        "elasticloadbalancing:ModifyCapacityReservation",
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        Why::Unused("MinimumLoadBalancerCapacity"),
    ),
    lo(
        "elasticloadbalancing:ModifyIpPools",
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        Why::Unused("Ipv4IpamPoolId"),
    ),
    // The file system: no replication, no file system policy.
    lo(
        "elasticfilesystem:CreateReplicationConfiguration",
        "AWS::EFS::FileSystem",
        Why::Unused("ReplicationConfiguration"),
    ),
    lo(
        "elasticfilesystem:DeleteReplicationConfiguration",
        "AWS::EFS::FileSystem",
        Why::Unused("ReplicationConfiguration"),
    ),
    lo(
        "elasticfilesystem:PutFileSystemPolicy",
        "AWS::EFS::FileSystem",
        Why::Unused("FileSystemPolicy"),
    ),
    lo(
        "elasticfilesystem:DeleteFileSystemPolicy",
        "AWS::EFS::FileSystem",
        Why::Unused("FileSystemPolicy"),
    ),
    // Roles without permission boundaries, secrets without replicas, a vault without an
    // access policy, lock or notifications.
    lo(
        "iam:PutRolePermissionsBoundary",
        "AWS::IAM::Role",
        Why::Unused("PermissionsBoundary"),
    ),
    lo(
        "iam:DeleteRolePermissionsBoundary",
        "AWS::IAM::Role",
        Why::Unused("PermissionsBoundary"),
    ),
    lo(
        "secretsmanager:ReplicateSecretToRegions",
        "AWS::SecretsManager::Secret",
        Why::Unused("ReplicaRegions"),
    ),
    lo(
        "secretsmanager:RemoveRegionsFromReplication",
        "AWS::SecretsManager::Secret",
        Why::Unused("ReplicaRegions"),
    ),
    lo(
        "backup:PutBackupVaultAccessPolicy",
        "AWS::Backup::BackupVault",
        Why::Unused("AccessPolicy"),
    ),
    lo(
        "backup:DeleteBackupVaultAccessPolicy",
        "AWS::Backup::BackupVault",
        Why::Unused("AccessPolicy"),
    ),
    lo(
        "backup:PutBackupVaultLockConfiguration",
        "AWS::Backup::BackupVault",
        Why::Unused("LockConfiguration"),
    ),
    lo(
        "backup:DeleteBackupVaultLockConfiguration",
        "AWS::Backup::BackupVault",
        Why::Unused("LockConfiguration"),
    ),
    lo(
        "backup:PutBackupVaultNotifications",
        "AWS::Backup::BackupVault",
        Why::Unused("Notifications"),
    ),
    lo(
        "backup:DeleteBackupVaultNotifications",
        "AWS::Backup::BackupVault",
        Why::Unused("Notifications"),
    ),
    // Sets ECS account defaults for every principal; the cluster sets containerInsights
    // in its own ClusterSettings instead.
    lo(
        "ecs:PutAccountSettingDefault",
        "AWS::ECS::Cluster",
        Why::AccountWide,
    ),
];

const fn lo(action: &'static str, resource_type: &'static str, why: Why) -> LeftOut {
    LeftOut {
        action,
        resource_type,
        why,
    }
}

/// A template as plain JSON: CloudFormation's short-form tags become their long form.
pub fn template(path: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(repo_root().join(path)).unwrap();
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    plain(yaml)
}

fn plain(v: serde_yaml::Value) -> serde_json::Value {
    use serde_yaml::Value as Y;
    match v {
        Y::Null => serde_json::Value::Null,
        Y::Bool(b) => b.into(),
        Y::Number(n) => serde_json::to_value(n).unwrap(),
        Y::String(s) => s.into(),
        Y::Sequence(items) => items.into_iter().map(plain).collect(),
        Y::Mapping(m) => m
            .into_iter()
            .map(|(k, v)| (k.as_str().unwrap().to_string(), plain(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let key = if name == "Ref" {
                "Ref".to_string()
            } else {
                format!("Fn::{name}")
            };
            serde_json::json!({ key: plain(t.value) })
        }
    }
}

/// cfn-lint's copy of AWS's resource provider schemas, in the test venv.
fn schemas() -> PathBuf {
    let lib = repo_root().join(".venv/lib");
    let python = std::fs::read_dir(&lib)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}: run scripts/setup-venv (cfn-lint ships the schemas)",
                lib.display()
            )
        })
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("python"))
        })
        .expect("a python directory in .venv/lib");
    python.join("site-packages/cfnlint/data/schemas")
}

/// Handler permissions of `resource_type`, by handler.
fn handlers(resource_type: &str) -> BTreeMap<String, BTreeSet<String>> {
    let dir = schemas();
    let index: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("providers/us-west-2.json")).unwrap(),
    )
    .unwrap();
    let id = index[resource_type]
        .as_str()
        .unwrap_or_else(|| panic!("no schema for {resource_type}"));
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("resources/{id}.json"))).unwrap(),
    )
    .unwrap();
    ["create", "read", "update", "delete"]
        .iter()
        .map(|h| {
            let perms = schema["handlers"][h]["permissions"]
                .as_array()
                .map(|a| a.iter().map(|p| p.as_str().unwrap().to_string()).collect())
                .unwrap_or_default();
            (h.to_string(), perms)
        })
        .collect()
}

/// Every Allow statement a role holds: its inline policies and the managed policies of
/// the same template it attaches.
pub fn statements(t: &serde_json::Value, role: &str) -> Vec<serde_json::Value> {
    let props = &t["Resources"][role]["Properties"];
    let mut docs: Vec<&serde_json::Value> = props["Policies"]
        .as_array()
        .map(|ps| ps.iter().map(|p| &p["PolicyDocument"]).collect())
        .unwrap_or_default();
    for arn in props["ManagedPolicyArns"].as_array().into_iter().flatten() {
        let name = arn["Ref"]
            .as_str()
            .expect("a managed policy of this template");
        docs.push(&t["Resources"][name]["Properties"]["PolicyDocument"]);
    }
    docs.iter()
        .flat_map(|d| d["Statement"].as_array().unwrap().iter().cloned())
        .filter(|s| s["Effect"] == "Allow")
        .collect()
}

fn actions(statements: &[serde_json::Value]) -> BTreeSet<String> {
    statements
        .iter()
        .flat_map(|s| match &s["Action"] {
            serde_json::Value::String(a) => vec![a.clone()],
            serde_json::Value::Array(a) => {
                a.iter().map(|x| x.as_str().unwrap().to_string()).collect()
            }
            other => panic!("Action {other}"),
        })
        .collect()
}

/// IAM action names are case-insensitive.
fn grants(granted: &BTreeSet<String>, action: &str) -> bool {
    granted.iter().any(|g| g.eq_ignore_ascii_case(action))
}

fn has_key(v: &serde_json::Value, key: &str) -> bool {
    match v {
        serde_json::Value::Object(m) => m.iter().any(|(k, v)| k == key || has_key(v, key)),
        serde_json::Value::Array(a) => a.iter().any(|v| has_key(v, key)),
        _ => false,
    }
}

#[test]
fn the_roles_grant_what_the_resource_handlers_of_the_chat_stack_call() {
    if skip_emulator_tests() {
        return;
    }
    let stack = template("charts/stack.yaml");
    let operator = template("charts/operator.yaml");
    let service_role = actions(&statements(&operator, "CloudFormationServiceRole"));
    let task_role = actions(&statements(&operator, "TaskRole"));
    for a in service_role.iter().chain(&task_role) {
        assert!(!a.contains('*'), "a wildcard action: {a}");
    }
    let resources = stack["Resources"].as_object().unwrap();
    let types: BTreeSet<&str> = resources
        .values()
        .map(|r| r["Type"].as_str().unwrap())
        .collect();
    let mut missing = Vec::new();
    let mut used_left_out = BTreeSet::new();
    for ty in &types {
        let of_type: Vec<&serde_json::Value> =
            resources.values().filter(|r| r["Type"] == *ty).collect();
        for (handler, perms) in handlers(ty) {
            for perm in perms {
                if let Some(l) = LEFT_OUT
                    .iter()
                    .find(|l| l.action == perm && l.resource_type == *ty)
                {
                    used_left_out.insert(l.action);
                    match l.why {
                        Why::Unused(property) => assert!(
                            !of_type.iter().any(|r| has_key(r, property)),
                            "{ty} sets {property}: grant {perm} (left out while unused)"
                        ),
                        Why::IamName(iam) => assert!(
                            grants(&service_role, iam),
                            "{ty}: {perm} is authorized as {iam}, which the service role lacks"
                        ),
                        Why::NotIam | Why::AccountWide => {}
                    }
                    continue;
                }
                if !grants(&service_role, &perm) {
                    missing.push(format!(
                        "CloudFormationServiceRole: {ty} {handler} needs {perm}"
                    ));
                }
                if handler == "read" && !grants(&task_role, &perm) {
                    missing.push(format!(
                        "TaskRole (drift detection): {ty} read needs {perm}"
                    ));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} missing:\n{}",
        missing.len(),
        missing.join("\n")
    );
    // An entry no schema lists any more is stale: remove it.
    let stale: Vec<&str> = LEFT_OUT
        .iter()
        .map(|l| l.action)
        .filter(|a| !used_left_out.contains(a))
        .collect();
    assert!(
        stale.is_empty(),
        "LEFT_OUT entries no handler lists: {stale:?}"
    );
}

/// IAM's limits: a managed policy holds at most 6,144 characters, a role's inline
/// policies 10,240 in all (whitespace not counted). Sizes are measured with every `!Sub`
/// variable at its longest plausible value.
#[test]
fn every_policy_fits_iams_size_limits() {
    let t = template("charts/operator.yaml");
    let worst = |doc: &serde_json::Value| -> usize {
        let text = serde_json::to_string(doc).unwrap();
        let re = regex::Regex::new(r"\$\{[^}]+\}").unwrap();
        re.replace_all(&text, "x".repeat(64).as_str()).len()
    };
    for (name, r) in t["Resources"].as_object().unwrap() {
        match r["Type"].as_str() {
            Some("AWS::IAM::ManagedPolicy") => {
                let n = worst(&r["Properties"]["PolicyDocument"]);
                assert!(n <= 6144, "{name}: {n} characters > 6,144");
            }
            Some("AWS::IAM::Role") => {
                let n: usize = r["Properties"]["Policies"]
                    .as_array()
                    .map(|ps| ps.iter().map(|p| worst(&p["PolicyDocument"])).sum())
                    .unwrap_or(0);
                assert!(
                    n <= 10240,
                    "{name}: inline policies {n} characters > 10,240"
                );
            }
            _ => {}
        }
    }
}
