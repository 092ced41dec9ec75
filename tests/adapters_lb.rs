//! The load balancer, autoscaling and scheduled-job adapters against the local test bed
//! (`scripts/testbed up`): for each, create -> observe equals the desired normalised
//! attributes, an edit of one attribute changes only it, list_owned finds it, an untagged
//! look-alike is refused, delete -> observe `None`, delete again is fine. Then the ALB stack
//! through the engine, where observe sees unresolved references.

mod common;

use std::collections::BTreeMap;

use capsule::aws::adapters::adapter;
use capsule::aws::{Aws, Cx, ErrorKind, Live};
use capsule::engine::{observe, plan_live};
use capsule::model::{Address, Desired, Graph, Kind, Resource, ownership_tags, reference};
use capsule::plan::{Action, Observed, plan_resource};
use common::{testbed, unique};
use serde_json::{Value, json};

const REGION: &str = "us-east-1";

async fn cx(capsule: &str) -> Cx {
    Cx::new(Aws::from_env().await, "123456789012".into(), capsule.into(), "production".into(), REGION.into(), false)
}

fn resource(capsule: &str, kind: Kind, name: &str, aws_name: &str, attributes: Value, deps: Vec<Address>) -> Resource {
    Resource {
        address: Address { capsule: capsule.into(), env: "production".into(), kind, name: name.into() },
        aws_name: aws_name.into(),
        region: REGION.into(),
        attributes: attributes.as_object().unwrap().clone().into_iter().collect(),
        depends_on: deps,
        tags: ownership_tags(capsule, "production", name),
    }
}

/// The resource's attributes as the engine hands them to the adapter: normalised.
fn attrs_of(r: &Resource) -> BTreeMap<String, Value> {
    let mut attrs = r.attributes.clone();
    adapter(r.address.kind).unwrap().normalize(&mut attrs);
    attrs
}

/// The attribute paths the planner would change to bring `live` to `attrs`.
fn diff(r: &Resource, attrs: &BTreeMap<String, Value>, live: &Live) -> Vec<String> {
    let observed = Observed { attributes: live.attributes.clone(), outputs: live.outputs.clone() };
    let change = plan_resource(r, attrs, Some(&observed), &adapter(r.address.kind).unwrap().plan_rules());
    change.attributes.iter().map(|a| format!("{}: {} -> {}", a.path, a.before, a.after)).collect()
}

fn paths(d: &[String]) -> Vec<&str> {
    d.iter().map(|s| s.split(':').next().unwrap()).collect()
}

/// Create, read back, create again (adopts), list, then edit `key` to `value`: each step
/// leaves exactly the expected difference. Returns the resource as edited and its live state.
async fn converge(cx: &Cx, r: &Resource, key: &str, value: Value) -> (Resource, Live) {
    let a = adapter(r.address.kind).unwrap();
    let what = r.address.to_string();
    assert!(a.observe(cx, r).await.unwrap().is_none(), "{what} exists before it is created");
    let attrs = attrs_of(r);
    let created = a.create(cx, r, &attrs).await.unwrap_or_else(|e| panic!("create {what}: {e}"));
    assert_eq!(diff(r, &attrs, &created), Vec::<String>::new(), "{what} as created");
    let live = a.observe(cx, r).await.unwrap().unwrap_or_else(|| panic!("{what} not observed"));
    assert_eq!(diff(r, &attrs, &live), Vec::<String>::new(), "{what} as observed");
    assert!(live.is_owned_by(&cx.capsule, &cx.env), "{what} carries the ownership tags: {:?}", live.tags);
    assert_eq!(live.component(), Some(r.address.name.as_str()));
    assert_eq!(live.outputs, created.outputs, "{what}: create and observe report the same outputs");

    // A second create finds and adopts it: nothing new.
    let again = a.create(cx, r, &attrs).await.unwrap();
    assert_eq!(again.outputs, live.outputs, "{what} created twice");

    let owned = a.list_owned(cx).await.unwrap();
    assert_eq!(owned.iter().filter(|l| l.aws_name == live.aws_name).count(), 1, "{what} listed once");
    assert!(owned.iter().all(|l| l.is_owned_by(&cx.capsule, &cx.env)));

    // An edit: exactly that attribute differs, and the update converges.
    let mut edited = r.clone();
    edited.attributes.insert(key.into(), value);
    let edited_attrs = attrs_of(&edited);
    let before = diff(&edited, &edited_attrs, &live);
    assert_eq!(paths(&before), vec![key], "{what}: only `{key}` changes: {before:?}");
    let updated = a.update(cx, &edited, &edited_attrs, &live).await.unwrap_or_else(|e| panic!("update {what}: {e}"));
    assert_eq!(diff(&edited, &edited_attrs, &updated), Vec::<String>::new(), "{what} as updated");
    let live = a.observe(cx, &edited).await.unwrap().unwrap();
    assert_eq!(diff(&edited, &edited_attrs, &live), Vec::<String>::new(), "{what} observed after the update");
    (edited, live)
}

