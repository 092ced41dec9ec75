//! ElastiCache cache clusters: a capsule's memcached caches (`nodes` nodes, spread over
//! availability zones when more than one).
//!
//! Attributes: `engine` (`memcached`), `engine_version` (`1.6` matches a live `1.6.22`),
//! `node_type`, `nodes`, `port`, `subnet_group`, `security_groups` (sorted ids) and
//! `connection_secret` (tag `capsule:connection-secret`, see elasticache.rs). Outputs:
//! `arn`, `endpoint` (the configuration endpoint), `port`, `name`, `status`.
//!
//! | attribute | impact |
//! |---|---|
//! | `engine`, `node_type`, `port`, `subnet_group` | replacement (memcached cannot change them; a new, empty cache) |
//! | `engine_version` | downtime (nodes restart, their data is lost) |
//! | `nodes` | in place (removed nodes lose their keys) |
//! | `security_groups`, `connection_secret` | in place |
//!
//! Changes apply at once. Fewer nodes remove the highest-numbered ones. Memcached keeps no
//! snapshots: delete deletes.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticache::types::{AzMode, CacheCluster};
use serde_json::{Value, json};

use super::elasticache::{
    Endpoint, TAG_CONNECTION_SECRET, Want, add_tags, assess_cache, read_secret, secret_written, tags, tags_for,
    version_seen, wait_until, write_secret,
};
use super::lb::sorted_strings;
use crate::aws::adapter::{Visible, attr_bool, attr_i64, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live, Seen};
use crate::model::{Kind, Resource};
use crate::plan::Change;

pub struct ElasticacheClusterAdapter;

/// In-transit encryption of a memcached cluster is set when it is created (ModifyCacheCluster
/// has no such parameter).
const REPLACING: &[&str] = &["engine", "node_type", "port", "subnet_group", "transit_encryption"];

fn i32_of(attrs: &BTreeMap<String, Value>, key: &str) -> Option<i32> {
    attr_i64(attrs, key).and_then(|v| i32::try_from(v).ok())
}

fn live_of(
    c: &CacheCluster,
    tags: BTreeMap<String, String>,
    region: &str,
    desired: Option<&BTreeMap<String, Value>>,
) -> Live {
    let desired_version = desired.and_then(|a| a.get("engine_version")).and_then(Value::as_str);
    let pending = c.pending_modified_values();
    let nodes = pending.and_then(|p| p.num_cache_nodes()).or(c.num_cache_nodes());
    let endpoint = c.configuration_endpoint();
    let port = endpoint.and_then(|e| e.port());
    let security_groups: Vec<String> =
        c.security_groups().iter().filter_map(|s| s.security_group_id().map(str::to_string)).collect();
    let id = c.cache_cluster_id().unwrap_or_default();
    Live {
        aws_name: id.to_string(),
        region: region.to_string(),
        attributes: BTreeMap::from([
            ("engine".into(), json!(c.engine())),
            ("engine_version".into(), json!(version_seen(c.engine_version().unwrap_or_default(), desired_version))),
            ("node_type".into(), json!(c.cache_node_type())),
            ("nodes".into(), json!(nodes)),
            ("port".into(), json!(port)),
            ("transit_encryption".into(), json!(c.transit_encryption_enabled().unwrap_or(false))),
            ("subnet_group".into(), json!(c.cache_subnet_group_name())),
            ("security_groups".into(), json!(sorted_strings(Some(&json!(security_groups))))),
            ("connection_secret".into(), json!(tags.get(TAG_CONNECTION_SECRET))),
        ]),
        outputs: BTreeMap::from([
            ("arn".into(), json!(c.arn().unwrap_or_default())),
            ("endpoint".into(), json!(endpoint.and_then(|e| e.address()))),
            ("port".into(), json!(port)),
            ("name".into(), json!(id)),
            ("status".into(), json!(c.cache_cluster_status())),
        ]),
        tags,
    }
}

