//! Listings that take more than one page, against the local test bed: each test makes more
//! of something than one page of AWS's answer holds and checks that capsule finds all of it.
//! Plain moto pages some listings as AWS does (Route 53 ListHostedZones: 100 zones) and
//! answers others in one page (ECS ListServices, where AWS answers 10); the strict test bed
//! pages those too (testbed/patches/pagination.py), so each test here fails on code that
//! reads only the first page.
//! And a listing of everything in a region is read once per run, not once per resource that
//! needs it (counted by bench/count_proxy.py in front of the test bed).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command};

use aws_sdk_ecs::types::{ContainerDefinition, Tag};
use capsule::aws::adapters::adapter;
use capsule::aws::{Aws, Cx};
use capsule::model::{Address, Kind, Resource, aws_name, ownership_tags};
use common::{capsule_with, changes, hosted_zone, success_json, testbed, unique, write};
use serde_json::{Value, json};

/// Held by the tests that make or count hosted zones, so that one does not count the
/// other's zones.
static ZONES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn cx(capsule: &str, region: &str) -> Cx {
    Cx::new(Aws::from_env().await, "123456789012".into(), capsule.into(), "production".into(), region.into(), false)
}

fn resource(cx: &Cx, kind: Kind, name: &str, aws_name: &str, attributes: Value) -> Resource {
    Resource {
        address: Address { capsule: cx.capsule.clone(), env: cx.env.clone(), kind, name: name.into() },
        aws_name: aws_name.into(),
        region: cx.region.clone(),
        attributes: attributes.as_object().unwrap().clone().into_iter().collect(),
        depends_on: vec![],
        tags: ownership_tags(&cx.capsule, &cx.env, name),
    }
}

/// Route 53 answers ListHostedZones 100 zones a page. The SES identity adapter finds an
/// identity's owner marker in the zone that holds its domain, so a zone on the second page
/// must be found as well as one on the first.
#[tokio::test]
async fn ses_identities_in_zones_past_the_first_page_are_listed() {
    testbed();
    let _zones = ZONES.lock().await;
    let cx = cx(&unique("pgses"), "us-east-1").await;
    let r53 = cx.aws.route53("us-east-1");
    // Zones are listed in the order they were made: at least 100 come before ours.
    let mut fillers = Vec::new();
    for _ in 0..100 {
        let name = format!("{}.example.net", unique("fill"));
        let made = r53.create_hosted_zone().name(name).caller_reference(unique("ref")).send().await.unwrap();
        fillers.push(made.hosted_zone().unwrap().id().to_string());
    }
    let zone = format!("{}.example.com", unique("pgz"));
    let zone_id = hosted_zone(&zone).await;

    let a = adapter(Kind::SesIdentity).unwrap();
    let r = resource(
        &cx,
        Kind::SesIdentity,
        "email",
        &zone,
        json!({ "domain": zone, "zone": zone, "dkim": true, "mail_from_domain": format!("mail.{zone}") }),
    );
    let mut attrs: BTreeMap<String, Value> = r.attributes.clone();
    a.normalize(&mut attrs);
    let live = a.create(&cx, &r, &attrs).await.unwrap();
    assert!(live.is_owned_by(&cx.capsule, &cx.env), "{live:?}");

    let owned = a.list_owned(&cx).await;

    a.delete(&cx, &live).await.unwrap();
    for id in fillers.iter().chain([&zone_id]) {
        r53.delete_hosted_zone().id(id).send().await.unwrap();
    }
    let names: Vec<String> = owned.unwrap().into_iter().map(|l| l.aws_name).collect();
    assert_eq!(names, vec![zone], "the identity in the zone on page two is listed");
}

