//! Applying a list of capsule environments in order: take the environment's lock, plan it
//! against live AWS, refuse what must be refused, apply, ship artifacts, release the lock.
//! Shared by `capsule apply`, `capsule destroy` and `capsule github apply`; stops at the
//! first failure. Plans nothing itself (`engine`) and changes nothing itself (`apply`).

use std::path::Path;

use crate::artifacts::{image_plan, site_plan};
use crate::config::Project;
use crate::engine::{self, Session};
use crate::output::{self, PlanFormat};
use crate::plan::{Action, CapsulePlan, Change, Outcome, Plan, PlanError};
use crate::{lock, render};

/// `capsule apply`: each target in order under its lock; stops at the first failure.
/// Prints progress and a closing line for people, or the apply document as JSON.
/// `Ok(false)` when an apply failed or was refused.
pub async fn run_apply(
    project: &Project,
    targets: &[(usize, String)],
    allow_destroy: bool,
    format: PlanFormat,
    out: Option<&Path>,
) -> anyhow::Result<bool> {
    let session = engine::Session::connect().await?;
    let human = format != PlanFormat::Json;
    let opts =
        Options { allow_destroy, goal: engine::Goal::Declared, human, color: output::color_for(None), head: None };
    let run = apply_all(&session, project, targets, &opts).await;
    if human {
        let s = run.doc.summary;
        let line = format!("{} created, {} updated, {} replaced, {} deleted.", s.create, s.update, s.replace, s.delete);
        if run.ok {
            println!("Apply complete: {line}");
        } else if run.refused.is_some() {
            println!("Apply refused (see above): that capsule environment was not changed.");
        } else {
            println!("Apply FAILED (see the errors above). The next apply continues from live state.");
        }
    } else {
        output::emit(&run.doc, PlanFormat::Json, out)?;
    }
    Ok(run.ok)
}

/// Refuses `capsule destroy` unless `--confirm` repeats the capsule's name.
pub fn confirm_destroy(capsule: &str, env: &str, confirm: Option<&str>) -> anyhow::Result<()> {
    if confirm != Some(capsule) {
        anyhow::bail!(
            "capsule destroy deletes every resource of {capsule}/{env}, data included. Nothing was done.\n\
             Repeat the capsule's name to confirm: capsule destroy --capsule {capsule} --env {env} --confirm {capsule}"
        );
    }
    Ok(())
}

/// `capsule destroy`: everything the capsule environment owns, under its lock.
/// `Ok(false)` when a delete failed.
pub async fn run_destroy(
    project: &Project,
    targets: &[(usize, String)],
    format: PlanFormat,
    out: Option<&Path>,
) -> anyhow::Result<bool> {
    let session = engine::Session::connect().await?;
    let human = format != PlanFormat::Json;
    let opts =
        Options { allow_destroy: true, goal: engine::Goal::Nothing, human, color: output::color_for(None), head: None };
    let run = apply_all(&session, project, targets, &opts).await;
    if human {
        if run.ok {
            println!("Destroy complete: {} deleted.", run.doc.summary.delete);
        } else {
            println!("Destroy FAILED (see above). Run it again: it continues with what is left.");
        }
    } else {
        output::emit(&run.doc, PlanFormat::Json, out)?;
    }
    Ok(run.ok)
}

/// How an apply run went.
pub struct Applied {
    /// The applied plans (the last one failed or was refused when `ok` is false), with
    /// `ok` set.
    pub doc: Plan,
    pub ok: bool,
    /// A target was refused before anything changed (plan errors, destructive changes, a
    /// held lock): the reason, for people.
    pub refused: Option<String>,
    /// How many targets were started (the last one may have failed); the rest were not.
    pub attempted: usize,
    /// A target could not even be planned (e.g. AWS unreachable): why.
    pub error: Option<String>,
}

/// Options of one run.
pub struct Options {
    pub allow_destroy: bool,
    /// Declared state, or nothing (`capsule destroy`).
    pub goal: engine::Goal,
    /// Print each plan and each change's outcome for people (stdout/stderr).
    pub human: bool,
    /// Print the text plan with colour.
    pub color: bool,
    /// The commit being deployed, kept in a preview's record (`preview`).
    pub head: Option<String>,
}

