//! The GitHub side of capsule (DESIGN section 6): the pull request's one plan comment, the
//! step summary and the step outputs. Speaks the REST API at `GITHUB_API_URL`, so GitHub
//! Enterprise and the tests' local server work the same. Never executes anything from the
//! repository.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::plan::{Action, Plan};
use crate::render;

/// The hidden marker that identifies capsule's plan comment on a pull request.
pub const MARKER: &str = "<!-- capsule:plan -->";

/// The hidden marker of the apply comment for one pushed commit (one per commit, so a
/// re-run of the same apply updates its comment instead of adding another).
pub fn apply_marker(sha: &str) -> String {
    format!("<!-- capsule:apply {sha} -->")
}
/// GitHub rejects comment bodies longer than this.
pub const COMMENT_LIMIT: usize = 65_536;
/// GitHub shows at most this much of a step summary.
pub const SUMMARY_LIMIT: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("{0} is not set: capsule github runs inside GitHub Actions")]
    Missing(&'static str),
    #[error("GitHub API {method} {path}: HTTP {status}: {message}")]
    Api { method: &'static str, path: String, status: u16, message: String },
    #[error("GitHub API: {0}")]
    Http(#[from] reqwest::Error),
    #[error("reading the event: {0}")]
    Event(String),
}

/// The standard variables of a GitHub Actions run.
#[derive(Debug, Clone)]
pub struct Env {
    pub api_url: String,
    pub server_url: String,
    pub repository: String,
    pub token: Option<String>,
    pub run_id: Option<String>,
    pub event_path: Option<PathBuf>,
    pub step_summary: Option<PathBuf>,
    pub output: Option<PathBuf>,
}

impl Env {
    pub fn from_process() -> Result<Env, GitHubError> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Ok(Env {
            api_url: var("GITHUB_API_URL")
                .unwrap_or_else(|| "https://api.github.com".into())
                .trim_end_matches('/')
                .to_string(),
            server_url: var("GITHUB_SERVER_URL")
                .unwrap_or_else(|| "https://github.com".into())
                .trim_end_matches('/')
                .to_string(),
            repository: var("GITHUB_REPOSITORY").ok_or(GitHubError::Missing("GITHUB_REPOSITORY"))?,
            token: var("GITHUB_TOKEN"),
            run_id: var("GITHUB_RUN_ID"),
            event_path: var("GITHUB_EVENT_PATH").map(PathBuf::from),
            step_summary: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            output: var("GITHUB_OUTPUT").map(PathBuf::from),
        })
    }

    pub fn run_url(&self) -> Option<String> {
        self.run_id.as_ref().map(|id| format!("{}/{}/actions/runs/{id}", self.server_url, self.repository))
    }
}

/// What `github plan` needs of a `pull_request` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    pub base_sha: String,
    pub head_sha: String,
    /// The head branch lives in another repository: no credentials, offline plan.
    pub from_fork: bool,
}

pub fn pull_request(event: &serde_json::Value) -> Result<PullRequest, GitHubError> {
    let pr = event.get("pull_request").ok_or_else(|| GitHubError::Event("not a pull_request event".into()))?;
    let s = |p: &str| pr.pointer(p).and_then(|v| v.as_str()).map(str::to_string);
    let number = pr
        .get("number")
        .and_then(|n| n.as_u64())
        .ok_or_else(|| GitHubError::Event("pull_request.number missing".into()))?;
    let base_sha = s("/base/sha").ok_or_else(|| GitHubError::Event("pull_request.base.sha missing".into()))?;
    let head_sha = s("/head/sha").ok_or_else(|| GitHubError::Event("pull_request.head.sha missing".into()))?;
    let from_fork = s("/head/repo/full_name").is_some_and(|h| Some(h) != s("/base/repo/full_name"));
    Ok(PullRequest { number, base_sha, head_sha, from_fork })
}

/// What `github apply` needs of a `push` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// The commit before the push; `None` for a new branch (all zeros), when every
    /// capsule counts as changed.
    pub before: Option<String>,
    pub after: String,
}

pub fn push(event: &serde_json::Value) -> Result<Push, GitHubError> {
    let s = |k: &str| event.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let after = s("after").ok_or_else(|| GitHubError::Event("not a push event: `after` missing".into()))?;
    let before = s("before").filter(|b| !b.is_empty() && b.chars().any(|c| c != '0'));
    Ok(Push { before, after })
}

/// A pull request as `GET /repos/{o}/{r}/commits/{sha}/pulls` lists it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PullSummary {
    pub number: u64,
    #[serde(default)]
    pub merged_at: Option<String>,
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Comment {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
}

/// What happened to the plan comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentOutcome {
    Created,
    Updated,
    Unchanged,
}

/// A small client for the few REST endpoints capsule uses.
pub struct GitHub {
    api: String,
    repository: String,
    token: String,
    http: reqwest::Client,
}

