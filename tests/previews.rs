//! Preview environments on the test bed with the GitHub stand-in: `github preview` deploys
//! `pr-<N>` of the changed capsule on `opened`/`synchronize` (a comment and a GitHub deployment
//! with its URL, secrets copied from `secrets_from`), tears it down on `closed` leaving
//! production as it was; forks get nothing; `max_previews` refuses; `preview sweep` removes
//! what a killed teardown left.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use capsule::aws::Aws;
use common::github::{FakeGitHub, TOKEN};
use common::{capsule, commit, testbed, text, unique, write};
use git2::Repository;
use serde_json::{Value, json};

const MARKER: &str = "<!-- capsule:preview -->";

fn event(action: &str, number: u64, base: &str, head: &str, fork: bool) -> Value {
    let head_repo = if fork { "someone/r" } else { "o/r" };
    json!({ "action": action, "pull_request": { "number": number,
        "base": { "sha": base, "repo": { "full_name": "o/r" } },
        "head": { "sha": head, "repo": { "full_name": head_repo } } } })
}

/// `capsule github preview` as a `pull_request` workflow runs it, from `root`.
fn github_preview(gh: &FakeGitHub, root: &Path, event: &Value) -> Command {
    let run = root.parent().unwrap().join(format!("run-{}", unique("r")));
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("event.json"), event.to_string()).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_capsule"));
    cmd.args(["github", "preview", "--root"])
        .arg(root)
        .env("GITHUB_API_URL", &gh.url)
        .env("GITHUB_GRAPHQL_URL", &gh.graphql)
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_RUN_ID", "42")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", run.join("event.json"))
        .env("GITHUB_STEP_SUMMARY", run.join("summary.md"))
        .env("GITHUB_OUTPUT", run.join("output"));
    cmd
}

fn preview(gh: &FakeGitHub, root: &Path, event: &Value) -> Output {
    github_preview(gh, root, event).output().unwrap()
}

/// A git repository in `dir/repo` holding capsule `name` (a secret, a site, `staging` and a
/// preview template with `extra` settings); returns the root and the base commit.
fn repository(dir: &Path, name: &str, extra: &str) -> (PathBuf, Repository, String) {
    let root = dir.join("repo");
    let repo = Repository::init(&root).unwrap();
    write(
        &root,
        "app/capsule.toml",
        &format!(
            "[capsule]\nname = \"{name}\"\n[secrets]\nkey = {{ description = \"the API key\" }}\n\
             [sites.web]\ndir = \"site\"\n[environments.production]\n[environments.staging]\n\
             [environments.preview]\npreview = true\nttl = \"1h\"\n{extra}"
        ),
    );
    write(&root, "app/site/index.html", "<h1>v1</h1>");
    let base = commit(&repo, "base");
    (root, repo, base)
}

/// The changes `capsule plan --env ENV` would make, as (address, action).
fn plan(root: &Path, env: &str) -> Vec<(String, String)> {
    let out = capsule(root, &["plan", "--env", env, "--format", "json"]);
    assert!(out.status.code() != Some(1), "{}", text(&out));
    common::changes(&serde_json::from_slice(&out.stdout).unwrap())
}

/// capsule's preview comments on pull request `n`.
fn preview_comments(gh: &FakeGitHub, n: u64) -> Vec<String> {
    gh.comments(n)
        .into_iter()
        .filter(|(l, b)| l == "github-actions[bot]" && b.starts_with(MARKER))
        .map(|(_, b)| b)
        .collect()
}

