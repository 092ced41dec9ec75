//! `examples/shop` end to end on the strict test bed: both environments applied while 20 %
//! of all AWS requests fail (503 or throttling, answered before they take any effect), then
//! planned again, still under faults, to no changes. What AWS then holds, read back through
//! the AWS APIs, is exactly what a clean run (no faults) leaves: the same resources, none
//! twice. Each run has a test bed of its own (a fresh moto on a free port), so both start
//! from an empty account.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use common::{SERVICES_ENV, capsule_with, config, own_testbed, root, shop, testbed, text, zone};

fn capsule(dir: &Path, endpoint: &str, args: &[&str]) -> Output {
    let mut env: Vec<(&str, &str)> = SERVICES_ENV.to_vec();
    env.push(("AWS_ENDPOINT_URL", endpoint));
    capsule_with(dir, args, &env)
}

/// Applies both environments until an apply succeeds (at most three), then plans: no changes.
fn apply_and_replan(dir: &Path, endpoint: &str) -> usize {
    let mut applies = 0;
    loop {
        applies += 1;
        let out = capsule(dir, endpoint, &["apply", "--format", "json"]);
        if out.status.success() {
            break;
        }
        assert!(applies < 3, "apply {applies} failed:\n{}", text(&out));
    }
    let out = capsule(dir, endpoint, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "the re-plan is not clean:\n{}", text(&out));
    applies
}

/// The `Name` tags of every VPC, subnet, internet gateway, route table, Elastic IP, NAT
/// gateway, VPC endpoint and flow log, each prefixed by its kind.
async fn network_names(ec2: &aws_sdk_ec2::Client) -> Vec<String> {
    fn named(kind: &str, tags: &[aws_sdk_ec2::types::Tag]) -> Option<String> {
        tags.iter().find(|t| t.key() == Some("Name")).and_then(|t| t.value()).map(|n| format!("{kind} {n}"))
    }
    let mut out = Vec::new();
    let vpcs = ec2.describe_vpcs().send().await.unwrap();
    out.extend(vpcs.vpcs().iter().filter_map(|v| named("vpc", v.tags())));
    let subnets = ec2.describe_subnets().send().await.unwrap();
    out.extend(subnets.subnets().iter().filter_map(|s| named("subnet", s.tags())));
    let igws = ec2.describe_internet_gateways().send().await.unwrap();
    out.extend(igws.internet_gateways().iter().filter_map(|g| named("internet gateway", g.tags())));
    let tables = ec2.describe_route_tables().send().await.unwrap();
    out.extend(tables.route_tables().iter().filter_map(|t| named("route table", t.tags())));
    let addresses = ec2.describe_addresses().send().await.unwrap();
    out.extend(addresses.addresses().iter().filter_map(|a| named("elastic ip", a.tags())));
    let nats = ec2.describe_nat_gateways().send().await.unwrap();
    let live = |state: Option<&str>| !matches!(state, Some("deleted" | "deleting" | "Deleted" | "Deleting"));
    out.extend(
        nats.nat_gateways()
            .iter()
            .filter(|g| live(g.state().map(|s| s.as_str())))
            .filter_map(|g| named("nat gateway", g.tags())),
    );
    let endpoints = ec2.describe_vpc_endpoints().send().await.unwrap();
    out.extend(
        endpoints
            .vpc_endpoints()
            .iter()
            .filter(|e| live(e.state().map(|s| s.as_str())))
            .filter_map(|e| named("endpoint", e.tags())),
    );
    let flows = ec2.describe_flow_logs().send().await.unwrap();
    out.extend(flows.flow_logs().iter().filter_map(|f| named("flow log", f.tags())));
    out
}