/// Delete, then it is gone, a second delete is fine, and it is no longer listed.
async fn remove(cx: &Cx, r: &Resource, live: &Live) {
    let a = adapter(r.address.kind).unwrap();
    let what = r.address.to_string();
    a.delete(cx, live).await.unwrap_or_else(|e| panic!("delete {what}: {e}"));
    assert!(a.observe(cx, r).await.unwrap().is_none(), "{what} still observed after delete");
    a.delete(cx, live).await.unwrap_or_else(|e| panic!("delete {what} again: {e}"));
    assert!(!a.list_owned(cx).await.unwrap().iter().any(|l| l.aws_name == live.aws_name), "{what} still listed");
}

/// An untagged look-alike is observed (so the engine reports it), never listed as owned,
/// and create refuses it.
async fn refuses(cx: &Cx, r: &Resource) {
    let a = adapter(r.address.kind).unwrap();
    let what = r.address.to_string();
    let live = a.observe(cx, r).await.unwrap().unwrap_or_else(|| panic!("look-alike of {what} not observed"));
    assert!(!live.is_owned_by(&cx.capsule, &cx.env));
    assert!(!a.list_owned(cx).await.unwrap().iter().any(|l| l.aws_name == live.aws_name), "look-alike listed");
    let err = a.create(cx, r, &attrs_of(r)).await.expect_err("a look-alike must be refused");
    assert_eq!(err.kind, ErrorKind::Conflict, "{what}: {err}");
}

async fn default_vpc(aws: &Aws) -> (String, Vec<String>) {
    let ec2 = aws.ec2(REGION);
    let f = |n: &str, v: &str| aws_sdk_ec2::types::Filter::builder().name(n).values(v).build();
    let vpc = ec2.describe_vpcs().filters(f("isDefault", "true")).send().await.unwrap();
    let vpc = vpc.vpcs()[0].vpc_id().unwrap().to_string();
    let subnets = ec2.describe_subnets().filters(f("vpc-id", &vpc)).send().await.unwrap();
    let subnets = subnets.subnets().iter().map(|s| s.subnet_id().unwrap().to_string()).collect();
    (vpc, subnets)
}

async fn security_group(aws: &Aws, name: &str) -> String {
    let (vpc, _) = default_vpc(aws).await;
    let out =
        aws.ec2(REGION).create_security_group().group_name(name).description("test").vpc_id(vpc).send().await.unwrap();
    out.group_id().unwrap().to_string()
}

fn lb_attributes(sg: &str, subnets: &[String]) -> Value {
    json!({
        "type": "application",
        "scheme": "internet-facing",
        "ip_address_type": "dualstack",
        "subnets": subnets,
        "security_groups": [sg],
        "idle_timeout_seconds": 60,
        "drop_invalid_header_fields": true,
    })
}

fn tg_attributes(port: i64, vpc: &str) -> Value {
    json!({
        "port": port, "protocol": "HTTP", "target_type": "ip", "vpc": vpc,
        "health_path": "/health", "health_matcher": "200-399", "deregistration_delay_seconds": 30,
    })
}

