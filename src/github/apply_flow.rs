//! `capsule github apply`, on `push` to the default branch: applies the capsules the pushed
//! commits changed (each under its lock, stopping at the first failure), writes the step
//! summary and outputs, comments the outcome on the pull request the commit was merged by
//! and links it from that pull request's plan comments. The applying itself is `deploy`'s.

use crate::config;
use crate::deploy::{self, Applied};
use crate::engine::{self, Selection};

use super::{Env, GitHub, GitHubError, MARKER, Push, Sticky};

/// Runs the apply flow; `Ok(false)` when the configuration is invalid or an apply failed
/// or was refused (the run fails).
pub async fn run_apply(select: &Selection, allow_destroy: bool) -> anyhow::Result<bool> {
    let env = Env::from_process()?;
    let push = super::push(&env.event()?)?;
    let gh = GitHub::new(&env)?;
    let run_url = env.run_url();
    let project = match config::load_project(&select.root) {
        Ok(p) => p,
        Err(diags) => {
            for d in &diags.0 {
                println!("{}", super::annotation(d));
            }
            env.append_summary(&format!("## capsule apply: :x: invalid configuration\n\n```\n{diags}\n```\n"))?;
            env.append_output("has_changes=false\ndestroy=false\ncapsules=[]\n")?;
            eprintln!("{diags}\nNothing was sent to AWS.");
            return Ok(false);
        }
    };
    // Capsules in declaration order, each with its environments in declaration order.
    let targets = pushed_targets(&project, select, &push)?;
    let targets = super::only_selected(&project, select, targets)?;
    if targets.is_empty() {
        eprintln!("No capsule changed in this push; nothing to apply.");
        env.append_summary("## capsule apply\n\nNo capsule changed in this push.\n")?;
        env.append_output("has_changes=false\ndestroy=false\ncapsules=[]\n")?;
        return Ok(true);
    }
    // Kubernetes environments go first (apply_both_runtimes); in that order, the ones after
    // `attempted` are those never reached.
    let (mut targets, on_aws): (Vec<_>, Vec<_>) =
        targets.into_iter().partition(|t| crate::k8s::is_kubernetes(&project, t));
    targets.extend(on_aws);
    let run = apply_both_runtimes(&project, &targets, allow_destroy).await?;
    // Environments not reached after a failure are listed, so nobody thinks they deployed.
    let not_reached: Vec<String> =
        targets.iter().skip(run.attempted).map(|(i, e)| format!("`{}` · {e}", project.capsules[*i].name)).collect();
    let note = comment_note(&run, &not_reached);
    env.append_summary(&super::step_summary(&run.doc, run_url.as_deref()))?;
    env.append_output(&super::outputs(&run.doc))?;
    let sticky = Sticky {
        marker: super::apply_marker(&push.after),
        key: super::selection_key(select),
        head: push.after.clone(),
        base: None,
        run_url: env.job_url(),
    };
    comment_on_pull_request(&gh, &run, &push, &sticky, note.as_deref()).await;
    let s = run.doc.summary;
    if run.ok {
        println!(
            "Apply complete: {} created, {} updated, {} replaced, {} deleted.",
            s.create, s.update, s.replace, s.delete
        );
    } else {
        println!("Apply FAILED or refused (see above). The next apply continues from live state.");
    }
    Ok(run.ok)
}

/// Applies the Kubernetes environments among `targets` (src/k8s), then, if they all applied,
/// the AWS ones; one outcome over both, `attempted` counted in that order.
async fn apply_both_runtimes(
    project: &config::Project,
    targets: &[(usize, String)],
    allow_destroy: bool,
) -> anyhow::Result<Applied> {
    let (on_k8s, on_aws): (Vec<_>, Vec<_>) =
        targets.iter().cloned().partition(|t| crate::k8s::is_kubernetes(project, t));
    let k8s =
        if on_k8s.is_empty() { None } else { Some(crate::k8s::apply_all(project, &on_k8s, allow_destroy, true).await) };
    let k8s = match k8s {
        Some(run) if on_aws.is_empty() || !run.ok => return Ok(run),
        other => other,
    };
    let session = engine::Session::connect().await?;
    let opts = deploy::Options { allow_destroy, goal: engine::Goal::Declared, human: true, color: false, head: None };
    let aws = deploy::apply_all(&session, project, &on_aws, &opts).await;
    let Some(k8s) = k8s else { return Ok(aws) };
    let mut capsules = k8s.doc.capsules;
    capsules.extend(aws.doc.capsules);
    let mut doc = crate::plan::Plan::new(capsules, false);
    doc.ok = Some(aws.ok);
    Ok(Applied { doc, ok: aws.ok, refused: aws.refused, attempted: k8s.attempted + aws.attempted, error: aws.error })
}

/// How to undo each service rollout the apply made: `capsule rollback` per service it
/// moved to another task definition (ECS) or pod template (Kubernetes).
pub fn rollback_commands(plan: &crate::plan::Plan) -> Vec<String> {
    use crate::plan::{Action, Outcome};
    let mut out = Vec::new();
    for c in &plan.capsules {
        for ch in &c.changes {
            let moved = ch.action == Action::Update
                && ch.attributes.iter().any(|a| match ch.kind.as_str() {
                    "ecs_service" => a.path == "task_definition",
                    "k8s_deployment" => a.path.starts_with("spec.template"),
                    _ => false,
                });
            if moved && ch.outcome == Some(Outcome::Applied) {
                let service = ch.address.rsplit('.').next().unwrap_or_default();
                out.push(format!("`capsule rollback {} {} {service}`", c.capsule, c.environment));
            }
        }
    }
    out
}

