//! Secrets Manager secrets. capsule creates the secret and its description; values are
//! written by `capsule secrets set` (user secrets) or by the data-store adapters
//! (generated connection settings). This adapter never reads or prints a value.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};
use serde_json::{Value, json};

use super::tag_map;
use crate::aws::adapter::Visible;
use crate::aws::adapter::attr_str;
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live};
use crate::model::{Kind, Resource};

const TAG_VALUE_SOURCE: &str = "capsule:value-source";

pub struct SecretAdapter;

fn live_of(d: &aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput, region: &str) -> Live {
    live(d.name(), d.arn(), d.description(), d.tags(), region)
}

/// A secret as DescribeSecret or ListSecrets shows it (they share these members).
fn live(
    name: Option<&str>,
    arn: Option<&str>,
    description: Option<&str>,
    tags: &[aws_sdk_secretsmanager::types::Tag],
    region: &str,
) -> Live {
    let tags = tag_map(tags, |t| (t.key(), t.value()));
    let (name, arn) = (name.unwrap_or_default(), arn.unwrap_or_default());
    Live {
        aws_name: name.to_string(),
        region: region.to_string(),
        attributes: BTreeMap::from([
            ("description".into(), json!(description.unwrap_or_default())),
            ("value_source".into(), json!(tags.get(TAG_VALUE_SOURCE).cloned().unwrap_or_default())),
            ("scheduled_for_deletion".into(), json!(false)),
        ]),
        outputs: BTreeMap::from([
            ("arn".into(), json!(arn)),
            ("name".into(), json!(name)),
            // ECS `valueFrom` of the JSON key `url` (connection settings of databases and caches).
            ("url_value_from".into(), json!(format!("{arn}:url::"))),
        ]),
        tags,
    }
}

fn tags(cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Vec<Tag> {
    let mut t = cx.tags_of(r);
    t.insert(TAG_VALUE_SOURCE.into(), attr_str(attrs, "value_source").to_string());
    t.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

impl SecretAdapter {
    async fn describe(
        &self,
        cx: &Cx,
        name: &str,
        region: &str,
    ) -> Result<Option<aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput>, AwsError> {
        cx.aws
            .secrets(region)
            .describe_secret()
            .secret_id(name)
            .send()
            .await
            .aws("secretsmanager:DescribeSecret")
            .found()
    }
}

#[async_trait]
impl Adapter for SecretAdapter {
    fn kind(&self) -> Kind {
        Kind::Secret
    }

    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        attrs.insert("scheduled_for_deletion".into(), json!(false));
    }

    /// ListSecrets shows what DescribeSecret does, but not secrets scheduled for deletion:
    /// those are not found in the listing, and `observe` reads them.
    fn observes_by_listing(&self) -> bool {
        true
    }

    async fn observe_listed(&self, _: &Cx, r: &Resource, listed: &[Live]) -> Result<Option<Live>, AwsError> {
        Ok(listed.iter().find(|l| l.aws_name == r.aws_name).cloned())
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        let Some(d) = self.describe(cx, &r.aws_name, &r.region).await? else {
            return Ok(None);
        };
        let mut live = live_of(&d, &r.region);
        // Scheduled for deletion (removed from the file, then declared again): it blocks
        // the name and holds no readable value. The desired state says `false`, so the plan
        // shows the restore and update (or create) performs it.
        live.attributes.insert("scheduled_for_deletion".into(), json!(d.deleted_date().is_some()));
        Ok(Some(live))
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        let client = cx.aws.secrets(&r.region);
        let created = client
            .create_secret()
            .name(&r.aws_name)
            .description(attr_str(attrs, "description"))
            .set_tags(Some(tags(cx, r, attrs)))
            .send()
            .await
            .aws("secretsmanager:CreateSecret");
        match created {
            Ok(_) => {}
            Err(e) if e.kind == ErrorKind::Conflict => {
                // Left by an interrupted apply, or scheduled for deletion: adopt when ours.
                let live = self.observe(cx, r).await?.ok_or(e.clone())?;
                if !live.is_owned_by(&cx.capsule, &cx.env) {
                    return Err(e);
                }
                return self.update(cx, r, attrs, &live).await;
            }
            Err(e) => return Err(e),
        }
        self.observe(cx, r).await?.visible("secretsmanager:DescribeSecret")
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        let client = cx.aws.secrets(&r.region);
        if live.attributes.get("scheduled_for_deletion") == Some(&json!(true)) {
            client.restore_secret().secret_id(&r.aws_name).send().await.aws("secretsmanager:RestoreSecret")?;
        }
        client
            .update_secret()
            .secret_id(&r.aws_name)
            .description(attr_str(attrs, "description"))
            .send()
            .await
            .aws("secretsmanager:UpdateSecret")?;
        client
            .tag_resource()
            .secret_id(&r.aws_name)
            .set_tags(Some(tags(cx, r, attrs)))
            .send()
            .await
            .aws("secretsmanager:TagResource")?;
        self.observe(cx, r).await?.visible("secretsmanager:DescribeSecret")
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        // The longest recovery window: a deleted secret can be restored for 30 days. A
        // preview's (`pr-<N>`) is disposable and goes at once, so that nothing of it is left
        // (AWS refuses both parameters together).
        let delete = cx.aws.secrets(&live.region).delete_secret().secret_id(&live.aws_name);
        let delete = if crate::config::preview::number_of(&cx.env).is_some() {
            delete.force_delete_without_recovery(true)
        } else {
            delete.recovery_window_in_days(30)
        };
        delete.send().await.aws("secretsmanager:DeleteSecret").found().map(|_| ())
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let client = cx.aws.secrets(&cx.region);
        let prefix = format!("capsule/{}/{}/", cx.capsule, cx.env);
        let mut out = Vec::new();
        let mut pages = client
            .list_secrets()
            .filters(Filter::builder().key(FilterNameStringType::Name).values(&prefix).build())
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for s in page.aws("secretsmanager:ListSecrets")?.secret_list() {
                let name = s.name().unwrap_or_default();
                if !name.starts_with(&prefix) || s.deleted_date().is_some() {
                    continue;
                }
                let live = live(s.name(), s.arn(), s.description(), s.tags(), &cx.region);
                if live.is_owned_by(&cx.capsule, &cx.env) {
                    out.push(live);
                }
            }
        }
        Ok(out)
    }
}

