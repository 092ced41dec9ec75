//! `capsule github plan` against a local GitHub REST server that speaks the real endpoints
//! and JSON shapes (comments with pagination and `Link`, PATCH, 422 over 65,536 characters,
//! 401 without the token), on a real git repository, planning against the test bed.

mod common;

use common::{commit, testbed, text, unique, write};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use git2::Repository;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};

const TOKEN: &str = "test-token";

#[derive(Default)]
struct State {
    /// (issue number, id, body)
    comments: Vec<(u64, u64, String)>,
    next_id: u64,
    /// (method, path) of every request.
    requests: Vec<(String, String)>,
    /// (commit sha, pull request number): what `GET /repos/o/r/commits/{sha}/pulls` lists.
    commit_pulls: Vec<(String, u64)>,
    /// Answer writes with 403, as GitHub does for a fork's read-only `pull_request` token.
    read_only: bool,
}

type Shared = Arc<Mutex<State>>;

fn comment_json(base: &str, id: u64, body: &str) -> Value {
    json!({
        "id": id, "node_id": format!("IC_{id}"), "url": format!("{base}/repos/o/r/issues/comments/{id}"),
        "html_url": format!("https://github.com/o/r/pull/5#issuecomment-{id}"), "body": body,
        "user": { "login": "github-actions[bot]", "id": 41898282, "type": "Bot" },
        "created_at": "2026-11-29T00:00:00Z", "updated_at": "2026-11-29T00:00:00Z", "author_association": "NONE"
    })
}

/// A pull request as the commits/{sha}/pulls endpoint returns it (the fields GitHub sends
/// that a client may read; capsule reads number, merged_at and merge_commit_sha).
fn pull_json(base: &str, number: u64, merge_sha: &str) -> Value {
    json!({
        "url": format!("{base}/repos/o/r/pulls/{number}"), "id": 1000 + number, "number": number,
        "html_url": format!("https://github.com/o/r/pull/{number}"), "state": "closed", "locked": false,
        "title": "Deploy a change", "user": { "login": "dev", "id": 1, "type": "User" },
        "created_at": "2026-11-28T00:00:00Z", "updated_at": "2026-11-29T00:00:00Z",
        "closed_at": "2026-11-29T00:00:00Z", "merged_at": "2026-11-29T00:00:00Z",
        "merge_commit_sha": merge_sha, "draft": false,
        "head": { "ref": "feature", "sha": "feedface", "repo": { "full_name": "o/r" } },
        "base": { "ref": "main", "sha": "cafebabe", "repo": { "full_name": "o/r" } },
        "author_association": "MEMBER"
    })
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn too_long() -> Response<Full<Bytes>> {
    reply(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({ "message": "Validation Failed", "errors": [{ "resource": "IssueComment", "code": "custom", "field": "body", "message": "body is too long (maximum is 65536 characters)" }] }),
    )
}

async fn handle(req: Request<Incoming>, state: Shared, base: String) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    state.lock().unwrap().requests.push((method.clone(), path.clone()));
    if req.headers().get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {TOKEN}")) {
        return Ok(reply(
            StatusCode::UNAUTHORIZED,
            json!({ "message": "Requires authentication", "documentation_url": "https://docs.github.com/rest" }),
        ));
    }
    let body: Value =
        serde_json::from_slice(&req.into_body().collect().await.unwrap().to_bytes()).unwrap_or(Value::Null);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut s = state.lock().unwrap();
    if s.read_only && method != "GET" {
        return Ok(reply(
            StatusCode::FORBIDDEN,
            json!({ "message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest/issues/comments#create-an-issue-comment", "status": "403" }),
        ));
    }
    Ok(match (method.as_str(), parts.as_slice()) {
        ("GET", ["repos", "o", "r", "issues", n, "comments"]) => {
            let n: u64 = n.parse().unwrap();
            let param = |k: &str| {
                query.split('&').find_map(|kv| kv.strip_prefix(&format!("{k}="))).and_then(|v| v.parse::<usize>().ok())
            };
            let per_page = param("per_page").unwrap_or(30).min(100);
            let page = param("page").unwrap_or(1);
            let all: Vec<&(u64, u64, String)> = s.comments.iter().filter(|c| c.0 == n).collect();
            let pages = all.len().div_ceil(per_page).max(1);
            let items: Vec<Value> =
                all.iter().skip((page - 1) * per_page).take(per_page).map(|c| comment_json(&base, c.1, &c.2)).collect();
            let mut resp = reply(StatusCode::OK, Value::Array(items));
            if page < pages {
                let link = format!(
                    "<{base}{path}?per_page={per_page}&page={}>; rel=\"next\", <{base}{path}?per_page={per_page}&page={pages}>; rel=\"last\"",
                    page + 1
                );
                resp.headers_mut().insert("link", link.parse().unwrap());
            }
            resp
        }
        ("POST", ["repos", "o", "r", "issues", n, "comments"]) => {
            let text = body["body"].as_str().unwrap_or_default().to_string();
            if text.chars().count() > 65_536 {
                too_long()
            } else {
                s.next_id += 1;
                let id = s.next_id;
                s.comments.push((n.parse().unwrap(), id, text.clone()));
                reply(StatusCode::CREATED, comment_json(&base, id, &text))
            }
        }
        ("PATCH", ["repos", "o", "r", "issues", "comments", id]) => {
            let id: u64 = id.parse().unwrap();
            let text = body["body"].as_str().unwrap_or_default().to_string();
            if text.chars().count() > 65_536 {
                too_long()
            } else if let Some(c) = s.comments.iter_mut().find(|c| c.1 == id) {
                c.2 = text.clone();
                reply(StatusCode::OK, comment_json(&base, id, &text))
            } else {
                reply(StatusCode::NOT_FOUND, json!({ "message": "Not Found" }))
            }
        }
        ("GET", ["repos", "o", "r", "commits", sha, "pulls"]) => {
            let pulls: Vec<Value> =
                s.commit_pulls.iter().filter(|(c, _)| c == sha).map(|(c, n)| pull_json(&base, *n, c)).collect();
            reply(StatusCode::OK, Value::Array(pulls))
        }
        _ => reply(StatusCode::NOT_FOUND, json!({ "message": "Not Found" })),
    })
}