/// What the account holds, by kind: names (or, where AWS makes the id, what identifies the
/// resource), sorted, duplicates kept.
async fn inventory(endpoint: &str) -> BTreeMap<String, Vec<String>> {
    let mut inv: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for region in ["eu-west-1", "us-east-1"] {
        let c = config(endpoint, region).await;
        let mut add = |kind: &str, names: Vec<String>| inv.entry(format!("{region} {kind}")).or_default().extend(names);

        let ec2 = aws_sdk_ec2::Client::new(&c);
        let groups = ec2.describe_security_groups().into_paginator().items().send().collect::<Vec<_>>().await;
        add(
            "security group",
            groups
                .into_iter()
                .map(Result::unwrap)
                .filter_map(|g| g.group_name)
                .filter(|n| n.starts_with("shop-"))
                .collect(),
        );
        // The network has no unique names: a retried create that made a second one shows here
        // as a name twice. By `Name` tag; NAT gateways and endpoints on their way out excluded.
        add("network", network_names(&ec2).await);
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&c);
        let lbs: Vec<_> = elb.describe_load_balancers().into_paginator().items().send().collect::<Vec<_>>().await;
        let lbs: Vec<_> = lbs.into_iter().map(Result::unwrap).collect();
        add("load balancer", lbs.iter().filter_map(|l| l.load_balancer_name.clone()).collect());
        for lb in &lbs {
            let arn = lb.load_balancer_arn.clone().unwrap();
            let listeners = elb.describe_listeners().load_balancer_arn(&arn).send().await.unwrap();
            for l in listeners.listeners() {
                add("listener", vec![format!("{} :{}", lb.load_balancer_name.clone().unwrap(), l.port().unwrap())]);
                let rules = elb.describe_rules().listener_arn(l.listener_arn().unwrap()).send().await.unwrap();
                add(
                    "listener rule",
                    rules.rules().iter().map(|r| format!(":{} {}", l.port().unwrap(), r.priority().unwrap())).collect(),
                );
            }
        }
        let tgs = elb.describe_target_groups().into_paginator().items().send().collect::<Vec<_>>().await;
        add("target group", tgs.into_iter().map(Result::unwrap).filter_map(|t| t.target_group_name).collect());

        let ecs = aws_sdk_ecs::Client::new(&c);
        let clusters: Vec<String> = ecs
            .list_clusters()
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        for cluster in &clusters {
            let services: Vec<String> = ecs
                .list_services()
                .cluster(cluster)
                .into_paginator()
                .items()
                .send()
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
            add("ecs service", services.iter().map(|s| s.rsplit('/').next().unwrap().to_string()).collect());
        }
        add("ecs cluster", clusters.iter().map(|c| c.rsplit('/').next().unwrap().to_string()).collect());
        let families = ecs.list_task_definition_families().into_paginator().items().send().collect::<Vec<_>>().await;
        add("task definition family", families.into_iter().map(Result::unwrap).collect());

        let rds = aws_sdk_rds::Client::new(&c);
        let dbs = rds.describe_db_instances().into_paginator().items().send().collect::<Vec<_>>().await;
        add("rds instance", dbs.into_iter().map(Result::unwrap).filter_map(|d| d.db_instance_identifier).collect());
        let ec = aws_sdk_elasticache::Client::new(&c);
        let groups = ec.describe_replication_groups().into_paginator().items().send().collect::<Vec<_>>().await;
        add(
            "replication group",
            groups.into_iter().map(Result::unwrap).filter_map(|g| g.replication_group_id).collect(),
        );

        let acm = aws_sdk_acm::Client::new(&c);
        let certs = acm.list_certificates().into_paginator().items().send().collect::<Vec<_>>().await;
        add("certificate", certs.into_iter().map(Result::unwrap).filter_map(|c| c.domain_name).collect());
        let secrets = aws_sdk_secretsmanager::Client::new(&c);
        let pages = secrets.list_secrets().into_paginator().send().collect::<Vec<_>>().await;
        let listed = pages.into_iter().flat_map(|p| p.unwrap().secret_list.unwrap_or_default());
        add("secret", listed.filter_map(|s| s.name).collect());
        let logs = aws_sdk_cloudwatchlogs::Client::new(&c);
        let groups = logs.describe_log_groups().into_paginator().items().send().collect::<Vec<_>>().await;
        add("log group", groups.into_iter().map(Result::unwrap).filter_map(|g| g.log_group_name).collect());
        let ecr = aws_sdk_ecr::Client::new(&c);
        let repos = ecr.describe_repositories().into_paginator().items().send().collect::<Vec<_>>().await;
        add("repository", repos.into_iter().map(Result::unwrap).filter_map(|r| r.repository_name).collect());
        let events = aws_sdk_eventbridge::Client::new(&c);
        let rules = events.list_rules().send().await.unwrap();
        add("event rule", rules.rules().iter().filter_map(|r| r.name.clone()).collect());
        let scaling = aws_sdk_applicationautoscaling::Client::new(&c);
        let targets = scaling
            .describe_scalable_targets()
            .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        add("scalable target", targets.into_iter().map(Result::unwrap).map(|t| t.resource_id).collect());
    }
    let c = config(endpoint, "us-east-1").await;
    let iam = aws_sdk_iam::Client::new(&c);
    let roles = iam.list_roles().path_prefix("/capsule/").into_paginator().items().send().collect::<Vec<_>>().await;
    inv.insert("iam role".into(), roles.into_iter().map(Result::unwrap).map(|r| r.role_name).collect());
    let cf = aws_sdk_cloudfront::Client::new(&c);
    let dists = cf.list_distributions().send().await.unwrap();
    let aliases: Vec<String> = dists
        .distribution_list()
        .map(|l| l.items().iter().map(|d| d.aliases().map(|a| a.items().join(",")).unwrap_or_default()).collect())
        .unwrap_or_default();
    inv.insert("distribution".into(), aliases);
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&c).force_path_style(true).build());
    let buckets = s3.list_buckets().send().await.unwrap();
    inv.insert(
        "bucket".into(),
        buckets.buckets().iter().filter_map(|b| b.name.clone()).filter(|n| n.starts_with("shop-")).collect(),
    );
    let r53 = aws_sdk_route53::Client::new(&c);
    let zones = r53.list_hosted_zones_by_name().dns_name("example.com").send().await.unwrap();
    let zone = zones.hosted_zones()[0].id().to_string();
    let mut records = Vec::new();
    let mut next: Option<(String, aws_sdk_route53::types::RrType)> = None;
    loop {
        let mut req = r53.list_resource_record_sets().hosted_zone_id(&zone);
        if let Some((name, kind)) = next.take() {
            req = req.start_record_name(name).start_record_type(kind);
        }
        let page = req.send().await.unwrap();
        records.extend(page.resource_record_sets().iter().map(|r| format!("{} {}", r.name(), r.r#type().as_str())));
        match (page.is_truncated(), page.next_record_name(), page.next_record_type()) {
            (true, Some(name), Some(kind)) => next = Some((name.to_string(), kind.clone())),
            _ => break,
        }
    }
    // Validation CNAMEs carry tokens moto makes up afresh: count them instead.
    let (validation, named): (Vec<String>, Vec<String>) =
        records.into_iter().partition(|r| r.starts_with('_') && r.ends_with("CNAME") && !r.contains("_capsule-owner"));
    inv.insert("record".into(), named);
    inv.insert("validation records".into(), vec![validation.len().to_string()]);
    for names in inv.values_mut() {
        names.sort();
    }
    inv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shop_example_converges_under_twenty_percent_faults_to_what_a_clean_run_leaves() {
    testbed();
    assert!(std::env::var("CAPSULE_REGISTRY").is_ok(), "the registry of the test bed is needed for the images");

    let clean = own_testbed(&[("CAPSULE_TESTBED_FAULTS", "0")]);
    zone(&clean.endpoint).await;
    let clean_dir = shop();
    assert_eq!(apply_and_replan(clean_dir.path(), &clean.endpoint), 1, "a clean run applies at once");
    let want = inventory(&clean.endpoint).await;
    assert!(want["eu-west-1 ecs service"].len() == 4 && want["eu-west-1 rds instance"].len() == 2, "{want:#?}");
    let network = &want["eu-west-1 network"];
    assert_eq!(network.iter().filter(|n| n.starts_with("vpc ")).count(), 2, "a VPC per environment: {network:#?}");
    let distinct: std::collections::BTreeSet<&String> = network.iter().collect();
    assert_eq!(distinct.len(), network.len(), "a network object twice: {network:#?}");

    let faulty = own_testbed(&[("CAPSULE_TESTBED_FAULTS", "0.2"), ("CAPSULE_TESTBED_FAULTS_SEED", "20")]);
    // The zone is the user's: made before capsule runs, through the faults like any call.
    zone(&faulty.endpoint).await;
    let dir = shop();
    let applies = apply_and_replan(dir.path(), &faulty.endpoint);
    eprintln!("with 20 % faults: {applies} apply run(s) until success");
    let got = inventory(&faulty.endpoint).await;
    assert_eq!(got, want, "the faulty run left another set of resources than the clean one");
}

/// The inventory reads what the test bed holds, so it must not be empty by accident.
#[test]
fn the_example_is_the_one_the_test_reads() {
    let text = std::fs::read_to_string(root().join("examples/shop/capsule.toml")).unwrap();
    assert!(
        text.contains("name   = \"shop\"") && text.contains("zone = \"example.com\""),
        "tests/shop.rs expects these names"
    );
}
