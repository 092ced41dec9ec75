//! Container services end to end on the test bed: images really built by buildah from
//! small contexts (`FROM scratch` + files) and pushed to the registry, task definitions
//! pinned by digest, services rolled out and watched (the test bed simulates deployments),
//! failed rollouts reported with the stopped tasks' reasons.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use capsule::aws::Aws;
use common::{SERVICES_ENV, capsule_with, changes, hosted_zone, success_json, testbed, text, unique, write};
use serde_json::Value;

fn capsule(dir: &Path, args: &[&str]) -> Output {
    capsule_with(dir, args, SERVICES_ENV)
}

fn apply(dir: &Path) -> (Value, String) {
    let out = capsule(dir, &["apply", "--format", "json"]);
    (success_json(&out), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn plan(dir: &Path) -> Value {
    success_json(&capsule(dir, &["plan", "--format", "json"]))
}

fn image<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["capsules"][0]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "image" && a["name"] == name)
        .unwrap()
}

/// Two workers built from one context, and the context's files.
fn project(name: &str, env: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "app/Dockerfile", "FROM scratch\nCOPY hello.txt /hello.txt\n");
    write(root, "app/hello.txt", "hello v1\n");
    write(
        root,
        "capsule.toml",
        &format!(
            "[capsule]\nname = \"{name}\"\n\n[services.worker]\nbuild = \"app\"\ncommand = [\"/hello\"]\n{env}\n\
             [services.mailer]\nbuild = \"app\"\n"
        ),
    );
    dir
}

async fn task_definition(family: &str) -> aws_sdk_ecs::types::TaskDefinition {
    let ecs = Aws::from_env().await.ecs("us-east-1");
    ecs.describe_task_definition().task_definition(family).send().await.unwrap().task_definition.unwrap()
}

