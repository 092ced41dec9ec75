//! `capsule github plan` against a local GitHub REST server that speaks the real endpoints
//! and JSON shapes (comments with pagination and `Link`, PATCH, 422 over 65,536 characters,
//! 401 without the token), on a real git repository, planning against the test bed.

mod common;

use common::{commit, text, write};
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

fn github_plan(base_url: &str, run: &Run, base: &str, head: &str, token: &str) -> Output {
    let event = run.dir.path().join("event.json");
    std::fs::write(&event, json!({ "pull_request": { "number": 5, "base": { "sha": base, "repo": { "full_name": "o/r" } }, "head": { "sha": head, "repo": { "full_name": "o/r" } } } }).to_string()).unwrap();
    Command::new(env!("CARGO_BIN_EXE_capsule"))
        .args(["github", "plan", "--root"])
        .arg(run.dir.path().join("repo"))
        .env("GITHUB_API_URL", base_url)
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_TOKEN", token)
        .env("GITHUB_RUN_ID", "42")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_EVENT_PATH", &event)
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
    let dir = tempfile::tempdir().unwrap();
    let run = Run { summary: dir.path().join("summary.md"), output: dir.path().join("output"), dir };
    let root = run.dir.path().join("repo");
    let repo = Repository::init(&root).unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    let run = Run { summary: dir.path().join("summary.md"), output: dir.path().join("output"), dir };
    let root = run.dir.path().join("repo");
    let repo = Repository::init(&root).unwrap();
    write(&root, "capsule.toml", "[capsule]\nname = \"tok\"\n");
    let base = commit(&repo, "base");
    let out = github_plan(&url, &run, &base, &base, "not-the-token");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("HTTP 401"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_errors_become_annotations_and_a_comment() {
    let (url, state) = github_server().await;
    let dir = tempfile::tempdir().unwrap();
    let run = Run { summary: dir.path().join("summary.md"), output: dir.path().join("output"), dir };
    let root = run.dir.path().join("repo");
    let repo = Repository::init(&root).unwrap();
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
