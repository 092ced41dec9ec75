//! ElastiCache replication groups: a capsule's Redis/Valkey caches (cluster mode off: one
//! primary and `nodes - 1` replicas).
//!
//! Attributes: `engine` (`redis` | `valkey`), `engine_version` (`7.1` matches a live
//! `7.1.0`), `node_type`, `nodes`, `automatic_failover`, `multi_az`, `transit_encryption`,
//! `at_rest_encryption`, `snapshot_retention_days` (daily automatic backups, kept that many
//! days), `port`, `subnet_group` (name), `security_groups` (sorted ids) and
//! `connection_secret` (an ARN kept as the tag `capsule:connection-secret`, see
//! elasticache.rs). Subnet group, security groups and version are read from the member
//! clusters, which carry them. Outputs: `arn`, `endpoint` (primary), `reader_endpoint`,
//! `port`, `name`, `status`.
//!
//! | attribute | impact |
//! |---|---|
//! | `engine`, `port`, `subnet_group`, `transit_encryption`, `at_rest_encryption` | replacement (a new, empty cache) |
//! | `node_type`, `engine_version` | downtime (online, but connections drop at the switch) |
//! | `nodes`, `automatic_failover`, `multi_az`, `snapshot_retention_days`, `security_groups`, `connection_secret` | in place |
//!
//! Changes apply at once (`ApplyImmediately`): a cache has no `apply_changes` setting.
//! More nodes: replicas are added first, then failover is turned on; fewer: failover off
//! first, then replicas removed (ElastiCache refuses failover with one node).
//!
//! The auth token (transit encryption on) is generated at create and written only to the
//! connection secret; a secret that lost it gets a new one (ModifyReplicationGroup
//! `AuthTokenUpdateStrategy=ROTATE`). Deleting keeps a final snapshot
//! `<id>-final-<unix time>` (printed) and waits until the group is gone.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticache::types::{
    AuthTokenUpdateStrategyType, AutomaticFailoverStatus, CacheCluster, MultiAzStatus, ReplicationGroup,
};
use serde_json::{Value, json};

use super::elasticache::{
    AuthToken, Endpoint, TAG_CONNECTION_SECRET, Want, add_tags, assess_cache, new_token, read_secret, secret_written,
    tags, tags_for, version_seen, wait_until, write_secret,
};
use super::lb::sorted_strings;
use crate::aws::adapter::{Visible, attr_bool, attr_i64, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live, Seen};
use crate::model::{Kind, Resource};
use crate::plan::Change;

pub struct ElasticacheReplicationGroupAdapter;

/// Attributes a change of which means a new cache.
const REPLACING: &[&str] = &["engine", "port", "subnet_group", "transit_encryption", "at_rest_encryption"];

fn i32_of(attrs: &BTreeMap<String, Value>, key: &str) -> Option<i32> {
    attr_i64(attrs, key).and_then(|v| i32::try_from(v).ok())
}

