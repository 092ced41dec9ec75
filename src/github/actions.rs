//! The GitHub Actions run capsule executes in: its standard variables, the event file it
//! was started by, and the step summary and output files it writes back. Only reads and
//! appends those files; knows nothing of plans or the REST API.

use std::io::Write;
use std::path::PathBuf;

use super::GitHubError;

/// The standard variables of a GitHub Actions run.
#[derive(Debug, Clone)]
pub struct Env {
    pub api_url: String,
    /// `GITHUB_GRAPHQL_URL`; derived from the REST URL when unset.
    pub graphql_url: String,
    pub server_url: String,
    pub repository: String,
    pub token: Option<String>,
    pub run_id: Option<String>,
    pub run_attempt: Option<String>,
    pub event_path: Option<PathBuf>,
    /// `GITHUB_EVENT_NAME`: `pull_request`, `push`, `schedule`, `workflow_dispatch`, …
    pub event_name: Option<String>,
    /// `GITHUB_SHA`: the commit the run checked out.
    pub sha: Option<String>,
    pub step_summary: Option<PathBuf>,
    pub output: Option<PathBuf>,
}

impl Env {
    pub fn from_process() -> Result<Env, GitHubError> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let api_url =
            var("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into()).trim_end_matches('/').to_string();
        let graphql_url = var("GITHUB_GRAPHQL_URL").unwrap_or_else(|| match api_url.strip_suffix("/api/v3") {
            Some(host) => format!("{host}/api/graphql"),
            None => format!("{api_url}/graphql"),
        });
        Ok(Env {
            api_url,
            graphql_url,
            server_url: var("GITHUB_SERVER_URL")
                .unwrap_or_else(|| "https://github.com".into())
                .trim_end_matches('/')
                .to_string(),
            repository: var("GITHUB_REPOSITORY").ok_or(GitHubError::Missing("GITHUB_REPOSITORY"))?,
            token: var("GITHUB_TOKEN"),
            run_id: var("GITHUB_RUN_ID"),
            run_attempt: var("GITHUB_RUN_ATTEMPT"),
            event_path: var("GITHUB_EVENT_PATH").map(PathBuf::from),
            event_name: var("GITHUB_EVENT_NAME"),
            sha: var("GITHUB_SHA"),
            step_summary: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            output: var("GITHUB_OUTPUT").map(PathBuf::from),
        })
    }

    pub fn run_url(&self) -> Option<String> {
        self.run_id.as_ref().map(|id| format!("{}/{}/actions/runs/{id}", self.server_url, self.repository))
    }

    /// This attempt of the run (a re-run is another attempt with its own logs).
    pub fn job_url(&self) -> Option<String> {
        let run = self.run_url()?;
        Some(match &self.run_attempt {
            Some(a) => format!("{run}/attempts/{a}"),
            None => run,
        })
    }

    /// The event that started the run, as JSON (`GITHUB_EVENT_PATH`).
    pub fn event(&self) -> anyhow::Result<serde_json::Value> {
        let event_path = self.event_path.clone().ok_or(GitHubError::Missing("GITHUB_EVENT_PATH"))?;
        Ok(serde_json::from_slice(&std::fs::read(&event_path)?)?)
    }

    /// Appends to the step summary (`GITHUB_STEP_SUMMARY`) when it is set.
    pub fn append_summary(&self, text: &str) -> anyhow::Result<()> {
        append(&self.step_summary, text)
    }

    /// Appends to the step outputs (`GITHUB_OUTPUT`) when it is set.
    pub fn append_output(&self, text: &str) -> anyhow::Result<()> {
        append(&self.output, text)
    }
}

/// Appends to a GitHub Actions file (step summary, outputs) when it is set.
fn append(path: &Option<PathBuf>, text: &str) -> anyhow::Result<()> {
    if let Some(p) = path {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?;
    }
    Ok(())
}
