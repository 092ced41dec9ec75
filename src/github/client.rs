//! A small client for the few REST endpoints capsule uses: a pull request's comments
//! (listed across pages, created, updated) and the pull requests of a commit. Turns HTTP
//! failures into `GitHubError`; decides nothing about what a comment says.

use serde::{Deserialize, Serialize};

use super::{Env, GitHubError};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_follows_rel_next_only() {
        let h = r#"<https://api.github.com/repos/o/r/issues/1/comments?page=2>; rel="next", <https://api.github.com/repos/o/r/issues/1/comments?page=5>; rel="last""#;
        assert_eq!(next_link(Some(h)).as_deref(), Some("https://api.github.com/repos/o/r/issues/1/comments?page=2"));
        assert_eq!(next_link(Some(r#"<https://x/?page=1>; rel="prev""#)), None);
        assert_eq!(next_link(None), None);
    }
}