/// Whether the secret `arn` exists, is not scheduled for deletion and has a current
/// value (read from its version stages: the value itself is not read).
pub(super) async fn secret_written(cx: &Cx, region: &str, arn: &str) -> Result<bool, AwsError> {
    let Some(d) = cx
        .aws
        .secrets(region)
        .describe_secret()
        .secret_id(arn)
        .send()
        .await
        .aws("secretsmanager:DescribeSecret")
        .found()?
    else {
        return Ok(false);
    };
    let current = d
        .version_ids_to_stages()
        .is_some_and(|versions| versions.values().any(|s| s.iter().any(|s| s == "AWSCURRENT")));
    Ok(d.deleted_date().is_none() && current)
}

/// A connection secret must not stay scheduled for deletion (a refused removal may have
/// deleted it while its database or cache stayed): restores it.
pub(super) async fn restore_if_deleted(cx: &Cx, region: &str, arn: &str) -> Result<(), AwsError> {
    let client = cx.aws.secrets(region);
    let described = client.describe_secret().secret_id(arn).send().await.aws("secretsmanager:DescribeSecret")?;
    if described.deleted_date().is_some() {
        client.restore_secret().secret_id(arn).send().await.aws("secretsmanager:RestoreSecret")?;
        eprintln!("restored {}, which was scheduled for deletion", described.name().unwrap_or(arn));
    }
    Ok(())
}

/// The JSON document the secret `arn` holds, if it holds one (a connection secret).
pub(super) async fn secret_document(aws: &crate::aws::Aws, region: &str, arn: &str) -> Result<Option<Value>, AwsError> {
    Ok(aws
        .secrets(region)
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .aws("secretsmanager:GetSecretValue")
        .found()?
        .and_then(|o| o.secret_string)
        .and_then(|s| serde_json::from_str::<Value>(&s).ok()))
}
