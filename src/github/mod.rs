//! The GitHub side of capsule (DESIGN section 6): the `github plan` and `github apply`
//! flows, the pull request's one plan comment, the step summary and the step outputs.
//! Speaks the REST API at `GITHUB_API_URL`, so GitHub Enterprise and the tests' local
//! server work the same. Never executes anything from the repository.

mod actions;
mod apply_flow;
mod client;
mod comment;
mod event;
mod plan_flow;
mod targets;

pub use actions::Env;
pub use apply_flow::run_apply;
pub use client::{Comment, CommentOutcome, GitHub, PullSummary, next_link};
pub use comment::{
    COMMENT_LIMIT, MARKER, SUMMARY_LIMIT, annotation, apply_marker, comment_body, outputs, step_summary,
};
pub use event::{PullRequest, Push, pull_request, push};
pub use plan_flow::run_plan;
pub use targets::{changed_targets, only_selected};

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
