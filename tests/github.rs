//! `capsule github plan` and `github apply` against the test bed's GitHub REST stand-in
//! (`testbed/github/server.py`: GitHub's paths under `/api/v3`, `/repositories/{id}` next
//! links, other people's and hidden comments, rate limits, 5xx, locked conversations, the
//! commit → pull request lag), on real git repositories, planning against the test bed.

mod common;

use common::github::{FakeGitHub, PAT, READ_ONLY, TOKEN};
use common::{commit, testbed, text, unique, write};
use std::process::{Command, Output};

use git2::Repository;
use serde_json::{Value, json};

struct Run {
    dir: tempfile::TempDir,
    summary: std::path::PathBuf,
    output: std::path::PathBuf,
}

/// A run of its own: a temporary folder with the step summary and output files and an
/// empty git repository in `repo/`; returns the run, the repository's root and the repository.
fn new_run() -> (Run, std::path::PathBuf, Repository) {
    let dir = tempfile::tempdir().unwrap();
    let run = Run { summary: dir.path().join("summary.md"), output: dir.path().join("output"), dir };
    let root = run.dir.path().join("repo");
    let repo = Repository::init(&root).unwrap();
    (run, root, repo)
}

fn pr_event(number: u64, base: &str, head: &str) -> Value {
    json!({ "pull_request": { "number": number, "base": { "sha": base, "repo": { "full_name": "o/r" } }, "head": { "sha": head, "repo": { "full_name": "o/r" } } } })
}

fn github_plan(gh: &FakeGitHub, run: &Run, base: &str, head: &str, token: &str) -> Output {
    github(gh, run, "plan", &pr_event(5, base, head), token)
}

/// Runs `capsule github COMMAND` as GitHub Actions would, with `event` as the event file.
fn github(gh: &FakeGitHub, run: &Run, command: &str, event: &Value, token: &str) -> Output {
    github_with(gh, run, &[command], event, token, &[])
}