/// ECS answers ListServices 10 services a page unless asked for more; a cluster with 12
/// services of the capsule lists all 12.
#[tokio::test]
async fn services_past_the_first_page_are_listed() {
    testbed();
    let cx = cx(&unique("pgecs"), "us-east-1").await;
    let ecs = cx.aws.ecs(&cx.region);
    let cluster = aws_name(&[&cx.capsule, &cx.env], 255);
    ecs.create_cluster().cluster_name(&cluster).send().await.unwrap();
    let family = format!("{cluster}-web");
    let task = ecs
        .register_task_definition()
        .family(&family)
        .container_definitions(ContainerDefinition::builder().name("web").image("nginx").memory(128).build())
        .send()
        .await
        .unwrap();
    let task_arn = task.task_definition().unwrap().task_definition_arn().unwrap().to_string();
    let mut made = Vec::new();
    for i in 0..12 {
        let name = format!("{cluster}-svc{i:02}");
        let tags = ownership_tags(&cx.capsule, &cx.env, &format!("svc{i:02}"))
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        ecs.create_service()
            .cluster(&cluster)
            .service_name(&name)
            .task_definition(&task_arn)
            .desired_count(0)
            .set_tags(Some(tags))
            .send()
            .await
            .unwrap();
        made.push(name);
    }

    let listed = adapter(Kind::EcsService).unwrap().list_owned(&cx).await;

    for name in &made {
        ecs.delete_service().cluster(&cluster).service(name).force(true).send().await.unwrap();
    }
    ecs.deregister_task_definition().task_definition(&task_arn).send().await.unwrap();
    ecs.delete_cluster().cluster(&cluster).send().await.unwrap();
    let mut listed: Vec<String> = listed.unwrap().into_iter().map(|l| l.aws_name).collect();
    listed.sort();
    assert_eq!(listed, made);
}

/// bench/count_proxy.py in front of the test bed, for one test: counts the requests by AWS
/// service and operation.
struct CountingProxy {
    child: Child,
    url: String,
}

