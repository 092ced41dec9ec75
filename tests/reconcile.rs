//! `capsule github reconcile` on the test bed with the GitHub stand-in: drift made outside
//! capsule (a secret's description, a service's desired count, a deleted DNS record, a
//! database recreated by hand) opens one issue, updated while it lasts and closed when it is
//! gone; `on_drift = "heal"` puts it back through AWS, except what would destroy data.

mod common;

use std::path::Path;
use std::process::Output;

use capsule::aws::Aws;
use common::github::{FakeGitHub, TOKEN};
use common::{capsule, hosted_zone, testbed, text, unique, write, zone_records};
use serde_json::{Value, json};

/// Runs `capsule github reconcile` as a scheduled workflow would; returns the output and
/// the step outputs written.
fn reconcile(gh: &FakeGitHub, root: &Path) -> (Output, String) {
    let run = tempfile::tempdir().unwrap();
    let event = run.path().join("event.json");
    std::fs::write(&event, json!({ "schedule": "17 6 * * 1-5" }).to_string()).unwrap();
    let output = run.path().join("output");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_capsule"))
        .args(["github", "reconcile", "--root"])
        .arg(root)
        .env("GITHUB_API_URL", &gh.url)
        .env("GITHUB_GRAPHQL_URL", &gh.graphql)
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_RUN_ID", "77")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_EVENT_NAME", "schedule")
        .env("GITHUB_EVENT_PATH", &event)
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .env("GITHUB_STEP_SUMMARY", run.path().join("summary.md"))
        .env("GITHUB_OUTPUT", &output)
        .output()
        .unwrap();
    (out, std::fs::read_to_string(output).unwrap_or_default())
}

fn apply(dir: &Path) {
    let out = capsule(dir, &["apply"]);
    assert!(out.status.success(), "{}", text(&out));
}

/// capsule's issues (by the workflow token) carrying `marker` as their first line.
fn own_issues(gh: &FakeGitHub, marker: &str) -> Vec<Value> {
    gh.issues()
        .into_iter()
        .filter(|i| i["login"] == "github-actions[bot]" && i["body"].as_str().unwrap_or("").starts_with(marker))
        .collect()
}

async fn secret_description(id: &str) -> String {
    let sm = Aws::from_env().await.secrets("us-east-1");
    sm.describe_secret().secret_id(id).send().await.unwrap().description().unwrap_or_default().to_string()
}

async fn desired_count(cluster: &str, service: &str) -> i32 {
    let ecs = Aws::from_env().await.ecs("us-east-1");
    let out = ecs.describe_services().cluster(cluster).services(service).send().await.unwrap();
    out.services()[0].desired_count()
}

/// Drift made by hand: the secret's description and the service's count change.
async fn drift_by_hand(name: &str) {
    let aws = Aws::from_env().await;
    aws.secrets("us-east-1")
        .update_secret()
        .secret_id(format!("capsule/{name}/production/stripe"))
        .description("changed in the console")
        .send()
        .await
        .unwrap();
    aws.ecs("us-east-1")
        .update_service()
        .cluster(format!("{name}-production"))
        .service("worker")
        .desired_count(3)
        .send()
        .await
        .unwrap();
}

/// Deletes the MAIL FROM MX record capsule made for `[email]`.
async fn delete_mx(zone_id: &str, domain: &str) {
    use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch};
    let r53 = Aws::from_env().await.route53("us-east-1");
    let sets = r53.list_resource_record_sets().hosted_zone_id(zone_id).send().await.unwrap();
    let mx = sets
        .resource_record_sets()
        .iter()
        .find(|s| s.name().trim_end_matches('.') == format!("mail.{domain}") && s.r#type().as_str() == "MX")
        .cloned()
        .expect("capsule made the MX record");
    let change = Change::builder().action(ChangeAction::Delete).resource_record_set(mx).build().unwrap();
    r53.change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(ChangeBatch::builder().changes(change).build().unwrap())
        .send()
        .await
        .unwrap();
}

