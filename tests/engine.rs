//! The reconcile engine against the local test bed (`scripts/testbed up`): apply, no-op
//! re-plan, edits, removals, ownership, the account guard and interrupted applies. Real
//! AWS SDK calls against moto; state is read back through the AWS APIs.

mod common;

use capsule::artifacts::image::Shipper;

use common::{changes, success_json, testbed, text, unique};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use capsule::aws::adapters::adapter;
use capsule::aws::{Aws, Cx};
use capsule::engine::{observe, plan_live};
use capsule::model::{Address, Desired, Graph, Kind, Resource, ownership_tags, reference};
use capsule::plan::Action;
use serde_json::{Value, json};

fn capsule(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_capsule"));
    cmd.args(args).current_dir(dir).env("NO_COLOR", "1");
    if let Some(input) = stdin {
        use std::io::Write;
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        return child.wait_with_output().unwrap();
    }
    cmd.output().unwrap()
}

fn plan_json(dir: &Path) -> Value {
    success_json(&capsule(dir, &["plan", "--format", "json"], None))
}

async fn aws() -> Aws {
    Aws::from_env().await
}

#[tokio::test]
async fn apply_then_noop_then_edit_then_removal() {
    testbed();
    let name = unique("eng");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("capsule.toml");
    let write = |body: &str| std::fs::write(&file, format!("[capsule]\nname = \"{name}\"\n{body}")).unwrap();
    write("[secrets]\nstripe = { description = \"Stripe API key\" }\ntoken = { description = \"a token\" }\n");

    let out = capsule(dir.path(), &["apply"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Apply complete: 2 created"), "{}", text(&out));

    // Re-plan: no-op, and --detailed-exitcode says so.
    let out = capsule(dir.path(), &["plan", "--detailed-exitcode"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Read back through the AWS API.
    let sm = aws().await.secrets("us-east-1");
    let d = sm.describe_secret().secret_id(format!("capsule/{name}/production/stripe")).send().await.unwrap();
    assert_eq!(d.description(), Some("Stripe API key"));
    let tags: BTreeMap<_, _> =
        d.tags().iter().map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string())).collect();
    assert_eq!(tags.get("managed-by").map(String::as_str), Some("capsule"));
    assert_eq!(tags.get("capsule:component").map(String::as_str), Some("stripe"));

    // An edit plans exactly that update.
    write("[secrets]\nstripe = { description = \"Stripe live key\" }\ntoken = { description = \"a token\" }\n");
    let plan = plan_json(dir.path());
    assert_eq!(changes(&plan), [(format!("{name}.production.secret.stripe"), "update".to_string())]);
    let change = plan["capsules"][0]["changes"].as_array().unwrap().iter().find(|c| c["action"] == "update").unwrap();
    assert_eq!(
        change["attributes"],
        json!([{ "path": "description", "before": "Stripe API key", "after": "Stripe live key", "forces_replacement": false }])
    );
    let out = capsule(dir.path(), &["plan", "--detailed-exitcode"], None);
    assert_eq!(out.status.code(), Some(2));
    let out = capsule(dir.path(), &["apply"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(changes(&plan_json(dir.path())), Vec::<(String, String)>::new());

    // Removal plans a delete; a secret holds data, so apply refuses without --allow-destroy.
    write("[secrets]\nstripe = { description = \"Stripe live key\" }\n");
    assert_eq!(changes(&plan_json(dir.path())), [(format!("{name}.production.secret.token"), "delete".to_string())]);
    let out = capsule(dir.path(), &["apply"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("--allow-destroy"), "{}", text(&out));
    let token = sm.describe_secret().secret_id(format!("capsule/{name}/production/token")).send().await.unwrap();
    assert!(token.deleted_date().is_none(), "refused apply left the secret alone");
    let out = capsule(dir.path(), &["apply", "--allow-destroy", "--format", "json"], None);
    assert!(out.status.success(), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], true);
    let token = sm.describe_secret().secret_id(format!("capsule/{name}/production/token")).send().await.unwrap();
    assert!(token.deleted_date().is_some(), "scheduled for deletion (30-day recovery window)");
    assert_eq!(changes(&plan_json(dir.path())), Vec::<(String, String)>::new());
}

#[tokio::test]
async fn secrets_set_stores_the_value_and_never_prints_it() {
    testbed();
    let name = unique("sec");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("capsule.toml"),
        format!("[capsule]\nname = \"{name}\"\n[secrets]\nstripe = {{}}\n"),
    )
    .unwrap();
    let value = "sk_test_do_not_print_me";
    let out = capsule(dir.path(), &["secrets", "set", &name, "production", "stripe"], Some(&format!("{value}\n")));
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(value));
    let sm = aws().await.secrets("us-east-1");
    let got = sm.get_secret_value().secret_id(format!("capsule/{name}/production/stripe")).send().await.unwrap();
    assert_eq!(got.secret_string(), Some(value), "one trailing newline is dropped");
    // The secret now exists, so a plan is a no-op; the value never shows.
    let out = capsule(dir.path(), &["plan", "--format", "json"], None);
    assert!(!text(&out).contains(value));
    assert_eq!(changes(&serde_json::from_slice(&out.stdout).unwrap()), Vec::<(String, String)>::new());
    // Undeclared names are refused.
    let out = capsule(dir.path(), &["secrets", "set", &name, "production", "nope"], Some("x"));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("declares no secret `nope`"), "{}", text(&out));
}

#[tokio::test]
async fn untagged_look_alike_is_refused_and_left_untouched() {
    testbed();
    let name = unique("own");
    let sm = aws().await.secrets("us-east-1");
    let id = format!("capsule/{name}/production/stripe");
    sm.create_secret().name(&id).description("someone else's").send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("capsule.toml"),
        format!("[capsule]\nname = \"{name}\"\n[secrets]\nstripe = {{ description = \"mine\" }}\n"),
    )
    .unwrap();

    let out = capsule(dir.path(), &["plan"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("exists in AWS but is not tagged as this capsule's"), "{}", text(&out));
    let out = capsule(dir.path(), &["apply"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("Refusing to apply"), "{}", text(&out));
    let d = sm.describe_secret().secret_id(&id).send().await.unwrap();
    assert_eq!(d.description(), Some("someone else's"));
    assert!(d.tags().is_empty());
}

#[tokio::test]
async fn account_guard_refuses_another_account() {
    testbed();
    let name = unique("acc");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("capsule.toml"),
        format!("[capsule]\nname = \"{name}\"\naccount = \"999999999999\"\n[secrets]\nstripe = {{}}\n"),
    )
    .unwrap();
    let out = capsule(dir.path(), &["apply"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("credentials are for account 123456789012, but the capsule pins account 999999999999"),
        "{}",
        text(&out)
    );
    let sm = aws().await.secrets("us-east-1");
    let err = sm.describe_secret().secret_id(format!("capsule/{name}/production/stripe")).send().await;
    assert!(err.is_err(), "nothing was created");
}

// ---- the adapters through the engine's own functions, with a hand-built model ----------

fn resource(
    capsule: &str,
    kind: Kind,
    name: &str,
    aws_name: &str,
    attributes: Value,
    depends_on: Vec<Address>,
) -> Resource {
    Resource {
        address: Address { capsule: capsule.into(), env: "production".into(), kind, name: name.into() },
        aws_name: aws_name.into(),
        region: "us-east-1".into(),
        attributes: attributes.as_object().unwrap().clone().into_iter().collect(),
        depends_on,
        tags: ownership_tags(capsule, "production", name),
    }
}

/// One resource of every type the engine manages, with references between them.
fn model(capsule: &str, retention: i64, extra_port: Option<i64>) -> Desired {
    let p = |n: &str| format!("{capsule}-production-{n}");
    let log = resource(
        capsule,
        Kind::LogGroup,
        "api",
        &format!("/capsule/{capsule}/production/api"),
        json!({ "retention_days": retention }),
        vec![],
    );
    let alb_sg = resource(
        capsule,
        Kind::SecurityGroup,
        "alb",
        &p("alb"),
        json!({ "description": "lb", "ingress": [{ "port": 443, "cidr": "0.0.0.0/0" }] }),
        vec![],
    );
    let mut ingress = vec![json!({ "port": 8080, "from": reference(&alb_sg.address, "id") })];
    if let Some(port) = extra_port {
        ingress.insert(0, json!({ "port": port, "cidr": "10.0.0.0/8" }));
    }
    let svc_sg = resource(
        capsule,
        Kind::SecurityGroup,
        "api",
        &p("api"),
        json!({ "description": "service api", "ingress": ingress }),
        vec![alb_sg.address.clone()],
    );
    let repo = resource(
        capsule,
        Kind::EcrRepository,
        "api",
        &p("api"),
        json!({
            "image_tag_mutability": "IMMUTABLE", "scan_on_push": true, "encryption": "AES256",
            "lifecycle_policy": { "rules": [{ "rulePriority": 1, "description": "untagged", "selection": { "tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14 }, "action": { "type": "expire" } }] }
        }),
        vec![],
    );
    let secret = resource(
        capsule,
        Kind::Secret,
        "stripe",
        &format!("capsule/{capsule}/production/stripe"),
        json!({ "description": "key", "value_source": "user" }),
        vec![],
    );
    let role = resource(
        capsule,
        Kind::IamRole,
        "api-execution",
        &p("api-execution"),
        json!({
            "path": format!("/capsule/{capsule}/production/"),
            "description": "start api",
            "assumed_by": "ecs-tasks.amazonaws.com",
            "managed_policies": [],
            "policy": { "Version": "2012-10-17", "Statement": [
                { "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": [reference(&log.address, "arn")] },
                { "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": [reference(&secret.address, "arn")] },
                { "Effect": "Allow", "Action": ["ecr:BatchGetImage"], "Resource": [reference(&repo.address, "arn")] },
            ] },
        }),
        vec![log.address.clone(), secret.address.clone(), repo.address.clone()],
    );
    let bucket = resource(
        capsule,
        Kind::S3Bucket,
        "web",
        &format!("{capsule}-production-web-123456789012"),
        json!({
            "encryption": "AES256", "object_ownership": "BucketOwnerEnforced", "block_public_access": true, "versioning": false
        }),
        vec![],
    );
    Desired {
        capsule: capsule.into(),
        env: "production".into(),
        region: "us-east-1".into(),
        resources: vec![log, alb_sg, svc_sg, repo, secret, role, bucket],
        artifacts: vec![],
        existing_network: None,
        notes: vec![],
    }
}

async fn plan_of(cx: &Cx, desired: &Desired) -> (Graph, capsule::engine::Observation, capsule::engine::Planned) {
    let graph = Graph::build(&desired.resources).unwrap();
    let obs = observe(cx, desired).await;
    let planned = plan_live(desired, &graph, &obs, "123456789012", None);
    (graph, obs, planned)
}

fn changed(planned: &capsule::engine::Planned) -> Vec<(String, Action)> {
    planned.plan.changes.iter().filter(|c| c.action != Action::NoOp).map(|c| (c.address.clone(), c.action)).collect()
}

async fn apply_all(cx: &Cx, desired: &Desired) -> bool {
    let (graph, obs, mut planned) = plan_of(cx, desired).await;
    assert!(planned.plan.errors.is_empty(), "{:?}", planned.plan.errors);
    capsule::apply::apply(cx, desired, &graph, &obs, &mut planned, &Shipper::default(), &|_, _| {}).await
}

#[tokio::test]
async fn every_adapter_converges_and_diffs_only_what_changed() {
    testbed();
    let name = unique("adp");
    let aws = aws().await;
    let cx = Cx::new(aws.clone(), "123456789012".into(), name.clone(), "production".into(), "us-east-1".into(), false);

    let desired = model(&name, 30, None);
    let (_, _, planned) = plan_of(&cx, &desired).await;
    assert_eq!(changed(&planned).len(), 7);
    assert!(changed(&planned).iter().all(|(_, a)| *a == Action::Create));
    assert!(apply_all(&cx, &desired).await);

    let (_, _, planned) = plan_of(&cx, &desired).await;
    assert_eq!(
        changed(&planned),
        vec![],
        "{:#?}",
        planned.plan.changes.iter().filter(|c| c.action != Action::NoOp).collect::<Vec<_>>()
    );

    // Safe defaults, read back.
    let s3 = aws.s3("us-east-1");
    let bucket = format!("{name}-production-web-123456789012");
    let pab = s3.get_public_access_block().bucket(&bucket).send().await.unwrap();
    assert_eq!(pab.public_access_block_configuration().unwrap().block_public_policy(), Some(true));
    let role = aws
        .iam("us-east-1")
        .get_role_policy()
        .role_name(format!("{name}-production-api-execution"))
        .policy_name("capsule")
        .send()
        .await
        .unwrap();
    assert!(role.policy_document().contains("secretsmanager") || role.policy_document().contains("secretsmanager%3A"));

    // Edits: retention and one more ingress rule -> exactly two updates.
    let edited = model(&name, 90, Some(9090));
    let (_, _, planned) = plan_of(&cx, &edited).await;
    let mut got = changed(&planned);
    got.sort();
    assert_eq!(
        got,
        vec![
            (format!("{name}.production.log_group.api"), Action::Update),
            (format!("{name}.production.security_group.api"), Action::Update),
        ]
    );
    let retention = planned.plan.changes.iter().find(|c| c.kind == "log_group").unwrap();
    assert_eq!((retention.attributes[0].before.clone(), retention.attributes[0].after.clone()), (json!(30), json!(90)));
    assert!(apply_all(&cx, &edited).await);
    let (_, _, planned) = plan_of(&cx, &edited).await;
    assert_eq!(changed(&planned), vec![]);

    // Removing everything but the secret and the bucket: deletes in reverse order; the
    // stateful ones stay.
    let mut shrunk = edited.clone();
    shrunk.resources.retain(|r| matches!(r.address.kind, Kind::Secret | Kind::S3Bucket));
    let (graph, obs, mut planned) = plan_of(&cx, &shrunk).await;
    let mut got = changed(&planned);
    got.sort();
    assert_eq!(got.iter().filter(|(_, a)| *a == Action::Delete).count(), 5, "{got:?}");
    assert!(
        capsule::apply::apply(&cx, &shrunk, &graph, &obs, &mut planned, &Shipper::default(), &|_, _| {}).await,
        "{:#?}",
        planned.plan.changes
    );
    let (_, _, planned) = plan_of(&cx, &shrunk).await;
    assert_eq!(changed(&planned), vec![]);
    for kind in [Kind::LogGroup, Kind::SecurityGroup, Kind::EcrRepository, Kind::IamRole] {
        assert!(adapter(kind).unwrap().list_owned(&cx).await.unwrap().is_empty(), "{kind} left behind");
    }
}

#[tokio::test]
async fn an_interrupted_apply_converges_on_the_next_one() {
    testbed();
    let name = unique("int");
    let cx = Cx::new(aws().await, "123456789012".into(), name.clone(), "production".into(), "us-east-1".into(), false);
    let desired = model(&name, 30, Some(22));

    // Stop the apply as soon as the second change finished: in-flight calls are dropped
    // mid-way, like a killed process.
    let (graph, obs, mut planned) = plan_of(&cx, &desired).await;
    let finished = AtomicUsize::new(0);
    let stop = tokio::sync::Notify::new();
    let report = |_: &capsule::plan::Change, _| {
        if finished.fetch_add(1, Ordering::SeqCst) + 1 == 2 {
            stop.notify_one();
        }
    };
    let no_images = Shipper::default();
    tokio::select! {
        _ = capsule::apply::apply(&cx, &desired, &graph, &obs, &mut planned, &no_images, &report) => panic!("apply finished before it was interrupted"),
        _ = stop.notified() => {}
    }
    let (_, _, planned) = plan_of(&cx, &desired).await;
    assert!(!changed(&planned).is_empty(), "something was left to do");
    assert!(
        planned.plan.errors.is_empty(),
        "half-made resources are still recognised as capsule's: {:?}",
        planned.plan.errors
    );

    assert!(apply_all(&cx, &desired).await);
    let (_, _, planned) = plan_of(&cx, &desired).await;
    assert_eq!(changed(&planned), vec![]);
    // Nothing duplicated or orphaned: exactly the model's resources are owned.
    let mut owned = 0;
    for kind in [Kind::LogGroup, Kind::SecurityGroup, Kind::EcrRepository, Kind::IamRole, Kind::Secret, Kind::S3Bucket]
    {
        owned += adapter(kind).unwrap().list_owned(&cx).await.unwrap().len();
    }
    assert_eq!(owned, desired.resources.len());
}

#[tokio::test]
async fn a_failure_skips_its_dependents_but_not_its_siblings() {
    testbed();
    let name = unique("fail");
    let cx = Cx::new(aws().await, "123456789012".into(), name.clone(), "production".into(), "us-east-1".into(), false);
    // A policy IAM rejects (Effect must be Allow or Deny) makes the role fail; the log
    // group is made to depend on it; the secret is independent.
    let bad = resource(
        &name,
        Kind::IamRole,
        "web",
        &format!("{name}-production-web"),
        json!({
            "path": format!("/capsule/{name}/production/"), "description": "bad", "assumed_by": "ecs-tasks.amazonaws.com",
            "managed_policies": [],
            "policy": { "Version": "2012-10-17", "Statement": [{ "Effect": "Maybe", "Action": ["s3:GetObject"], "Resource": ["*"] }] },
        }),
        vec![],
    );
    let dependent = resource(
        &name,
        Kind::LogGroup,
        "api",
        &format!("/capsule/{name}/production/api"),
        json!({ "retention_days": 7 }),
        vec![bad.address.clone()],
    );
    let sibling = resource(
        &name,
        Kind::Secret,
        "stripe",
        &format!("capsule/{name}/production/stripe"),
        json!({ "description": "k", "value_source": "user" }),
        vec![],
    );
    let desired = Desired {
        capsule: name.clone(),
        env: "production".into(),
        region: "us-east-1".into(),
        resources: vec![bad, dependent, sibling],
        artifacts: vec![],
        existing_network: None,
        notes: vec![],
    };
    let (graph, obs, mut planned) = plan_of(&cx, &desired).await;
    let ok = capsule::apply::apply(&cx, &desired, &graph, &obs, &mut planned, &Shipper::default(), &|_, _| {}).await;
    assert!(!ok);
    let outcome = |kind: &str| {
        let c = planned.plan.changes.iter().find(|c| c.kind == kind).unwrap();
        (c.outcome, c.error.clone().unwrap_or_default())
    };
    let (o, e) = outcome("iam_role");
    assert_eq!(o, Some(capsule::plan::Outcome::Failed));
    assert!(e.contains("iam:PutRolePolicy"), "{e}");
    let (o, e) = outcome("log_group");
    assert_eq!(o, Some(capsule::plan::Outcome::Skipped));
    assert!(e.contains(&format!("{name}.production.iam_role.web did not apply")), "{e}");
    assert_eq!(outcome("secret").0, Some(capsule::plan::Outcome::Applied));
    assert!(
        adapter(Kind::LogGroup).unwrap().list_owned(&cx).await.unwrap().is_empty(),
        "the dependent was not attempted"
    );
    assert_eq!(adapter(Kind::Secret).unwrap().list_owned(&cx).await.unwrap().len(), 1, "the sibling applied");
}

#[tokio::test]
async fn drift_exits_2_when_live_state_was_changed_outside_capsule() {
    testbed();
    let name = unique("drf");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("capsule.toml"),
        format!("[capsule]\nname = \"{name}\"\n[secrets]\nstripe = {{ description = \"key\" }}\n"),
    )
    .unwrap();
    let out = capsule(dir.path(), &["apply"], None);
    assert!(out.status.success(), "{}", text(&out));
    let out = capsule(dir.path(), &["drift"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let sm = aws().await.secrets("us-east-1");
    sm.update_secret()
        .secret_id(format!("capsule/{name}/production/stripe"))
        .description("edited by hand")
        .send()
        .await
        .unwrap();
    let out = capsule(dir.path(), &["drift"], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("description: \"edited by hand\" -> \"key\""), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_declared_again_after_its_removal_is_restored() {
    testbed();
    let dir = tempfile::tempdir().unwrap();
    let name = unique("again");
    let with = format!("[capsule]\nname = \"{name}\"\n[secrets]\nkey = {{ description = \"the key\" }}\n");
    std::fs::write(dir.path().join("capsule.toml"), &with).unwrap();
    let out = capsule(dir.path(), &["apply"], None);
    assert!(out.status.success(), "{}", text(&out));
    let out = capsule(dir.path(), &["secrets", "set", &name, "production", "key"], Some("s3cr3t-value"));
    assert!(out.status.success(), "{}", text(&out));
    // Removed: deleted with a recovery window (the value is kept for 30 days).
    std::fs::write(dir.path().join("capsule.toml"), format!("[capsule]\nname = \"{name}\"\n")).unwrap();
    let out = capsule(dir.path(), &["apply", "--allow-destroy"], None);
    assert!(out.status.success(), "{}", text(&out));
    // Declared again: the plan shows the restore, apply restores it with its value.
    std::fs::write(dir.path().join("capsule.toml"), &with).unwrap();
    let out = capsule(dir.path(), &["plan", "--detailed-exitcode"], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("scheduled_for_deletion: true -> false"), "{}", text(&out));
    let out = capsule(dir.path(), &["apply"], None);
    assert!(out.status.success(), "{}", text(&out));
    let sm = Aws::from_env().await.secrets("us-east-1");
    let id = format!("capsule/{name}/production/key");
    assert!(sm.describe_secret().secret_id(&id).send().await.unwrap().deleted_date().is_none());
    let value = sm.get_secret_value().secret_id(&id).send().await.unwrap();
    assert_eq!(value.secret_string(), Some("s3cr3t-value"));
    let out = capsule(dir.path(), &["plan", "--detailed-exitcode"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