impl ElasticacheClusterAdapter {
    async fn describe(&self, cx: &Cx, id: &str, region: &str) -> Result<Option<CacheCluster>, AwsError> {
        let out = cx
            .aws
            .elasticache(region)
            .describe_cache_clusters()
            .cache_cluster_id(id)
            .show_cache_node_info(true)
            .send()
            .await
            .aws("elasticache:DescribeCacheClusters")
            .found()?;
        Ok(out.and_then(|o| o.cache_clusters().first().cloned()))
    }

    async fn find(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        let Some(c) = self.describe(cx, &r.aws_name, &r.region).await? else { return Ok(None) };
        if c.cache_cluster_status() == Some("deleting") {
            return Ok(None);
        }
        let tags = tags(cx, &r.region, c.arn().unwrap_or_default()).await?;
        let mut live = live_of(&c, tags, &r.region, Some(&r.attributes));
        if let Some(arn) = live.attributes.get("connection_secret").and_then(Value::as_str).map(str::to_string)
            && !secret_written(cx, &r.region, &arn).await?
        {
            live.attributes.insert("connection_secret".into(), Value::Null);
        }
        Ok(Some(live))
    }

    async fn status(&self, cx: &Cx, id: &str, region: &str) -> Result<Option<String>, AwsError> {
        Ok(self.describe(cx, id, region).await?.and_then(|c| c.cache_cluster_status().map(str::to_string)))
    }

    async fn available(&self, cx: &Cx, r: &Resource) -> Result<Live, AwsError> {
        let what = format!("cache {}", r.aws_name);
        wait_until(&what, "elasticache:DescribeCacheClusters", Want::Available, || {
            self.status(cx, &r.aws_name, &r.region)
        })
        .await?;
        self.find(cx, r).await?.visible("elasticache:DescribeCacheClusters")
    }

    /// Writes the connection secret when it does not describe `live` yet.
    async fn sync_secret(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<(), AwsError> {
        let secret = attr_str(attrs, "connection_secret");
        if secret.is_empty() {
            return Ok(());
        }
        let endpoint = Endpoint {
            engine: attr_str(&live.attributes, "engine"),
            host: live.outputs.get("endpoint").and_then(Value::as_str).unwrap_or_default(),
            reader_host: None,
            port: live.outputs.get("port").and_then(Value::as_i64).unwrap_or_default(),
        };
        if read_secret(cx, &r.region, secret, &endpoint).await?.current {
            return Ok(());
        }
        write_secret(cx, &r.region, secret, &endpoint, None).await
    }
}

#[async_trait]
impl Adapter for ElasticacheClusterAdapter {
    fn kind(&self) -> Kind {
        Kind::ElasticacheCluster
    }

    fn forces_replacement(&self) -> &'static [&'static str] {
        REPLACING
    }

