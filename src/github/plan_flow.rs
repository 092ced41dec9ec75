//! `capsule github plan`, on `pull_request`: plans the changed capsules (offline only for a
//! fork), writes the step summary and outputs, then keeps this job's one plan comment and
//! the `capsule:*` labels up to date. A plan that could not read AWS fails; a comment
//! that cannot be written only warns. Never applies anything.

use crate::config::{self, Project};
use crate::engine::{self, Selection};
use crate::plan::Plan;
use crate::render;

use super::{Env, GitHub, GitHubError, MARKER, PullRequest, Sticky};

/// What the comment of one run says, and whether the run failed.
struct Outcome {
    /// The comment's content (below the marker lines).
    markdown: String,
    /// The same without the run link: what the digest covers.
    stable: String,
    /// The plan, when there is one (not for an invalid configuration).
    plan: Option<Plan>,
    /// Whether a comment may be created (not for a pull request that changes no capsule).
    create: bool,
    ok: bool,
}

/// Runs the plan flow; `Ok(false)` when the configuration is invalid, AWS could not be
/// read or the plan has errors (the check fails).
pub async fn run_plan(select: &Selection) -> anyhow::Result<bool> {
    let env = Env::from_process()?;
    let pr = super::pull_request(&env.event()?)?;
    let gh = GitHub::new(&env)?;
    let sticky = Sticky {
        marker: MARKER.into(),
        key: super::selection_key(select),
        head: pr.head_sha.clone(),
        base: Some(pr.base_sha.clone()),
        run_url: env.job_url(),
    };
    if let Err(e) = mark_older_plan_stale(&gh, &pr, &sticky).await {
        warn_comment(&pr, &e);
    }
    let outcome = plan_and_summarise(&env, select, &pr).await?;
    publish(&gh, &pr, &sticky, &outcome).await;
    Ok(outcome.ok)
}

/// Plans, writes the step summary, outputs and log, and returns what to comment.
async fn plan_and_summarise(env: &Env, select: &Selection, pr: &PullRequest) -> anyhow::Result<Outcome> {
    let run_url = env.run_url();
    let project = match config::load_project(&select.root) {
        Ok(p) => p,
        Err(diags) => {
            for d in &diags.0 {
                println!("{}", super::annotation(d));
            }
            let markdown = format!(
                "## capsule plan\n\n:x: The configuration has {} error(s); nothing was planned.\n\n```\n{diags}\n```\n",
                diags.len()
            );
            env.append_summary(&markdown)?;
            env.append_output("has_changes=false\ndestroy=false\ncapsules=[]\n")?;
            eprintln!("{diags}");
            return Ok(Outcome { stable: markdown.clone(), markdown, plan: None, create: true, ok: false });
        }
    };
    let changed = crate::git::changed_capsules(&project, &pr.base_sha, &pr.head_sha)?;
    let targets = super::only_selected(&project, select, super::changed_targets(&project, &changed))?;
    let plan = match pull_request_plan(&project, &targets, pr).await {
        Ok(plan) => plan,
        Err(reason) => return aws_unreadable(env, &reason),
    };
    let note = changed.is_empty().then_some("No capsule changed in this pull request.");
    env.append_summary(&super::step_summary(&plan, run_url.as_deref()))?;
    env.append_output(&super::outputs(&plan))?;
    println!("::group::capsule plan");
    print!("{}", render::text(&plan, false));
    println!("::endgroup::");
    let markdown = super::comment_markdown(&plan, run_url.as_deref(), note);
    let stable = super::comment_markdown(&plan, None, note);
    Ok(Outcome { markdown, stable, ok: !plan.has_errors(), plan: Some(plan), create: !changed.is_empty() })
}

/// A same-repository pull request whose plan could not read AWS: no plan is shown (an
/// offline one would hide deletes and replacements) and the check fails with the reason.
fn aws_unreadable(env: &Env, reason: &str) -> anyhow::Result<Outcome> {
    let markdown = format!(
        "## capsule plan\n\n:x: AWS could not be read, so nothing was planned: {reason}\n\nA plan that does not read AWS cannot show deletes or replacements. Check the job's AWS credentials (the `configure-aws-credentials` step and its role) and re-run the job.\n"
    );
    env.append_summary(&markdown)?;
    env.append_output("has_changes=false\ndestroy=false\ncapsules=[]\n")?;
    println!("::error title=capsule::{}", super::comment::escape(&format!("AWS could not be read: {reason}")));
    Ok(Outcome { stable: markdown.clone(), markdown, plan: None, create: true, ok: false })
}