/// The deployments of environment `env`, oldest first, each with its statuses' states.
fn deployments(gh: &FakeGitHub, env: &str) -> Vec<(Value, Vec<String>)> {
    let s = gh.state();
    let statuses = s["deployment_statuses"].as_array().cloned().unwrap_or_default();
    s["deployments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["environment"] == env)
        .map(|d| {
            let states = statuses
                .iter()
                .filter(|st| st["deployment_id"] == d["id"])
                .map(|st| st["state"].as_str().unwrap().to_string())
                .collect();
            (d.clone(), states)
        })
        .collect()
}

async fn secret_value(id: &str) -> Option<String> {
    let sm = Aws::from_env().await.secrets("us-east-1");
    sm.get_secret_value().secret_id(id).send().await.ok().and_then(|v| v.secret_string().map(str::to_string))
}

fn set_secret(root: &Path, name: &str, env: &str, value: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_capsule"))
        .args(["secrets", "set", name, env, "key", "--root"])
        .arg(root)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), value.as_bytes()).unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_request_gets_a_preview_kept_up_to_date_and_removed_when_closed() {
    testbed();
    let gh = FakeGitHub::start();
    let dir = tempfile::tempdir().unwrap();
    let name = unique("pv");
    let (root, repo, base) = repository(dir.path(), &name, "secrets_from = \"staging\"\n");
    for env in ["production", "staging"] {
        let out = capsule(&root, &["apply", "--env", env]);
        assert!(out.status.success(), "{}", text(&out));
    }
    set_secret(&root, &name, "staging", "sk_test_staging");
    assert_eq!(plan(&root, "staging"), vec![]);

    write(&root, "app/site/index.html", "<h1>v2</h1>");
    let head = commit(&repo, "a new page");
    let out = preview(&gh, &root, &event("opened", 7, &base, &head, false));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(plan(&root, "pr-7"), vec![], "the preview is deployed: {}", text(&out));
    assert_eq!(plan(&root, "staging"), vec![], "staging is untouched");
    assert_eq!(
        secret_value(&format!("capsule/{name}/pr-7/key")).await.as_deref(),
        Some("sk_test_staging"),
        "secrets_from copies the value inside AWS"
    );
    assert!(!text(&out).contains("sk_test_staging"), "a secret value is never printed");
    let comments = preview_comments(&gh, 7);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0].contains(&format!("| `{name}` | :white_check_mark: deployed |")), "{}", comments[0]);
    let url = comments[0].split("https://").nth(1).and_then(|r| r.split([' ', '|']).next()).unwrap().to_string();
    assert!(url.ends_with(".cloudfront.net"), "the site's distribution: {url}");
    let deps = deployments(&gh, "pr-7");
    assert_eq!(deps.len(), 1, "{deps:?}");
    assert_eq!(
        (deps[0].0["sha"].as_str(), deps[0].0["transient_environment"].as_bool()),
        (Some(head.as_str()), Some(true))
    );
    let statuses = gh.state()["deployment_statuses"].clone();
    let success = statuses.as_array().unwrap().iter().find(|s| s["deployment_id"] == deps[0].0["id"]).unwrap();
    assert_eq!(
        (success["state"].as_str(), success["environment_url"].as_str()),
        (Some("success"), Some(format!("https://{url}").as_str()))
    );
    let listed = capsule(&root, &["preview", "list"]);
    let line = text(&listed).lines().find(|l| l.contains(&name)).map(str::to_string).unwrap_or_default();
    assert!(line.contains("pr-7") && line.contains("#7") && line.contains("1h"), "{}", text(&listed));

    // A push to the pull request: the same comment, a new deployment, the old one inactive.
    write(&root, "app/site/index.html", "<h1>v3</h1>");
    let head2 = commit(&repo, "another page");
    let out = preview(&gh, &root, &event("synchronize", 7, &base, &head2, false));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("{name}/pr-7: 0 created, 0 updated, 0 replaced, 0 deleted")),
        "only the site's files changed: {}",
        text(&out)
    );
    assert_eq!(preview_comments(&gh, 7).len(), 1);
    let deps = deployments(&gh, "pr-7");
    assert_eq!(deps.iter().map(|(_, s)| s.last().unwrap().as_str()).collect::<Vec<_>>(), ["inactive", "success"]);

    // Closed: nothing of pr-7 is left, read back through every API the plan uses.
    let out = preview(&gh, &root, &event("closed", 7, &base, &head2, false));
    assert!(out.status.success(), "{}", text(&out));
    let left = plan(&root, "pr-7");
    assert!(!left.is_empty() && left.iter().all(|(_, a)| a == "create"), "nothing of pr-7 exists: {left:?}");
    assert_eq!(secret_value(&format!("capsule/{name}/pr-7/key")).await, None);
    assert_eq!(plan(&root, "staging"), vec![], "staging is untouched");
    assert_eq!(plan(&root, "production"), vec![], "production is untouched");
    let comments = preview_comments(&gh, 7);
    assert!(
        comments.len() == 1 && comments[0].contains("torn down") && comments[0].contains("deleted"),
        "{comments:?}"
    );
    assert!(deployments(&gh, "pr-7").iter().all(|(_, s)| s.last().unwrap() == "inactive"));
    let listed = capsule(&root, &["preview", "list"]);
    assert!(!text(&listed).contains(&name), "{}", text(&listed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_gets_no_preview_and_says_why() {
    testbed();
    let gh = FakeGitHub::start();
    let dir = tempfile::tempdir().unwrap();
    let name = unique("pf");
    let (root, repo, base) = repository(dir.path(), &name, "");
    write(&root, "app/site/index.html", "<h1>from a fork</h1>");
    let head = commit(&repo, "a fork's change");
    let out = preview(&gh, &root, &event("opened", 8, &base, &head, true));
    assert!(out.status.success(), "{}", text(&out));
    let comments = preview_comments(&gh, 8);
    assert!(comments.len() == 1 && comments[0].contains("comes from a fork"), "{comments:?}");
    assert!(plan(&root, "pr-8").iter().all(|(_, a)| a == "create"), "nothing was deployed");
    assert!(deployments(&gh, "pr-8").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_previews_refuses_and_a_sweep_removes_what_a_killed_teardown_left() {
    testbed();
    let gh = FakeGitHub::start();
    let dir = tempfile::tempdir().unwrap();
    let name = unique("pm");
    let (root, repo, base) = repository(dir.path(), &name, "max_previews = 1\n");
    write(&root, "app/site/index.html", "<h1>v2</h1>");
    let head = commit(&repo, "change");
    let out = preview(&gh, &root, &event("opened", 11, &base, &head, false));
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("capsule secrets set"), "no secrets_from: the key starts empty: {}", text(&out));
    assert!(preview_comments(&gh, 11)[0].contains(&format!("`capsule secrets set {name} pr-11 key`")));

    let out = preview(&gh, &root, &event("opened", 12, &base, &head, false));
    assert!(out.status.success(), "a refusal is not a failed check: {}", text(&out));
    let refused = &preview_comments(&gh, 12)[0];
    assert!(refused.contains("not deployed") && refused.contains("`pr-11` (#11"), "{refused}");
    assert!(plan(&root, "pr-12").iter().all(|(_, a)| a == "create"), "pr-12 was not deployed");
    assert!(deployments(&gh, "pr-12").is_empty(), "a refusal is no deployment");

    // Teardown killed after its first delete: the record stays, and the sweep finishes it.
    let mut child = github_preview(&gh, &root, &event("closed", 11, &base, &head, false))
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    for line in std::io::BufRead::lines(stderr).map_while(Result::ok) {
        if line.starts_with("  - ") && line.contains(" done (") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let listed = capsule(&root, &["preview", "list"]);
    assert!(text(&listed).contains("pr-11"), "the record outlives a killed teardown: {}", text(&listed));
    // The killed run's lock stays (its runner is gone, as on GitHub): broken by hand.
    let out = capsule(&root, &["unlock", &name, "pr-11"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = capsule(&root, &["preview", "sweep", "--older-than", "0s"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("Sweeping {name}/pr-11")), "{}", text(&out));
    assert!(plan(&root, "pr-11").iter().all(|(_, a)| a == "create"), "nothing of pr-11 is left");
    assert!(!text(&capsule(&root, &["preview", "list"])).contains(&name));
    assert_eq!(plan(&root, "staging").iter().filter(|(_, a)| a != "create").count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_with_a_token_removes_the_previews_of_closed_pull_requests_only() {
    testbed();
    let gh = FakeGitHub::start();
    let dir = tempfile::tempdir().unwrap();
    let name = unique("ps");
    let (root, repo, base) = repository(dir.path(), &name, "");
    write(&root, "app/site/index.html", "<h1>v2</h1>");
    let head = commit(&repo, "change");
    for n in [13, 14] {
        let out = preview(&gh, &root, &event("opened", n, &base, &head, false));
        assert!(out.status.success(), "{}", text(&out));
    }
    // #13 was closed while its teardown did not run (a cancelled workflow); #14 is open.
    gh.seed_pull(json!({ "number": 13, "closed": true }));
    gh.seed_pull(json!({ "number": 14 }));
    let sweep = |token: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_capsule"));
        cmd.args(["preview", "sweep", "--root"])
            .arg(&root)
            .env("GITHUB_API_URL", &gh.url)
            .env("GITHUB_REPOSITORY", "o/r");
        match token {
            Some(t) => cmd.env("GITHUB_TOKEN", t),
            None => cmd.env_remove("GITHUB_TOKEN"),
        };
        cmd.output().unwrap()
    };
    let out = sweep(None);
    assert!(
        out.status.success() && text(&out).contains("Swept 0 preview(s); 2 kept."),
        "no token: by age only: {}",
        text(&out)
    );
    let out = sweep(Some(TOKEN));
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("Sweeping {name}/pr-13 (pull request #13 is closed)")), "{}", text(&out));
    assert!(text(&out).contains("Swept 1 preview(s); 1 kept."), "{}", text(&out));
    assert!(plan(&root, "pr-13").iter().all(|(_, a)| a == "create"), "pr-13 is gone");
    assert_eq!(plan(&root, "pr-14"), vec![], "the open pull request keeps its preview");
}