impl GitHub {
    pub fn new(env: &Env) -> Result<GitHub, GitHubError> {
        let token = env.token.clone().ok_or(GitHubError::Missing("GITHUB_TOKEN"))?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("capsule/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(60))
            .build()?;
        Ok(GitHub { api: env.api_url.clone(), repository: env.repository.clone(), token, http })
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .bearer_auth(&self.token)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
    }

    async fn check(
        method: &'static str,
        path: &str,
        resp: reqwest::Response,
    ) -> Result<reqwest::Response, GitHubError> {
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let message = resp.text().await.unwrap_or_default();
        Err(GitHubError::Api { method, path: path.to_string(), status, message: message.chars().take(300).collect() })
    }

    /// Every comment of an issue or pull request, following `Link: rel="next"`.
    pub async fn comments(&self, number: u64) -> Result<Vec<Comment>, GitHubError> {
        let path = format!("/repos/{}/issues/{number}/comments", self.repository);
        let mut url = Some(format!("{}{path}?per_page=100", self.api));
        let mut out = Vec::new();
        while let Some(u) = url.take() {
            let resp = Self::check("GET", &path, self.request(reqwest::Method::GET, &u).send().await?).await?;
            url = next_link(resp.headers().get("link").and_then(|v| v.to_str().ok()));
            out.extend(resp.json::<Vec<Comment>>().await?);
        }
        Ok(out)
    }

    /// The pull requests a commit belongs to; the one it was merged by comes first.
    pub async fn pulls_for_commit(&self, sha: &str) -> Result<Vec<PullSummary>, GitHubError> {
        let path = format!("/repos/{}/commits/{sha}/pulls", self.repository);
        let resp = self.request(reqwest::Method::GET, &format!("{}{path}?per_page=100", self.api)).send().await?;
        let mut pulls = Self::check("GET", &path, resp).await?.json::<Vec<PullSummary>>().await?;
        pulls.sort_by_key(|p| (p.merge_commit_sha.as_deref() != Some(sha), p.merged_at.is_none()));
        Ok(pulls)
    }

    /// Keeps exactly one comment carrying `marker` with `body` (which contains the marker):
    /// creates it, updates it, or leaves it alone when it already says the same.
    pub async fn upsert_comment(&self, number: u64, marker: &str, body: &str) -> Result<CommentOutcome, GitHubError> {
        let existing =
            self.comments(number).await?.into_iter().find(|c| c.body.as_deref().is_some_and(|b| b.contains(marker)));
        let payload = serde_json::json!({ "body": body });
        match existing {
            Some(c) if c.body.as_deref() == Some(body) => Ok(CommentOutcome::Unchanged),
            Some(c) => {
                let path = format!("/repos/{}/issues/comments/{}", self.repository, c.id);
                let resp =
                    self.request(reqwest::Method::PATCH, &format!("{}{path}", self.api)).json(&payload).send().await?;
                Self::check("PATCH", &path, resp).await?;
                Ok(CommentOutcome::Updated)
            }
            None => {
                let path = format!("/repos/{}/issues/{number}/comments", self.repository);
                let resp =
                    self.request(reqwest::Method::POST, &format!("{}{path}", self.api)).json(&payload).send().await?;
                Self::check("POST", &path, resp).await?;
                Ok(CommentOutcome::Created)
            }
        }
    }
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(header: Option<&str>) -> Option<String> {
    header?.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == "rel=\"next\"")
            .then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_string())
    })
}

/// The pull-request comment for `plan` (or an apply document), headed by `marker`: the
/// full Markdown when it fits GitHub's limit, else per capsule its summary and destructive
/// changes, pointing to the step summary.
pub fn comment_body(plan: &Plan, marker: &str, run_url: Option<&str>, note: Option<&str>) -> String {
    let mut head = format!("{marker}\n");
    if let Some(n) = note {
        head.push_str(&format!("> [!NOTE]\n> {n}\n\n"));
    }
    let full = format!("{head}{}", render::markdown(plan, run_url));
    if full.len() < COMMENT_LIMIT {
        return full;
    }
    let (title, what) = match plan.ok {
        None => ("capsule plan".to_string(), "plan"),
        Some(ok) => {
            (format!("capsule apply: {}", if ok { ":white_check_mark: applied" } else { ":x: failed" }), "result")
        }
    };
    let mut short = format!(
        "{head}## {title}\n\nThe full {what} is too long for a comment: it is in the [run's summary]({}).\n\n",
        run_url.unwrap_or("#")
    );
    for c in &plan.capsules {
        let destructive: Vec<&str> = c
            .changes
            .iter()
            .filter(|ch| ch.action == Action::Delete || ch.action == Action::Replace)
            .map(|ch| ch.address.as_str())
            .collect();
        short.push_str(&format!("- `{}` · {}: {}", c.capsule, c.environment, c.summary().line()));
        if !destructive.is_empty() {
            short.push_str(&format!(" **destroys or replaces {}**", destructive.len()));
        }
        short.push('\n');
    }
    if plan.has_destructive() {
        short.push_str("\n> [!WARNING]\n> This plan destroys or replaces resources: see the full plan.\n");
    }
    if short.len() >= COMMENT_LIMIT {
        let cut = short.char_indices().map(|(i, _)| i).take_while(|i| *i < COMMENT_LIMIT - 200).last().unwrap_or(0);
        short.truncate(cut);
        short.push_str("\n\n… (more capsules in the run's summary)\n");
    }
    short
}

