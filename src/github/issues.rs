//! capsule's own GitHub issues (the drift reports of `github reconcile`): listing the open
//! ones, creating one at most once, editing, and closing with a comment. Which issue is
//! capsule's (marker and author) is decided here; what an issue says is `drift`'s.

use http::Method;
use serde::Deserialize;
use serde_json::json;

use super::GitHubError;
use super::client::{GitHub, Verdict};
use super::sticky::{Author, User, written_by};

/// An issue as `GET /repos/{o}/{r}/issues` lists it (pull requests are dropped).
#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    pub number: u64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    pub user: Option<User>,
    #[serde(default)]
    pub labels: Vec<Label>,
    /// Present only on pull requests, which GitHub lists among issues.
    #[serde(default)]
    pull_request: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Label {
    pub name: String,
}

impl Issue {
    /// Whether capsule wrote it (the token's identity) with `marker` as its first line.
    pub fn is_own(&self, marker: &str, me: &Author) -> bool {
        self.user.as_ref().is_some_and(|u| written_by(u, me))
            && self.body.as_deref().and_then(|b| b.lines().next()) == Some(marker)
    }

    pub fn label_names(&self) -> Vec<String> {
        self.labels.iter().map(|l| l.name.clone()).collect()
    }
}

impl GitHub {
    /// Every open issue of the repository (not pull requests), newest first, following
    /// `Link: rel="next"`.
    pub async fn open_issues(&self) -> Result<Vec<Issue>, GitHubError> {
        let mut url = Some(self.repo_path("/issues?state=open&per_page=100"));
        let mut out = Vec::new();
        while let Some(u) = url.take() {
            let r = self.request(Method::GET, &u, None).await?;
            url = r.next_link();
            out.extend(r.json::<Vec<Issue>>(&Method::GET, &u)?.into_iter().filter(|i| i.pull_request.is_none()));
        }
        Ok(out)
    }

    /// Opens an issue at most once per success: after a failure that may have created it
    /// (a 5xx, a rate limit, a lost connection), the open issues are listed again and one
    /// of capsule's with `marker` is taken instead of posting another.
    pub async fn create_issue(
        &self,
        title: &str,
        body: &str,
        labels: &[&str],
        marker: &str,
    ) -> Result<Issue, GitHubError> {
        let path = self.repo_path("/issues");
        let payload = json!({ "title": title, "body": body, "labels": labels });
        let me = self.me().await?;
        let mut retry = self.retrier();
        loop {
            let outcome = self.once(&Method::POST, &path, Some(&payload)).await;
            match retry.verdict(&Method::POST, &path, outcome) {
                Verdict::Done(r) => return r?.json::<Issue>(&Method::POST, &path),
                Verdict::Wait(w) => tokio::time::sleep(w).await,
            }
            if let Some(found) = self.open_issues().await?.into_iter().find(|i| i.is_own(marker, &me)) {
                eprintln!("The failed POST had opened issue #{} after all: it is not opened again.", found.number);
                return Ok(found);
            }
        }
    }

    /// Changes an issue's title, body and labels (`labels` replaces them all).
    pub async fn edit_issue(
        &self,
        number: u64,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<Issue, GitHubError> {
        let path = self.repo_path(&format!("/issues/{number}"));
        let patch = json!({ "title": title, "body": body, "labels": labels });
        self.request(Method::PATCH, &path, Some(&patch)).await?.json(&Method::PATCH, &path)
    }

    /// Comments `why` on an issue (once, even across a retried POST), then closes it as
    /// completed.
    pub async fn close_issue(&self, number: u64, why: &str) -> Result<(), GitHubError> {
        let same = |b: &str| b == why;
        self.create_comment(number, &same, why).await?;
        let path = self.repo_path(&format!("/issues/{number}"));
        let patch = json!({ "state": "closed", "state_reason": "completed" });
        self.request(Method::PATCH, &path, Some(&patch)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(login: &str, kind: &str, body: &str) -> Issue {
        Issue {
            number: 1,
            title: "t".into(),
            body: Some(body.into()),
            html_url: None,
            user: Some(User { login: login.into(), kind: kind.into() }),
            labels: vec![],
            pull_request: None,
        }
    }

    #[test]
    fn an_issue_is_capsules_only_with_its_marker_first_and_its_author() {
        let me = Author { login: "github-actions[bot]".into(), kind: Some("Bot".into()) };
        let marker = "<!-- capsule:drift shop/production -->";
        assert!(issue("github-actions[bot]", "Bot", &format!("{marker}\nbody")).is_own(marker, &me));
        assert!(!issue("mallory", "User", &format!("{marker}\nbody")).is_own(marker, &me));
        assert!(!issue("github-actions[bot]", "Bot", &format!("quote:\n{marker}")).is_own(marker, &me));
        assert!(!issue("github-actions[bot]", "Bot", "<!-- capsule:drift shop/staging -->").is_own(marker, &me));
    }
}