#[tokio::test]
async fn load_balancer_target_group_listeners_and_rules() {
    testbed();
    let name = unique("alb");
    let cx = cx(&name).await;
    let aws = cx.aws.clone();
    let elb = aws.elb(REGION);
    let prefix = format!("{name}-production");
    let sg = security_group(&aws, &format!("{prefix}-alb")).await;
    let sg2 = security_group(&aws, &format!("{prefix}-alb2")).await;
    let (vpc, mut subnets) = default_vpc(&aws).await;
    subnets.sort();

    // Load balancer: the edit is the idle timeout; then the security groups.
    let lb = resource(&name, Kind::Lb, "main", &prefix, lb_attributes(&sg, &subnets), vec![]);
    let (lb, lb_live) = converge(&cx, &lb, "idle_timeout_seconds", json!(120)).await;
    assert_eq!(lb_live.attributes["subnets"], json!(subnets));
    for key in ["arn", "dns_name", "zone_id", "name"] {
        assert!(lb_live.outputs[key].as_str().is_some_and(|v| !v.is_empty()), "output {key}: {:?}", lb_live.outputs);
    }
    let mut lb2 = lb.clone();
    lb2.attributes.insert("security_groups".into(), json!([sg2, sg]));
    assert_eq!(paths(&diff(&lb2, &attrs_of(&lb2), &lb_live)), vec!["security_groups"]);
    let lb_live = adapter(Kind::Lb).unwrap().update(&cx, &lb2, &attrs_of(&lb2), &lb_live).await.unwrap();
    assert_eq!(diff(&lb2, &attrs_of(&lb2), &lb_live), Vec::<String>::new());
    let mut replaced = lb2.clone();
    replaced.attributes.insert("scheme".into(), json!("internal"));
    let change = plan_resource(
        &replaced,
        &attrs_of(&replaced),
        Some(&Observed { attributes: lb_live.attributes.clone(), outputs: lb_live.outputs.clone() }),
        &adapter(Kind::Lb).unwrap().plan_rules(),
    );
    assert_eq!(change.action, Action::Replace, "the scheme cannot change in place");
    let lb_arn = lb_live.outputs["arn"].as_str().unwrap().to_string();

    // Target group: the edit is the health check path.
    let tg = resource(&name, Kind::LbTargetGroup, "api", &format!("{prefix}-api"), tg_attributes(8080, &vpc), vec![]);
    let (tg, tg_live) = converge(&cx, &tg, "health_path", json!("/ready")).await;
    assert_eq!(tg_live.attributes["vpc"], json!(vpc));
    let tg_arn = tg_live.outputs["arn"].as_str().unwrap().to_string();

    // HTTP listener: the edit moves it to another port, in place (found by its tag).
    let http = resource(
        &name,
        Kind::LbListener,
        "http",
        &format!("{prefix}-http"),
        json!({ "load_balancer": lb_arn, "port": 80, "protocol": "HTTP",
                "default_action": { "redirect": { "protocol": "HTTPS", "port": 443, "status": "HTTP_301" } } }),
        vec![lb.address.clone()],
    );
    let (http, http_live) = converge(&cx, &http, "port", json!(8080)).await;
    let http_arn = http_live.outputs["arn"].as_str().unwrap().to_string();
    // The default action changes in place too.
    let mut fixed = http.clone();
    fixed.attributes.insert("default_action".into(), json!({ "fixed_response": { "status": "404" } }));
    let got = diff(&fixed, &attrs_of(&fixed), &http_live);
    assert!(paths(&got).iter().all(|p| p.starts_with("default_action.")), "{got:?}");
    let http_live =
        adapter(Kind::LbListener).unwrap().update(&cx, &fixed, &attrs_of(&fixed), &http_live).await.unwrap();
    assert_eq!(diff(&fixed, &attrs_of(&fixed), &http_live), Vec::<String>::new());
    assert_eq!(http_live.outputs["arn"], json!(http_arn), "same listener");

    // HTTPS listener with a certificate: the edit is the TLS policy.
    let acm = aws.acm(REGION);
    let cert = acm
        .request_certificate()
        .domain_name(format!("{name}.example.com"))
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .unwrap();
    let cert = cert.certificate_arn().unwrap().to_string();
    let https = resource(
        &name,
        Kind::LbListener,
        "https",
        &format!("{prefix}-https"),
        json!({ "load_balancer": lb_arn, "port": 443, "protocol": "HTTPS",
                "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06", "certificate": cert,
                "default_action": { "fixed_response": { "status": 404 } } }),
        vec![lb.address.clone()],
    );
    let (https, https_live) =
        converge(&cx, &https, "ssl_policy", json!("ELBSecurityPolicy-TLS13-1-2-Res-2021-06")).await;
    let https_arn = https_live.outputs["arn"].as_str().unwrap().to_string();

    // Rule: host header to the target group; the edit is the priority.
    let rule = resource(
        &name,
        Kind::LbListenerRule,
        "api",
        &format!("{prefix}-api"),
        json!({ "listener": https_arn, "priority": 100,
                "condition": { "host_header": ["b.example.com", "a.example.com"] }, "forward_to": tg_arn }),
        vec![https.address.clone(), tg.address.clone()],
    );
    assert_eq!(attrs_of(&rule)["condition"], json!({ "host_header": ["a.example.com", "b.example.com"] }));
    let (rule, rule_live) = converge(&cx, &rule, "priority", json!(110)).await;
    let mut path_rule = rule.clone();
    path_rule.attributes.insert("condition".into(), json!({ "path_pattern": ["/*"] }));
    let rule_live = adapter(Kind::LbListenerRule)
        .unwrap()
        .update(&cx, &path_rule, &attrs_of(&path_rule), &rule_live)
        .await
        .unwrap();
    assert_eq!(diff(&path_rule, &attrs_of(&path_rule), &rule_live), Vec::<String>::new());

    // Look-alikes without capsule's tags: a load balancer and a target group with capsule's
    // names, a listener on a port and a rule at a priority capsule wants.
    let other = unique("oth");
    let ocx = Cx::new(aws.clone(), "123456789012".into(), other.clone(), "production".into(), REGION.into(), false);
    let oprefix = format!("{other}-production");
    elb.create_load_balancer().name(&oprefix).set_subnets(Some(subnets.clone())).send().await.unwrap();
    refuses(&ocx, &resource(&other, Kind::Lb, "main", &oprefix, lb_attributes(&sg, &subnets), vec![])).await;
    elb.create_target_group()
        .name(format!("{oprefix}-api"))
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(8080)
        .vpc_id(&vpc)
        .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
        .send()
        .await
        .unwrap();
    refuses(
        &ocx,
        &resource(&other, Kind::LbTargetGroup, "api", &format!("{oprefix}-api"), tg_attributes(8080, &vpc), vec![]),
    )
    .await;
    let fixed_404 = aws_sdk_elasticloadbalancingv2::types::Action::builder()
        .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            aws_sdk_elasticloadbalancingv2::types::FixedResponseActionConfig::builder().status_code("404").build(),
        )
        .build();
    elb.create_listener()
        .load_balancer_arn(&lb_arn)
        .port(80)
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .default_actions(fixed_404.clone())
        .send()
        .await
        .unwrap();
    let mut on_80 = http.clone();
    on_80.address.name = "plain".into();
    on_80.attributes.insert("port".into(), json!(80));
    refuses(&cx, &on_80).await;
    elb.create_rule()
        .listener_arn(&https_arn)
        .priority(200)
        .conditions(
            aws_sdk_elasticloadbalancingv2::types::RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(
                    aws_sdk_elasticloadbalancingv2::types::PathPatternConditionConfig::builder().values("/x").build(),
                )
                .build(),
        )
        .actions(fixed_404)
        .send()
        .await
        .unwrap();
    let mut at_200 = rule.clone();
    at_200.address.name = "web".into();
    at_200.attributes.insert("priority".into(), json!(200));
    refuses(&cx, &at_200).await;

    // Deletes, dependents first.
    remove(&cx, &path_rule, &rule_live).await;
    remove(&cx, &https, &https_live).await;
    remove(&cx, &fixed, &http_live).await;
    remove(&cx, &tg, &tg_live).await;
    remove(&cx, &lb2, &lb_live).await;
}

