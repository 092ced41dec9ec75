//! capsule's GitHub REST transport: octocrab for the connection, authentication, base URL
//! and headers; capsule's own bounded retries (backoff for 5xx, `retry-after` and
//! `x-ratelimit-reset` for rate limits), since octocrab's retry repeats POSTs at once.
//! Turns answers into `Reply` or `GitHubError`; knows nothing of comments or plans.

use std::time::{Duration, Instant};

use http::Method;
use serde::de::DeserializeOwned;

use super::{Env, GitHubError};

/// One HTTP answer, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// GitHub's `message` field of an error body, else the start of the body.
    pub fn message(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
            .unwrap_or_else(|| self.body.chars().take(300).collect())
    }

    pub fn json<T: DeserializeOwned>(&self, method: &Method, path: &str) -> Result<T, GitHubError> {
        serde_json::from_str(&self.body).map_err(|e| GitHubError::Transport {
            method: method.to_string(),
            path: path.to_string(),
            message: format!("unexpected answer: {e}"),
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `rel="next"` URL of the `Link` header.
    pub fn next_link(&self) -> Option<String> {
        next_link(self.header("link"))
    }
}

/// The GitHub REST API of one repository, with capsule's retry budget.
pub struct GitHub {
    octo: octocrab::Octocrab,
    graphql: octocrab::Octocrab,
    pub(super) graphql_url: String,
    pub(super) repository: String,
    budget: Duration,
    pub(super) author: tokio::sync::OnceCell<super::sticky::Author>,
}

fn build(base: &str, token: &str) -> Result<octocrab::Octocrab, GitHubError> {
    let setup = |e: octocrab::Error| GitHubError::Setup(e.to_string());
    octocrab::Octocrab::builder()
        .base_uri(base)
        .map_err(setup)?
        .personal_token(token.to_string())
        .set_connect_timeout(Some(Duration::from_secs(10)))
        .set_read_timeout(Some(Duration::from_secs(60)))
        .build()
        .map_err(setup)
}

impl GitHub {
    pub fn new(env: &Env) -> Result<GitHub, GitHubError> {
        let token = env.token.clone().ok_or(GitHubError::Missing("GITHUB_TOKEN"))?;
        let budget = std::env::var("CAPSULE_GITHUB_RETRY_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(120);
        Ok(GitHub {
            octo: build(&env.api_url, &token)?,
            graphql: build(&env.graphql_url, &token)?,
            graphql_url: env.graphql_url.clone(),
            repository: env.repository.clone(),
            budget: Duration::from_secs(budget),
            author: tokio::sync::OnceCell::new(),
        })
    }

    /// `/repos/{owner}/{repo}` followed by `rest`.
    pub fn repo_path(&self, rest: &str) -> String {
        format!("/repos/{}{rest}", self.repository)
    }

    /// One request, no retry: `route` is a path under the API base or a URL GitHub gave
    /// (a `Link` next page).
    pub async fn once(
        &self,
        method: &Method,
        route: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, GitHubError> {
        self.send(&self.octo, method, route, body).await
    }

    /// A GraphQL query, sent once (the answer may be any status: callers decide).
    pub async fn graphql(&self, body: &serde_json::Value) -> Result<Reply, GitHubError> {
        let url = self.graphql_url.clone();
        self.send(&self.graphql, &Method::POST, &url, Some(body)).await
    }

    async fn send(
        &self,
        octo: &octocrab::Octocrab,
        method: &Method,
        route: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, GitHubError> {
        let transport = |e: octocrab::Error| GitHubError::Transport {
            method: method.to_string(),
            path: strip_query(route),
            message: e.to_string(),
        };
        let resp = match *method {
            Method::GET => octo._get(route).await,
            Method::POST => octo._post(route, body).await,
            Method::PATCH => octo._patch(route, body).await,
            Method::DELETE => octo._delete(route, body).await,
            _ => unreachable!("capsule sends GET, POST, PATCH and DELETE only"),
        }
        .map_err(transport)?;
        let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
        let body = octo.body_to_string(resp).await.map_err(transport)?;
        let reply = Reply { status, headers, body };
        if let Some(sunset) = reply.header("deprecation") {
            eprintln!("::warning title=capsule::GitHub deprecates this API version ({sunset}): {method} {route}");
        }
        Ok(reply)
    }

    /// A request that is safe to repeat (GET, PATCH, DELETE), retried within the budget;
    /// any answer but 2xx is an error.
    pub async fn request(
        &self,
        method: Method,
        route: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, GitHubError> {
        let mut retry = self.retrier();
        loop {
            let outcome = self.once(&method, route, body).await;
            match retry.verdict(&method, route, outcome) {
                Verdict::Done(r) => return r,
                Verdict::Wait(w) => tokio::time::sleep(w).await,
            }
        }
    }

    /// A retry budget for one logical call that starts now.
    pub fn retrier(&self) -> Retrier {
        Retrier { deadline: Instant::now() + self.budget, attempt: 0, budget: self.budget }
    }
}

/// What to do after one attempt.
pub enum Verdict {
    Done(Result<Reply, GitHubError>),
    Wait(Duration),
}

/// Counts the attempts of one logical call and decides between giving up and waiting.
pub struct Retrier {
    deadline: Instant,
    attempt: u32,
    budget: Duration,
}

impl Retrier {
    pub fn verdict(&mut self, method: &Method, route: &str, outcome: Result<Reply, GitHubError>) -> Verdict {
        self.attempt += 1;
        let (wait, err) = match outcome {
            Ok(r) if r.ok() => return Verdict::Done(Ok(r)),
            Ok(r) => (retry_wait(&r, self.attempt), GitHubError::api(method, route, &r)),
            Err(e) => (Some(backoff(self.attempt)), e),
        };
        let Some(wait) = wait else { return Verdict::Done(Err(err)) };
        if Instant::now() + wait > self.deadline {
            let why = format!(
                "{err} (gave up after {} attempt(s): the next try was due in {} s, beyond capsule's {} s retry budget, CAPSULE_GITHUB_RETRY_SECONDS)",
                self.attempt,
                wait.as_secs(),
                self.budget.as_secs()
            );
            return Verdict::Done(Err(GitHubError::GaveUp(why)));
        }
        eprintln!("GitHub API: {err}; retrying in {} ms (attempt {})", wait.as_millis(), self.attempt + 1);
        Verdict::Wait(wait)
    }
}

/// Exponential backoff with jitter: about 1 s, 2 s, 4 s … at most 30 s.
fn backoff(attempt: u32) -> Duration {
    let base = 1000u64.saturating_mul(1 << attempt.saturating_sub(1).min(5)).min(30_000);
    Duration::from_millis(base / 2 + rand::random_range(0..=base / 2))
}

/// How long GitHub asks to wait before `r` may be retried; `None` when it must not be.
fn retry_wait(r: &Reply, attempt: u32) -> Option<Duration> {
    let secs = |h: &str| r.header(h).and_then(|v| v.trim().parse::<u64>().ok());
    if matches!(r.status, 500 | 502 | 503 | 504) {
        return Some(backoff(attempt));
    }
    if r.status != 429 && r.status != 403 {
        return None;
    }
    if let Some(s) = secs("retry-after") {
        return Some(Duration::from_secs(s.max(1)));
    }
    if secs("x-ratelimit-remaining") == Some(0) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        return secs("x-ratelimit-reset").map(|reset| Duration::from_secs(reset.saturating_sub(now).max(1)));
    }
    // A secondary limit without headers: GitHub says wait at least a minute.
    let secondary = r.status == 429 || r.message().contains("secondary rate limit");
    secondary.then(|| Duration::from_secs(60) * attempt.min(4))
}

fn strip_query(route: &str) -> String {
    route.split('?').next().unwrap_or(route).to_string()
}

impl GitHubError {
    pub fn api(method: &Method, route: &str, r: &Reply) -> GitHubError {
        GitHubError::Api {
            method: method.to_string(),
            path: strip_query(route),
            status: r.status,
            message: r.message(),
        }
    }

    /// What a person can do about the error, when capsule knows.
    pub fn hint(&self) -> Option<&'static str> {
        let GitHubError::Api { status, message, .. } = self else { return None };
        match (*status, message.as_str()) {
            (401, _) => Some("the token is wrong or expired: check the `github-token` input (GITHUB_TOKEN)"),
            (403, m) if m.contains("not accessible by integration") => Some(
                "the workflow's token lacks a permission: give the job `permissions: pull-requests: write` (plan, apply) or `issues: write` (reconcile)",
            ),
            (403, m) if m.contains("locked") => Some("the conversation is locked: unlock it to get capsule's comments"),
            (410, _) => Some("issues are disabled in this repository"),
            _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, headers: &[(&'static str, &str)], body: &str) -> Reply {
        let mut h = http::HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, v.parse().unwrap());
        }
        Reply { status, headers: h, body: body.into() }
    }

    #[test]
    fn next_link_follows_rel_next_only() {
        let h = r#"<https://api.github.com/repositories/1/issues/1/comments?page=2>; rel="next", <https://api.github.com/repositories/1/issues/1/comments?page=5>; rel="last""#;
        assert_eq!(
            next_link(Some(h)).as_deref(),
            Some("https://api.github.com/repositories/1/issues/1/comments?page=2")
        );
        assert_eq!(next_link(Some(r#"<https://x/?page=1>; rel="prev""#)), None);
        assert_eq!(next_link(None), None);
    }

    #[test]
    fn waits_follow_what_github_says() {
        assert_eq!(retry_wait(&reply(403, &[("retry-after", "7")], "{}"), 1), Some(Duration::from_secs(7)));
        let reset =
            (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 30).to_string();
        let primary = reply(403, &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &reset)], "{}");
        assert!(retry_wait(&primary, 1).is_some_and(|d| d.as_secs() >= 29 && d.as_secs() <= 31));
        let secondary = reply(403, &[], r#"{"message":"You have exceeded a secondary rate limit."}"#);
        assert_eq!(retry_wait(&secondary, 1), Some(Duration::from_secs(60)));
        // A plain 403 (a missing permission) and a 404 are not retried.
        assert_eq!(retry_wait(&reply(403, &[], r#"{"message":"Resource not accessible by integration"}"#), 1), None);
        assert_eq!(retry_wait(&reply(404, &[], "{}"), 1), None);
        let five = retry_wait(&reply(502, &[], ""), 3).unwrap();
        assert!(five >= Duration::from_secs(2) && five <= Duration::from_secs(4), "{five:?}");
    }
}