const WORKER: &str = "[services.worker]\nimage = \"nginx:1.27\"\ncount = 1\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_opens_one_issue_kept_up_to_date_and_closed_when_it_is_gone() {
    testbed();
    let gh = FakeGitHub::start();
    let name = unique("drift");
    let domain = format!("{name}.example.com");
    let zone_id = hosted_zone(&domain).await;
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "capsule.toml",
        &format!(
            "[capsule]\nname = \"{name}\"\n[dns]\nzone = \"{domain}\"\n[email]\ndomain = \"{domain}\"\n\
             [secrets]\nstripe = {{ description = \"the Stripe key\" }}\n{WORKER}"
        ),
    );
    apply(dir.path());
    let marker = format!("<!-- capsule:drift {name}/production -->");
    // Someone copied capsule's marker into an issue of their own: it is never touched.
    let theirs = format!("{marker}\nI pasted this from capsule's issue.");
    let copied = gh.seed_issue("mallory", "User", "copied", &theirs);

    let (out, outputs) = reconcile(&gh, dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(outputs.contains("drifted=[]\n") && outputs.contains("healed=[]\n"), "{outputs}");
    assert!(own_issues(&gh, &marker).is_empty(), "a clean environment opens no issue");

    drift_by_hand(&name).await;
    delete_mx(&zone_id, &domain).await;
    let (out, outputs) = reconcile(&gh, dir.path());
    assert!(out.status.success(), "drift is not a failure: {}", text(&out));
    assert!(outputs.contains(&format!("drifted=[\"{name}/production\"]\n")), "{outputs}");
    let issues = own_issues(&gh, &marker);
    assert_eq!(issues.len(), 1, "{issues:#?}");
    let issue = &issues[0];
    let body = issue["body"].as_str().unwrap();
    assert_eq!(issue["title"], format!("capsule: drift in {name}/production"));
    assert_eq!(issue["labels"], json!(["capsule:drift"]));
    for changed in ["description", "desired_count", "route53_record.email-mail-from-mx"] {
        assert!(body.contains(changed), "the issue names {changed}: {body}");
    }
    assert!(body.contains("the Stripe key") && body.contains("changed in the console"), "{body}");
    let first = body.lines().nth(1).unwrap().to_string();

    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (out, _) = reconcile(&gh, dir.path());
    assert!(out.status.success(), "{}", text(&out));
    let again = own_issues(&gh, &marker);
    assert_eq!(again.len(), 1, "updated, not duplicated: {again:#?}");
    assert_eq!(again[0]["number"], issue["number"]);
    let body2 = again[0]["body"].as_str().unwrap();
    assert_eq!(body2.lines().nth(1).unwrap(), first, "first seen is kept");
    assert_ne!(body2, body, "last seen moves on");

    // Reverted (by an apply of git's state): the issue is closed with a comment.
    apply(dir.path());
    assert!(zone_records(&zone_id).await.iter().any(|(n, t, _)| *n == format!("mail.{domain}") && t == "MX"));
    let (out, outputs) = reconcile(&gh, dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(outputs.contains("drifted=[]\n"), "{outputs}");
    let closed = own_issues(&gh, &marker);
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0]["state"], "closed");
    let comments = closed[0]["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0].as_str().unwrap().contains("matches the default branch"), "{comments:?}");

    let untouched = gh.issues().into_iter().find(|i| i["number"] == copied).unwrap();
    assert_eq!((untouched["body"].as_str().unwrap(), untouched["state"].as_str().unwrap()), (theirs.as_str(), "open"));
    let edits: Vec<String> = gh
        .requests()
        .into_iter()
        .filter(|r| r.ends_with(&format!("/issues/{copied}")) && !r.starts_with("GET"))
        .collect();
    assert!(edits.is_empty(), "{edits:?}");
}