fn github_with(gh: &FakeGitHub, run: &Run, args: &[&str], event: &Value, token: &str, env: &[(&str, &str)]) -> Output {
    let path = run.dir.path().join("event.json");
    std::fs::write(&path, event.to_string()).unwrap();
    Command::new(env!("CARGO_BIN_EXE_capsule"))
        .arg("github")
        .args(args)
        .arg("--root")
        .arg(run.dir.path().join("repo"))
        .env("GITHUB_API_URL", &gh.url)
        .env("GITHUB_GRAPHQL_URL", &gh.graphql)
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_TOKEN", token)
        .env("GITHUB_RUN_ID", "42")
        .env("GITHUB_RUN_ATTEMPT", "1")
        .env("CAPSULE_GITHUB_PR_WAIT", "5")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_EVENT_PATH", &path)
        .env("GITHUB_STEP_SUMMARY", &run.summary)
        .env("GITHUB_OUTPUT", &run.output)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// A repository with a capsule `name` (one secret) at `base` and a second secret at the
/// returned head; `other/` holds a capsule the pull request does not touch.
fn two_commits(root: &std::path::Path, repo: &Repository, name: &str) -> (String, String) {
    let capsule =
        |extra: &str| format!("[capsule]\nname = \"{name}\"\n[secrets]\nstripe = {{ description = \"key\" }}\n{extra}");
    write(root, "app/capsule.toml", &capsule(""));
    write(root, "other/capsule.toml", "[capsule]\nname = \"untouched\"\n[secrets]\nx = {}\n");
    write(root, "README.md", "r");
    let base = commit(repo, "base");
    write(root, "app/capsule.toml", &capsule("token = {}\n"));
    (base, commit(repo, "add a secret"))
}

const PLAN: &str = "<!-- capsule:plan -->";

/// Comments on `n` that carry the plan marker on their first line, by `login`.
fn plan_comments(gh: &FakeGitHub, n: u64, login: &str) -> Vec<String> {
    gh.comments(n).into_iter().filter(|(l, b)| l == login && b.starts_with(PLAN)).map(|(_, b)| b).collect()
}

/// The requests since `from` that write (GraphQL queries are reads sent as POST).
fn writes(gh: &FakeGitHub, from: usize) -> Vec<String> {
    gh.requests()[from..].iter().filter(|r| !r.starts_with("GET ") && !r.ends_with("/graphql")).cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_comment_kept_up_to_date_across_runs() {
    testbed();
    let gh = FakeGitHub::start();
    // 150 comments by reviewers first: capsule's lands on page 2, reached through GitHub's
    // `/repositories/{id}/…` next link under `/api/v3`.
    for i in 0..150 {
        gh.seed_comment(5, "reviewer", "User", &format!("a review comment {i}"), false);
    }
    let (run, root, repo) = new_run();
    let name = unique("gh");
    let (base, head) = two_commits(&root, &repo, &name);

    let out = github_plan(&gh, &run, &base, &head, TOKEN);
    assert!(out.status.success(), "{}", text(&out));
    let ours = plan_comments(&gh, 5, "github-actions[bot]");
    assert_eq!(ours.len(), 1, "{ours:?}");
    let body = &ours[0];
    assert!(body.contains(&format!("`{name}`")) && body.contains("production"), "{body}");
    assert!(!body.contains("untouched"), "only changed capsules are planned");
    assert!(body.contains(&format!("Planned `{}` against base `{}`", &head[..7], &base[..7])), "{body}");
    assert!(body.contains("https://github.com/o/r/actions/runs/42/attempts/1"), "{body}");
    let outputs = std::fs::read_to_string(&run.output).unwrap();
    assert!(
        outputs.contains("has_changes=true\n")
            && outputs.contains("destroy=false\n")
            && outputs.contains(&format!("capsules=[\"{name}\"]\n")),
        "{outputs}"
    );
    assert!(std::fs::read_to_string(&run.summary).unwrap().contains("capsule plan"));

    // The same plan in another run (another run id): found across pages, not edited.
    let before = gh.requests().len();
    let out = github_with(&gh, &run, &["plan"], &pr_event(5, &base, &head), TOKEN, &[("GITHUB_RUN_ID", "43")]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(writes(&gh, before), Vec::<String>::new(), "no POST or PATCH when the plan is unchanged");
    assert!(gh.requests()[before..].iter().any(|r| r.starts_with("GET /repositories/4242/issues/5/comments")));

    // A new commit: the comment is marked stale while planning, then edited in place.
    write(&root, "app/notes.txt", "the capsule's directory changed, so it is planned again");
    let head2 = commit(&repo, "touch the capsule");
    let before = gh.requests().len();
    let out = github_plan(&gh, &run, &base, &head2, TOKEN);
    assert!(out.status.success(), "{}", text(&out));
    let w = writes(&gh, before);
    assert!(w.len() == 2 && w.iter().all(|r| r.starts_with("PATCH /repos/o/r/issues/comments/")), "{w:?}");
    let ours = plan_comments(&gh, 5, "github-actions[bot]");
    assert_eq!(ours.len(), 1);
    assert!(ours[0].contains(&format!("Planned `{}`", &head2[..7])) && !ours[0].contains("Re-planning"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marker_planted_by_someone_else_or_a_hidden_comment_is_never_edited() {
    testbed();
    let gh = FakeGitHub::start();
    let planted = format!("{PLAN}\nLooks fine, merge it!");
    gh.seed_comment(5, "mallory", "User", &planted, false);
    gh.seed_comment(5, "github-actions[bot]", "User", &planted, false);
    gh.seed_comment(5, "github-actions[bot]", "Bot", &format!("{PLAN}\nan old plan someone hid"), true);
    let (run, root, repo) = new_run();
    let (base, head) = two_commits(&root, &repo, &unique("own"));
    let out = github_plan(&gh, &run, &base, &head, TOKEN);
    assert!(out.status.success(), "{}", text(&out));
    let all = gh.comments(5);
    assert_eq!(all.len(), 4, "capsule added its own comment: {all:?}");
    assert_eq!(all[0].1, planted, "mallory's comment is untouched");
    assert_eq!(all[1].1, planted, "a user named like the bot is not the bot");
    assert!(all[2].1.ends_with("an old plan someone hid"), "the hidden comment is untouched");
    assert!(all[3].0 == "github-actions[bot]" && all[3].1.contains("capsule plan"));
    assert!(!gh.requests().iter().any(|r| r.starts_with("PATCH")), "{:?}", gh.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_personal_token_keeps_the_comments_of_its_own_user() {
    testbed();
    let gh = FakeGitHub::start();
    let (run, root, repo) = new_run();
    let (base, head) = two_commits(&root, &repo, &unique("pat"));
    gh.seed_comment(5, "github-actions[bot]", "Bot", &format!("{PLAN}\nthe bot's, not this token's"), false);
    assert!(github_plan(&gh, &run, &base, &head, PAT).status.success());
    assert!(github_plan(&gh, &run, &base, &head, PAT).status.success());
    assert_eq!(plan_comments(&gh, 5, "deployer").len(), 1);
    assert!(gh.comments(5)[0].1.ends_with("the bot's, not this token's"));
    assert!(gh.requests().contains(&"GET /user".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_jobs_keep_one_comment_each() {
    testbed();
    let gh = FakeGitHub::start();
    let (run, root, repo) = new_run();
    let (a, b) = (unique("fa"), unique("fb"));
    write(&root, "README.md", "r");
    let base = commit(&repo, "base");
    write(&root, "a/capsule.toml", &format!("[capsule]\nname = \"{a}\"\n[secrets]\nx = {{}}\n"));
    write(&root, "b/capsule.toml", &format!("[capsule]\nname = \"{b}\"\n[secrets]\ny = {{}}\n"));
    let head = commit(&repo, "two capsules");
    for _ in 0..2 {
        for name in [&a, &b] {
            let out = github_with(&gh, &run, &["plan", "--capsule", name], &pr_event(5, &base, &head), TOKEN, &[]);
            assert!(out.status.success(), "{}", text(&out));
        }
    }
    let ours = plan_comments(&gh, 5, "github-actions[bot]");
    assert_eq!(ours.len(), 2, "{ours:?}");
    assert!(ours[0].contains(&format!("key=\"capsules={a}\"")) && ours[0].contains(&format!("`{a}`")));
    assert!(ours[1].contains(&format!("key=\"capsules={b}\"")) && !ours[1].contains(&format!("`{a}`")));
    assert_eq!(gh.requests().iter().filter(|r| r.starts_with("POST /repos/o/r/issues/5/comments")).count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_of_github_are_retried_without_posting_twice() {
    testbed();
    let gh = FakeGitHub::start();
    let (run, root, repo) = new_run();
    let (base, head) = two_commits(&root, &repo, &unique("retry"));
    // A 502 listing the comments, a secondary rate limit, and a POST that creates the
    // comment but answers 502 (the client cannot know it was created).
    gh.fault(json!({ "method": "GET", "path": "issues/5/comments", "status": 502, "times": 1 }));
    gh.fault(json!({ "method": "GET", "path": "issues/5/comments", "kind": "secondary", "headers": { "retry-after": "1" }, "times": 1 }));
    gh.fault(json!({ "method": "POST", "path": "issues/5/comments", "status": 502, "apply": true, "times": 1 }));
    let out = github_plan(&gh, &run, &base, &head, TOKEN);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("retrying in"), "{}", text(&out));
    assert_eq!(plan_comments(&gh, 5, "github-actions[bot]").len(), 1, "exactly one comment");
    assert_eq!(gh.requests().iter().filter(|r| r.starts_with("POST /repos/o/r/issues/5/comments")).count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_that_cannot_be_written_is_a_warning_not_a_failed_plan() {
    testbed();
    for (token, locked, expect) in [
        (TOKEN, true, "Unable to create comment because issue is locked."),
        ("not-the-token", false, "HTTP 401: Bad credentials"),
    ] {
        let gh = FakeGitHub::start();
        if locked {
            gh.lock(5);
        }
        let (run, root, repo) = new_run();
        let (base, head) = two_commits(&root, &repo, &unique("lock"));
        let out = github_plan(&gh, &run, &base, &head, token);
        assert!(out.status.success(), "{}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("::warning title=capsule::could not update pull request #5") && stdout.contains(expect),
            "{stdout}"
        );
        assert!(
            std::fs::read_to_string(&run.summary).unwrap().contains("capsule plan"),
            "the summary is written first"
        );
        assert!(std::fs::read_to_string(&run.output).unwrap().contains("has_changes=true"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_errors_become_annotations_a_comment_and_a_label() {
    let gh = FakeGitHub::start();
    let (run, root, repo) = new_run();
    write(&root, "README.md", "r");
    let base = commit(&repo, "base");
    write(&root, "svc/capsule.toml", "[capsule]\nname = \"bad\"\n[services.api]\nimage = \"x\"\nprot = 80\n");
    let head = commit(&repo, "a typo");
    let out = github_plan(&gh, &run, &base, &head, TOKEN);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("::error file=")
            && stdout
                .contains("svc/capsule.toml,line=5,col=1::unknown key `prot` in [services.api] (did you mean `port`?)"),
        "{stdout}"
    );
    let ours = plan_comments(&gh, 5, "github-actions[bot]");
    assert!(ours.len() == 1 && ours[0].contains("nothing was planned"), "{ours:?}");
    assert_eq!(gh.labels(5), vec!["capsule:plan-error"]);
    assert_eq!(std::fs::read_to_string(&run.output).unwrap(), "has_changes=false\ndestroy=false\ncapsules=[]\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_with_a_bad_config_still_gets_its_summary_and_outputs() {
    let gh = FakeGitHub::start();
    let (run, root, repo) = new_run();
    write(&root, "README.md", "r");
    let base = commit(&repo, "base");
    write(&root, "capsule.toml", "[capsule]\nnme = \"x\"\n");
    let head = commit(&repo, "a fork's typo");
    let event = json!({ "pull_request": { "number": 3, "base": { "sha": base, "repo": { "full_name": "o/r" } }, "head": { "sha": head, "repo": { "full_name": "someone/r" } } } });
    let out = github(&gh, &run, "plan", &event, READ_ONLY);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("a fork's pull_request token is read-only"), "{}", text(&out));
    assert!(std::fs::read_to_string(&run.summary).unwrap().contains("nothing was planned"));
    assert!(std::fs::read_to_string(&run.output).unwrap().contains("has_changes=false"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_same_repository_plan_that_cannot_read_aws_fails_the_check() {
    let gh = FakeGitHub::start();
    let (run, root, repo) = new_run();
    let (base, head) = two_commits(&root, &repo, &unique("noaws"));
    // Nothing listens on port 9: AWS cannot be reached.
    let env = [("AWS_ENDPOINT_URL", "http://127.0.0.1:9"), ("AWS_MAX_ATTEMPTS", "1")];
    let out = github_with(&gh, &run, &["plan"], &pr_event(5, &base, &head), TOKEN, &env);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("::error title=capsule::AWS could not be read"));
    let ours = plan_comments(&gh, 5, "github-actions[bot]");
    assert!(ours.len() == 1 && ours[0].contains("AWS could not be read, so nothing was planned"), "{ours:?}");
    assert!(!ours[0].contains("Offline plan"), "no offline plan that hides deletes");
    assert_eq!(gh.labels(5), vec!["capsule:plan-error"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_request_that_changes_no_capsule_gets_no_new_comment() {
    testbed();
    let gh = FakeGitHub::start();
    let (run, root, repo) = new_run();
    write(&root, "app/capsule.toml", "[capsule]\nname = \"quiet\"\n[secrets]\nx = {}\n");
    let base = commit(&repo, "base");
    write(&root, "README.md", "docs only");
    let head = commit(&repo, "docs");
    let out = github_plan(&gh, &run, &base, &head, TOKEN);
    assert!(out.status.success(), "{}", text(&out));
    assert!(gh.comments(5).is_empty(), "{:?}", gh.comments(5));
}

/// `capsule plan --detailed-exitcode` with `args` (e.g. `--capsule`, `--env`): 0 when live
/// AWS matches, 2 when not.
fn plan_code(root: &std::path::Path, args: &[&str]) -> Option<i32> {
    let out = Command::new(env!("CARGO_BIN_EXE_capsule"))
        .args(["plan", "--detailed-exitcode"])
        .args(args)
        .arg("--root")
        .arg(root)
        .output()
        .unwrap();
    out.status.code()
}

fn push_event(base: &str, head: &str, message: &str) -> Value {
    json!({ "ref": "refs/heads/main", "before": base, "after": head, "repository": { "full_name": "o/r" }, "head_commit": { "id": head, "message": message } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_on_push_applies_only_changed_capsules_and_comments_on_the_pull_request() {
    testbed();
    let gh = FakeGitHub::start();
    let (run, root, repo) = new_run();
    let (app, other) = (unique("push"), unique("still"));
    let capsule = |name: &str, secrets: &str| format!("[capsule]\nname = \"{name}\"\n[secrets]\n{secrets}");
    write(&root, "app/capsule.toml", &capsule(&app, "a = {}\n"));
    write(&root, "other/capsule.toml", &capsule(&other, "x = {}\n"));
    let base = commit(&repo, "base");
    write(&root, "app/capsule.toml", &capsule(&app, "a = {}\nb = { description = \"new\" }\n"));
    let head = commit(&repo, "a change");
    // The pull request's plan comment first; GitHub then links the merge commit to the
    // pull request only on the second lookup, and the message names no number.
    let out = github(&gh, &run, "plan", &pr_event(7, &base, &head), TOKEN);
    assert!(out.status.success(), "{}", text(&out));
    gh.seed_pull(json!({ "number": 8, "head_sha": head }));
    gh.seed_pull(json!({ "number": 7, "merged": true, "merge_commit_sha": head, "lag": 1 }));

    let push = push_event(&base, &head, "a change");
    let out = github(&gh, &run, "apply", &push, TOKEN);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(plan_code(&root, &["--capsule", &app]), Some(0), "the changed capsule was applied");
    assert_eq!(plan_code(&root, &["--capsule", &other]), Some(2), "the untouched capsule was left alone");

    let marker = format!("<!-- capsule:apply {head} -->");
    let applied: Vec<String> = gh.comments(7).into_iter().map(|c| c.1).filter(|b| b.starts_with(&marker)).collect();
    assert_eq!(applied.len(), 1, "{:?}", gh.comments(7));
    assert!(applied[0].contains("capsule apply: :white_check_mark: applied"), "{}", applied[0]);
    assert!(applied[0].contains(&format!("`{app}`")) && !applied[0].contains(&other));
    assert!(gh.comments(8).is_empty(), "the open pull request with the commit gets nothing");
    let plan = &plan_comments(&gh, 7, "github-actions[bot]")[0];
    assert!(
        plan.contains(":white_check_mark: Merged and applied: [result](https://github.com/o/r/pull/7#issuecomment-"),
        "{plan}"
    );
    let summary = std::fs::read_to_string(&run.summary).unwrap();
    assert!(summary.contains("capsule apply: :white_check_mark: applied"), "{summary}");
    assert!(std::fs::read_to_string(&run.output).unwrap().contains(&format!("capsules=[\"{app}\"]")));

    // The job re-run: still one apply comment for that commit.
    let out = github(&gh, &run, "apply", &push, TOKEN);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(gh.comments(7).iter().filter(|c| c.1.starts_with(&marker)).count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apply_comment_goes_only_to_a_merged_pull_request() {
    testbed();
    let gh = FakeGitHub::start();
    let (run, root, repo) = new_run();
    let name = unique("merged");
    write(&root, "README.md", "r");
    let base = commit(&repo, "base");
    write(&root, "capsule.toml", &format!("[capsule]\nname = \"{name}\"\n[secrets]\na = {{}}\n"));
    let head = commit(&repo, "add it");
    // Only an open pull request contains the commit: no comment anywhere.
    gh.seed_pull(json!({ "number": 4, "head_sha": head }));
    let out = github(&gh, &run, "apply", &push_event(&base, &head, "add it"), TOKEN);
    assert!(out.status.success(), "{}", text(&out));
    assert!(gh.comments(4).is_empty());
    assert!(text(&out).contains("merged by no pull request"), "{}", text(&out));
    // GitHub's index lags for good, but the squash message names the pull request, and
    // GET /pulls/6 confirms it was merged as this commit.
    gh.seed_pull(json!({ "number": 6, "merged": true, "merge_commit_sha": head, "lag": 100 }));
    let out = github(&gh, &run, "apply", &push_event(&base, &head, "Add it (#6)"), TOKEN);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(gh.comments(6).len(), 1, "{}", text(&out));
    assert!(gh.requests().contains(&"GET /repos/o/r/pulls/6".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_apply_stops_and_says_so_on_the_pull_request() {
    testbed();
    let gh = FakeGitHub::start();
    let (run, root, repo) = new_run();
    let name = unique("fail");
    // Two environments in declaration order; the first is locked by someone else, so the
    // run stops there and the second is not applied.
    let body = format!(
        "[capsule]\nname = \"{name}\"\n[secrets]\na = {{}}\n[environments.staging]\n[environments.production]\n"
    );
    write(&root, "README.md", "no capsule yet");
    let base = commit(&repo, "base");
    write(&root, "capsule.toml", &body);
    let head = commit(&repo, "add the capsule");
    gh.seed_pull(json!({ "number": 9, "merged": true, "merge_commit_sha": head }));
    let aws = capsule::aws::Aws::from_env().await;
    let region = aws.region().unwrap();
    let account = aws.account_id(&region).await.unwrap();
    let held = capsule::lock::acquire(&aws, &account, &region, &name, "staging").await.unwrap();

    let out = github(&gh, &run, "apply", &push_event(&base, &head, "Merge pull request #9 from o/feature"), TOKEN);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(&format!("{name}/staging is locked")), "{}", text(&out));
    let comments = gh.comments(9);
    let c = &comments.first().expect("a comment on the pull request").1;
    assert!(c.contains("capsule apply: :x: failed"), "{c}");
    assert!(
        c.contains("is locked") && c.contains(&format!("Not applied after the failure: `{name}` · production")),
        "{c}"
    );
    held.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_gets_an_offline_plan_in_the_summary_when_it_may_not_comment() {
    let gh = FakeGitHub::start();
    let (run, root, repo) = new_run();
    write(&root, "README.md", "r");
    let base = commit(&repo, "base");
    write(&root, "capsule.toml", "[capsule]\nname = \"forked\"\n[secrets]\na = {}\n");
    let head = commit(&repo, "a fork adds a capsule");
    let event = json!({ "pull_request": { "number": 3, "base": { "sha": base, "repo": { "full_name": "o/r" } }, "head": { "sha": head, "repo": { "full_name": "someone/r" } } } });
    let out = github(&gh, &run, "plan", &event, READ_ONLY);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("::warning title=capsule::") && text(&out).contains("HTTP 403"), "{}", text(&out));
    let summary = std::fs::read_to_string(&run.summary).unwrap();
    assert!(summary.contains("`forked`") && summary.contains("AWS was not read"), "{summary}");
    assert_eq!(summary.matches("AWS was not read").count(), 1, "one offline banner: {summary}");
    assert!(std::fs::read_to_string(&run.output).unwrap().contains("has_changes=true"));
    assert!(gh.comments(3).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_out_job_applies_only_its_environment() {
    testbed();
    let gh = FakeGitHub::start();
    let (run, root, repo) = new_run();
    let name = unique("fan");
    write(&root, "README.md", "r");
    let base = commit(&repo, "base");
    write(
        &root,
        "capsule.toml",
        &format!(
            "[capsule]\nname = \"{name}\"\n[secrets]\na = {{}}\n[environments.staging]\n[environments.production]\n"
        ),
    );
    let head = commit(&repo, "add the capsule");
    let push = push_event(&base, &head, "add the capsule");
    let out = github_with(&gh, &run, &["apply", "--capsule", &name, "--env", "staging"], &push, TOKEN, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let code = |env: &str| plan_code(&root, &["--env", env]);
    assert_eq!(code("staging"), Some(0), "staging was applied");
    assert_eq!(code("production"), Some(2), "production is another job's");
    let out = github_with(&gh, &run, &["apply", "--capsule", "nosuch"], &push, TOKEN, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("no capsule named `nosuch`"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_force_push_compares_with_the_parent_of_the_head_commit() {
    testbed();
    let gh = FakeGitHub::start();
    let (run, root, repo) = new_run();
    let name = unique("force");
    write(&root, "README.md", "r");
    commit(&repo, "base");
    write(&root, "capsule.toml", &format!("[capsule]\nname = \"{name}\"\n[secrets]\na = {{}}\n"));
    let head = commit(&repo, "add the capsule");
    let gone = "1234567890123456789012345678901234567890";
    let out = github(&gh, &run, "apply", &push_event(gone, &head, "forced"), TOKEN);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("is not in the clone"), "{}", text(&out));
    assert_eq!(plan_code(&root, &[]), Some(0), "the head commit's change was applied");
}

/// The comment with what changes from run to run (commits, time, digest) redacted.
fn redacted(body: &str) -> String {
    let filters = [
        (r#"head="[0-9a-f]{40}""#, r#"head="[head]""#),
        (r#"digest="[0-9a-f]{16}""#, r#"digest="[digest]""#),
        (r"`[0-9a-f]{7}`", "`[sha]`"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[time]"),
        (r"issuecomment-\d+", "issuecomment-[id]"),
    ];
    filters
        .iter()
        .fold(body.to_string(), |b, (re, to)| regex::Regex::new(re).unwrap().replace_all(&b, *to).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_comment_reads_as_reviewers_want() {
    testbed();
    let gh = FakeGitHub::start();
    let (run, root, repo) = new_run();
    // A fixed name (the snapshot shows it); nothing ever applies this capsule.
    let (base, head) = two_commits(&root, &repo, "snapshot-only");
    assert!(github_plan(&gh, &run, &base, &head, TOKEN).status.success());
    insta::assert_snapshot!("plan_comment", redacted(&plan_comments(&gh, 5, "github-actions[bot]")[0]));
    write(&root, "app/notes.txt", "a newer commit");
    let head2 = commit(&repo, "newer");
    let c = plan_comments(&gh, 5, "github-actions[bot]")[0].clone();
    insta::assert_snapshot!("plan_comment_stale", redacted(&capsule::github::mark_stale(&c, &head2).unwrap()));
}
