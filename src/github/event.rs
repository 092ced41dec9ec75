//! What capsule needs of the events that start it: a `pull_request` (plan) or a `push`
//! (apply). Pure parsing of the event's JSON; reading the file is `actions`', deciding
//! what to plan is the flows'.

use super::GitHubError;

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
    // A deleted fork leaves `head.repo` null: still a fork, with a read-only token.
    let from_fork = match (s("/head/repo/full_name"), s("/base/repo/full_name")) {
        (Some(h), Some(b)) => h != b,
        (None, _) => pr.pointer("/head/repo").is_none_or(|r| r.is_null()),
        (Some(_), None) => false,
    };
    Ok(PullRequest { number, base_sha, head_sha, from_fork })
}

/// What `github apply` needs of a `push` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// The commit before the push; `None` for a new branch (all zeros), when every
    /// capsule counts as changed.
    pub before: Option<String>,
    pub after: String,
    /// The pushed head commit's message (`head_commit.message`).
    pub message: Option<String>,
}

pub fn push(event: &serde_json::Value) -> Result<Push, GitHubError> {
    let s = |k: &str| event.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let after = s("after").ok_or_else(|| GitHubError::Event("not a push event: `after` missing".into()))?;
    let before = s("before").filter(|b| !b.is_empty() && b.chars().any(|c| c != '0'));
    let message = event.pointer("/head_commit/message").and_then(|v| v.as_str()).map(str::to_string);
    Ok(Push { before, after, message })
}

/// Refuses to reconcile from anything but the default branch: a `schedule` (which GitHub
/// runs on the default branch) or a `workflow_dispatch` of it. Healing from another branch
/// would deploy code nobody merged.
pub fn scheduled(event_name: Option<&str>, event: &serde_json::Value) -> Result<(), GitHubError> {
    match event_name {
        Some("schedule") => Ok(()),
        Some("workflow_dispatch") => {
            let s = |p: &str| event.pointer(p).and_then(|v| v.as_str());
            match (s("/ref"), s("/repository/default_branch")) {
                (Some(r), Some(default)) if r == format!("refs/heads/{default}") => Ok(()),
                (r, default) => Err(GitHubError::Event(format!(
                    "github reconcile plans the default branch, but this workflow_dispatch ran on {}: dispatch it on {}",
                    r.unwrap_or("an unknown ref"),
                    default.unwrap_or("the default branch")
                ))),
            }
        }
        other => Err(GitHubError::Event(format!(
            "github reconcile runs on `schedule` and `workflow_dispatch` events, not on {}: use `github plan` on pull requests and `github apply` on pushes",
            other.map(|o| format!("`{o}`")).unwrap_or_else(|| "an unknown event (GITHUB_EVENT_NAME is not set)".into())
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_tell_forks_apart() {
        let ev = serde_json::json!({ "pull_request": { "number": 7, "base": { "sha": "b", "repo": { "full_name": "o/r" } }, "head": { "sha": "h", "repo": { "full_name": "someone/r" } } } });
        assert_eq!(
            pull_request(&ev).unwrap(),
            PullRequest { number: 7, base_sha: "b".into(), head_sha: "h".into(), from_fork: true }
        );
        assert!(pull_request(&serde_json::json!({ "push": {} })).is_err());
        let deleted = serde_json::json!({ "pull_request": { "number": 8, "base": { "sha": "b", "repo": { "full_name": "o/r" } }, "head": { "sha": "h", "repo": null } } });
        assert!(pull_request(&deleted).unwrap().from_fork, "a deleted fork is still a fork");
    }

    #[test]
    fn reconcile_runs_only_on_the_default_branch() {
        let on = |r: &str| serde_json::json!({ "ref": r, "repository": { "default_branch": "main" } });
        assert!(scheduled(Some("schedule"), &serde_json::json!({ "schedule": "17 6 * * 1-5" })).is_ok());
        assert!(scheduled(Some("workflow_dispatch"), &on("refs/heads/main")).is_ok());
        let e = scheduled(Some("workflow_dispatch"), &on("refs/heads/feature")).unwrap_err().to_string();
        assert!(e.contains("refs/heads/feature") && e.contains("dispatch it on main"), "{e}");
        assert!(scheduled(Some("pull_request"), &on("refs/pull/1/merge")).is_err());
        assert!(scheduled(None, &serde_json::json!({})).is_err());
    }

    #[test]
    fn push_events_treat_a_new_branch_as_everything_changed() {
        let p = push(&serde_json::json!({ "before": "a1", "after": "b2" })).unwrap();
        assert_eq!(p, Push { before: Some("a1".into()), after: "b2".into(), message: None });
        let zeros = "0".repeat(40);
        assert_eq!(push(&serde_json::json!({ "before": zeros, "after": "b2" })).unwrap().before, None);
        assert!(push(&serde_json::json!({ "pull_request": {} })).is_err());
    }
}