fn live_of(
    g: &ReplicationGroup,
    member: Option<&CacheCluster>,
    tags: BTreeMap<String, String>,
    region: &str,
    desired: Option<&BTreeMap<String, Value>>,
) -> Live {
    let pending = g.pending_modified_values();
    let failover = pending.and_then(|p| p.automatic_failover_status()).map(|s| s.as_str() == "enabled").unwrap_or(
        matches!(g.automatic_failover(), Some(AutomaticFailoverStatus::Enabled | AutomaticFailoverStatus::Enabling)),
    );
    let node_group = g.node_groups().first();
    let primary = node_group.and_then(|n| n.primary_endpoint());
    let reader = node_group.and_then(|n| n.reader_endpoint());
    let port = primary.and_then(|e| e.port());
    let desired_version = desired.and_then(|a| a.get("engine_version")).and_then(Value::as_str);
    let version = member.and_then(|m| m.engine_version()).unwrap_or_default();
    let security_groups: Vec<String> = member
        .map(|m| m.security_groups().iter().filter_map(|s| s.security_group_id().map(str::to_string)).collect())
        .unwrap_or_default();
    let engine = g.engine().or(member.and_then(|m| m.engine())).unwrap_or_default();
    let id = g.replication_group_id().unwrap_or_default();
    Live {
        aws_name: id.to_string(),
        region: region.to_string(),
        attributes: BTreeMap::from([
            ("engine".into(), json!(engine)),
            ("engine_version".into(), json!(version_seen(version, desired_version))),
            ("node_type".into(), json!(g.cache_node_type())),
            ("nodes".into(), json!(g.member_clusters().len())),
            ("automatic_failover".into(), json!(failover)),
            ("multi_az".into(), json!(g.multi_az() == Some(&MultiAzStatus::Enabled))),
            ("transit_encryption".into(), json!(g.transit_encryption_enabled().unwrap_or(false))),
            ("at_rest_encryption".into(), json!(g.at_rest_encryption_enabled().unwrap_or(false))),
            ("snapshot_retention_days".into(), json!(g.snapshot_retention_limit().unwrap_or(0))),
            ("port".into(), json!(port)),
            ("subnet_group".into(), json!(member.and_then(|m| m.cache_subnet_group_name()))),
            ("security_groups".into(), json!(sorted_strings(Some(&json!(security_groups))))),
            ("connection_secret".into(), json!(tags.get(TAG_CONNECTION_SECRET))),
        ]),
        outputs: BTreeMap::from([
            ("arn".into(), json!(g.arn().unwrap_or_default())),
            ("endpoint".into(), json!(primary.and_then(|e| e.address()))),
            ("reader_endpoint".into(), json!(reader.and_then(|e| e.address()))),
            ("port".into(), json!(port)),
            ("name".into(), json!(id)),
            ("status".into(), json!(g.status())),
        ]),
        tags,
    }
}

impl ElasticacheReplicationGroupAdapter {
    async fn describe(&self, cx: &Cx, id: &str, region: &str) -> Result<Option<ReplicationGroup>, AwsError> {
        let out = cx
            .aws
            .elasticache(region)
            .describe_replication_groups()
            .replication_group_id(id)
            .send()
            .await
            .aws("elasticache:DescribeReplicationGroups")
            .found()?;
        Ok(out.and_then(|o| o.replication_groups().first().cloned()))
    }

    async fn member(&self, cx: &Cx, g: &ReplicationGroup, region: &str) -> Result<Option<CacheCluster>, AwsError> {
        let Some(id) = g.member_clusters().first() else { return Ok(None) };
        let out = cx
            .aws
            .elasticache(region)
            .describe_cache_clusters()
            .cache_cluster_id(id)
            .send()
            .await
            .aws("elasticache:DescribeCacheClusters")
            .found()?;
        Ok(out.and_then(|o| o.cache_clusters().first().cloned()))
    }

    async fn read(
        &self,
        cx: &Cx,
        g: &ReplicationGroup,
        region: &str,
        desired: Option<&BTreeMap<String, Value>>,
    ) -> Result<Live, AwsError> {
        let member = self.member(cx, g, region).await?;
        let tags = tags(cx, region, g.arn().unwrap_or_default()).await?;
        Ok(live_of(g, member.as_ref(), tags, region, desired))
    }

    async fn find(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        let Some(g) = self.describe(cx, &r.aws_name, &r.region).await? else { return Ok(None) };
        if g.status() == Some("deleting") {
            return Ok(None);
        }
        let mut live = self.read(cx, &g, &r.region, Some(&r.attributes)).await?;
        // The connection secret counts as written only while it holds a current value.
        if let Some(arn) = live.attributes.get("connection_secret").and_then(Value::as_str).map(str::to_string)
            && !secret_written(cx, &r.region, &arn).await?
        {
            live.attributes.insert("connection_secret".into(), Value::Null);
        }
        Ok(Some(live))
    }

