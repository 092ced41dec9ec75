//! Day-two commands end to end on the test bed, whose one-off tasks exit with the code and
//! print the lines their command's `testbed:exit=N` / `testbed:print=TEXT` arguments say:
//! a service's `release` command before its rollout (and a failing one that keeps the
//! service where it was), `capsule run` and `capsule logs`.

mod common;

use std::path::Path;
use std::process::Output;

use aws_sdk_ecs::types::{DesiredStatus, Task};
use capsule::aws::Aws;
use common::{capsule_with, change, changes, success_json, testbed, text, unique, write};

const ENV: &[(&str, &str)] = &[("CAPSULE_ROLLOUT_POLL", "200ms"), ("CAPSULE_TASK_POLL", "200ms")];

fn capsule(dir: &Path, args: &[&str]) -> Output {
    capsule_with(dir, args, ENV)
}

/// One service on a public image, with `extra` lines in its table.
fn set_service(dir: &Path, name: &str, extra: &str) {
    write(
        dir,
        "capsule.toml",
        &format!("[capsule]\nname = \"{name}\"\n\n[services.api]\nimage = \"nginx:1.27\"\n{extra}"),
    );
}

/// The one-off tasks of the capsule's cluster that `started_by` started, oldest first.
async fn tasks(cluster: &str, started_by: &str) -> Vec<Task> {
    let ecs = Aws::from_env().await.ecs("us-east-1");
    let mut arns = Vec::new();
    for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
        let out = ecs.list_tasks().cluster(cluster).started_by(started_by).desired_status(status).send().await.unwrap();
        arns.extend(out.task_arns().iter().cloned());
    }
    if arns.is_empty() {
        return vec![];
    }
    let out = ecs.describe_tasks().cluster(cluster).set_tasks(Some(arns)).send().await.unwrap();
    let mut tasks = out.tasks().to_vec();
    tasks.sort_by_key(|t| t.created_at().map(|c| c.as_nanos()));
    tasks
}