/// Why the run stopped, which environments it never reached, and how to roll back what it
/// rolled out, quoted for the comment.
fn comment_note(run: &Applied, not_reached: &[String]) -> Option<String> {
    let rollbacks = rollback_commands(&run.doc);
    let mut note = run.refused.clone().or(run.error.clone());
    if !rollbacks.is_empty() {
        let how = format!("To roll a service back to its previous revision: {}.", rollbacks.join(", "));
        note = Some(match note {
            Some(n) => format!("{n}\n\n{how}"),
            None => how,
        });
    }
    if !not_reached.is_empty() {
        let more = format!("Not applied after the failure: {}.", not_reached.join(", "));
        note = Some(match note {
            Some(n) => format!("{n}\n\n{more}"),
            None => more,
        });
    }
    note.map(|n| n.replace('\n', "\n> "))
}

/// The capsule environments the push changed; every one for a new branch, and those
/// changed by the head commit alone when `before` is not in the clone (a force push).
fn pushed_targets(project: &config::Project, select: &Selection, push: &Push) -> anyhow::Result<Vec<(usize, String)>> {
    let Some(before) = &push.before else {
        eprintln!("The push created the branch: every capsule counts as changed.");
        return engine::select(project, &Selection { root: select.root.clone(), ..Default::default() });
    };
    let changed = match crate::git::changed_capsules(project, before, &push.after) {
        Err(crate::git::GitError::MissingRevision { rev }) if rev == *before => {
            eprintln!(
                "::warning title=capsule::{before} (the push's `before`) is not in the clone (a force push?): comparing with the parent of {} instead",
                push.after
            );
            crate::git::changed_capsules(project, &format!("{}^", push.after), &push.after)?
        }
        other => other?,
    };
    Ok(super::changed_targets(project, &changed))
}

/// Comments the outcome on the pull request the pushed commit was merged by and links it
/// from that pull request's plan comments; failures only warn (the apply happened).
async fn comment_on_pull_request(gh: &GitHub, run: &Applied, push: &Push, sticky: &Sticky, note: Option<&str>) {
    let number = match super::merged_pull_request(gh, push).await {
        Ok(Some(n)) => n,
        Ok(None) => {
            return eprintln!("Commit {} was merged by no pull request GitHub knows of: no comment.", push.after);
        }
        Err(e) => return warn(&format!("could not find the pull request of {}: {e}", push.after), &e),
    };
    let markdown = super::comment_markdown(&run.doc, sticky.run_url.as_deref(), note);
    let stable = super::comment_markdown(&run.doc, None, note);
    let body = sticky.wrap(&markdown, &stable);
    let matches = |b: &str| sticky.matches(b);
    let unchanged = |b: &str| sticky.unchanged(b, &stable);
    let url = match gh.upsert_comment(number, &matches, &unchanged, &body, true).await {
        Ok((o, url)) => {
            eprintln!("Apply comment on pull request #{number}: {o:?}.");
            url
        }
        Err(e) => return warn(&format!("could not comment on pull request #{number}: {e}"), &e),
    };
    if let Err(e) = link_plan_comments(gh, number, run.ok, url.as_deref(), sticky.run_url.as_deref()).await {
        warn(&format!("could not link the apply from pull request #{number}'s plan comment: {e}"), &e);
    }
}

/// Adds (or replaces) the line linking the apply result in each of capsule's plan
/// comments on the pull request.
async fn link_plan_comments(
    gh: &GitHub,
    number: u64,
    ok: bool,
    apply_url: Option<&str>,
    run_url: Option<&str>,
) -> Result<(), GitHubError> {
    let me = gh.me().await?;
    for c in gh.comments(number).await? {
        let ours = c.user.as_ref().is_some_and(|u| super::sticky::written_by(u, &me));
        let Some(body) = c.body.as_deref().filter(|b| ours && b.lines().next() == Some(MARKER)) else { continue };
        let linked = super::link_apply(body, ok, apply_url, run_url);
        if linked != body {
            gh.edit_comment(c.id, &linked).await?;
        }
    }
    Ok(())
}

fn warn(msg: &str, e: &GitHubError) {
    let hint = e.hint().map(|h| format!(" ({h})")).unwrap_or_default();
    println!("::warning title=capsule::{}", super::comment::escape(&format!("{msg}{hint}")));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, AttributeChange, CapsulePlan, Change, Outcome, Plan};
    use serde_json::json;

    fn service(name: &str, path: &str, outcome: Outcome) -> Change {
        Change {
            address: format!("shop.production.ecs_service.{name}"),
            kind: "ecs_service".into(),
            action: Action::Update,
            reason: None,
            attributes: vec![AttributeChange {
                path: path.into(),
                before: json!("a"),
                after: json!("b"),
                forces_replacement: false,
                impact: None,
            }],
            stateful: false,
            outcome: Some(outcome),
            error: None,
        }
    }

    #[test]
    fn the_rollback_command_is_named_for_each_service_moved_to_another_task_definition() {
        let changes = vec![
            service("api", "task_definition", Outcome::Applied),
            service("worker", "desired_count", Outcome::Applied),
            service("web", "task_definition", Outcome::Failed),
        ];
        let capsule = CapsulePlan {
            capsule: "shop".into(),
            environment: "production".into(),
            region: "us-east-1".into(),
            changes,
            artifacts: vec![],
            errors: vec![],
            notes: vec![],
        };
        let plan = Plan::new(vec![capsule], false);
        assert_eq!(rollback_commands(&plan), vec!["`capsule rollback shop production api`"]);
    }
}
