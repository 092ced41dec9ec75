//! capsule's own comments and labels on a pull request: which comments are capsule's
//! (author, type, not minimized, marker), keeping one up to date without ever posting it
//! twice, and the `capsule:*` labels. What a comment says is `comment`'s.

use http::Method;
use serde::Deserialize;
use serde_json::json;

use super::GitHubError;
use super::client::{GitHub, Verdict};

/// Who capsule's comments are written by: the token's own identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub login: String,
    /// `Bot` or `User`; `None` when only the login is known (`CAPSULE_GITHUB_AUTHOR`).
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub login: String,
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// An issue comment as `GET /repos/{o}/{r}/issues/{n}/comments` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Comment {
    pub id: u64,
    #[serde(default)]
    pub node_id: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    pub user: Option<User>,
}

/// What happened to a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentOutcome {
    Created,
    Updated,
    Unchanged,
}

impl GitHub {
    /// The token's identity: `CAPSULE_GITHUB_AUTHOR` when set, else `GET /user` (a
    /// person's or app user's token), else the workflow token's `github-actions[bot]`.
    pub async fn me(&self) -> Result<Author, GitHubError> {
        let found = self
            .author
            .get_or_try_init(|| async {
                if let Some(login) = std::env::var("CAPSULE_GITHUB_AUTHOR").ok().filter(|s| !s.is_empty()) {
                    return Ok(Author { login, kind: None });
                }
                match self.request(Method::GET, "/user", None).await {
                    Ok(r) => {
                        let u: User = r.json(&Method::GET, "/user")?;
                        Ok(Author { login: u.login, kind: Some(u.kind) })
                    }
                    // An installation token (GITHUB_TOKEN) may not read /user.
                    Err(GitHubError::Api { status: 403, .. }) => {
                        Ok(Author { login: "github-actions[bot]".into(), kind: Some("Bot".into()) })
                    }
                    Err(e) => Err(e),
                }
            })
            .await?;
        Ok(found.clone())
    }

    /// Every comment of an issue or pull request, following `Link: rel="next"`.
    pub async fn comments(&self, number: u64) -> Result<Vec<Comment>, GitHubError> {
        let mut url = Some(self.repo_path(&format!("/issues/{number}/comments?per_page=100")));
        let mut out = Vec::new();
        while let Some(u) = url.take() {
            let r = self.request(Method::GET, &u, None).await?;
            url = r.next_link();
            out.extend(r.json::<Vec<Comment>>(&Method::GET, &u)?);
        }
        Ok(out)
    }

    /// capsule's own comment that `matches`: written by this token's identity, not
    /// minimized; the newest when there are several.
    pub async fn own_comment(
        &self,
        number: u64,
        matches: &dyn Fn(&str) -> bool,
    ) -> Result<Option<Comment>, GitHubError> {
        let me = self.me().await?;
        let mine: Vec<Comment> = self
            .comments(number)
            .await?
            .into_iter()
            .filter(|c| c.user.as_ref().is_some_and(|u| written_by(u, &me)))
            .filter(|c| c.body.as_deref().is_some_and(matches))
            .collect();
        if mine.is_empty() {
            return Ok(None);
        }
        let minimized = self.minimized(&mine).await;
        Ok(mine.into_iter().rev().find(|c| !minimized.contains(&c.node_id)))
    }

    /// The node ids among `comments` that someone hid (GraphQL `isMinimized`; REST does not
    /// say). When GitHub cannot answer, none count as hidden.
    async fn minimized(&self, comments: &[Comment]) -> Vec<String> {
        let ids: Vec<&str> = comments.iter().map(|c| c.node_id.as_str()).filter(|s| !s.is_empty()).collect();
        let query = json!({
            "query": "query($ids: [ID!]!) { nodes(ids: $ids) { ... on IssueComment { id isMinimized } } }",
            "variables": { "ids": ids },
        });
        match self.graphql(&query).await {
            Ok(r) if r.ok() => serde_json::from_str::<serde_json::Value>(&r.body)
                .ok()
                .and_then(|v| v.pointer("/data/nodes").and_then(|n| n.as_array()).cloned())
                .unwrap_or_default()
                .iter()
                .filter(|n| n.get("isMinimized").and_then(|m| m.as_bool()) == Some(true))
                .filter_map(|n| n.get("id").and_then(|i| i.as_str()).map(str::to_string))
                .collect(),
            Ok(r) => {
                eprintln!("warning: could not ask GitHub which comments are hidden: HTTP {}", r.status);
                Vec::new()
            }
            Err(e) => {
                eprintln!("warning: could not ask GitHub which comments are hidden: {e}");
                Vec::new()
            }
        }
    }