/// An ECS cluster `<capsule>-production` with service `api`, as the autoscaling target
/// needs (Application Auto Scaling checks that the service exists).
async fn ecs_service(aws: &Aws, capsule: &str, tagged: bool) -> String {
    let ecs = aws.ecs(REGION);
    let cluster = format!("{capsule}-production");
    ecs.create_cluster().cluster_name(&cluster).send().await.unwrap();
    let family = format!("{cluster}-api");
    let container = aws_sdk_ecs::types::ContainerDefinition::builder()
        .name("api")
        .image("public.ecr.aws/docker/library/busybox:latest")
        .memory(128)
        .build();
    ecs.register_task_definition().family(&family).container_definitions(container).send().await.unwrap();
    let mut create =
        ecs.create_service().cluster(&cluster).service_name("api").task_definition(&family).desired_count(1);
    if tagged {
        create = create.tags(aws_sdk_ecs::types::Tag::builder().key("managed-by").value("capsule").build());
    }
    create.send().await.unwrap();
    format!("service/{cluster}/api")
}

fn target_attributes(min: i64, max: i64) -> Value {
    json!({ "service_namespace": "ecs", "scalable_dimension": "ecs:service:DesiredCount", "min": min, "max": max })
}

fn policy_attributes(target: i64) -> Value {
    json!({ "type": "TargetTrackingScaling", "metric": "ECSServiceAverageCPUUtilization", "target_percent": target,
            "scale_in_cooldown_seconds": 300, "scale_out_cooldown_seconds": 60 })
}

