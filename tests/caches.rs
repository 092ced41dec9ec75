//! Caches end to end on the test bed: `[caches.*]` applied by the real binary and read
//! back through the ElastiCache, EC2, ECS and Secrets Manager APIs. Redis with failover,
//! encryption and an auth token only the connection secret holds; the url reaching the
//! service as a secret reference only; changes classified and applied; a replacement
//! refused without consent; removal only with `--allow-destroy`, leaving a final snapshot.
//! Memcached with its configuration endpoint, resized in place.

mod common;

use std::path::Path;

use capsule::aws::Aws;
use common::{capsule_with, change, changes, impact, secret_json, testbed, text, unique, write};

const ENV: &[(&str, &str)] = &[("CAPSULE_CACHE_POLL", "200ms"), ("CAPSULE_ROLLOUT_POLL", "200ms")];
use serde_json::Value;

/// Applies; returns everything the command printed.
fn apply(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["apply"];
    all.extend_from_slice(args);
    let out = capsule_with(dir, &all, ENV);
    assert!(out.status.success(), "{}", text(&out));
    text(&out)
}

fn plan(dir: &Path) -> Value {
    let out = capsule_with(dir, &["plan", "--format", "json"], ENV);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)))
}

async fn group(id: &str) -> Option<aws_sdk_elasticache::types::ReplicationGroup> {
    let ec = Aws::from_env().await.elasticache("us-east-1");
    match ec.describe_replication_groups().replication_group_id(id).send().await {
        Ok(o) => o.replication_groups().first().cloned(),
        Err(e) => {
            let e = e.into_service_error();
            assert!(e.is_replication_group_not_found_fault(), "{e:?}");
            None
        }
    }
}

async fn cluster(id: &str) -> Option<aws_sdk_elasticache::types::CacheCluster> {
    let ec = Aws::from_env().await.elasticache("us-east-1");
    match ec.describe_cache_clusters().cache_cluster_id(id).show_cache_node_info(true).send().await {
        Ok(o) => o.cache_clusters().first().cloned(),
        Err(e) => {
            let e = e.into_service_error();
            assert!(e.is_cache_cluster_not_found_fault(), "{e:?}");
            None
        }
    }
}