/// The plan of `targets`: against live AWS, or offline for a fork (which gets no
/// credentials); `Err` with the reason when a same-repository plan cannot read AWS.
/// Kubernetes environments are planned against their cluster (offline for a fork).
async fn pull_request_plan(project: &Project, targets: &[(usize, String)], pr: &PullRequest) -> Result<Plan, String> {
    let (on_k8s, on_aws): (Vec<_>, Vec<_>) =
        targets.iter().cloned().partition(|t| crate::k8s::is_kubernetes(project, t));
    let mut capsules = if pr.from_fork {
        engine::offline_plan(project, &on_aws, &engine::default_region()).map_err(|e| e.to_string())?.capsules
    } else if on_aws.is_empty() {
        vec![]
    } else {
        let session = engine::Session::connect().await.map_err(|e| e.to_string())?;
        engine::plan_targets(&session, project, &on_aws).await.map_err(|e| e.to_string())?.capsules
    };
    if pr.from_fork {
        for (i, env) in &on_k8s {
            let c = &project.capsules[*i];
            capsules.extend(c.environment(env).map(|e| crate::k8s::offline_plan(c, e)));
        }
    } else if !on_k8s.is_empty() {
        capsules.extend(crate::k8s::plan(project, &on_k8s).await.map_err(|e| e.to_string())?);
    }
    let position = |c: &crate::plan::CapsulePlan| {
        targets.iter().position(|(i, e)| project.capsules[*i].name == c.capsule && *e == c.environment)
    };
    capsules.sort_by_key(position);
    Ok(Plan::new(capsules, pr.from_fork))
}

/// When this job's comment is for an older head commit, says so before planning.
async fn mark_older_plan_stale(gh: &GitHub, pr: &PullRequest, sticky: &Sticky) -> Result<(), GitHubError> {
    let matches = |b: &str| sticky.matches(b);
    if let Some(c) = gh.own_comment(pr.number, &matches).await?
        && let Some(stale) = c.body.as_deref().and_then(|b| super::mark_stale(b, &pr.head_sha))
    {
        gh.edit_comment(c.id, &stale).await?;
    }
    Ok(())
}

/// The comment and labels; failures are warnings (the plan itself is in the summary).
async fn publish(gh: &GitHub, pr: &PullRequest, sticky: &Sticky, outcome: &Outcome) {
    let body = sticky.wrap(&outcome.markdown, &outcome.stable);
    let matches = |b: &str| sticky.matches(b);
    let unchanged = |b: &str| sticky.unchanged(b, &outcome.stable);
    match gh.upsert_comment(pr.number, &matches, &unchanged, &body, outcome.create).await {
        Ok((o, _)) => eprintln!("Plan comment on pull request #{}: {o:?}.", pr.number),
        Err(e) => return warn_comment(pr, &e),
    }
    let wanted = super::labels_for(outcome.plan.as_ref());
    // A fan-out job sees only its share: it adds labels, and leaves removing them to the
    // job that plans everything.
    let result = if sticky.key == "all" {
        gh.sync_labels(pr.number, &super::LABELS, &wanted).await
    } else {
        let adds: Vec<&str> = wanted.into_iter().filter(|l| *l != "capsule:no-changes").collect();
        gh.sync_labels(pr.number, &[], &adds).await
    };
    if let Err(e) = result {
        warn_comment(pr, &e);
    }
}

/// A comment or label that could not be written: a warning annotation with what to do.
fn warn_comment(pr: &PullRequest, e: &GitHubError) {
    let hint = match (e.hint(), pr.from_fork) {
        (Some(_), true) if matches!(e, GitHubError::Api { status: 403, .. }) => {
            " (a fork's pull_request token is read-only: the plan is in the step summary)".to_string()
        }
        (Some(h), _) => format!(" ({h})"),
        (None, _) => String::new(),
    };
    let msg = format!("could not update pull request #{}: {e}{hint}", pr.number);
    println!("::warning title=capsule::{}", super::comment::escape(&msg));
    eprintln!("warning: {msg}");
}
