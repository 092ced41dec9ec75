//! `capsule github plan`, on `pull_request`: plans the changed capsules (offline for a fork
//! or without AWS credentials), keeps the pull request's one plan comment up to date, and
//! writes the step summary and outputs. Never applies anything.

use crate::config::{self, Project};
use crate::engine::{self, Selection};
use crate::plan::Plan;
use crate::render;

use super::{Env, GitHub, GitHubError, MARKER, PullRequest};

/// Runs the plan flow; `Ok(false)` when the configuration is invalid or the plan has
/// errors (the run fails).
pub async fn run_plan(select: &Selection) -> anyhow::Result<bool> {
    let env = Env::from_process()?;
    let pr = super::pull_request(&env.event()?)?;
    let gh = GitHub::new(&env)?;
    let run_url = env.run_url();
    let project = match config::load_project(&select.root) {
        Ok(p) => p,
        Err(diags) => {
            for d in &diags.0 {
                println!("{}", super::annotation(d));
            }
            let body = format!(
                "{}\n## capsule plan\n\n:x: The configuration has {} error(s); nothing was planned.\n\n```\n{diags}\n```\n",
                MARKER,
                diags.len()
            );
            gh.upsert_comment(pr.number, MARKER, &body).await?;
            env.append_summary(&body)?;
            env.append_output("has_changes=false\ndestroy=false\ncapsules=[]\n")?;
            eprintln!("{diags}");
            return Ok(false);
        }
    };
    let changed = crate::git::changed_capsules(&project, &pr.base_sha, &pr.head_sha)?;
    let targets = super::only_selected(&project, select, super::changed_targets(&project, &changed))?;
    let (plan, mut note) = pull_request_plan(&project, &targets, &pr).await?;
    if changed.is_empty() {
        note = Some("No capsule changed in this pull request.".into());
    }
    env.append_summary(&super::step_summary(&plan, run_url.as_deref()))?;
    env.append_output(&super::outputs(&plan))?;
    print!("{}", render::text(&plan, false));
    let body = super::comment_body(&plan, MARKER, run_url.as_deref(), note.as_deref());
    match gh.upsert_comment(pr.number, MARKER, &body).await {
        Ok(outcome) => eprintln!("Plan comment on pull request #{}: {outcome:?}.", pr.number),
        // A fork's pull_request token is read-only: the plan is in the step summary.
        Err(GitHubError::Api { status: 403, .. }) if pr.from_fork => eprintln!(
            "The token of a fork's pull request may not comment (HTTP 403): the plan is in the step summary only."
        ),
        Err(e) => return Err(e.into()),
    }
    Ok(!plan.has_errors())
}

/// The plan of `targets`, against live AWS when it can be reached, else offline with a
/// note saying why.
async fn pull_request_plan(
    project: &Project,
    targets: &[(usize, String)],
    pr: &PullRequest,
) -> anyhow::Result<(Plan, Option<String>)> {
    if pr.from_fork {
        let note = "This pull request comes from a fork, which gets no AWS credentials: this is an offline plan (every resource shown as created).";
        return Ok((engine::offline_plan(project, targets, &engine::default_region())?, Some(note.to_string())));
    }
    match engine::Session::connect().await {
        Ok(session) => Ok((engine::plan_targets(&session, project, targets).await?, None)),
        Err(e) => {
            let note = format!("AWS could not be reached ({e}): this is an offline plan.");
            Ok((engine::offline_plan(project, targets, &engine::default_region())?, Some(note)))
        }
    }
}