#[tokio::test]
async fn autoscaling_target_and_policy() {
    testbed();
    let name = unique("as");
    let cx = cx(&name).await;
    let aws = cx.aws.clone();
    let resource_id = ecs_service(&aws, &name, true).await;

    let target = resource(&name, Kind::AutoscalingTarget, "api", &resource_id, target_attributes(1, 4), vec![]);
    let (target, target_live) = converge(&cx, &target, "max", json!(6)).await;
    assert_eq!(target_live.outputs["resource_id"], json!(resource_id));
    let policy = resource(
        &name,
        Kind::AutoscalingPolicy,
        "api",
        &format!("{name}-production-api-cpu"),
        policy_attributes(60),
        vec![target.address.clone()],
    );
    let (policy, policy_live) = converge(&cx, &policy, "target_percent", json!(70)).await;
    assert_eq!(policy_live.outputs["resource_id"], json!(resource_id), "the policy is on the capsule's target");

    // Look-alikes: a target registered without tags, and a policy with capsule's name on it.
    let other = unique("oas");
    let ocx = Cx::new(aws.clone(), "123456789012".into(), other.clone(), "production".into(), REGION.into(), false);
    let other_id = ecs_service(&aws, &other, false).await;
    let aas = aws.autoscaling(REGION);
    aas.register_scalable_target()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_id(&other_id)
        .scalable_dimension(aws_sdk_applicationautoscaling::types::ScalableDimension::EcsServiceDesiredCount)
        .min_capacity(1)
        .max_capacity(2)
        .send()
        .await
        .unwrap();
    let other_target = resource(&other, Kind::AutoscalingTarget, "api", &other_id, target_attributes(1, 4), vec![]);
    refuses(&ocx, &other_target).await;
    let other_policy = resource(
        &other,
        Kind::AutoscalingPolicy,
        "api",
        &format!("{other}-production-api-cpu"),
        policy_attributes(60),
        vec![other_target.address.clone()],
    );
    let config = aws_sdk_applicationautoscaling::types::TargetTrackingScalingPolicyConfiguration::builder()
        .target_value(50.0)
        .predefined_metric_specification(
            aws_sdk_applicationautoscaling::types::PredefinedMetricSpecification::builder()
                .predefined_metric_type(
                    aws_sdk_applicationautoscaling::types::MetricType::EcsServiceAverageCpuUtilization,
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    aas.put_scaling_policy()
        .policy_name(&other_policy.aws_name)
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_id(&other_id)
        .scalable_dimension(aws_sdk_applicationautoscaling::types::ScalableDimension::EcsServiceDesiredCount)
        .policy_type(aws_sdk_applicationautoscaling::types::PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(config)
        .send()
        .await
        .unwrap();
    refuses(&ocx, &other_policy).await;

    remove(&cx, &policy, &policy_live).await;
    remove(&cx, &target, &target_live).await;
}

#[tokio::test]
async fn event_rule_runs_a_fargate_task() {
    testbed();
    let name = unique("ev");
    let cx = cx(&name).await;
    let aws = cx.aws.clone();
    let sg = security_group(&aws, &format!("{name}-production-api")).await;
    let (_, mut subnets) = default_vpc(&aws).await;
    subnets.sort();
    let arn = |what: &str| format!("arn:aws:{what}");
    let rule = resource(
        &name,
        Kind::EventRule,
        "report",
        &format!("{name}-production-job-report"),
        json!({
            "schedule": "rate(1 hour)",
            "cluster": arn(&format!("ecs:us-east-1:123456789012:cluster/{name}-production")),
            "task_definition": arn(&format!("ecs:us-east-1:123456789012:task-definition/{name}-production-job-report:1")),
            "role": arn(&format!("iam::123456789012:role/{name}-production-events")),
            "subnets": subnets,
            "security_groups": [sg],
        }),
        vec![],
    );
    let normalised = attrs_of(&rule);
    assert_eq!((normalised["assign_public_ip"].clone(), normalised["enabled"].clone()), (json!(false), json!(true)));
    let (rule, live) = converge(&cx, &rule, "schedule", json!("cron(0 3 * * ? *)")).await;
    assert_eq!(live.attributes["subnets"], json!(subnets));

    // What EventBridge holds: one ECS target on Fargate in the given subnets, no public IP.
    let events = aws.events(REGION);
    let targets = events.list_targets_by_rule().rule(&rule.aws_name).send().await.unwrap();
    let ecs = targets.targets()[0].ecs_parameters().unwrap();
    assert_eq!(ecs.launch_type(), Some(&aws_sdk_eventbridge::types::LaunchType::Fargate));
    let vpc = ecs.network_configuration().unwrap().awsvpc_configuration().unwrap();
    let mut got = vpc.subnets().to_vec();
    got.sort();
    assert_eq!(got, subnets);
    assert_eq!(vpc.assign_public_ip(), Some(&aws_sdk_eventbridge::types::AssignPublicIp::Disabled));

    // A new task definition revision changes the target only.
    let mut revised = rule.clone();
    let td = arn(&format!("ecs:us-east-1:123456789012:task-definition/{name}-production-job-report:2"));
    revised.attributes.insert("task_definition".into(), json!(td));
    assert_eq!(paths(&diff(&revised, &attrs_of(&revised), &live)), vec!["task_definition"]);
    let live = adapter(Kind::EventRule).unwrap().update(&cx, &revised, &attrs_of(&revised), &live).await.unwrap();
    assert_eq!(diff(&revised, &attrs_of(&revised), &live), Vec::<String>::new());

    // A look-alike: a rule with capsule's name, untagged.
    let other = unique("oev");
    let ocx = Cx::new(aws.clone(), "123456789012".into(), other.clone(), "production".into(), REGION.into(), false);
    let mut look_alike = rule.clone();
    look_alike.address.capsule = other.clone();
    look_alike.aws_name = format!("{other}-production-job-report");
    look_alike.tags = ownership_tags(&other, "production", "report");
    events.put_rule().name(&look_alike.aws_name).schedule_expression("rate(1 day)").send().await.unwrap();
    refuses(&ocx, &look_alike).await;

    remove(&cx, &revised, &live).await;
}

// ---- through the engine: observe reads the model with references unresolved -------------

fn alb_model(capsule: &str, priority: i64, (vpc, subnets): &(String, Vec<String>)) -> Desired {
    let prefix = format!("{capsule}-production");
    let sg = resource(
        capsule,
        Kind::SecurityGroup,
        "alb",
        &format!("{prefix}-alb"),
        json!({ "description": "lb", "ingress": [{ "port": 80, "cidr": "0.0.0.0/0" }] }),
        vec![],
    );
    let lb = resource(
        capsule,
        Kind::Lb,
        "main",
        &prefix,
        json!({
            "type": "application", "scheme": "internet-facing", "ip_address_type": "dualstack", "subnets": subnets,
            "security_groups": [reference(&sg.address, "id")], "idle_timeout_seconds": 60, "drop_invalid_header_fields": true,
        }),
        vec![sg.address.clone()],
    );
    let tg = resource(
        capsule,
        Kind::LbTargetGroup,
        "api",
        &format!("{prefix}-api"),
        tg_attributes(8080, vpc),
        vec![lb.address.clone()],
    );
    let http = resource(
        capsule,
        Kind::LbListener,
        "http",
        &format!("{prefix}-http"),
        json!({ "load_balancer": reference(&lb.address, "arn"), "port": 80, "protocol": "HTTP",
                "default_action": { "fixed_response": { "status": 404 } } }),
        vec![lb.address.clone()],
    );
    let rule = resource(
        capsule,
        Kind::LbListenerRule,
        "api",
        &format!("{prefix}-api"),
        json!({ "listener": reference(&http.address, "arn"), "priority": priority,
                "condition": { "path_pattern": ["/*"] }, "forward_to": reference(&tg.address, "arn") }),
        vec![http.address.clone(), tg.address.clone()],
    );
    Desired {
        capsule: capsule.into(),
        env: "production".into(),
        region: REGION.into(),
        resources: vec![sg, lb, tg, http, rule],
        artifacts: vec![],
        existing_network: None,
        notes: vec![],
    }
}

async fn plan(cx: &Cx, desired: &Desired) -> (Graph, capsule::engine::Observation, capsule::engine::Planned) {
    let graph = Graph::build(&desired.resources).unwrap();
    let obs = observe(cx, desired).await;
    let planned = plan_live(desired, &graph, &obs, "123456789012", None);
    assert!(planned.plan.errors.is_empty(), "{:?}", planned.plan.errors);
    (graph, obs, planned)
}

fn changed(planned: &capsule::engine::Planned) -> Vec<(String, Action)> {
    let mut out: Vec<_> = planned
        .plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| (c.address.clone(), c.action))
        .collect();
    out.sort();
    out
}

async fn apply(cx: &Cx, desired: &Desired) {
    let (graph, obs, mut planned) = plan(cx, desired).await;
    let ok = capsule::apply::apply(
        cx,
        desired,
        &graph,
        &obs,
        &mut planned,
        &capsule::artifacts::image::Shipper::default(),
        &|_, _| {},
    )
    .await;
    assert!(ok, "{:#?}", planned.plan.changes.iter().filter(|c| c.error.is_some()).collect::<Vec<_>>());
}

#[tokio::test]
async fn alb_stack_through_the_engine_plans_no_change_after_apply() {
    testbed();
    let name = unique("eng");
    let cx = cx(&name).await;
    let network = default_vpc(&cx.aws).await;
    let desired = alb_model(&name, 5000, &network);
    let (_, _, planned) = plan(&cx, &desired).await;
    assert_eq!(changed(&planned).len(), 5);
    apply(&cx, &desired).await;

    let (_, _, planned) = plan(&cx, &desired).await;
    assert_eq!(
        changed(&planned),
        vec![],
        "{:#?}",
        planned.plan.changes.iter().filter(|c| c.action != Action::NoOp).collect::<Vec<_>>()
    );

    // The rule's priority: one in-place update.
    let edited = alb_model(&name, 5010, &network);
    let (_, _, planned) = plan(&cx, &edited).await;
    assert_eq!(changed(&planned), vec![(format!("{name}.production.lb_listener_rule.api"), Action::Update)]);
    apply(&cx, &edited).await;
    let (_, _, planned) = plan(&cx, &edited).await;
    assert_eq!(changed(&planned), vec![]);

    // Dropping everything but the security group deletes the rest, dependents first.
    let mut shrunk = edited.clone();
    shrunk.resources.retain(|r| r.address.kind == Kind::SecurityGroup);
    let (_, _, planned) = plan(&cx, &shrunk).await;
    assert_eq!(changed(&planned).iter().filter(|(_, a)| *a == Action::Delete).count(), 4, "{:?}", changed(&planned));
    apply(&cx, &shrunk).await;
    for kind in [Kind::Lb, Kind::LbTargetGroup, Kind::LbListener, Kind::LbListenerRule] {
        assert!(adapter(kind).unwrap().list_owned(&cx).await.unwrap().is_empty(), "{kind} left behind");
    }
    let (_, _, planned) = plan(&cx, &shrunk).await;
    assert_eq!(changed(&planned), vec![]);
    apply(&cx, &Desired { resources: vec![], ..shrunk }).await;
}