/// Applies `targets` in order, each under its lock; stops at the first that fails or is
/// refused.
pub async fn apply_all(session: &Session, project: &Project, targets: &[(usize, String)], opts: &Options) -> Applied {
    let mut done = Vec::new();
    let mut refused = None;
    let mut ok = true;
    let mut attempted = 0;
    let mut error = None;
    for (i, env) in targets {
        attempted += 1;
        let capsule = &project.capsules[*i];
        let region = engine::region_of(session, capsule, env);
        let held = match lock::acquire(&session.aws, &session.account, &region, &capsule.name, env).await {
            Ok(l) => l,
            Err(e) => {
                let msg = format!("Refusing to apply {}/{env}: {e}\nNothing was changed.", capsule.name);
                eprintln!("{msg}");
                refused = Some(msg);
                ok = false;
                break;
            }
        };
        let outcome = match crate::preview::track(session, capsule, env, opts).await {
            Ok(()) => apply_one(session, project, *i, env, opts).await,
            Err(e) => Err(e.context(format!("recording preview {env} (nothing was changed)"))),
        };
        let outcome = match outcome {
            Ok((plan, Verdict::Done)) => {
                crate::preview::untrack(session, capsule, env, opts).await.map(|()| (plan, Verdict::Done))
            }
            other => other,
        };
        if let Err(e) = held.release().await {
            eprintln!("warning: could not release the apply lock of {}/{env}: {e}", capsule.name);
        }
        match outcome {
            Ok((plan, Verdict::Done)) => done.push(plan),
            Ok((plan, Verdict::Failed)) => {
                done.push(plan);
                ok = false;
                break;
            }
            Ok((plan, Verdict::Refused(reason))) => {
                done.push(plan);
                refused = Some(reason);
                ok = false;
                break;
            }
            Err(e) => {
                let msg = format!("{}/{env}: {e:#}", capsule.name);
                eprintln!("{msg}");
                error = Some(msg);
                ok = false;
                break;
            }
        }
    }
    let mut doc = Plan::new(done, false);
    doc.ok = Some(ok);
    Applied { doc, ok, refused, attempted, error }
}

enum Verdict {
    Done,
    Failed,
    /// Refused before any change, with the reason.
    Refused(String),
}

/// Plans and applies one environment (its lock held). Returns the plan with outcomes.
async fn apply_one(
    session: &Session,
    project: &Project,
    capsule: usize,
    env: &str,
    opts: &Options,
) -> anyhow::Result<(CapsulePlan, Verdict)> {
    let mut r = engine::reconcile_to(session, project, capsule, env, opts.allow_destroy, opts.goal).await?;
    if opts.human {
        print!("{}", render::text(&Plan::new(vec![r.planned.plan.clone()], false), opts.color));
    }
    let name = format!("{}/{}", r.desired.capsule, r.desired.env);
    if !r.planned.plan.errors.is_empty() {
        let msg = format!("Refusing to apply {name}: the plan has errors (above). Nothing was changed.");
        eprintln!("{msg}");
        return Ok((r.planned.plan, Verdict::Refused(msg)));
    }
    let destructive = engine::destructive_stateful(&r.planned.plan);
    if !opts.allow_destroy && !destructive.is_empty() {
        let list: Vec<String> = destructive
            .iter()
            .map(|c| format!("  {} ({})", c.address, if c.action == Action::Delete { "delete" } else { "replace" }))
            .collect();
        let msg = format!(
            "Refusing to apply {name}: it would destroy data in\n{}\nRe-run with --allow-destroy if that is intended. Nothing was changed.",
            list.join("\n")
        );
        eprintln!("{msg}");
        return Ok((r.planned.plan, Verdict::Refused(msg)));
    }
    let report = |c: &Change, took: std::time::Duration| {
        let outcome = match c.outcome {
            Some(Outcome::Applied) => "done",
            Some(Outcome::Failed) => "FAILED",
            _ => "skipped",
        };
        let error = c.error.as_ref().map(|e| format!(": {e}")).unwrap_or_default();
        eprintln!("{:>3} {} {outcome} ({:.1}s){error}", c.action.symbol(), c.address, took.as_secs_f64());
    };
    let applied =
        crate::apply::apply(&r.cx, &r.desired, &r.graph, &r.observation, &mut r.planned, &r.images, &report).await;
    image_plan::record_images(&mut r.planned.plan, &r.images);
    if !applied {
        return Ok((r.planned.plan, Verdict::Failed));
    }
    if let Err(e) = site_plan::ship_sites(&r.cx, &r.desired, &r.sites, &mut r.planned.plan).await {
        eprintln!("{e}");
        // Recorded in the document, so JSON readers and the PR comment see why.
        r.planned.plan.errors.push(PlanError {
            address: format!("{}.{}.artifacts", r.desired.capsule, r.desired.env),
            message: e.to_string(),
            hint: Some("the next apply re-plans the sync from what is in the bucket".into()),
        });
        return Ok((r.planned.plan, Verdict::Failed));
    }
    Ok((r.planned.plan, Verdict::Done))
}