/// The step summary: the full Markdown, cut at GitHub's 1 MiB.
pub fn step_summary(plan: &Plan, run_url: Option<&str>) -> String {
    let mut md = render::markdown(plan, run_url);
    if md.len() >= SUMMARY_LIMIT {
        let cut = md.char_indices().map(|(i, _)| i).take_while(|i| *i < SUMMARY_LIMIT - 200).last().unwrap_or(0);
        md.truncate(cut);
        md.push_str("\n\n… (cut at GitHub's 1 MiB summary limit; `capsule plan --format json` has all of it)\n");
    }
    md
}

/// `has_changes`, `destroy` and `capsules` for `GITHUB_OUTPUT`.
pub fn outputs(plan: &Plan) -> String {
    let mut names: Vec<&str> = plan.capsules.iter().map(|c| c.capsule.as_str()).collect();
    names.dedup();
    format!(
        "has_changes={}\ndestroy={}\ncapsules={}\n",
        plan.has_changes(),
        plan.has_destructive(),
        serde_json::to_string(&names).unwrap_or_else(|_| "[]".into())
    )
}

/// A configuration error as a workflow annotation on the file and line.
pub fn annotation(d: &crate::config::Diagnostic) -> String {
    let esc = |s: &str| s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    let msg = match &d.hint {
        Some(h) => format!("{} ({h})", d.message),
        None => d.message.clone(),
    };
    format!("::error file={},line={},col={}::{}", d.file.display(), d.line, d.column, esc(&msg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{AttributeChange, CapsulePlan, Change};

    #[test]
    fn next_link_follows_rel_next_only() {
        let h = r#"<https://api.github.com/repos/o/r/issues/1/comments?page=2>; rel="next", <https://api.github.com/repos/o/r/issues/1/comments?page=5>; rel="last""#;
        assert_eq!(next_link(Some(h)).as_deref(), Some("https://api.github.com/repos/o/r/issues/1/comments?page=2"));
        assert_eq!(next_link(Some(r#"<https://x/?page=1>; rel="prev""#)), None);
        assert_eq!(next_link(None), None);
    }

    fn big_plan(resources: usize) -> Plan {
        let changes = (0..resources)
            .map(|i| Change {
                address: format!("big.production.secret.s{i}"),
                kind: "secret".into(),
                action: if i % 100 == 0 { Action::Delete } else { Action::Update },
                reason: None,
                attributes: vec![AttributeChange {
                    path: "description".into(),
                    before: "old value".into(),
                    after: "a new value".into(),
                    forces_replacement: false,
                    impact: None,
                }],
                stateful: true,
                outcome: None,
                error: None,
            })
            .collect();
        let c = CapsulePlan {
            capsule: "big".into(),
            environment: "production".into(),
            region: "us-east-1".into(),
            changes,
            artifacts: vec![],
            errors: vec![],
            notes: vec![],
        };
        Plan::new(vec![c], false)
    }

    #[test]
    fn a_3000_resource_plan_stays_under_the_comment_limit() {
        let plan = big_plan(3000);
        assert!(render::markdown(&plan, None).len() > COMMENT_LIMIT, "the test plan must be too big for a comment");
        let body = comment_body(&plan, MARKER, Some("https://github.com/o/r/actions/runs/9"), None);
        assert!(body.len() < COMMENT_LIMIT, "{}", body.len());
        assert!(body.starts_with(MARKER));
        assert!(body.contains("run's summary](https://github.com/o/r/actions/runs/9)"));
        assert!(body.contains("destroys or replaces 30"));
        assert!(step_summary(&plan, None).len() < SUMMARY_LIMIT);
    }

    #[test]
    fn small_plans_are_commented_in_full() {
        let plan = big_plan(3);
        let body = comment_body(&plan, MARKER, None, Some("Offline plan"));
        assert!(body.contains("<details>") && body.contains("> [!NOTE]\n> Offline plan"));
        assert_eq!(outputs(&plan), "has_changes=true\ndestroy=true\ncapsules=[\"big\"]\n");
    }

    #[test]
    fn events_tell_forks_apart() {
        let ev = serde_json::json!({ "pull_request": { "number": 7, "base": { "sha": "b", "repo": { "full_name": "o/r" } }, "head": { "sha": "h", "repo": { "full_name": "someone/r" } } } });
        assert_eq!(
            pull_request(&ev).unwrap(),
            PullRequest { number: 7, base_sha: "b".into(), head_sha: "h".into(), from_fork: true }
        );
        assert!(pull_request(&serde_json::json!({ "push": {} })).is_err());
    }

    #[test]
    fn push_events_treat_a_new_branch_as_everything_changed() {
        let p = push(&serde_json::json!({ "before": "a1", "after": "b2" })).unwrap();
        assert_eq!(p, Push { before: Some("a1".into()), after: "b2".into() });
        let zeros = "0".repeat(40);
        assert_eq!(push(&serde_json::json!({ "before": zeros, "after": "b2" })).unwrap().before, None);
        assert!(push(&serde_json::json!({ "pull_request": {} })).is_err());
    }
}
