//! `[caches.*]`: an ElastiCache subnet group, security group and connection secret per
//! cache, and a replication group (Redis, Valkey) or a cache cluster (memcached).

use indexmap::IndexMap;
use serde_json::json;

use super::DataStores;
use super::builder::Builder;
use super::default_version;
use crate::config::types::{CACHE_ENGINES, Cache};
use crate::model::{Kind, reference};

pub(super) fn expand(b: &mut Builder<'_>, caches: &IndexMap<String, Cache>, data: &mut DataStores) {
    for (name, cache) in caches {
        let version = cache.version.clone().unwrap_or_else(|| default_version(CACHE_ENGINES, &cache.engine));
        let port = if cache.engine == "memcached" { 11211 } else { 6379 };
        let subnet = b.add(
            Kind::CacheSubnetGroup,
            name,
            b.name(name, 255),
            json!({
                "description": format!("capsule {} {} cache {name}", b.capsule, b.env),
                "subnets": b.net.isolated,
            }),
            b.net.isolated_deps.clone(),
        );
        let sg =
            data.security_group(b, ("caches", name), format!("cache {name}: from the services that use it only"), port);
        let secret = super::secrets::connection(
            b,
            &format!("cache-{name}"),
            format!("connection settings of cache {name} (host, port, auth token, url)"),
        );
        let deps = vec![subnet.clone(), sg.clone(), secret.clone()];
        let mut attributes = json!({
            "engine": cache.engine,
            "engine_version": version,
            "node_type": cache.node,
            "nodes": cache.nodes,
            "port": port,
            "subnet_group": reference(&subnet, "name"),
            "security_groups": [reference(&sg, "id")],
            "connection_secret": reference(&secret, "arn"),
        });
        let kind = if cache.engine == "memcached" {
            // TLS between the tasks and memcached (ElastiCache supports it from 1.6.12)
            if let Some(all) = attributes.as_object_mut() {
                all.insert("transit_encryption".into(), json!(true));
            }
            Kind::ElasticacheCluster
        } else {
            let more = json!({
                "automatic_failover": cache.nodes >= 2,
                "multi_az": cache.nodes >= 2,
                "transit_encryption": true,
                "at_rest_encryption": true,
                // daily automatic backups (ElastiCache's default keeps none)
                "snapshot_retention_days": 7,
            });
            if let (Some(all), Some(more)) = (attributes.as_object_mut(), more.as_object()) {
                all.extend(more.clone());
            }
            Kind::ElasticacheReplicationGroup
        };
        b.add(kind, name, b.name(name, 40), attributes, deps);
        data.caches.insert(name.clone(), secret);
    }
}