    async fn available(&self, cx: &Cx, r: &Resource) -> Result<Live, AwsError> {
        let client = cx.aws.elasticache(&r.region);
        wait_until(&format!("cache {}", r.aws_name), "elasticache:DescribeReplicationGroups", Want::Available, || {
            let client = client.clone();
            async move {
                let out = client
                    .describe_replication_groups()
                    .replication_group_id(&r.aws_name)
                    .send()
                    .await
                    .aws("elasticache:DescribeReplicationGroups")
                    .found()?;
                Ok(out.and_then(|o| o.replication_groups().first().and_then(|g| g.status().map(str::to_string))))
            }
        })
        .await?;
        self.find(cx, r).await?.visible("elasticache:DescribeReplicationGroups")
    }

    /// Writes the connection secret for `live`: with `token` (a new group), writes it;
    /// otherwise keeps the token the secret holds, and rewrites only when the endpoint
    /// moved. A secret without a token while the group needs one gets a new token.
    async fn sync_secret(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
        token: Option<AuthToken>,
    ) -> Result<(), AwsError> {
        let secret = attr_str(attrs, "connection_secret");
        if secret.is_empty() {
            return Ok(());
        }
        let endpoint = Endpoint {
            engine: attr_str(&live.attributes, "engine"),
            host: live.outputs.get("endpoint").and_then(Value::as_str).unwrap_or_default(),
            reader_host: live.outputs.get("reader_endpoint").and_then(Value::as_str),
            port: live.outputs.get("port").and_then(Value::as_i64).unwrap_or_default(),
        };
        let needs_token = attr_bool(&live.attributes, "transit_encryption");
        let token = match token {
            Some(t) => Some(t),
            None => {
                let held = read_secret(cx, &r.region, secret, &endpoint).await?;
                if held.current && (held.token.is_some() || !needs_token) {
                    return Ok(());
                }
                match held.token {
                    Some(t) => Some(t),
                    None if !needs_token => None,
                    None => {
                        // The token is lost with the secret's value: give the group a new one.
                        let t = new_token();
                        cx.aws
                            .elasticache(&r.region)
                            .modify_replication_group()
                            .replication_group_id(&live.aws_name)
                            .auth_token(t.expose())
                            .auth_token_update_strategy(AuthTokenUpdateStrategyType::Rotate)
                            .apply_immediately(true)
                            .send()
                            .await
                            .aws("elasticache:ModifyReplicationGroup")?;
                        self.available(cx, r).await?;
                        Some(t)
                    }
                }
            }
        };
        write_secret(cx, &r.region, secret, &endpoint, token.as_ref()).await
    }

    async fn replicas(&self, cx: &Cx, r: &Resource, live: &Live, nodes: i32) -> Result<(), AwsError> {
        let have = attr_i64(&live.attributes, "nodes").unwrap_or(1) as i32;
        let client = cx.aws.elasticache(&r.region);
        if nodes > have {
            client
                .increase_replica_count()
                .replication_group_id(&live.aws_name)
                .new_replica_count(nodes - 1)
                .apply_immediately(true)
                .send()
                .await
                .aws("elasticache:IncreaseReplicaCount")?;
        } else if nodes < have {
            client
                .decrease_replica_count()
                .replication_group_id(&live.aws_name)
                .new_replica_count(nodes - 1)
                .apply_immediately(true)
                .send()
                .await
                .aws("elasticache:DecreaseReplicaCount")?;
        }
        Ok(())
    }