    /// Keeps capsule's one comment that `matches` saying `body`: creates it (only when
    /// `create` allows), edits it, or leaves it when `unchanged` says it already says
    /// the same. Returns the outcome and the comment's URL.
    pub async fn upsert_comment(
        &self,
        number: u64,
        matches: &dyn Fn(&str) -> bool,
        unchanged: &dyn Fn(&str) -> bool,
        body: &str,
        create: bool,
    ) -> Result<(CommentOutcome, Option<String>), GitHubError> {
        match self.own_comment(number, matches).await? {
            Some(c) if c.body.as_deref().is_some_and(unchanged) => Ok((CommentOutcome::Unchanged, c.html_url)),
            Some(c) => Ok((CommentOutcome::Updated, self.edit_comment(c.id, body).await?.html_url)),
            None if create => self.create_comment(number, matches, body).await,
            None => Ok((CommentOutcome::Unchanged, None)),
        }
    }

    pub async fn edit_comment(&self, id: u64, body: &str) -> Result<Comment, GitHubError> {
        let path = self.repo_path(&format!("/issues/comments/{id}"));
        self.request(Method::PATCH, &path, Some(&json!({ "body": body }))).await?.json(&Method::PATCH, &path)
    }

    /// POSTs a comment at most once per success: after a failure that may have created it
    /// (a 5xx, a rate limit, a lost connection), the comments are listed again first.
    pub(super) async fn create_comment(
        &self,
        number: u64,
        matches: &dyn Fn(&str) -> bool,
        body: &str,
    ) -> Result<(CommentOutcome, Option<String>), GitHubError> {
        let path = self.repo_path(&format!("/issues/{number}/comments"));
        let mut retry = self.retrier();
        loop {
            let outcome = self.once(&Method::POST, &path, Some(&json!({ "body": body }))).await;
            match retry.verdict(&Method::POST, &path, outcome) {
                Verdict::Done(r) => {
                    return Ok((CommentOutcome::Created, r?.json::<Comment>(&Method::POST, &path)?.html_url));
                }
                Verdict::Wait(w) => tokio::time::sleep(w).await,
            }
            if let Some(c) = self.own_comment(number, matches).await? {
                eprintln!("The failed POST had created the comment after all: it is not posted again.");
                let same = c.body.as_deref() == Some(body);
                let url = if same { c.html_url } else { self.edit_comment(c.id, body).await?.html_url };
                return Ok((CommentOutcome::Created, url));
            }
        }
    }

    /// Makes the pull request's `capsule:*` labels among `managed` exactly `wanted`.
    pub async fn sync_labels(&self, number: u64, managed: &[&str], wanted: &[&str]) -> Result<(), GitHubError> {
        #[derive(Deserialize)]
        struct Label {
            name: String,
        }
        let path = self.repo_path(&format!("/issues/{number}/labels"));
        let have: Vec<String> = self
            .request(Method::GET, &format!("{path}?per_page=100"), None)
            .await?
            .json::<Vec<Label>>(&Method::GET, &path)?
            .into_iter()
            .map(|l| l.name)
            .collect();
        let add: Vec<&str> = wanted.iter().copied().filter(|w| !have.iter().any(|h| h == w)).collect();
        if !add.is_empty() {
            self.request(Method::POST, &path, Some(&json!({ "labels": add }))).await?;
        }
        for stale in managed.iter().filter(|m| !wanted.contains(m) && have.iter().any(|h| h == *m)) {
            let route =
                format!("{path}/{}", percent_encoding::utf8_percent_encode(stale, percent_encoding::NON_ALPHANUMERIC));
            match self.request(Method::DELETE, &route, None).await {
                Ok(_) | Err(GitHubError::Api { status: 404, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Whether `user` is the token's identity (login and, when known, account type).
pub(super) fn written_by(user: &User, me: &Author) -> bool {
    user.login == me.login && me.kind.as_deref().is_none_or(|k| k == user.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_tokens_identity_counts_as_capsule() {
        let bot = Author { login: "github-actions[bot]".into(), kind: Some("Bot".into()) };
        let user = |login: &str, kind: &str| User { login: login.into(), kind: kind.into() };
        assert!(written_by(&user("github-actions[bot]", "Bot"), &bot));
        assert!(!written_by(&user("mallory", "User"), &bot));
        // A user account that took the bot's name would still be a User.
        assert!(!written_by(&user("github-actions[bot]", "User"), &bot));
        let named = Author { login: "deploy-app[bot]".into(), kind: None };
        assert!(written_by(&user("deploy-app[bot]", "Bot"), &named));
    }
}