    fn assess(&self, change: &mut Change, _seen: &Seen<'_>) -> Option<String> {
        assess_cache(change, REPLACING, &["engine_version"], "");
        None
    }

    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        let groups = sorted_strings(attrs.get("security_groups"));
        attrs.insert("security_groups".into(), json!(groups));
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.find(cx, r).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        const OP: &str = "elasticache:CreateCacheCluster";
        if let Some(live) = self.find(cx, r).await? {
            let live = live.ensure_owned(cx, OP)?;
            return self.update(cx, r, attrs, &live).await;
        }
        let nodes = i32_of(attrs, "nodes").unwrap_or(1);
        let created = cx
            .aws
            .elasticache(&r.region)
            .create_cache_cluster()
            .cache_cluster_id(&r.aws_name)
            .engine(attr_str(attrs, "engine"))
            .engine_version(attr_str(attrs, "engine_version"))
            .cache_node_type(attr_str(attrs, "node_type"))
            .num_cache_nodes(nodes)
            .az_mode(if nodes > 1 { AzMode::CrossAz } else { AzMode::SingleAz })
            .set_port(i32_of(attrs, "port"))
            .transit_encryption_enabled(attr_bool(attrs, "transit_encryption"))
            .cache_subnet_group_name(attr_str(attrs, "subnet_group"))
            .set_security_group_ids(Some(sorted_strings(attrs.get("security_groups"))))
            .set_tags(Some(tags_for(cx, r, attrs)))
            .send()
            .await
            .aws(OP);
        match created {
            Ok(_) => {}
            Err(e) if e.kind == ErrorKind::Conflict => return self.adopt(cx, r, attrs, e, OP).await,
            Err(e) => return Err(e),
        }
        let live = self.available(cx, r).await?;
        self.sync_secret(cx, r, attrs, &live).await?;
        Ok(live)
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        let have = &live.attributes;
        let differs = |k: &str| attrs.get(k) != have.get(k);
        let mut m = cx
            .aws
            .elasticache(&r.region)
            .modify_cache_cluster()
            .cache_cluster_id(&live.aws_name)
            .apply_immediately(true);
        let mut any = false;
        if differs("nodes") {
            let (want, now) = (i32_of(attrs, "nodes").unwrap_or(1), i32_of(have, "nodes").unwrap_or(1));
            m = m.num_cache_nodes(want);
            if want > 1 {
                m = m.az_mode(AzMode::CrossAz);
            }
            // Node ids are 0001, 0002, …: the highest go.
            for id in (want + 1)..=now {
                m = m.cache_node_ids_to_remove(format!("{id:04}"));
            }
            any = true;
        }
        if differs("engine_version") {
            m = m.engine_version(attr_str(attrs, "engine_version"));
            any = true;
        }
        if differs("security_groups") {
            m = m.set_security_group_ids(Some(sorted_strings(attrs.get("security_groups"))));
            any = true;
        }
        if any {
            m.send().await.aws("elasticache:ModifyCacheCluster")?;
        }
        if let Some(arn) = live.outputs.get("arn").and_then(Value::as_str).filter(|a| !a.is_empty()) {
            add_tags(cx, &r.region, arn, tags_for(cx, r, attrs)).await?;
        }
        let live = self.available(cx, r).await?;
        self.sync_secret(cx, r, attrs, &live).await?;
        Ok(live)
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        match self.status(cx, &live.aws_name, &live.region).await? {
            None => return Ok(()),
            Some(s) if s == "deleting" => {}
            Some(_) => match cx
                .aws
                .elasticache(&live.region)
                .delete_cache_cluster()
                .cache_cluster_id(&live.aws_name)
                .send()
                .await
                .aws("elasticache:DeleteCacheCluster")
            {
                Ok(_) => {}
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(e),
            },
        }
        wait_until(&format!("cache {}", live.aws_name), "elasticache:DeleteCacheCluster", Want::Gone, || {
            self.status(cx, &live.aws_name, &live.region)
        })
        .await
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let client = cx.aws.elasticache(&cx.region);
        let mut clusters = Vec::new();
        let mut pages = client.describe_cache_clusters().into_paginator().send();
        while let Some(page) = pages.next().await {
            clusters.extend(page.aws("elasticache:DescribeCacheClusters")?.cache_clusters().iter().cloned());
        }
        let prefix = format!("{}-{}", cx.capsule, cx.env);
        let mut out = Vec::new();
        // Members of replication groups are the replication group adapter's.
        for c in clusters.iter().filter(|c| {
            c.replication_group_id().is_none()
                && c.cache_cluster_id().unwrap_or_default().starts_with(&prefix)
                && c.cache_cluster_status() != Some("deleting")
        }) {
            let tags = tags(cx, &cx.region, c.arn().unwrap_or_default()).await?;
            let live = live_of(c, tags, &cx.region, None);
            if live.is_owned_by(&cx.capsule, &cx.env) {
                out.push(live);
            }
        }
        Ok(out)
    }
}