    /// ModifyReplicationGroup with what differs, if anything.
    async fn modify(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<(), AwsError> {
        let have = &live.attributes;
        let differs = |k: &str| attrs.get(k) != have.get(k);
        let mut m = cx
            .aws
            .elasticache(&r.region)
            .modify_replication_group()
            .replication_group_id(&live.aws_name)
            .apply_immediately(true);
        let mut any = false;
        if differs("node_type") {
            m = m.cache_node_type(attr_str(attrs, "node_type"));
            any = true;
        }
        if differs("engine_version") {
            m = m.engine_version(attr_str(attrs, "engine_version"));
            any = true;
        }
        if differs("automatic_failover") {
            m = m.automatic_failover_enabled(attr_bool(attrs, "automatic_failover"));
            any = true;
        }
        if differs("multi_az") {
            m = m.multi_az_enabled(attr_bool(attrs, "multi_az"));
            any = true;
        }
        if differs("security_groups") {
            m = m.set_security_group_ids(Some(sorted_strings(attrs.get("security_groups"))));
            any = true;
        }
        if differs("snapshot_retention_days") {
            m = m.set_snapshot_retention_limit(i32_of(attrs, "snapshot_retention_days"));
            any = true;
        }
        if any {
            m.send().await.aws("elasticache:ModifyReplicationGroup")?;
        }
        Ok(())
    }
}

#[async_trait]
impl Adapter for ElasticacheReplicationGroupAdapter {
    fn kind(&self) -> Kind {
        Kind::ElasticacheReplicationGroup
    }

    fn forces_replacement(&self) -> &'static [&'static str] {
        REPLACING
    }