fn redis(dir: &Path, name: &str, cache: &str) {
    write(
        dir,
        "capsule.toml",
        &format!(
            "[capsule]\nname = \"{name}\"\n\n[services.api]\nimage = \"nginx:1.27\"\nport = 80\n\
             env = {{ REDIS_URL = \"${{caches.sessions.url}}\", MODE = \"live\" }}\n\n[caches.sessions]\n{cache}"
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_cache_is_redundant_encrypted_changed_carefully_and_never_lost() {
    testbed();
    let name = unique("ca");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let id = format!("{name}-production-sessions");
    let address = format!("{name}.production.elasticache_replication_group.sessions");
    redis(root, &name, "engine = \"redis\"\n");
    let log = apply(root, &[]);

    // Two nodes: a primary and a replica, automatic failover, Multi-AZ, encryption both
    // ways, an auth token, in the capsule's subnet group behind its own security group.
    let g = group(&id).await.expect("created");
    assert_eq!(g.member_clusters().len(), 2);
    assert_eq!(g.automatic_failover().map(|s| s.as_str()), Some("enabled"));
    assert_eq!(g.multi_az().map(|s| s.as_str()), Some("enabled"));
    assert_eq!(g.transit_encryption_enabled(), Some(true));
    assert_eq!(g.at_rest_encryption_enabled(), Some(true));
    assert_eq!(g.auth_token_enabled(), Some(true));
    assert_eq!(g.cache_node_type(), Some("cache.t4g.micro"));
    let member = cluster(&g.member_clusters()[0]).await.unwrap();
    assert_eq!(member.cache_subnet_group_name(), Some(id.as_str()));
    let sg = member.security_groups()[0].security_group_id().unwrap().to_string();
    let ec2 = Aws::from_env().await.ec2("us-east-1");
    let groups = ec2.describe_security_groups().group_ids(&sg).send().await.unwrap();
    let rules = groups.security_groups()[0].ip_permissions();
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].from_port(), Some(6379));
    assert!(rules[0].ip_ranges().is_empty(), "no CIDR may reach the cache: {rules:?}");
    assert_eq!(rules[0].user_id_group_pairs().len(), 1, "only the services' group: {rules:?}");

    // The connection secret: endpoint, token and a ready url; the token is nowhere else.
    let secret_name = format!("capsule/{name}/production/cache-sessions");
    let conn = secret_json(&secret_name).await;
    let primary = g.node_groups()[0].primary_endpoint().unwrap();
    assert_eq!(conn["host"], primary.address().unwrap());
    assert_eq!(conn["port"], 6379);
    assert_eq!(conn["engine"], "redis");
    let token = conn["auth_token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 64);
    assert_eq!(conn["url"], format!("rediss://:{token}@{}:6379", primary.address().unwrap()));
    assert!(!log.contains(&token), "the token leaked:\n{log}");

    // The service gets the url as a secret reference, never as a value.
    let ecs = Aws::from_env().await.ecs("us-east-1");
    let td = ecs.describe_task_definition().task_definition(format!("{name}-production-api")).send().await.unwrap();
    let container = &td.task_definition().unwrap().container_definitions()[0];
    let reference = container.secrets().iter().find(|s| s.name() == "REDIS_URL").expect("REDIS_URL is a secret");
    assert!(reference.value_from().ends_with(":url::"), "{reference:?}");
    assert!(reference.value_from().contains(&format!("capsule/{name}/production/cache-sessions")));
    assert!(container.environment().iter().all(|e| e.name() != Some("REDIS_URL")));
    assert!(!format!("{td:?}").contains(&token));

    let p = plan(root);
    assert_eq!(changes(&p), vec![], "a re-plan is a no-op: {p:#}");

    // A lost connection secret: planned to be written again; nothing else knows the
    // token, so the group gets a new one (rotated) and the secret holds it.
    let sm = Aws::from_env().await.secrets("us-east-1");
    sm.delete_secret().secret_id(&secret_name).force_delete_without_recovery(true).send().await.unwrap();
    let p = plan(root);
    let c = change(&p, &address);
    assert_eq!(c["action"], "update", "{p:#}");
    assert_eq!(impact(c, "connection_secret"), "in-place", "{c:#}");
    let log = apply(root, &[]);
    let conn = secret_json(&secret_name).await;
    let new_token = conn["auth_token"].as_str().unwrap().to_string();
    assert_eq!(new_token.len(), 64);
    assert_ne!(new_token, token);
    assert_eq!(conn["host"], primary.address().unwrap());
    assert!(!log.contains(&new_token) && !log.contains(&token), "{log}");
    let token = new_token;
    assert_eq!(changes(&plan(root)), vec![]);

    // A bigger node type and a third node: classified, applied in place, token kept.
    redis(root, &name, "engine = \"redis\"\nnode = \"cache.t4g.small\"\nnodes = 3\n");
    let p = plan(root);
    let c = change(&p, &address);
    assert_eq!(c["action"], "update", "{p:#}");
    assert_eq!(impact(c, "node_type"), "downtime", "{c:#}");
    assert_eq!(impact(c, "nodes"), "in-place", "{c:#}");
    let log = apply(root, &[]);
    let g = group(&id).await.unwrap();
    assert_eq!(g.cache_node_type(), Some("cache.t4g.small"));
    assert_eq!(g.member_clusters().len(), 3);
    assert_eq!(secret_json(&secret_name).await["auth_token"], token.as_str());
    assert!(!log.contains(&token));
    assert_eq!(changes(&plan(root)), vec![]);

    // One node: failover goes off first, then the replicas.
    redis(root, &name, "engine = \"redis\"\nnode = \"cache.t4g.small\"\nnodes = 1\n");
    apply(root, &[]);
    let g = group(&id).await.unwrap();
    assert_eq!(g.member_clusters().len(), 1);
    assert_eq!(g.automatic_failover().map(|s| s.as_str()), Some("disabled"));
    assert_eq!(changes(&plan(root)), vec![]);

    // An engine change replaces the cache: planned so, refused without consent.
    redis(root, &name, "engine = \"valkey\"\nnode = \"cache.t4g.small\"\nnodes = 1\n");
    let p = plan(root);
    let c = change(&p, &address);
    assert_eq!(c["action"], "replace", "{p:#}");
    assert_eq!(impact(c, "engine"), "replacement", "{c:#}");
    let out = capsule_with(root, &["apply"], ENV);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("--allow-destroy"), "{}", text(&out));
    assert_eq!(group(&id).await.unwrap().engine(), Some("redis"), "untouched");

    // Removing the cache: refused without consent; with it, deleted with a final snapshot,
    // and its subnet group after it.
    write(root, "capsule.toml", &format!("[capsule]\nname = \"{name}\"\n"));
    let out = capsule_with(root, &["apply"], ENV);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(group(&id).await.is_some());
    let log = apply(root, &["--allow-destroy"]);
    assert!(group(&id).await.is_none(), "deleted");
    let snapshot = log
        .lines()
        .find_map(|l| l.split_once("final snapshot ").map(|(_, s)| s.trim().to_string()))
        .unwrap_or_else(|| panic!("the final snapshot is printed:\n{log}"));
    assert!(snapshot.starts_with(&format!("{id}-final-")), "{snapshot}");
    let ec = Aws::from_env().await.elasticache("us-east-1");
    let snaps = ec.describe_snapshots().snapshot_name(&snapshot).send().await.unwrap();
    assert_eq!(snaps.snapshots().len(), 1, "the final snapshot exists");
    let subnet_groups = ec.describe_cache_subnet_groups().cache_subnet_group_name(&id).send().await;
    assert!(subnet_groups.is_err(), "the subnet group is deleted too");
    assert_eq!(changes(&plan(root)), vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memcached_cache_has_its_configuration_endpoint_and_resizes_in_place() {
    testbed();
    let name = unique("mc");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let id = format!("{name}-production-pages");
    let address = format!("{name}.production.elasticache_cluster.pages");
    let config =
        |settings: &str| format!("[capsule]\nname = \"{name}\"\n\n[caches.pages]\nengine = \"memcached\"\n{settings}");
    write(root, "capsule.toml", &config(""));
    apply(root, &[]);

    let c = cluster(&id).await.expect("created");
    assert_eq!(c.engine(), Some("memcached"));
    assert_eq!(c.num_cache_nodes(), Some(2));
    assert_eq!(c.cache_nodes().len(), 2);
    assert_eq!(c.cache_subnet_group_name(), Some(id.as_str()));
    // Traffic between the tasks and memcached is encrypted, and the secret says so.
    assert_eq!(c.transit_encryption_enabled(), Some(true));
    assert_eq!(c.engine_version(), Some("1.6.22"));
    let endpoint = c.configuration_endpoint().unwrap();
    assert_eq!(endpoint.port(), Some(11211));
    let conn = secret_json(&format!("capsule/{name}/production/cache-pages")).await;
    assert_eq!(conn["url"], format!("memcached://{}:11211", endpoint.address().unwrap()));
    assert!(conn.get("auth_token").is_none());
    assert_eq!(conn["tls"], true);
    assert_eq!(changes(&plan(root)), vec![]);

    // More nodes: in place; fewer: in place, the highest-numbered node goes.
    write(root, "capsule.toml", &config("nodes = 3\n"));
    let p = plan(root);
    assert_eq!(impact(change(&p, &address), "nodes"), "in-place", "{p:#}");
    apply(root, &[]);
    assert_eq!(cluster(&id).await.unwrap().num_cache_nodes(), Some(3));
    write(root, "capsule.toml", &config("nodes = 1\n"));
    apply(root, &[]);
    let c = cluster(&id).await.unwrap();
    assert_eq!(c.num_cache_nodes(), Some(1));
    assert_eq!(c.cache_nodes()[0].cache_node_id(), Some("0001"));
    assert_eq!(changes(&plan(root)), vec![]);

    // Memcached cannot change its node type: a replacement, refused without consent.
    write(root, "capsule.toml", &config("nodes = 1\nnode = \"cache.t4g.small\"\n"));
    let p = plan(root);
    let ch = change(&p, &address);
    assert_eq!(ch["action"], "replace", "{p:#}");
    assert_eq!(impact(ch, "node_type"), "replacement");
    let out = capsule_with(root, &["apply"], ENV);
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(cluster(&id).await.unwrap().cache_node_type(), Some("cache.t4g.micro"));
    // With consent the cache is replaced by a new one of the new type.
    apply(root, &["--allow-destroy"]);
    assert_eq!(cluster(&id).await.unwrap().cache_node_type(), Some("cache.t4g.small"));
    assert_eq!(changes(&plan(root)), vec![]);
}