/// Starts the server on a free port; returns its base URL and state.
async fn github_server() -> (String, Shared) {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state: Shared = Arc::default();
    let (st, b) = (state.clone(), base.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let (st, b) = (st.clone(), b.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| handle(req, st.clone(), b.clone()));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (base, state)
}

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

fn github_plan(base_url: &str, run: &Run, base: &str, head: &str, token: &str) -> Output {
    let event = json!({ "pull_request": { "number": 5, "base": { "sha": base, "repo": { "full_name": "o/r" } }, "head": { "sha": head, "repo": { "full_name": "o/r" } } } });
    github(base_url, run, "plan", &event, token)
}

/// Runs `capsule github COMMAND` as GitHub Actions would, with `event` as the event file.
fn github(base_url: &str, run: &Run, command: &str, event: &Value, token: &str) -> Output {
    github_with(base_url, run, &[command], event, token)
}

fn github_with(base_url: &str, run: &Run, args: &[&str], event: &Value, token: &str) -> Output {
    let path = run.dir.path().join("event.json");
    std::fs::write(&path, event.to_string()).unwrap();
    Command::new(env!("CARGO_BIN_EXE_capsule"))
        .arg("github")
        .args(args)
        .arg("--root")
        .arg(run.dir.path().join("repo"))
        .env("GITHUB_API_URL", base_url)
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_TOKEN", token)
        .env("GITHUB_RUN_ID", "42")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_EVENT_PATH", &path)
        .env("GITHUB_STEP_SUMMARY", &run.summary)
        .env("GITHUB_OUTPUT", &run.output)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_comment_kept_up_to_date_across_runs() {
    assert!(std::env::var("AWS_ENDPOINT_URL").is_ok(), "needs the test bed: eval \"$(scripts/testbed up)\"");
    let (url, state) = github_server().await;
    // 150 other comments first: capsule's comment lands on page 2 and must be found there.
    {
        let mut s = state.lock().unwrap();
        for i in 0..150 {
            s.next_id += 1;
            let id = s.next_id;
            s.comments.push((5, id, format!("a review comment {i}")));
        }
    }
    let (run, root, repo) = new_run();
    let name = format!(
        "gh{}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() % 100_000
    );
    write(
        &root,
        "app/capsule.toml",
        &format!("[capsule]\nname = \"{name}\"\n[secrets]\nstripe = {{ description = \"key\" }}\n"),
    );
    write(&root, "other/capsule.toml", "[capsule]\nname = \"untouched\"\n[secrets]\nx = {}\n");
    write(&root, "README.md", "r");
    let base = commit(&repo, "base");
    write(
        &root,
        "app/capsule.toml",
        &format!("[capsule]\nname = \"{name}\"\n[secrets]\nstripe = {{ description = \"key\" }}\ntoken = {{}}\n"),
    );
    let head = commit(&repo, "add a secret");

    let out = github_plan(&url, &run, &base, &head, TOKEN);
    assert!(out.status.success(), "{}", text(&out));
    let marked = |s: &State| s.comments.iter().filter(|c| c.2.contains("<!-- capsule:plan -->")).count();
    {
        let s = state.lock().unwrap();
        assert_eq!(marked(&s), 1);
        let body = &s.comments.iter().find(|c| c.2.contains("<!-- capsule:plan -->")).unwrap().2;
        assert!(body.contains(&format!("`{name}` · production")), "{body}");
        assert!(!body.contains("untouched"), "only changed capsules are planned");
        assert!(body.contains("https://github.com/o/r/actions/runs/42"));
    }
    let outputs = std::fs::read_to_string(&run.output).unwrap();
    assert!(
        outputs.contains("has_changes=true\n")
            && outputs.contains("destroy=false\n")
            && outputs.contains(&format!("capsules=[\"{name}\"]\n")),
        "{outputs}"
    );
    assert!(std::fs::read_to_string(&run.summary).unwrap().contains("## capsule plan"));

    // Same plan again: found across pages, not edited.
    let before = state.lock().unwrap().requests.len();
    let out = github_plan(&url, &run, &base, &head, TOKEN);
    assert!(out.status.success(), "{}", text(&out));
    {
        let s = state.lock().unwrap();
        let new: Vec<&(String, String)> = s.requests[before..].iter().collect();
        assert!(new.iter().all(|(m, _)| m == "GET"), "no POST or PATCH when unchanged: {new:?}");
        assert!(new.len() >= 2, "both pages were read");
        assert_eq!(marked(&s), 1);
    }

    // A new commit changes the plan: the same comment is edited.
    write(
        &root,
        "app/capsule.toml",
        &format!("[capsule]\nname = \"{name}\"\n[secrets]\nstripe = {{ description = \"key\" }}\n"),
    );
    write(&root, "app/notes.txt", "the capsule's directory changed, so it is planned");
    let head2 = commit(&repo, "drop the new secret again");
    let before = state.lock().unwrap().requests.len();
    let out = github_plan(&url, &run, &base, &head2, TOKEN);
    assert!(out.status.success(), "{}", text(&out));
    let s = state.lock().unwrap();
    let writes: Vec<&(String, String)> = s.requests[before..].iter().filter(|(m, _)| m != "GET").collect();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].0, "PATCH");
    assert_eq!(marked(&s), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_fails_with_the_api_error() {
    let (url, _state) = github_server().await;
    let (run, root, repo) = new_run();
    write(&root, "capsule.toml", "[capsule]\nname = \"tok\"\n");
    let base = commit(&repo, "base");
    let out = github_plan(&url, &run, &base, &base, "not-the-token");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("HTTP 401"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_errors_become_annotations_and_a_comment() {
    let (url, state) = github_server().await;
    let (run, root, repo) = new_run();
    write(&root, "svc/capsule.toml", "[capsule]\nname = \"bad\"\n[services.api]\nimage = \"x\"\nprot = 80\n");
    let base = commit(&repo, "base");
    let out = github_plan(&url, &run, &base, &base, TOKEN);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("::error file=")
            && stdout
                .contains("svc/capsule.toml,line=5,col=1::unknown key `prot` in [services.api] (did you mean `port`?)"),
        "{stdout}"
    );
    let s = state.lock().unwrap();
    assert_eq!(s.comments.len(), 1);
    assert!(s.comments[0].2.contains("nothing was planned"));
    assert_eq!(std::fs::read_to_string(&run.output).unwrap(), "has_changes=false\ndestroy=false\ncapsules=[]\n");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_on_push_applies_only_changed_capsules_and_comments_on_the_pull_request() {
    testbed();
    let (url, state) = github_server().await;
    let (run, root, repo) = new_run();
    let (app, other) = (unique("push"), unique("still"));
    let capsule = |name: &str, secrets: &str| format!("[capsule]\nname = \"{name}\"\n[secrets]\n{secrets}");
    write(&root, "app/capsule.toml", &capsule(&app, "a = {}\n"));
    write(&root, "other/capsule.toml", &capsule(&other, "x = {}\n"));
    let base = commit(&repo, "base");
    write(&root, "app/capsule.toml", &capsule(&app, "a = {}\nb = { description = \"new\" }\n"));
    let head = commit(&repo, "merge pull request #7");
    state.lock().unwrap().commit_pulls.push((head.clone(), 7));

    let push = json!({ "ref": "refs/heads/main", "before": base, "after": head, "repository": { "full_name": "o/r" } });
    let out = github(&url, &run, "apply", &push, TOKEN);
    assert!(out.status.success(), "{}", text(&out));
    // Applied in AWS: the changed capsule plans no change any more; the untouched one was
    // not applied (it would still be created).
    assert_eq!(plan_code(&root, &["--capsule", &app]), Some(0), "the changed capsule was applied");
    assert_eq!(plan_code(&root, &["--capsule", &other]), Some(2), "the untouched capsule was left alone");

    let marker = format!("<!-- capsule:apply {head} -->");
    {
        let s = state.lock().unwrap();
        let comments: Vec<&(u64, u64, String)> = s.comments.iter().filter(|c| c.2.contains(&marker)).collect();
        assert_eq!(comments.len(), 1);
        assert_eq!(comments[0].0, 7, "the comment goes to the pull request the commit came from");
        let body = &comments[0].2;
        assert!(body.contains("capsule apply: :white_check_mark: applied"), "{body}");
        assert!(body.contains(&format!("`{app}` · production")) && !body.contains(&other), "{body}");
        assert!(s.requests.iter().any(|(m, p)| m == "GET" && p == &format!("/repos/o/r/commits/{head}/pulls")));
    }
    let summary = std::fs::read_to_string(&run.summary).unwrap();
    assert!(summary.contains("## capsule apply: :white_check_mark: applied"), "{summary}");
    let outputs = std::fs::read_to_string(&run.output).unwrap();
    assert!(outputs.contains(&format!("capsules=[\"{app}\"]")), "{outputs}");

    // The job re-run: still one apply comment for that commit.
    let out = github(&url, &run, "apply", &push, TOKEN);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(state.lock().unwrap().comments.iter().filter(|c| c.2.contains(&marker)).count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_apply_stops_and_says_so_on_the_pull_request() {
    testbed();
    let (url, state) = github_server().await;
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
    state.lock().unwrap().commit_pulls.push((head.clone(), 9));
    let aws = capsule::aws::Aws::from_env().await;
    let region = aws.region().unwrap();
    let account = aws.account_id(&region).await.unwrap();
    let held = capsule::lock::acquire(&aws, &account, &region, &name, "staging").await.unwrap();

    let push = json!({ "before": base, "after": head });
    let out = github(&url, &run, "apply", &push, TOKEN);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(&format!("{name}/staging is locked")), "{}", text(&out));
    {
        let s = state.lock().unwrap();
        let c = s.comments.iter().find(|c| c.0 == 9).expect("a comment on the pull request");
        assert!(c.2.contains("capsule apply: :x: failed"), "{}", c.2);
        assert!(
            c.2.contains("is locked") && c.2.contains(&format!("Not applied after the failure: `{name}` · production")),
            "{}",
            c.2
        );
    }
    held.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_gets_an_offline_plan_in_the_summary_when_it_may_not_comment() {
    let (url, state) = github_server().await;
    state.lock().unwrap().read_only = true;
    let (run, root, repo) = new_run();
    write(&root, "README.md", "r");
    let base = commit(&repo, "base");
    write(&root, "capsule.toml", "[capsule]\nname = \"forked\"\n[secrets]\na = {}\n");
    let head = commit(&repo, "a fork adds a capsule");
    let event = json!({ "pull_request": { "number": 3, "base": { "sha": base, "repo": { "full_name": "o/r" } }, "head": { "sha": head, "repo": { "full_name": "someone/r" } } } });
    let out = github(&url, &run, "plan", &event, TOKEN);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("HTTP 403"), "{}", text(&out));
    let summary = std::fs::read_to_string(&run.summary).unwrap();
    assert!(summary.contains("Offline plan") && summary.contains("`forked` · production"), "{summary}");
    assert!(std::fs::read_to_string(&run.output).unwrap().contains("has_changes=true"));
    assert!(state.lock().unwrap().comments.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_out_job_applies_only_its_environment() {
    testbed();
    let (url, _state) = github_server().await;
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
    let push = json!({ "before": base, "after": head });
    let out = github_with(&url, &run, &["apply", "--capsule", &name, "--env", "staging"], &push, TOKEN);
    assert!(out.status.success(), "{}", text(&out));
    let code = |env: &str| plan_code(&root, &["--env", env]);
    assert_eq!(code("staging"), Some(0), "staging was applied");
    assert_eq!(code("production"), Some(2), "production is another job's");
    let out = github_with(&url, &run, &["apply", "--capsule", "nosuch"], &push, TOKEN);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("no capsule named `nosuch`"), "{}", text(&out));
}