    fn assess(&self, change: &mut Change, _seen: &Seen<'_>) -> Option<String> {
        assess_cache(change, REPLACING, &["node_type", "engine_version"], " (a final snapshot of the old one is kept)");
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
        const OP: &str = "elasticache:CreateReplicationGroup";
        if let Some(live) = self.find(cx, r).await? {
            // Left by an interrupted apply: adopt it when it is ours, keep its token.
            let live = live.ensure_owned(cx, OP)?;
            return self.update(cx, r, attrs, &live).await;
        }
        let transit = attr_bool(attrs, "transit_encryption");
        let token = transit.then(new_token);
        let nodes = i32_of(attrs, "nodes").unwrap_or(1);
        let created = cx
            .aws
            .elasticache(&r.region)
            .create_replication_group()
            .replication_group_id(&r.aws_name)
            .replication_group_description(format!("capsule {} {} cache {}", cx.capsule, cx.env, r.address.name))
            .engine(attr_str(attrs, "engine"))
            .engine_version(attr_str(attrs, "engine_version"))
            .cache_node_type(attr_str(attrs, "node_type"))
            .num_cache_clusters(nodes)
            .automatic_failover_enabled(attr_bool(attrs, "automatic_failover"))
            .multi_az_enabled(attr_bool(attrs, "multi_az"))
            .transit_encryption_enabled(transit)
            .at_rest_encryption_enabled(attr_bool(attrs, "at_rest_encryption"))
            .set_snapshot_retention_limit(i32_of(attrs, "snapshot_retention_days"))
            .set_auth_token(token.as_ref().map(|t| t.expose().to_string()))
            .set_port(i32_of(attrs, "port"))
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
        self.sync_secret(cx, r, attrs, &live, token).await?;
        Ok(live)
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        let nodes = i32_of(attrs, "nodes").unwrap_or(1);
        let growing = nodes > attr_i64(&live.attributes, "nodes").unwrap_or(1) as i32;
        let mut live = live.clone();
        if growing {
            // Replicas first: failover needs two nodes.
            self.replicas(cx, r, &live, nodes).await?;
            live = self.available(cx, r).await?;
        }
        self.modify(cx, r, attrs, &live).await?;
        live = self.available(cx, r).await?;
        if !growing {
            self.replicas(cx, r, &live, nodes).await?;
        }
        if let Some(arn) = live.outputs.get("arn").and_then(Value::as_str).filter(|a| !a.is_empty()) {
            add_tags(cx, &r.region, arn, tags_for(cx, r, attrs)).await?;
        }
        let live = self.available(cx, r).await?;
        self.sync_secret(cx, r, attrs, &live, None).await?;
        Ok(live)
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let client = cx.aws.elasticache(&live.region);
        let Some(g) = self.describe(cx, &live.aws_name, &live.region).await? else { return Ok(()) };
        if g.status() != Some("deleting") {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
            // A preview's (pr-<N>) data is disposable: no final snapshot to pay for.
            let snapshot =
                crate::config::preview::number_of(&cx.env).is_none().then(|| format!("{}-final-{now}", live.aws_name));
            match client
                .delete_replication_group()
                .replication_group_id(&live.aws_name)
                .set_final_snapshot_identifier(snapshot.clone())
                .send()
                .await
                .aws("elasticache:DeleteReplicationGroup")
            {
                Ok(_) => match &snapshot {
                    Some(s) => eprintln!("cache {}: final snapshot {s}", live.aws_name),
                    None => eprintln!("cache {}: deleted without a final snapshot (a preview)", live.aws_name),
                },
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        wait_until(&format!("cache {}", live.aws_name), "elasticache:DeleteReplicationGroup", Want::Gone, || {
            let client = client.clone();
            async move {
                let out = client
                    .describe_replication_groups()
                    .replication_group_id(&live.aws_name)
                    .send()
                    .await
                    .aws("elasticache:DescribeReplicationGroups")
                    .found()?;
                Ok(out.and_then(|o| o.replication_groups().first().and_then(|g| g.status().map(str::to_string))))
            }
        })
        .await
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let client = cx.aws.elasticache(&cx.region);
        let mut groups = Vec::new();
        let mut pages = client.describe_replication_groups().into_paginator().send();
        while let Some(page) = pages.next().await {
            groups.extend(page.aws("elasticache:DescribeReplicationGroups")?.replication_groups().iter().cloned());
        }
        let prefix = format!("{}-{}", cx.capsule, cx.env);
        let mut out = Vec::new();
        for g in groups.iter().filter(|g| {
            g.replication_group_id().unwrap_or_default().starts_with(&prefix) && g.status() != Some("deleting")
        }) {
            let id = g.replication_group_id().unwrap_or_default();
            let live = match cx.observed(Kind::ElasticacheReplicationGroup, &cx.region, id) {
                Some(live) => live,
                None => self.read(cx, g, &cx.region, None).await?,
            };
            if live.is_owned_by(&cx.capsule, &cx.env) {
                out.push(live);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, AttributeChange};

    fn change(attrs: &[(&str, Value, Value)]) -> Change {
        Change {
            address: "shop.production.elasticache_replication_group.sessions".into(),
            kind: "elasticache_replication_group".into(),
            action: Action::Update,
            reason: None,
            attributes: attrs
                .iter()
                .map(|(p, b, a)| AttributeChange {
                    path: p.to_string(),
                    before: b.clone(),
                    after: a.clone(),
                    forces_replacement: REPLACING.contains(p),
                    impact: None,
                })
                .collect(),
            stateful: true,
            outcome: None,
            error: None,
        }
    }

    #[test]
    fn changes_are_classified() {
        let mut c = change(&[
            ("node_type", json!("cache.t4g.micro"), json!("cache.t4g.small")),
            ("nodes", json!(1), json!(2)),
            ("security_groups", json!(["sg-1"]), json!(["sg-2"])),
        ]);
        assert_eq!(ElasticacheReplicationGroupAdapter.assess(&mut c, &Seen::default()), None);
        let impact: Vec<_> = c.attributes.iter().map(|a| a.impact.clone().unwrap()).collect();
        assert_eq!(impact, ["downtime", "in-place", "in-place"]);

        let mut c = change(&[("engine", json!("redis"), json!("valkey")), ("nodes", json!(2), json!(3))]);
        c.action = Action::Replace;
        ElasticacheReplicationGroupAdapter.assess(&mut c, &Seen::default());
        assert_eq!(c.attributes[0].impact.as_deref(), Some("replacement"));
        assert!(c.reason.unwrap().starts_with("engine cannot change in place"));
    }
}
