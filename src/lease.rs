//! Single writer: a lease in DynamoDB (conditional writes of holder and expiry). Only the
//! holder writes to AWS; the others observe and report. The holder renews at a third of
//! the TTL; if it dies, another takes over within one TTL.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use tokio::sync::watch;

use crate::Result;
use crate::aws;

/// The one lease item's key: one writer per table.
const LEASE_ID: &str = "bedrock-chat-operator";

#[derive(Clone, Debug)]
pub struct LeaseOptions {
    pub table: String,
    pub ttl: Duration,
    pub holder: String,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// A holder id: host name and process id, so logs and the table say who writes.
pub(crate) fn holder_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into());
    format!("{host}/{}", std::process::id())
}

/// How long a new lease table may take to become ACTIVE (seconds, usually).
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(120);

/// The table's status (`ACTIVE`, `CREATING` …), or `None` when there is no table.
async fn table_status(db: &aws_sdk_dynamodb::Client, table: &str) -> Result<Option<String>> {
    match db.describe_table().table_name(table).send().await {
        Ok(out) => Ok(Some(
            out.table()
                .and_then(|t| t.table_status())
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
        )),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws::error("DynamoDB", "DescribeTable", table, e)),
    }
}

/// The lease table exists and is ACTIVE: "You can perform read and write operations
/// only on an ACTIVE table" (CreateTable API reference); a lease written earlier is
/// refused, and a holder would believe it holds nothing.
async fn ensure_table(db: &aws_sdk_dynamodb::Client, table: &str) -> Result<()> {
    create_table(db, table).await?;
    let started = std::time::Instant::now();
    let mut said = false;
    loop {
        match table_status(db, table).await?.as_deref() {
            Some("ACTIVE") => return Ok(()),
            status => {
                let status = status.unwrap_or("not visible yet").to_string();
                if started.elapsed() > TABLE_ACTIVE_TIMEOUT {
                    return Err(crate::Error::Timeout {
                        what: format!("lease table {table}"),
                        state: status,
                        waited_secs: TABLE_ACTIVE_TIMEOUT.as_secs(),
                    });
                }
                if !said {
                    tracing::info!(table, %status, "waiting for the lease table to become ACTIVE");
                    said = true;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn create_table(db: &aws_sdk_dynamodb::Client, table: &str) -> Result<()> {
    match db.describe_table().table_name(table).send().await {
        Ok(_) => return Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_not_found_exception()) => {}
        Err(e) => return Err(aws::error("DynamoDB", "DescribeTable", table, e)),
    }
    let key = |name: &str| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(KeyType::Hash)
            .build()
            .map_err(|e| aws::build_error("KeySchemaElement", e))
    };
    let attr = AttributeDefinition::builder()
        .attribute_name("lease")
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| aws::build_error("AttributeDefinition", e))?;
    match db
        .create_table()
        .table_name(table)
        .key_schema(key("lease")?)
        .attribute_definitions(attr)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
    {
        Ok(_) => {
            tracing::info!(table, "created the lease table");
            Ok(())
        }
        // Another operator created it at the same moment.
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws::error("DynamoDB", "CreateTable", table, e)),
    }
}

/// Takes or renews the lease; `Ok(false)` when someone else holds it.
async fn try_hold(db: &aws_sdk_dynamodb::Client, opts: &LeaseOptions) -> Result<bool> {
    let now = now_ms();
    let ttl_ms = i64::try_from(opts.ttl.as_millis()).unwrap_or(i64::MAX);
    let item = HashMap::from([
        ("lease".to_string(), AttributeValue::S(LEASE_ID.into())),
        ("holder".to_string(), AttributeValue::S(opts.holder.clone())),
        (
            "expires_at".to_string(),
            AttributeValue::N((now + ttl_ms).to_string()),
        ),
    ]);
    let result = db
        .put_item()
        .table_name(&opts.table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(lease) OR holder = :me OR expires_at < :now")
        .expression_attribute_values(":me", AttributeValue::S(opts.holder.clone()))
        .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(aws::error("DynamoDB", "PutItem", opts.table.as_str(), e)),
    }
}

async fn release(db: &aws_sdk_dynamodb::Client, opts: &LeaseOptions) {
    let result = db
        .delete_item()
        .table_name(&opts.table)
        .key("lease", AttributeValue::S(LEASE_ID.into()))
        .condition_expression("holder = :me")
        .expression_attribute_values(":me", AttributeValue::S(opts.holder.clone()))
        .send()
        .await;
    if result.is_ok() {
        tracing::info!(table = %opts.table, "released the lease");
    }
}

/// Keeps `leader` true exactly while this process holds the lease (a new value only
/// when it changes).
pub async fn run(
    db: aws_sdk_dynamodb::Client,
    opts: LeaseOptions,
    leader_tx: watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<()> {
    ensure_table(&db, &opts.table).await?;
    let renew = opts.ttl / 3;
    let mut held_until: Option<std::time::Instant> = None;
    let mut said: Option<bool> = None;
    loop {
        let leader = match try_hold(&db, &opts).await {
            Ok(true) => {
                held_until = Some(std::time::Instant::now() + opts.ttl);
                true
            }
            Ok(false) => {
                held_until = None;
                false
            }
            // Cannot reach the table: keep writing only while the lease surely holds.
            Err(e) => {
                tracing::warn!(error = %e, "cannot renew the lease");
                held_until.is_some_and(|t| std::time::Instant::now() < t)
            }
        };
        if said != Some(leader) {
            tracing::info!(leader, holder = %opts.holder, "lease {}", if leader { "taken: this operator writes" } else { "held by another operator: observing only" });
            said = Some(leader);
        }
        leader_tx.send_if_modified(|held| std::mem::replace(held, leader) != leader);
        tokio::select! {
            _ = tokio::time::sleep(renew) => {}
            _ = shutdown.changed() => {
                if leader {
                    release(&db, &opts).await;
                }
                return Ok(());
            }
        }
    }
}
