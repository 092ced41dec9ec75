//! Which pull request a pushed commit was merged by, for `github apply`'s comment: only
//! one whose merge commit is the pushed commit, asked again while GitHub's commit → pull
//! request index catches up, with the push's commit message (`(#N)`) as a shortcut.

use std::time::{Duration, Instant};

use http::Method;
use serde::Deserialize;

use super::{GitHub, GitHubError, Push};

/// A pull request as `commits/{sha}/pulls` and `pulls/{n}` give it (`pull-request-simple`).
#[derive(Debug, Clone, Deserialize)]
struct PullSummary {
    number: u64,
    #[serde(default)]
    merged_at: Option<String>,
    #[serde(default)]
    merge_commit_sha: Option<String>,
}

impl PullSummary {
    fn merged_as(&self, sha: &str) -> bool {
        self.merged_at.is_some() && self.merge_commit_sha.as_deref() == Some(sha)
    }
}

/// The pull request `push.after` was merged by, or `None` (a direct push, or GitHub
/// never linked it within `CAPSULE_GITHUB_PR_WAIT` seconds, default 60). An open or
/// unmerged pull request that contains the commit is never the answer.
pub async fn merged_pull_request(gh: &GitHub, push: &Push) -> Result<Option<u64>, GitHubError> {
    let wait = std::env::var("CAPSULE_GITHUB_PR_WAIT").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let until = Instant::now() + Duration::from_secs(wait);
    let mut delay = Duration::from_secs(2);
    let mut asked_message = false;
    loop {
        let route = gh.repo_path(&format!("/commits/{}/pulls?per_page=100", push.after));
        let pulls: Vec<PullSummary> = gh.request(Method::GET, &route, None).await?.json(&Method::GET, &route)?;
        if let Some(p) = pulls.iter().find(|p| p.merged_as(&push.after)) {
            return Ok(Some(p.number));
        }
        if !asked_message && let Some(n) = push.message.as_deref().and_then(number_in_message) {
            asked_message = true;
            let route = gh.repo_path(&format!("/pulls/{n}"));
            match gh.request(Method::GET, &route, None).await {
                Ok(r) if r.json::<PullSummary>(&Method::GET, &route)?.merged_as(&push.after) => return Ok(Some(n)),
                Ok(_) | Err(GitHubError::Api { status: 404, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if Instant::now() + delay > until {
            return Ok(None);
        }
        eprintln!(
            "GitHub has not linked {} to a merged pull request yet; asking again in {} s.",
            push.after,
            delay.as_secs()
        );
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(15));
    }
}

/// The pull request number GitHub writes into a merge's first line: `Merge pull request
/// #N from …` (merge commit) or `Title (#N)` (squash).
fn number_in_message(message: &str) -> Option<u64> {
    let first = message.lines().next()?.trim();
    if let Some(rest) = first.strip_prefix("Merge pull request #") {
        return rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok();
    }
    let inner = first.strip_suffix(')')?.rsplit_once("(#")?.1;
    inner.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_come_from_merge_and_squash_messages_only() {
        assert_eq!(number_in_message("Merge pull request #12 from acme/feature\n\nbody"), Some(12));
        assert_eq!(number_in_message("Add a cache (#345)"), Some(345));
        assert_eq!(number_in_message("Add a cache (#345)\n\n* one (#3)"), Some(345));
        assert_eq!(number_in_message("Fix #12 in the parser"), None);
        assert_eq!(number_in_message("Mention (#x)"), None);
        assert_eq!(number_in_message(""), None);
    }
}