/// Recreates the database by hand with another engine, keeping capsule's tags: putting it
/// back would replace it.
async fn recreate_as_mysql(id: &str) {
    let rds = Aws::from_env().await.rds("us-east-1");
    let db = rds.describe_db_instances().db_instance_identifier(id).send().await.unwrap().db_instances()[0].clone();
    rds.delete_db_instance().db_instance_identifier(id).skip_final_snapshot(true).send().await.unwrap();
    let mut create = rds
        .create_db_instance()
        .db_instance_identifier(id)
        .engine("mysql")
        .engine_version("8.0.39")
        .db_instance_class(db.db_instance_class().unwrap())
        .allocated_storage(20)
        .master_username("admin")
        .master_user_password("not-a-real-password-1")
        .storage_encrypted(true)
        .set_db_subnet_group_name(db.db_subnet_group().and_then(|g| g.db_subnet_group_name()).map(str::to_string));
    for t in db.tag_list() {
        create = create.tags(t.clone());
    }
    create.send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heal_puts_drift_back_and_never_what_would_destroy_data() {
    testbed();
    let gh = FakeGitHub::start();
    let name = unique("heal");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "capsule.toml",
        &format!(
            "[capsule]\nname = \"{name}\"\non_drift = \"heal\"\n[secrets]\nstripe = {{ description = \"the Stripe key\" }}\n\
             {WORKER}[databases.main]\nengine = \"postgres\"\ndeletion_protection = false\n"
        ),
    );
    apply(dir.path());
    let marker = format!("<!-- capsule:drift {name}/production -->");
    let secret = format!("capsule/{name}/production/stripe");
    let cluster = format!("{name}-production");

    drift_by_hand(&name).await;
    let (out, outputs) = reconcile(&gh, dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(outputs.contains(&format!("healed=[\"{name}/production\"]\n")), "{outputs}");
    assert_eq!(secret_description(&secret).await, "the Stripe key");
    assert_eq!(desired_count(&cluster, "worker").await, 1);
    let issues = own_issues(&gh, &marker);
    assert_eq!(issues.len(), 1, "the heal is recorded: {issues:#?}");
    assert_eq!(issues[0]["state"], "closed");
    let body = issues[0]["body"].as_str().unwrap();
    assert!(body.contains("applied it back") && body.contains("desired_count"), "{body}");
    assert!(issues[0]["comments"][0].as_str().unwrap().contains("Healed"), "{:?}", issues[0]["comments"]);

    // A database recreated by hand would need a replacement: reported, never healed.
    let db = format!("{name}-production-main");
    recreate_as_mysql(&db).await;
    drift_by_hand(&name).await;
    let (out, outputs) = reconcile(&gh, dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        outputs.contains(&format!("drifted=[\"{name}/production\"]\n")) && outputs.contains("healed=[]\n"),
        "{outputs}"
    );
    let rds = Aws::from_env().await.rds("us-east-1");
    let live = rds.describe_db_instances().db_instance_identifier(&db).send().await.unwrap();
    assert_eq!(live.db_instances()[0].engine(), Some("mysql"), "the database was not replaced");
    assert_eq!(secret_description(&secret).await, "changed in the console", "nothing of the environment was healed");
    let open: Vec<Value> = own_issues(&gh, &marker).into_iter().filter(|i| i["state"] == "open").collect();
    assert_eq!(open.len(), 1, "{open:#?}");
    let body = open[0]["body"].as_str().unwrap();
    assert!(body.contains("not healed") && body.contains(&format!("{name}.production.rds_instance.main")), "{body}");
    assert_eq!(open[0]["labels"], json!(["capsule:drift"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_file_on_main_gets_a_plan_error_issue_and_the_other_capsules_are_still_planned() {
    testbed();
    let gh = FakeGitHub::start();
    let dir = tempfile::tempdir().unwrap();
    let good = unique("good");
    write(dir.path(), "good/capsule.toml", &format!("[capsule]\nname = \"{good}\"\n[secrets]\nx = {{}}\n"));
    write(dir.path(), "bad/capsule.toml", "[capsule]\nname = \"bad\"\n[secrets]\nx = { descripton = \"typo\" }\n");
    // Another account's capsule: a plan error, reported the same way.
    let guarded = unique("guarded");
    write(
        dir.path(),
        "guarded/capsule.toml",
        &format!("[capsule]\nname = \"{guarded}\"\naccount = \"210987654321\"\n[secrets]\nx = {{}}\n"),
    );
    // GitHub answers 502 to the first issue POST after creating the issue: it is not opened twice.
    gh.fault(json!({ "method": "POST", "path": "^/repos/o/r/issues$", "status": 502, "times": 1, "apply": true }));
    let (out, outputs) = reconcile(&gh, dir.path());
    assert!(out.status.success(), "an invalid file is reported, not a failure: {}", text(&out));
    // The good capsule was never applied: everything in it is drift (to be created).
    assert!(outputs.contains(&format!("drifted=[\"{good}/production\"]\n")), "{outputs}");
    let errors: Vec<Value> = gh.issues().into_iter().filter(|i| i["labels"] == json!(["capsule:plan-error"])).collect();
    assert_eq!(errors.len(), 2, "one per file or environment, none twice: {errors:#?}");
    let account = errors.iter().find(|i| i["title"] == format!("capsule: {guarded}/production cannot be planned"));
    let account = account.expect("the guarded capsule's issue")["body"].as_str().unwrap();
    assert!(account.contains("210987654321"), "{account}");
    let errors: Vec<Value> =
        errors.into_iter().filter(|i| i["title"].as_str().unwrap().contains("does not load")).collect();
    let body = errors[0]["body"].as_str().unwrap();
    assert!(body.starts_with("<!-- capsule:drift file=bad/capsule.toml -->\n"), "named from the root: {body}");
    assert!(body.contains("bad/capsule.toml:4:") && body.contains("descripton"), "file:line:column: {body}");

    write(dir.path(), "bad/capsule.toml", "[capsule]\nname = \"bad\"\n[secrets]\nx = { description = \"fixed\" }\n");
    let (out, _) = reconcile(&gh, dir.path());
    assert!(out.status.success(), "{}", text(&out));
    let issue = gh.issues().into_iter().find(|i| i["number"] == errors[0]["number"]).unwrap();
    assert_eq!(issue["state"], "closed", "{issue:#?}");
    assert!(issue["comments"][0].as_str().unwrap().contains("loads again"), "{issue:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_refuses_events_that_are_not_the_default_branch() {
    testbed();
    let gh = FakeGitHub::start();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "capsule.toml", &format!("[capsule]\nname = \"{}\"\n[secrets]\nx = {{}}\n", unique("ev")));
    let run = tempfile::tempdir().unwrap();
    let event = run.path().join("event.json");
    let dispatch = json!({ "ref": "refs/heads/feature", "repository": { "default_branch": "main" } });
    std::fs::write(&event, dispatch.to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_capsule"))
        .args(["github", "reconcile", "--root"])
        .arg(dir.path())
        .env("GITHUB_API_URL", &gh.url)
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_EVENT_NAME", "workflow_dispatch")
        .env("GITHUB_EVENT_PATH", &event)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("dispatch it on main"), "{}", text(&out));
    assert!(gh.requests().is_empty(), "nothing was asked of GitHub: {:?}", gh.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubernetes_capsule_is_reconciled_against_its_cluster_never_planned_as_ecs() {
    testbed();
    let gh = FakeGitHub::start();
    let dir = tempfile::tempdir().unwrap();
    let k8s = std::fs::read_to_string(common::root().join("examples/k8s/capsule.toml")).unwrap();
    // Its own name and namespace, never applied: everything it declares is missing.
    let name = unique("rk8s");
    let k8s = k8s
        .replace("name    = \"demo\"", &format!("name    = \"{name}\""))
        .replace("demo-${env.name}", &format!("{name}-${{env.name}}"));
    write(dir.path(), "capsule.toml", &k8s);
    let (out, outputs) = reconcile(&gh, dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(outputs.contains(&format!("drifted=[\"{name}/production\"]\n")), "{outputs}");
    let issues = gh.issues();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    assert_eq!(issues[0]["labels"], json!(["capsule:drift"]));
    let body = issues[0]["body"].as_str().unwrap();
    assert!(body.contains("k8s_deployment.api") && !body.contains("ecs_service"), "{body}");
}