async fn service_task_definition(cluster: &str) -> (String, aws_sdk_ecs::types::Service) {
    let ecs = Aws::from_env().await.ecs("us-east-1");
    let out = ecs.describe_services().cluster(cluster).services("api").send().await.unwrap();
    let s = out.services()[0].clone();
    (s.task_definition().unwrap().to_string(), s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_runs_before_the_service_moves_and_a_failing_one_keeps_it_where_it_was() {
    testbed();
    let name = unique("rel");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let cluster = format!("{name}-production");
    set_service(root, &name, "release = [\"/app/migrate\", \"testbed:print=migrated 3 tables\"]\n");

    let out = capsule(root, &["plan", "--format", "json"]);
    let plan = success_json(&out);
    let reason = change(&plan, &format!("{name}.production.ecs_service.api"))["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("release: /app/migrate testbed:print=migrated 3 tables"), "{reason}");
    let out = capsule(root, &["apply", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("release api: migrated 3 tables"), "the release's lines are shown: {}", text(&out));

    // One release task, of the service's task definition, stopped before the deployment began.
    let released = tasks(&cluster, "capsule-release").await;
    assert_eq!(released.len(), 1, "{released:#?}");
    let (td, service) = service_task_definition(&cluster).await;
    assert_eq!(released[0].task_definition_arn(), Some(td.as_str()));
    let command = released[0].overrides().unwrap().container_overrides()[0].command();
    assert_eq!(command, ["/app/migrate", "testbed:print=migrated 3 tables"]);
    let deployment = service.deployments().iter().find(|d| d.status() == Some("PRIMARY")).unwrap();
    let stopped = released[0].stopped_at().unwrap().as_nanos();
    assert!(stopped <= deployment.created_at().unwrap().as_nanos(), "the release ended before the rollout began");
    assert_eq!(released[0].containers()[0].exit_code(), Some(0));

    // Its line is in the service's logs, with its short task id.
    let out = capsule(root, &["logs", &name, "production", "api", "--since", "1h"]);
    assert!(out.status.success(), "{}", text(&out));
    let id = released[0].task_arn().unwrap().rsplit('/').next().unwrap();
    let logs = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(logs.lines().any(|l| l.ends_with(&format!("{} migrated 3 tables", &id[..8]))), "{logs}");

    // Nothing to roll out: no release runs.
    let out = capsule(root, &["apply", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(tasks(&cluster, "capsule-release").await.len(), 1);

    // A release that exits 3 stops the rollout: the service stays on its task definition.
    set_service(
        root,
        &name,
        "release = [\"/app/migrate\", \"testbed:print=relation users does not exist\", \"testbed:exit=3\"]\n\
         env = { MODE = \"v2\" }\n",
    );
    let out = capsule(root, &["apply", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("exited with code 3"), "{all}");
    assert!(all.contains("relation users does not exist"), "the last log line is shown: {all}");
    assert_eq!(service_task_definition(&cluster).await.0, td, "the service did not move");
    let plan = success_json(&capsule(root, &["plan", "--format", "json"]));
    assert_eq!(changes(&plan), vec![(format!("{name}.production.ecs_service.api"), "update".to_string())]);

    // Fixed: the next apply runs it again and the service moves.
    set_service(root, &name, "release = [\"/app/migrate\"]\nenv = { MODE = \"v2\" }\n");
    let out = capsule(root, &["apply", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(tasks(&cluster, "capsule-release").await.len(), 3);
    assert_ne!(service_task_definition(&cluster).await.0, td);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capsule_run_exits_with_the_tasks_code_and_prints_its_lines() {
    testbed();
    let name = unique("run");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    set_service(root, &name, "");
    let out = capsule(root, &["apply"]);
    assert!(out.status.success(), "{}", text(&out));

    let out = capsule(
        root,
        &["run", &name, "production", "api", "--", "/bin/report", "testbed:print=42 rows", "testbed:exit=4"],
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(stdout.starts_with("task "), "{stdout}");
    assert!(stdout.lines().any(|l| l == "42 rows"), "{stdout}");
    assert!(text(&out).contains("exited with code 4"), "{}", text(&out));
    let cluster = format!("{name}-production");
    let ran = tasks(&cluster, "capsule-run").await;
    assert_eq!(ran.len(), 1);
    let (td, _) = service_task_definition(&cluster).await;
    assert_eq!(ran[0].task_definition_arn(), Some(td.as_str()), "the service's live task definition");

    // Detached: the task id at once, exit 0.
    let out = capsule(root, &["run", &name, "production", "api", "--detach", "--", "/bin/report"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("task "));

    // An unknown service is refused with the known ones, before any task starts.
    let out = capsule(root, &["run", &name, "production", "ap", "--", "/bin/report"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("no service or job `ap` (known: api)"), "{}", text(&out));
    assert_eq!(tasks(&cluster, "capsule-run").await.len(), 2);

    // `logs --task` shows that task's lines only.
    let id = ran[0].task_arn().unwrap().rsplit('/').next().unwrap().to_string();
    let out = capsule(root, &["logs", &name, "production", "api", "--since", "1h", "--task", &id]);
    let logs = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(logs.lines().count(), 1, "{logs}");
    assert!(logs.ends_with(&format!("{} 42 rows\n", &id[..8])), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_returns_to_the_previous_revision_and_the_plan_shows_the_drift() {
    testbed();
    let name = unique("rb");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let cluster = format!("{name}-production");
    set_service(root, &name, "env = { MODE = \"v1\" }\n");
    assert!(capsule(root, &["apply"]).status.success());
    let (first, _) = service_task_definition(&cluster).await;
    set_service(root, &name, "env = { MODE = \"v2\" }\n");
    // Only the task definition moves: lists that wait for nothing (subnets) are compared
    // normalised, though the task definition is known only after apply.
    let plan = success_json(&capsule(root, &["plan", "--format", "json"]));
    let paths: Vec<&str> = change(&plan, &format!("{name}.production.ecs_service.api"))["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["task_definition"]);
    assert!(capsule(root, &["apply"]).status.success());
    let (second, _) = service_task_definition(&cluster).await;
    assert!(first.ends_with(":1") && second.ends_with(":2"), "{first} {second}");

    // An unknown revision is refused with the registered ones; nothing moves.
    let out = capsule(root, &["rollback", &name, "production", "api", "--to", "9"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("revision 9 is not registered (registered revisions: 2, 1)"), "{}", text(&out));
    assert_eq!(service_task_definition(&cluster).await.0, second);

    let out = capsule(root, &["rollback", &name, "production", "api"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("runs ") && text(&out).contains("The next apply from git rolls it forward"),
        "{}",
        text(&out)
    );
    let (now, service) = service_task_definition(&cluster).await;
    assert_eq!(now, first);
    let primary = service.deployments().iter().find(|d| d.status() == Some("PRIMARY")).unwrap();
    assert_eq!(primary.rollout_state().map(|s| s.as_str()), Some("COMPLETED"), "waited for the rollout");

    // The plan shows the service as drifted, and the next apply rolls forward.
    let out = capsule(root, &["plan", "--format", "json"]);
    let plan = success_json(&out);
    assert_eq!(changes(&plan), vec![(format!("{name}.production.ecs_service.api"), "update".to_string())]);
    assert!(capsule(root, &["apply"]).status.success());
    assert_eq!(service_task_definition(&cluster).await.0, second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_says_what_ecs_elbv2_rds_and_cloudfront_say() {
    testbed();
    let name = unique("st");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "dist/index.html", "<h1>hi</h1>");
    write(
        root,
        "capsule.toml",
        &format!(
            "[capsule]\nname = \"{name}\"\n\n[services.api]\nimage = \"nginx:1.27\"\nport = 80\npublic = true\n\
             [databases.main]\nengine = \"mysql\"\nmulti_az = false\ndeletion_protection = false\non_delete = \"delete\"\n\
             [sites.web]\ndir = \"dist\"\n"
        ),
    );
    let env = [("CAPSULE_ROLLOUT_POLL", "200ms"), ("CAPSULE_RDS_POLL", "100ms")];
    let out = capsule_with(root, &["apply"], &env);
    assert!(out.status.success(), "{}", text(&out));
    let out = capsule(root, &["status", &name, "production", "--format", "json"]);
    let doc = success_json(&out);
    assert_eq!(doc["format_version"], "1");
    assert_eq!(doc["errors"], serde_json::json!([]));

    let aws = Aws::from_env().await;
    let cluster = format!("{name}-production");
    let (td, service) = service_task_definition(&cluster).await;
    let api = &doc["services"][0];
    assert_eq!(api["name"], "api");
    assert_eq!(api["task_definition"], td);
    assert_eq!(api["revision"], td.rsplit(':').next().unwrap().parse::<i64>().unwrap());
    assert_eq!(api["desired"], service.desired_count());
    assert_eq!(api["running"], service.running_count());
    assert_eq!(api["rollout"], "COMPLETED");
    let image = aws.ecs("us-east-1").describe_task_definition().task_definition(&td).send().await.unwrap();
    let image = image.task_definition().unwrap().container_definitions()[0].image().unwrap().to_string();
    assert_eq!(api["image"], image);

    let lbs = aws.elb("us-east-1").describe_load_balancers().names(&cluster).send().await.unwrap();
    assert_eq!(doc["load_balancer"]["dns_name"], lbs.load_balancers()[0].dns_name().unwrap());

    let db = common::db_instance(&format!("{name}-production-main")).await.unwrap();
    let main = &doc["databases"][0];
    assert_eq!((main["engine"].as_str(), main["class"].as_str()), (db.engine(), db.db_instance_class()));
    assert_eq!(main["status"].as_str(), db.db_instance_status());
    assert_eq!(main["endpoint"].as_str(), db.endpoint().and_then(|e| e.address()));

    let dists = aws.cloudfront("us-east-1").list_distributions().send().await.unwrap();
    let list = dists.distribution_list().unwrap();
    let web = &doc["sites"][0];
    let d =
        list.items().iter().find(|d| Some(d.id()) == web["distribution"].as_str()).expect("the site's distribution");
    assert_eq!(web["domain_name"], d.domain_name());
    let bucket = format!("{name}-production-web-123456789012");
    let manifest =
        aws.s3("us-east-1").head_object().bucket(&bucket).key(".capsule/manifest.json").send().await.unwrap();
    let modified = manifest.last_modified().unwrap().secs();
    let shown = humantime::parse_rfc3339(web["last_deploy"].as_str().expect("a last deploy time")).unwrap();
    assert_eq!(shown.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64, modified);

    // The text form names the same things.
    let out = capsule(root, &["status", &name, "production"]);
    let shown = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(shown.contains(&format!("revision {}", api["revision"])), "{shown}");
    assert!(shown.contains(d.domain_name()), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_sharing_an_image_and_release_command_run_it_once() {
    testbed();
    let name = unique("rel2");
    let dir = tempfile::tempdir().unwrap();
    let release = "release = [\"/app/migrate\", \"testbed:print=once\"]\n";
    write(
        dir.path(),
        "capsule.toml",
        &format!(
            "[capsule]\nname = \"{name}\"\n\n[services.api]\nimage = \"nginx:1.27\"\n{release}\n\
             [services.worker]\nimage = \"nginx:1.27\"\n{release}"
        ),
    );
    let out = capsule(dir.path(), &["apply"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(tasks(&format!("{name}-production"), "capsule-release").await.len(), 1, "{}", text(&out));
}

/// `logs` of a job reads the job's streams (`<job>/<job>/<task>`) in its service's log
/// group; `--follow` prints what comes and ends with Ctrl-C, exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_of_a_job_and_follow_until_interrupted() {
    testbed();
    let name = unique("lg");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    set_service(root, &name, "\n[jobs.nightly]\nservice = \"api\"\nschedule = \"rate(1 day)\"\n");
    let out = capsule(root, &["apply"]);
    assert!(out.status.success(), "{}", text(&out));
    // What a run of the job would have written (EventBridge starts it; the test bed does not).
    let logs = Aws::from_env().await.logs("us-east-1");
    let group = format!("/capsule/{name}/production/api");
    let stream = "nightly/nightly/feedc0de00000000000000000000abcd";
    logs.create_log_stream().log_group_name(&group).log_stream_name(stream).send().await.unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let event = aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
        .timestamp(now)
        .message("swept 7 carts")
        .build()
        .unwrap();
    logs.put_log_events().log_group_name(&group).log_stream_name(stream).log_events(event).send().await.unwrap();

    let out = capsule(root, &["logs", &name, "production", "jobs.nightly"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).trim_end().ends_with("feedc0de swept 7 carts"), "{}", text(&out));
    let out = capsule(root, &["logs", &name, "production", "api"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("swept"), "the service's own streams only");

    let mut follow = std::process::Command::new(env!("CARGO_BIN_EXE_capsule"))
        .args(["logs", &name, "production", "jobs.nightly", "--follow"])
        .current_dir(root)
        .envs(ENV.iter().copied())
        // Poll without pause, so that Ctrl-C lands while a request is in flight.
        .env("CAPSULE_TASK_POLL", "0s")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt only once the first event is printed: the listener is set up by then.
    let stdout = std::io::BufReader::new(follow.stdout.take().unwrap());
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || std::io::BufRead::lines(stdout).map_while(Result::ok).try_for_each(|l| tx.send(l)));
    let Ok(first) = lines.recv_timeout(std::time::Duration::from_secs(60)) else {
        follow.kill().unwrap();
        panic!("--follow printed nothing within 60 s");
    };
    assert!(first.ends_with("feedc0de swept 7 carts"), "{first}");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let pid = follow.id().to_string();
    let killed = std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = follow.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            follow.kill().unwrap();
            panic!("--follow did not end within 30 s of Ctrl-C");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(status.code(), Some(0), "Ctrl-C ends --follow with exit 0");
    let printed: Vec<String> = lines.iter().collect();
    assert!(printed.iter().all(|l| !l.contains("swept 7 carts")), "each event once: {printed:?}");
}