impl CountingProxy {
    async fn start() -> CountingProxy {
        let upstream = std::env::var("AWS_ENDPOINT_URL").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let child = Command::new(root.join(".testbed/venv/bin/python"))
            .arg(root.join("bench/count_proxy.py"))
            .arg(port.to_string())
            .arg(&upstream)
            .spawn()
            .unwrap();
        let proxy = CountingProxy { child, url: format!("http://127.0.0.1:{port}") };
        for _ in 0..100 {
            if reqwest::get(format!("{}/__counts", proxy.url)).await.is_ok() {
                return proxy;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the counting proxy did not start on port {port}");
    }

    async fn counts(&self) -> BTreeMap<String, u64> {
        reqwest::get(format!("{}/__counts", self.url)).await.unwrap().json().await.unwrap()
    }

    /// The requests of `op` the client chose to send: those counted, less the ones answered
    /// with a throttling error (Route 53 allows 5 a second), which the client sends again.
    async fn sent(&self, op: &str) -> (u64, BTreeMap<String, u64>) {
        let counts = self.counts().await;
        let of = |key: &str| counts.get(key).copied().unwrap_or_default();
        (of(op) - of(&format!("throttled:{op}")), counts)
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every listener and rule read needs the capsule's load balancers, which means listing
/// every load balancer of the region and reading the tags of all of them. A plan lists them
/// once (kept in `Cx`), not once per listener, rule and listing of owned resources.
#[tokio::test]
async fn a_plan_lists_the_regions_load_balancers_once() {
    testbed();
    // Its plan lists every zone of the account too.
    let _zones = ZONES.lock().await;
    let name = unique("pglb");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "capsule.toml",
        &format!(
            "[capsule]\nname = \"{name}\"\n[services.web]\nimage = \"nginx:1.27\"\nport = 8080\npublic = true\n\
             [services.api]\nimage = \"nginx:1.27\"\nport = 8080\npublic = true\n"
        ),
    );
    let env = [("CAPSULE_ROLLOUT_POLL", "200ms")];
    success_json(&capsule_with(dir.path(), &["apply", "--format", "json"], &env));

    let proxy = CountingProxy::start().await;
    let mut through = env.to_vec();
    through.push(("AWS_ENDPOINT_URL", &proxy.url));
    let plan = success_json(&capsule_with(dir.path(), &["plan", "--format", "json"], &through));
    assert_eq!(changes(&plan), vec![]);
    let (describes, counts) = proxy.sent("aws:elasticloadbalancing:DescribeLoadBalancers").await;

    // DescribeLoadBalancers: the pages of one listing of the region, as many as the test bed
    // answers here (the load balancer's own read finds it in that listing).
    let (mut all, mut listing) = (0, 0);
    let mut pages = Aws::from_env().await.elb("us-east-1").describe_load_balancers().into_paginator().send();
    while let Some(page) = pages.next().await {
        all += page.unwrap().load_balancers().len();
        listing += 1;
    }
    assert_eq!(describes, listing, "{all} load balancers in the region; requests: {counts:#?}");
}

/// The email records (DKIM, named by the identity's outputs) are found by their markers in a
/// scan of the zone, and listing owned records scans every zone of the account: a plan scans
/// each zone once, the capsule's included, however many records look for their markers.
#[tokio::test]
async fn a_plan_scans_each_hosted_zone_once() {
    testbed();
    let _zones = ZONES.lock().await;
    let domain = format!("{}.example.com", unique("pgscan"));
    hosted_zone(&domain).await;
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "capsule.toml",
        &format!(
            "[capsule]\nname = \"{}\"\n[dns]\nzone = \"{domain}\"\n[email]\ndomain = \"{domain}\"\n",
            unique("pgm")
        ),
    );
    success_json(&capsule_with(dir.path(), &["apply", "--format", "json"], &[]));

    let proxy = CountingProxy::start().await;
    let plan =
        success_json(&capsule_with(dir.path(), &["plan", "--format", "json"], &[("AWS_ENDPOINT_URL", &proxy.url)]));
    assert_eq!(changes(&plan), vec![]);
    // A scan's first page names no record to start at; a read of one name does.
    let (scans, counts) = proxy.sent("aws:route53:GET /*/hostedzone/*/rrset?maxitems").await;

    let mut zones = 0;
    let mut pages = Aws::from_env().await.route53("us-east-1").list_hosted_zones().into_paginator().send();
    while let Some(page) = pages.next().await {
        zones += page.unwrap().hosted_zones().len() as u64;
    }
    assert_eq!(scans, zones, "{zones} zones in the account; requests: {counts:#?}");
}

/// What no one capsule owns is read once per run, whichever capsule needs it: a plan of
/// two capsules, each with a site behind a certificate and CloudFront, and email, reads each
/// certificate's tags once, lists the distributions, the SES identities (their attributes
/// up to 100 a call), the sending quota and each hosted zone once.
#[tokio::test]
async fn a_plan_of_two_capsules_reads_what_they_share_once() {
    testbed();
    let _zones = ZONES.lock().await;
    let zone = format!("{}.example.com", unique("pgacct"));
    hosted_zone(&zone).await;
    let dir = tempfile::tempdir().unwrap();
    for n in ["a", "b"] {
        let domain = format!("{n}.{zone}");
        write(dir.path(), &format!("{n}/site/index.html"), "<h1>hello</h1>\n");
        write(
            dir.path(),
            &format!("{n}/capsule.toml"),
            &format!(
                "[capsule]\nname = \"{}\"\n[dns]\nzone = \"{zone}\"\n[sites.web]\ndir = \"site\"\n\
                 domain = \"{domain}\"\n[email]\ndomain = \"{domain}\"\n",
                unique("pga")
            ),
        );
    }
    success_json(&capsule_with(dir.path(), &["apply", "--format", "json"], &[]));

    let proxy = CountingProxy::start().await;
    let plan =
        success_json(&capsule_with(dir.path(), &["plan", "--format", "json"], &[("AWS_ENDPOINT_URL", &proxy.url)]));
    assert_eq!(changes(&plan), vec![]);
    let counts = proxy.counts().await;
    let sent = |op: &str| {
        counts.get(&format!("aws:{op}")).copied().unwrap_or_default()
            - counts.get(&format!("throttled:aws:{op}")).copied().unwrap_or_default()
    };

    let aws = Aws::from_env().await;
    let (acm, cf, ses, r53) =
        (aws.acm("us-east-1"), aws.cloudfront("us-east-1"), aws.ses("us-east-1"), aws.route53("us-east-1"));
    let mut certificates = 0;
    let mut pages = acm.list_certificates().into_paginator().send();
    while let Some(page) = pages.next().await {
        certificates += page.unwrap().certificate_summary_list().len() as u64;
    }
    let mut distribution_pages = 0;
    let mut pages = cf.list_distributions().into_paginator().send();
    while let Some(page) = pages.next().await {
        page.unwrap();
        distribution_pages += 1;
    }
    let (identity_pages, identities) = {
        let (mut p, mut n) = (0, 0);
        let mut pages =
            ses.list_identities().identity_type(aws_sdk_ses::types::IdentityType::Domain).into_paginator().send();
        while let Some(page) = pages.next().await {
            p += 1;
            n += page.unwrap().identities().len() as u64;
        }
        (p, n)
    };
    let mut zones = 0;
    let mut pages = r53.list_hosted_zones().into_paginator().send();
    while let Some(page) = pages.next().await {
        zones += page.unwrap().hosted_zones().len() as u64;
    }
    let why = format!("{certificates} certificates, {identities} identities, {zones} zones; requests: {counts:#?}");
    assert_eq!(sent("acm:ListTagsForCertificate"), certificates, "{why}");
    assert_eq!(sent("cloudfront:GET /*/distribution"), distribution_pages, "{why}");
    assert_eq!(sent("ses:ListIdentities"), identity_pages, "{why}");
    for op in ["GetIdentityVerificationAttributes", "GetIdentityDkimAttributes", "GetIdentityMailFromDomainAttributes"]
    {
        assert_eq!(sent(&format!("ses:{op}")), identities.div_ceil(100), "{op}: {why}");
    }
    assert_eq!(sent("ses:GetSendQuota"), 1, "{why}");
    assert_eq!(sent("route53:GET /*/hostedzone/*/rrset?maxitems"), zones, "{why}");
}

/// Listing what a capsule owns finds the resources its observation just read: those are
/// taken as read, so a plan reads each role, task definition, log group and repository once.
#[tokio::test]
async fn a_plan_reads_each_owned_resource_once() {
    testbed();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app/Dockerfile", "FROM scratch\nCOPY a.txt /a.txt\n");
    write(dir.path(), "app/a.txt", "a\n");
    write(
        dir.path(),
        "capsule.toml",
        &format!(
            "[capsule]\nname = \"{}\"\n[services.worker]\nbuild = \"app\"\n[services.cron]\nimage = \"nginx:1.27\"\n",
            unique("pgown")
        ),
    );
    let env = [("CAPSULE_ROLLOUT_POLL", "200ms"), ("CAPSULE_BUILDER", "buildah")];
    success_json(&capsule_with(dir.path(), &["apply", "--format", "json"], &env));

    let proxy = CountingProxy::start().await;
    let mut through = env.to_vec();
    through.push(("AWS_ENDPOINT_URL", &proxy.url));
    let plan = success_json(&capsule_with(dir.path(), &["plan", "--format", "json"], &through));
    assert_eq!(changes(&plan), vec![]);
    let counts = proxy.counts().await;
    let of = |kind: &str| {
        plan["capsules"][0]["changes"].as_array().unwrap().iter().filter(|c| c["type"] == kind).count() as u64
    };
    for (op, kind) in [
        ("aws:iam:GetRole", "iam_role"),
        ("aws:ecs:DescribeTaskDefinition", "ecs_task_definition"),
        ("aws:logs:ListTagsForResource", "log_group"),
        ("aws:ecr:ListTagsForResource", "ecr_repository"),
    ] {
        assert!(of(kind) > 0, "the capsule has a {kind}");
        assert_eq!(counts.get(op).copied().unwrap_or_default(), of(kind), "{op}; requests: {counts:#?}");
    }
}