async fn service(cluster: &str, name: &str) -> aws_sdk_ecs::types::Service {
    let ecs = Aws::from_env().await.ecs("us-east-1");
    let out = ecs.describe_services().cluster(cluster).services(name).send().await.unwrap();
    out.services()[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_build_once_push_pin_by_digest_and_roll_out() {
    testbed();
    let name = unique("svc");
    let dir = project(&name, "");
    let registry = std::env::var("CAPSULE_REGISTRY").unwrap();

    let p = plan(dir.path());
    assert_eq!(image(&p, "worker")["action"], "build");
    assert!(image(&p, "worker")["reason"].as_str().unwrap().contains("first build"), "{p:#}");

    let (doc, log) = apply(dir.path());
    assert_eq!(doc["ok"], true);
    let (worker, mailer) = (image(&doc, "worker"), image(&doc, "mailer"));
    assert_eq!(worker["pushed"], true, "{doc:#}");
    let digest = worker["digest"].as_str().unwrap().to_string();
    assert!(digest.starts_with("sha256:"), "{digest}");
    assert_eq!(mailer["digest"], worker["digest"], "one context, one image");
    assert_eq!(log.matches("building").count(), 1, "two services sharing a context build once:\n{log}");

    // The task definition pins the digest the registry holds for the tag.
    let td = task_definition(&format!("{name}-production-worker")).await;
    let repo = format!("{name}-production-worker");
    assert_eq!(td.container_definitions()[0].image(), Some(format!("{registry}/{repo}@{digest}").as_str()));
    assert_eq!(td.container_definitions()[0].command(), ["/hello"]);
    let tag = worker["tag"].as_str().unwrap();
    let resp = reqwest::Client::new()
        .head(format!("http://{registry}/v2/{repo}/manifests/{tag}"))
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["docker-content-digest"].to_str().unwrap(), digest);
    // The service runs that task definition, rolled out to completion, circuit breaker on.
    let s = service(&format!("{name}-production"), "worker").await;
    assert_eq!(s.task_definition(), td.task_definition_arn());
    assert_eq!(s.deployments()[0].rollout_state().map(|r| r.as_str()), Some("COMPLETED"));
    let breaker = s.deployment_configuration().unwrap().deployment_circuit_breaker().unwrap();
    assert!(breaker.enable() && breaker.rollback());
    assert!(log.contains("service worker: deployment") && log.contains("completed"), "{log}");

    // Nothing changed: nothing to build, nothing to change.
    let p = plan(dir.path());
    assert_eq!(changes(&p), vec![], "{p:#}");
    assert_eq!(image(&p, "worker")["action"], "up-to-date");
    let (doc, log) = apply(dir.path());
    assert_eq!(image(&doc, "worker")["pushed"], false);
    assert!(!log.contains("building"), "{log}");

    // A context edit: new tag, built and pushed, the service rolled to the new digest.
    write(dir.path(), "app/hello.txt", "hello v2\n");
    let p = plan(dir.path());
    assert_eq!(image(&p, "worker")["action"], "build");
    assert!(image(&p, "worker")["reason"].as_str().unwrap().contains("new context hash"), "{p:#}");
    let planned = changes(&p);
    assert!(
        planned.contains(&(format!("{name}.production.ecs_task_definition.worker"), "update".into())),
        "{planned:?}"
    );
    assert!(planned.contains(&(format!("{name}.production.ecs_service.worker"), "update".into())), "{planned:?}");
    let (doc, _) = apply(dir.path());
    let new_digest = image(&doc, "worker")["digest"].as_str().unwrap().to_string();
    assert_ne!(new_digest, digest);
    let td2 = task_definition(&format!("{name}-production-worker")).await;
    assert_eq!(td2.revision(), td.revision() + 1);
    assert!(td2.container_definitions()[0].image().unwrap().ends_with(&new_digest));
    assert_eq!(service(&format!("{name}-production"), "worker").await.task_definition(), td2.task_definition_arn());
    assert_eq!(changes(&plan(dir.path())), vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_rollout_fails_the_apply_with_the_stopped_tasks_reasons() {
    testbed();
    let name = unique("bad");
    let dir = project(&name, "");
    apply(dir.path());
    // The new revision cannot pull its image (the test bed fails it like ECS would).
    let toml = std::fs::read_to_string(dir.path().join("capsule.toml")).unwrap();
    let failing = toml.replace(
        "command = [\"/hello\"]\n",
        "command = [\"/hello\"]\n[services.worker.env]\nCAPSULE_TESTBED_FAIL = \"image-pull\"\n",
    );
    std::fs::write(dir.path().join("capsule.toml"), failing).unwrap();
    let before = task_definition(&format!("{name}-production-worker")).await;

    let out = capsule(dir.path(), &["apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let log = text(&out);
    assert!(log.contains("service worker: deployment") && log.contains("failed"), "{log}");
    assert!(log.contains("CannotPullContainerError"), "the stopped tasks' reasons are shown:\n{log}");
    assert!(log.contains("likely fix: the image cannot be pulled"), "{log}");
    assert!(log.contains("Apply FAILED"), "{log}");
    // ECS rolled the service back to the revision that worked.
    let s = service(&format!("{name}-production"), "worker").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut s = s;
    while s.task_definition() != before.task_definition_arn() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        s = service(&format!("{name}-production"), "worker").await;
    }
    assert_eq!(s.task_definition(), before.task_definition_arn(), "rolled back");
    // The next plan still wants the change: the failure is not forgotten.
    let p = plan(dir.path());
    assert!(changes(&p).contains(&(format!("{name}.production.ecs_service.worker"), "update".into())), "{p:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_autoscaled_service_gets_its_load_balancer_scaling_and_scheduled_job() {
    testbed();
    let name = unique("pub");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "app/Dockerfile", "FROM scratch\nCOPY hello.txt /hello.txt\n");
    write(root, "app/hello.txt", "hello\n");
    write(
        root,
        "capsule.toml",
        &format!(
            "[capsule]\nname = \"{name}\"\n\n[services.web]\nbuild = \"app\"\nport = 8080\npublic = true\n\
             health = {{ path = \"/healthz\", grace = \"45s\" }}\n\n[services.web.env]\nMODE = \"public\"\nAPI_KEY = {{ secret = \"api-key\" }}\n\n[secrets]\napi-key = {{ description = \"the API key\" }}\n\n[services.web.autoscale]\nmin = 2\nmax = 5\ncpu = 50\n\n\
             [jobs.nightly]\nservice = \"web\"\nschedule = \"cron(0 3 * * ? *)\"\ncommand = [\"/hello\", \"--nightly\"]\n"
        ),
    );
    let (doc, _) = apply(root);
    assert_eq!(doc["ok"], true);
    let aws = Aws::from_env().await;
    let cluster = format!("{name}-production");

    // Load balancer: HTTP listener (no certificate yet) whose rule forwards to the service's
    // target group, health-checked on the service's path and port.
    let elb = aws.elb("us-east-1");
    let lbs = elb.describe_load_balancers().names(format!("{name}-production")).send().await.unwrap();
    let lb = &lbs.load_balancers()[0];
    assert_eq!(lb.scheme().map(|s| s.as_str()), Some("internet-facing"));
    let listeners = elb.describe_listeners().load_balancer_arn(lb.load_balancer_arn().unwrap()).send().await.unwrap();
    let http = listeners.listeners().iter().find(|l| l.port() == Some(80)).expect("an HTTP listener");
    let rules = elb.describe_rules().listener_arn(http.listener_arn().unwrap()).send().await.unwrap();
    let rule = rules.rules().iter().find(|r| !r.is_default().unwrap_or(false)).expect("the service's rule");
    let tg_arn = rule.actions()[0].target_group_arn().unwrap().to_string();
    let tgs = elb.describe_target_groups().target_group_arns(&tg_arn).send().await.unwrap();
    let tg = &tgs.target_groups()[0];
    assert_eq!((tg.port(), tg.health_check_path()), (Some(8080), Some("/healthz")));
    assert_eq!(tg.target_type().map(|t| t.as_str()), Some("ip"));

    // The service sits behind that target group, with the grace period from health.grace.
    let s = service(&cluster, "web").await;
    assert_eq!(s.load_balancers()[0].target_group_arn(), Some(tg_arn.as_str()));
    assert_eq!(s.load_balancers()[0].container_port(), Some(8080));
    assert_eq!(s.health_check_grace_period_seconds(), Some(45));

    // Its security group admits the service port from the load balancer's group only.
    let ec2 = aws.ec2("us-east-1");
    let group = s.network_configuration().unwrap().awsvpc_configuration().unwrap().security_groups()[0].to_string();
    let groups = ec2.describe_security_groups().group_ids(&group).send().await.unwrap();
    let ingress = groups.security_groups()[0].ip_permissions();
    assert_eq!(ingress.len(), 1, "{ingress:?}");
    assert_eq!((ingress[0].from_port(), ingress[0].to_port()), (Some(8080), Some(8080)));
    assert!(ingress[0].ip_ranges().is_empty(), "no CIDR may reach the service directly");
    assert_eq!(ingress[0].user_id_group_pairs()[0].group_id(), lb.security_groups().first().map(String::as_str));

    // Autoscaling: target tracking on CPU between min and max.
    let scaling = aws.autoscaling("us-east-1");
    let resource = format!("service/{cluster}/web");
    let targets = scaling
        .describe_scalable_targets()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_ids(&resource)
        .send()
        .await
        .unwrap();
    let t = &targets.scalable_targets()[0];
    assert_eq!((t.min_capacity(), t.max_capacity()), (2, 5));
    let policies = scaling
        .describe_scaling_policies()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_id(&resource)
        .send()
        .await
        .unwrap();
    let tt = policies.scaling_policies()[0].target_tracking_scaling_policy_configuration().unwrap();
    assert_eq!(tt.target_value(), 50.0);

    // The nightly job: an EventBridge schedule running the job's task definition on Fargate.
    let events = aws.events("us-east-1");
    let rule_name = format!("{name}-production-job-nightly");
    let r = events.describe_rule().name(&rule_name).send().await.unwrap();
    assert_eq!(r.schedule_expression(), Some("cron(0 3 * * ? *)"));
    let targets = events.list_targets_by_rule().rule(&rule_name).send().await.unwrap();
    let ecs_target = targets.targets()[0].ecs_parameters().unwrap();
    let job_td = task_definition(&format!("{name}-production-job-nightly")).await;
    assert_eq!(Some(ecs_target.task_definition_arn()), job_td.task_definition_arn());
    assert_eq!(job_td.container_definitions()[0].command(), ["/hello", "--nightly"]);
    let web_td = task_definition(&format!("{name}-production-web")).await;
    // Secrets reach the container only as references: the environment holds no value.
    let c = &web_td.container_definitions()[0];
    let secret = aws
        .secrets("us-east-1")
        .describe_secret()
        .secret_id(format!("capsule/{name}/production/api-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(c.secrets().len(), 1);
    assert_eq!((c.secrets()[0].name(), c.secrets()[0].value_from()), ("API_KEY", secret.arn().unwrap()));
    assert_eq!(c.environment().iter().map(|kv| kv.name().unwrap()).collect::<Vec<_>>(), ["MODE"]);
    assert_eq!(
        job_td.container_definitions()[0].image(),
        web_td.container_definitions()[0].image(),
        "the service's image"
    );

    // The autoscaler moves the count: capsule does not fight it.
    let ecs = aws.ecs("us-east-1");
    ecs.update_service().cluster(&cluster).service("web").desired_count(4).send().await.unwrap();
    let p = plan(root);
    assert_eq!(changes(&p), vec![], "{p:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prebuilt_images_are_pinned_when_their_registry_answers() {
    testbed();
    let registry = std::env::var("CAPSULE_REGISTRY").unwrap();
    // A prebuilt image in the registry, pushed with buildah as any CI would.
    let ctx = tempfile::tempdir().unwrap();
    write(ctx.path(), "Dockerfile", "FROM scratch\nCOPY v.txt /v.txt\n");
    write(ctx.path(), "v.txt", &unique("prebuilt"));
    let repo = unique("prebuilt");
    let reference = format!("{registry}/{repo}/app:1.0");
    let run = |args: &[&str]| {
        let out = Command::new("buildah").args(args).output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    };
    run(&["bud", "--quiet", "-t", &reference, ctx.path().to_str().unwrap()]);
    run(&["push", "--tls-verify=false", &reference, &format!("docker://{reference}")]);

    let name = unique("pre");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "capsule.toml",
        &format!(
            "[capsule]\nname = \"{name}\"\n[services.app]\nimage = \"{reference}\"\n[services.proxy]\nimage = \"nginx:1.27\"\n"
        ),
    );
    let p = plan(dir.path());
    let app = image(&p, "app");
    assert_eq!(app["action"], "prebuilt");
    let digest = app["digest"].as_str().expect("resolved").to_string();
    assert!(app["reason"].as_str().unwrap().contains(&digest));
    let proxy = image(&p, "proxy");
    assert!(proxy["digest"].is_null() && proxy["reason"].as_str().unwrap().contains("used as written"), "{proxy}");

    apply(dir.path());
    let td = task_definition(&format!("{name}-production-app")).await;
    assert_eq!(td.container_definitions()[0].image(), Some(format!("{reference}@{digest}").as_str()));
    let td = task_definition(&format!("{name}-production-proxy")).await;
    assert_eq!(td.container_definitions()[0].image(), Some("nginx:1.27"));
    assert_eq!(changes(&plan(dir.path())), vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_domain_gets_https_with_its_certificate_host_rules_and_an_alias() {
    testbed();
    let aws = Aws::from_env().await;
    let zone = format!("{}.example.com", unique("svc"));
    let r53 = aws.route53("us-east-1");
    let zone_id = hosted_zone(&zone).await;
    let name = unique("sd");
    let domain = format!("api.{zone}");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "app/Dockerfile", "FROM scratch\nCOPY a.txt /a.txt\n");
    write(root, "app/a.txt", "a\n");
    write(
        root,
        "capsule.toml",
        &format!(
            "[capsule]\nname = \"{name}\"\nregion = \"eu-west-1\"\n[dns]\nzone = \"{zone}\"\n\
             [services.api]\nbuild = \"app\"\nport = 8080\npublic = true\ndomain = \"{domain}\"\n"
        ),
    );
    apply(root);
    assert_eq!(changes(&plan(root)), vec![], "a re-plan is a no-op");

    // The load balancer's certificate is in the capsule's region.
    let certs = aws.acm("eu-west-1").list_certificates().send().await.unwrap();
    let cert = certs.certificate_summary_list().iter().find(|c| c.domain_name() == Some(domain.as_str())).unwrap();
    let elb = aws.elb("eu-west-1");
    let lbs = elb.describe_load_balancers().names(format!("{name}-production")).send().await.unwrap();
    let lb = &lbs.load_balancers()[0];
    let listeners = elb.describe_listeners().load_balancer_arn(lb.load_balancer_arn().unwrap()).send().await.unwrap();
    let by_port = |p: i32| listeners.listeners().iter().find(|l| l.port() == Some(p)).unwrap();
    // HTTP redirects to HTTPS; HTTPS carries the certificate and the service's host rule.
    let redirect = by_port(80).default_actions()[0].redirect_config().expect("HTTP redirects");
    assert_eq!((redirect.protocol(), redirect.port()), (Some("HTTPS"), Some("443")));
    let https = by_port(443);
    assert_eq!(https.certificates()[0].certificate_arn(), cert.certificate_arn());
    let rules = elb.describe_rules().listener_arn(https.listener_arn().unwrap()).send().await.unwrap();
    let rule = rules.rules().iter().find(|r| !r.is_default().unwrap_or(false)).unwrap();
    let hosts: Vec<&str> = rule
        .conditions()
        .iter()
        .flat_map(|c| c.host_header_config().map(|h| h.values()).unwrap_or_default())
        .map(String::as_str)
        .collect();
    assert_eq!(hosts, [domain.as_str()]);
    // The domain is an alias to the load balancer.
    let records = r53.list_resource_record_sets().hosted_zone_id(&zone_id).send().await.unwrap();
    let a = records
        .resource_record_sets()
        .iter()
        .find(|s| s.name() == format!("{domain}.") && s.r#type().as_str() == "A")
        .expect("an A record");
    assert_eq!(
        a.alias_target().unwrap().dns_name().trim_end_matches('.'),
        lb.dns_name().unwrap().trim_end_matches('.')
    );
}

/// A new port is a new target group (its name carries the port): it is made first, the
/// listener rule and the service move to it, and only then is the old one deleted; ELB
/// refuses to delete a group a rule still forwards to (`ResourceInUse`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_change_replaces_the_target_group_without_deleting_one_in_use() {
    testbed();
    let name = unique("port");
    let dir = tempfile::tempdir().unwrap();
    let toml = |port: u16| {
        format!("[capsule]\nname = \"{name}\"\n[services.web]\nimage = \"nginx:1.27\"\nport = {port}\npublic = true\n")
    };
    write(dir.path(), "capsule.toml", &toml(8080));
    let (doc, log) = apply(dir.path());
    assert_eq!(doc["ok"], true, "{log}");
    let elb = Aws::from_env().await.elb("us-east-1");
    let prefix = format!("{name}-");
    let groups = |elb: aws_sdk_elasticloadbalancingv2::Client| {
        let prefix = prefix.clone();
        async move {
            let mut names = Vec::new();
            let mut pages = elb.describe_target_groups().into_paginator().send();
            while let Some(page) = pages.next().await {
                names.extend(
                    page.unwrap().target_groups().iter().filter_map(|t| t.target_group_name().map(str::to_string)),
                );
            }
            names.into_iter().filter(|n| n.starts_with(&prefix)).collect::<Vec<_>>()
        }
    };
    let first = groups(elb.clone()).await;
    assert_eq!(first, vec![format!("{name}-production-web-8080")]);
    let tg = elb.describe_target_groups().names(&first[0]).send().await.unwrap().target_groups()[0].clone();
    // A new task takes traffic after 2 checks 10 s apart, not AWS's default 5 x 30 s.
    assert_eq!(
        (tg.health_check_interval_seconds(), tg.healthy_threshold_count(), tg.unhealthy_threshold_count()),
        (Some(10), Some(2), Some(3))
    );

    write(dir.path(), "capsule.toml", &toml(9090));
    let p = plan(dir.path());
    let replaced: Vec<&Value> =
        p["capsules"][0]["changes"].as_array().unwrap().iter().filter(|c| c["type"] == "lb_target_group").collect();
    assert_eq!(replaced.len(), 1, "{p:#}");
    assert_eq!(replaced[0]["action"], "replace");
    let (doc, log) = apply(dir.path());
    assert_eq!(doc["ok"], true, "{doc:#}\n{log}");
    assert_eq!(groups(elb.clone()).await, vec![format!("{name}-production-web-9090")]);
    let svc = service(&format!("{name}-production"), "web").await;
    let lb = &svc.load_balancers()[0];
    assert_eq!(lb.container_port(), Some(9090));
    assert!(lb.target_group_arn().unwrap().contains(&format!("{name}-production-web-9090")), "{lb:?}");
    assert_eq!(changes(&plan(dir.path())), vec![]);
}

/// ACM allows 10 names per certificate (the test bed refuses an 11th, as ACM does): 11
/// public service domains get two certificates, the second served by SNI on the HTTPS
/// listener, and a re-plan is a no-op.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eleven_service_domains_get_two_certificates_on_one_listener() {
    testbed();
    let aws = Aws::from_env().await;
    let zone = format!("{}.example", unique("many"));
    hosted_zone(&zone).await;
    let name = unique("many");
    let dir = tempfile::tempdir().unwrap();
    let mut toml = format!("[capsule]\nname = \"{name}\"\n[dns]\nzone = \"{zone}\"\n");
    for i in 1..=11 {
        toml.push_str(&format!(
            "[services.s{i}]\nimage = \"nginx:1.27\"\nport = 80\npublic = true\ndomain = \"s{i}.{zone}\"\ncount = 0\n"
        ));
    }
    write(dir.path(), "capsule.toml", &toml);
    let (doc, log) = apply(dir.path());
    assert_eq!(doc["ok"], true, "{doc:#}\n{log}");
    assert_eq!(changes(&plan(dir.path())), vec![], "a re-plan is a no-op");

    let certs = aws.acm("us-east-1").list_certificates().send().await.unwrap();
    let ours: Vec<String> = certs
        .certificate_summary_list()
        .iter()
        .filter(|c| c.domain_name().is_some_and(|d| d.ends_with(&zone)))
        .filter_map(|c| c.certificate_arn().map(str::to_string))
        .collect();
    assert_eq!(ours.len(), 2, "{ours:?}");
    let elb = aws.elb("us-east-1");
    let lbs = elb.describe_load_balancers().names(format!("{name}-production")).send().await.unwrap();
    let listeners =
        elb.describe_listeners().load_balancer_arn(lbs.load_balancers()[0].load_balancer_arn().unwrap()).send().await;
    let listeners = listeners.unwrap();
    let https = listeners.listeners().iter().find(|l| l.port() == Some(443)).unwrap();
    let served = elb.describe_listener_certificates().listener_arn(https.listener_arn().unwrap()).send().await.unwrap();
    let mut served: Vec<String> =
        served.certificates().iter().filter_map(|c| c.certificate_arn().map(str::to_string)).collect();
    served.sort();
    served.dedup();
    let mut want = ours.clone();
    want.sort();
    assert_eq!(served, want, "the listener serves both certificates");
}
