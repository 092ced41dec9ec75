//! The network capsule gives an environment, read back through the EC2, ECS, RDS, ElastiCache
//! and ELBv2 APIs rather than from capsule's own output: `examples/shop` in its own VPC with
//! private tasks, isolated data and a public load balancer across two zones; a VPC without
//! NAT that reaches AWS through endpoints; and `capsule destroy` leaving nothing that bills.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

use aws_sdk_ec2::types::{Filter, RouteTable};
use common::{SERVICES_ENV, capsule_with, config, own_testbed, shop, text, zone};

fn capsule(dir: &Path, endpoint: &str, args: &[&str]) -> Output {
    let mut env: Vec<(&str, &str)> = SERVICES_ENV.to_vec();
    env.extend([("AWS_ENDPOINT_URL", endpoint), ("CAPSULE_EC2_POLL", "200ms")]);
    capsule_with(dir, args, &env)
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn owned(capsule: &str, env: &str) -> Vec<Filter> {
    vec![filter("tag:capsule:name", capsule), filter("tag:capsule:env", env)]
}

/// Where each subnet's default route goes: `igw-…`, `nat-…`, or "" for none.
async fn default_routes(ec2: &aws_sdk_ec2::Client, vpc: &str) -> BTreeMap<String, String> {
    let tables: Vec<RouteTable> =
        ec2.describe_route_tables().filters(filter("vpc-id", vpc)).send().await.unwrap().route_tables().to_vec();
    let mut out = BTreeMap::new();
    for t in &tables {
        let route = t.routes().iter().find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"));
        let target = route.and_then(|r| r.gateway_id().or(r.nat_gateway_id())).unwrap_or_default();
        for a in t.associations().iter().filter_map(|a| a.subnet_id()) {
            out.insert(a.to_string(), target.to_string());
        }
    }
    out
}

/// The zones of subnets.
async fn zones(ec2: &aws_sdk_ec2::Client, subnets: &[String]) -> BTreeSet<String> {
    let out = ec2.describe_subnets().set_subnet_ids(Some(subnets.to_vec())).send().await.unwrap();
    out.subnets().iter().filter_map(|s| s.availability_zone().map(str::to_string)).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// What of the network is left for capsule `name` / `env`, by kind (deleted NAT gateways
/// and endpoints, which AWS lists for a while, are gone).
async fn network_left(ec2: &aws_sdk_ec2::Client, name: &str, env: &str) -> BTreeMap<&'static str, usize> {
    let f = || Some(owned(name, env));
    let nats = ec2.describe_nat_gateways().set_filter(f()).send().await.unwrap();
    let endpoints = ec2.describe_vpc_endpoints().set_filters(f()).send().await.unwrap();
    BTreeMap::from([
        ("vpc", ec2.describe_vpcs().set_filters(f()).send().await.unwrap().vpcs().len()),
        ("subnet", ec2.describe_subnets().set_filters(f()).send().await.unwrap().subnets().len()),
        (
            "internet gateway",
            ec2.describe_internet_gateways().set_filters(f()).send().await.unwrap().internet_gateways().len(),
        ),
        ("route table", ec2.describe_route_tables().set_filters(f()).send().await.unwrap().route_tables().len()),
        ("elastic ip", ec2.describe_addresses().set_filters(f()).send().await.unwrap().addresses().len()),
        (
            "nat gateway",
            nats.nat_gateways().iter().filter(|g| g.state().map(|s| s.as_str()) != Some("deleted")).count(),
        ),
        (
            "vpc endpoint",
            endpoints
                .vpc_endpoints()
                .iter()
                .filter(|e| e.state().map(|s| s.as_str().to_ascii_lowercase()) != Some("deleted".into()))
                .count(),
        ),
        ("flow log", ec2.describe_flow_logs().set_filter(f()).send().await.unwrap().flow_logs().len()),
        (
            "security group",
            ec2.describe_security_groups().set_filters(f()).send().await.unwrap().security_groups().len(),
        ),
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shop_runs_private_across_zones_in_its_own_network_and_destroy_leaves_none_of_it() {
    let bed = own_testbed(&[]);
    zone(&bed.endpoint).await;
    let dir = shop();
    let out = capsule(dir.path(), &bed.endpoint, &["apply", "--env", "production"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = capsule(dir.path(), &bed.endpoint, &["plan", "--env", "production", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "the re-plan is not clean:\n{}", text(&out));

    let c = config(&bed.endpoint, "eu-west-1").await;
    let ec2 = aws_sdk_ec2::Client::new(&c);
    let vpcs = ec2.describe_vpcs().set_filters(Some(owned("shop", "production"))).send().await.unwrap();
    assert_eq!(vpcs.vpcs().len(), 1, "one VPC of its own");
    let vpc = vpcs.vpcs()[0].vpc_id().unwrap().to_string();
    let routes = default_routes(&ec2, &vpc).await;

    // Services and the job: private subnets, no public IP, at least two zones, out through NAT.
    let ecs = aws_sdk_ecs::Client::new(&c);
    let services =
        ecs.describe_services().cluster("shop-production").services("api").services("worker").send().await.unwrap();
    let mut task_groups = BTreeMap::new();
    for s in services.services() {
        let net = s.network_configuration().and_then(|n| n.awsvpc_configuration()).unwrap();
        assert_eq!(
            net.assign_public_ip(),
            Some(&aws_sdk_ecs::types::AssignPublicIp::Disabled),
            "{:?}",
            s.service_name()
        );
        assert!(zones(&ec2, net.subnets()).await.len() >= 2, "{:?} in one zone", s.service_name());
        for subnet in net.subnets() {
            assert!(routes[subnet].starts_with("nat-"), "task subnet {subnet} routes to {:?}", routes[subnet]);
        }
        task_groups.insert(s.service_name().unwrap().to_string(), net.security_groups().to_vec());
    }
    assert_eq!(task_groups.len(), 2);
    let events = aws_sdk_eventbridge::Client::new(&c);
    let targets = events.list_targets_by_rule().rule("shop-production-job-nightly").send().await.unwrap();
    let job = targets.targets()[0]
        .ecs_parameters()
        .and_then(|e| e.network_configuration())
        .and_then(|n| n.awsvpc_configuration())
        .unwrap();
    assert_eq!(job.assign_public_ip(), Some(&aws_sdk_eventbridge::types::AssignPublicIp::Disabled));
    assert!(job.subnets().iter().all(|s| routes[s].starts_with("nat-")));

    // Per-az NAT in production: one gateway per zone, each in a public subnet.
    let nats = ec2.describe_nat_gateways().set_filter(Some(owned("shop", "production"))).send().await.unwrap();
    let nat_subnets: Vec<String> =
        nats.nat_gateways().iter().filter_map(|g| g.subnet_id().map(str::to_string)).collect();
    assert_eq!(nat_subnets.len(), 2);
    assert!(nat_subnets.iter().all(|s| routes[s].starts_with("igw-")));

    // The load balancer: public subnets of two zones, routed to the internet gateway.
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&c);
    let lbs = elb.describe_load_balancers().names("shop-production").send().await.unwrap();
    let lb_subnets: Vec<String> =
        lbs.load_balancers()[0].availability_zones().iter().filter_map(|z| z.subnet_id().map(str::to_string)).collect();
    assert!(zones(&ec2, &lb_subnets).await.len() >= 2);
    assert!(lb_subnets.iter().all(|s| routes[s].starts_with("igw-")), "{lb_subnets:?}: {routes:?}");

    // Data: isolated subnets with no route out; not public; admitting exactly its users.
    let rds = aws_sdk_rds::Client::new(&c);
    let db = rds.describe_db_instances().db_instance_identifier("shop-production-main").send().await.unwrap();
    let db = &db.db_instances()[0];
    assert_eq!(db.publicly_accessible(), Some(false));
    let db_subnets: Vec<String> = db
        .db_subnet_group()
        .map(|g| g.subnets().iter().filter_map(|s| s.subnet_identifier().map(str::to_string)).collect())
        .unwrap_or_default();
    let cache = aws_sdk_elasticache::Client::new(&c);
    let groups =
        cache.describe_cache_subnet_groups().cache_subnet_group_name("shop-production-sessions").send().await.unwrap();
    let cache_subnets: Vec<String> = groups.cache_subnet_groups()[0]
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_string))
        .collect();
    for subnet in db_subnets.iter().chain(&cache_subnets) {
        assert_eq!(routes.get(subnet).map(String::as_str), Some(""), "data subnet {subnet} has a route out");
    }
    assert!(zones(&ec2, &db_subnets).await.len() >= 2 && zones(&ec2, &cache_subnets).await.len() >= 2);
    let admitted = |group: &str| {
        let ec2 = ec2.clone();
        let group = group.to_string();
        async move {
            let g = ec2.describe_security_groups().group_ids(group).send().await.unwrap();
            let from: Vec<String> = g.security_groups()[0]
                .ip_permissions()
                .iter()
                .flat_map(|p| p.user_id_group_pairs().iter().filter_map(|u| u.group_id().map(str::to_string)))
                .collect();
            let cidrs = g.security_groups()[0].ip_permissions().iter().map(|p| p.ip_ranges().len()).sum::<usize>();
            // A data store starts no connection: no egress rule at all.
            let egress = g.security_groups()[0].ip_permissions_egress().len();
            (sorted(from), cidrs, egress)
        }
    };
    let db_group = db.vpc_security_groups()[0].vpc_security_group_id().unwrap();
    // DATABASE_URL is in the api's and the worker's environment, REDIS_URL in the api's only.
    assert_eq!(
        admitted(db_group).await,
        (sorted([task_groups["api"].clone(), task_groups["worker"].clone()].concat()), 0, 0)
    );
    let members =
        cache.describe_replication_groups().replication_group_id("shop-production-sessions").send().await.unwrap();
    let member = members.replication_groups()[0].member_clusters()[0].clone();
    let clusters = cache.describe_cache_clusters().cache_cluster_id(member).send().await.unwrap();
    let cache_group = clusters.cache_clusters()[0].security_groups()[0].security_group_id().unwrap();
    assert_eq!(admitted(cache_group).await, (task_groups["api"].clone(), 0, 0));

    // Flow logs of the VPC go to the capsule's log group.
    let flows = ec2.describe_flow_logs().filter(filter("resource-id", &vpc)).send().await.unwrap();
    assert_eq!(flows.flow_logs()[0].log_group_name(), Some("/capsule/shop/production/vpc-flow-logs"));

    // Production's database is protected: lifting that is an apply of its own.
    let file = dir.path().join("capsule.toml");
    let edited = std::fs::read_to_string(&file)
        .unwrap()
        .replace("storage_gb = 100", "storage_gb = 100\ndeletion_protection = false");
    std::fs::write(&file, edited).unwrap();
    let out = capsule(dir.path(), &bed.endpoint, &["apply", "--env", "production"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = capsule(
        dir.path(),
        &bed.endpoint,
        &["destroy", "--capsule", "shop", "--env", "production", "--confirm", "shop"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let left = network_left(&ec2, "shop", "production").await;
    assert!(left.values().all(|n| *n == 0), "left behind: {left:?}");
}

/// Deletes the region's default VPC, as landing zones and CIS baselines do.
async fn delete_default_vpc(ec2: &aws_sdk_ec2::Client) {
    let vpcs = ec2.describe_vpcs().filters(filter("is-default", "true")).send().await.unwrap();
    let vpc = vpcs.vpcs()[0].vpc_id().unwrap().to_string();
    for s in ec2.describe_subnets().filters(filter("vpc-id", &vpc)).send().await.unwrap().subnets() {
        ec2.delete_subnet().subnet_id(s.subnet_id().unwrap()).send().await.unwrap();
    }
    let igws = ec2.describe_internet_gateways().filters(filter("attachment.vpc-id", &vpc)).send().await.unwrap();
    for g in igws.internet_gateways() {
        let id = g.internet_gateway_id().unwrap();
        ec2.detach_internet_gateway().internet_gateway_id(id).vpc_id(&vpc).send().await.unwrap();
        ec2.delete_internet_gateway().internet_gateway_id(id).send().await.unwrap();
    }
    ec2.delete_vpc().vpc_id(&vpc).send().await.unwrap();
}

/// Without NAT, private tasks reach ECR, CloudWatch Logs, Secrets Manager and STS through
/// interface endpoints, and S3 through the gateway endpoint; no NAT gateway, no Elastic IP,
/// no default route in the private subnets; the plan says what the endpoints cost. All of it
/// in an account without a default VPC (review finding F6).
#[tokio::test(flavor = "multi_thread")]
async fn without_nat_private_tasks_reach_aws_through_endpoints() {
    let bed = own_testbed(&[]);
    delete_default_vpc(&aws_sdk_ec2::Client::new(&config(&bed.endpoint, "eu-west-1").await)).await;
    let dir = tempfile::tempdir().unwrap();
    common::write(
        dir.path(),
        "capsule.toml",
        "[capsule]\nname = \"quiet\"\nregion = \"eu-west-1\"\n[network]\nnat = \"none\"\nazs = 3\n\
         [services.worker]\nimage = \"nginx:1.27\"\n",
    );
    let out = capsule(dir.path(), &bed.endpoint, &["plan", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    let notes = plan["capsules"][0]["notes"].to_string();
    assert!(notes.contains("interface endpoints in 15 zone-slots"), "{notes}");
    let out = capsule(dir.path(), &bed.endpoint, &["apply"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = capsule(dir.path(), &bed.endpoint, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "the re-plan is not clean:\n{}", text(&out));

    let ec2 = aws_sdk_ec2::Client::new(&config(&bed.endpoint, "eu-west-1").await);
    let left = network_left(&ec2, "quiet", "production").await;
    assert_eq!((left["nat gateway"], left["elastic ip"], left["subnet"]), (0, 0, 9), "{left:?}");
    let endpoints = ec2.describe_vpc_endpoints().set_filters(Some(owned("quiet", "production"))).send().await.unwrap();
    let mut services: Vec<(String, String, usize)> = endpoints
        .vpc_endpoints()
        .iter()
        .map(|e| {
            let kind = e.vpc_endpoint_type().map(|t| t.as_str().to_string()).unwrap_or_default();
            (e.service_name().unwrap_or_default().to_string(), kind, e.subnet_ids().len() + e.route_table_ids().len())
        })
        .collect();
    services.sort();
    let want: Vec<(String, String, usize)> = [
        ("ecr.api", "Interface"),
        ("ecr.dkr", "Interface"),
        ("logs", "Interface"),
        ("s3", "Gateway"),
        ("secretsmanager", "Interface"),
        ("sts", "Interface"),
    ]
    .iter()
    .map(|(s, k)| (format!("com.amazonaws.eu-west-1.{s}"), k.to_string(), 3))
    .collect();
    assert_eq!(services, want);
    let vpc = endpoints.vpc_endpoints()[0].vpc_id().unwrap();
    let routes = default_routes(&ec2, vpc).await;
    let ecs = aws_sdk_ecs::Client::new(&config(&bed.endpoint, "eu-west-1").await);
    let s = ecs.describe_services().cluster("quiet-production").services("worker").send().await.unwrap();
    let net = s.services()[0].network_configuration().and_then(|n| n.awsvpc_configuration()).unwrap();
    assert_eq!(zones(&ec2, net.subnets()).await.len(), 3);
    assert!(net.subnets().iter().all(|s| routes[s].is_empty()), "{routes:?}");
}

/// A hand-made VPC as a platform team would hand it over: per zone a public subnet routed to
/// an internet gateway and a private one routed to a NAT gateway; plus, for the refusals, a
/// private pair without any way out and a subnet of another VPC.
struct HandMade {
    vpc: String,
    public: Vec<String>,
    private: Vec<String>,
    stranded: Vec<String>,
    foreign: String,
}

async fn hand_made(ec2: &aws_sdk_ec2::Client) -> HandMade {
    let vpc =
        ec2.create_vpc().cidr_block("10.77.0.0/16").send().await.unwrap().vpc().unwrap().vpc_id().unwrap().to_string();
    let zones = ["eu-west-1a", "eu-west-1b"];
    let subnet = |cidr: &'static str, zone: &'static str, vpc: String| {
        let ec2 = ec2.clone();
        async move {
            let s = ec2.create_subnet().vpc_id(vpc).cidr_block(cidr).availability_zone(zone).send().await.unwrap();
            s.subnet().unwrap().subnet_id().unwrap().to_string()
        }
    };
    let public =
        vec![subnet("10.77.0.0/24", zones[0], vpc.clone()).await, subnet("10.77.1.0/24", zones[1], vpc.clone()).await];
    let private = vec![
        subnet("10.77.10.0/24", zones[0], vpc.clone()).await,
        subnet("10.77.11.0/24", zones[1], vpc.clone()).await,
    ];
    let stranded = vec![
        subnet("10.77.20.0/24", zones[0], vpc.clone()).await,
        subnet("10.77.21.0/24", zones[1], vpc.clone()).await,
    ];
    let igw = ec2
        .create_internet_gateway()
        .send()
        .await
        .unwrap()
        .internet_gateway()
        .unwrap()
        .internet_gateway_id()
        .unwrap()
        .to_string();
    ec2.attach_internet_gateway().internet_gateway_id(&igw).vpc_id(&vpc).send().await.unwrap();
    let table = |subnets: Vec<String>| {
        let (ec2, vpc) = (ec2.clone(), vpc.clone());
        async move {
            let t = ec2.create_route_table().vpc_id(vpc).send().await.unwrap();
            let id = t.route_table().unwrap().route_table_id().unwrap().to_string();
            for s in subnets {
                ec2.associate_route_table().route_table_id(&id).subnet_id(s).send().await.unwrap();
            }
            id
        }
    };
    let public_table = table(public.clone()).await;
    ec2.create_route()
        .route_table_id(&public_table)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .unwrap();
    let eip = ec2.allocate_address().domain(aws_sdk_ec2::types::DomainType::Vpc).send().await.unwrap();
    let nat = ec2
        .create_nat_gateway()
        .subnet_id(&public[0])
        .allocation_id(eip.allocation_id().unwrap())
        .send()
        .await
        .unwrap();
    let nat = nat.nat_gateway().unwrap().nat_gateway_id().unwrap().to_string();
    let private_table = table(private.clone()).await;
    ec2.create_route()
        .route_table_id(&private_table)
        .destination_cidr_block("0.0.0.0/0")
        .nat_gateway_id(&nat)
        .send()
        .await
        .unwrap();
    let other =
        ec2.create_vpc().cidr_block("10.78.0.0/16").send().await.unwrap().vpc().unwrap().vpc_id().unwrap().to_string();
    let foreign = subnet("10.78.0.0/24", zones[1], other).await;
    // What was just made shows in listings after EC2's consistency delay (the test bed's too).
    let started = std::time::Instant::now();
    loop {
        let subnets = ec2.describe_subnets().filters(filter("vpc-id", &vpc)).send().await.unwrap().subnets().len();
        let tables =
            ec2.describe_route_tables().filters(filter("vpc-id", &vpc)).send().await.unwrap().route_tables().len();
        if (subnets, tables) == (6, 3) {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "the hand-made VPC never showed whole: {subnets} subnets, {tables} tables"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    HandMade { vpc, public, private, stranded, foreign }
}

/// The VPC's subnets and route tables as AWS describes them (what capsule must not change).
async fn snapshot(ec2: &aws_sdk_ec2::Client, vpc: &str) -> String {
    let subnets = ec2.describe_subnets().filters(filter("vpc-id", vpc)).send().await.unwrap();
    let tables = ec2.describe_route_tables().filters(filter("vpc-id", vpc)).send().await.unwrap();
    let mut subnets: Vec<String> =
        subnets.subnets().iter().map(|s| format!("{:?} {:?} {:?}", s.subnet_id(), s.cidr_block(), s.tags())).collect();
    subnets.sort();
    let mut tables: Vec<String> = tables
        .route_tables()
        .iter()
        .map(|t| {
            let routes: Vec<String> = t
                .routes()
                .iter()
                .map(|r| format!("{:?}>{:?}{:?}", r.destination_cidr_block(), r.gateway_id(), r.nat_gateway_id()))
                .collect();
            let assoc: Vec<String> = t.associations().iter().map(|a| format!("{:?}", a.subnet_id())).collect();
            format!("{:?} {routes:?} {assoc:?} {:?}", t.route_table_id(), t.tags())
        })
        .collect();
    tables.sort();
    format!("{subnets:#?}\n{tables:#?}")
}

fn existing(name: &str, vpc: &str, public: &[String], private: &[String]) -> String {
    let list = |v: &[String]| v.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ");
    format!(
        "[capsule]\nname = \"{name}\"\nregion = \"eu-west-1\"\n[network]\nvpc_id = \"{vpc}\"\npublic_subnets = [{}]\nprivate_subnets = [{}]\n\
         [services.web]\nimage = \"nginx:1.27\"\nport = 80\npublic = true\n[databases.main]\nengine = \"postgres\"\ndeletion_protection = false\non_delete = \"delete\"\n",
        list(public),
        list(private)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_existing_vpc_is_used_as_it_is_and_refused_when_it_cannot_carry_the_capsule() {
    let bed = own_testbed(&[]);
    let ec2 = aws_sdk_ec2::Client::new(&config(&bed.endpoint, "eu-west-1").await);
    let n = hand_made(&ec2).await;
    let before = snapshot(&ec2, &n.vpc).await;

    let dir = tempfile::tempdir().unwrap();
    common::write(dir.path(), "capsule.toml", &existing("byo", &n.vpc, &n.public, &n.private));
    let out = capsule(dir.path(), &bed.endpoint, &["apply"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = capsule(dir.path(), &bed.endpoint, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "the re-plan is not clean:\n{}", text(&out));
    let left = network_left(&ec2, "byo", "production").await;
    assert_eq!(
        (left["vpc"], left["subnet"], left["nat gateway"]),
        (0, 0, 0),
        "capsule made network of its own: {left:?}"
    );
    assert_eq!(snapshot(&ec2, &n.vpc).await, before, "capsule changed the hand-made VPC");

    let c = config(&bed.endpoint, "eu-west-1").await;
    let ecs = aws_sdk_ecs::Client::new(&c);
    let s = ecs.describe_services().cluster("byo-production").services("web").send().await.unwrap();
    let net = s.services()[0].network_configuration().and_then(|n| n.awsvpc_configuration()).unwrap();
    assert_eq!(sorted(net.subnets().to_vec()), sorted(n.private.clone()));
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&c);
    let lb = elb.describe_load_balancers().names("byo-production").send().await.unwrap();
    let lb_subnets: Vec<String> =
        lb.load_balancers()[0].availability_zones().iter().filter_map(|z| z.subnet_id().map(str::to_string)).collect();
    assert_eq!(sorted(lb_subnets), sorted(n.public.clone()));
    let rds = aws_sdk_rds::Client::new(&c);
    let db = rds.describe_db_subnet_groups().db_subnet_group_name("byo-production-main").send().await.unwrap();
    let db_subnets: Vec<String> =
        db.db_subnet_groups()[0].subnets().iter().filter_map(|s| s.subnet_identifier().map(str::to_string)).collect();
    assert_eq!(sorted(db_subnets), sorted(n.private.clone()), "without isolated_subnets data goes in the private ones");

    // Each refusal: the plan fails, says why, and the apply changes nothing.
    let one_zone = vec![n.public[0].clone(), n.stranded[0].clone()];
    let foreign = format!("public subnet {} is not in {}", n.foreign, n.vpc);
    let cases: Vec<(Vec<String>, Vec<String>, &str)> = vec![
        (vec![n.public[0].clone(), n.foreign.clone()], n.private.clone(), &foreign),
        (n.private.clone(), n.stranded.clone(), "has no route to an internet gateway"),
        (n.public.clone(), n.stranded.clone(), "has neither a NAT route nor the VPC endpoints"),
        (n.private.clone(), n.public.clone(), "routes to an internet gateway"),
        (one_zone, n.private.clone(), "the public subnets are all in one availability zone"),
    ];
    for (i, (public, private, why)) in cases.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        common::write(dir.path(), "capsule.toml", &existing(&format!("no{i}"), &n.vpc, public, private));
        let out = capsule(dir.path(), &bed.endpoint, &["apply"]);
        assert!(!out.status.success(), "case {i} applied:\n{}", text(&out));
        assert!(text(&out).contains(why), "case {i}: expected {why:?} in\n{}", text(&out));
        let ecs_clusters = ecs.list_clusters().send().await.unwrap();
        assert!(
            !ecs_clusters.cluster_arns().iter().any(|a| a.ends_with(&format!("/no{i}-production"))),
            "case {i} created its cluster"
        );
    }
    assert_eq!(snapshot(&ec2, &n.vpc).await, before);
}
