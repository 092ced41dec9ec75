//! `capsule github reconcile`, on `schedule` or `workflow_dispatch` of the default branch:
//! plans every capsule environment against AWS (a few at a time, no lock), heals those whose
//! capsule says `on_drift = "heal"` (never destroying data), and keeps one GitHub issue per
//! drifted or unplannable environment, closed once it is clean. Planning and applying are the
//! engine's and deploy's; issue text is `drift`'s.

use futures::StreamExt;

use crate::config::types::OnDrift;
use crate::config::{self, Diagnostics, Project};
use crate::deploy;
use crate::engine::{self, Selection, Session};

use super::drift::{self, Finding, Seen, Subject};
use super::{Env, GitHub, GitHubError};

/// How many capsule environments are planned at once (as `engine::plan_targets`).
const CONCURRENCY: usize = 4;

/// One subject's finding, and the issue that records it (when there is one).
struct Row {
    subject: Subject,
    finding: Finding,
    issue: Option<String>,
}

/// Runs the reconcile flow; `Ok(false)` when capsule itself failed: AWS could not be
/// reached, a heal failed, or an issue could not be written. Drift is not a failure.
pub async fn run_reconcile(select: &Selection) -> anyhow::Result<bool> {
    let env = Env::from_process()?;
    super::scheduled(env.event_name.as_deref(), &env.event()?)?;
    let gh = GitHub::new(&env)?;
    let seen = Seen {
        now: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        sha: env.sha.clone(),
        run_url: env.job_url(),
    };
    let (project, diags) = config::load_partial(&select.root).map_err(|d| anyhow::anyhow!("{d}"))?;
    for d in &diags.0 {
        println!("{}", super::annotation(d));
    }
    let mut rows = invalid_files(&select.root, &diags);
    let targets = engine::select(&project, select)?;
    let (mut planned, mut ok) = plan_all(&project, &targets).await;
    if planned.reachable {
        ok &= heal_all(planned.session.as_ref(), &project, &targets, &mut planned.findings).await;
    }
    rows.extend(planned.findings.into_iter().map(|(subject, finding)| Row { subject, finding, issue: None }));
    let whole = select.capsules.is_empty() && select.env.is_none() && diags.is_empty();
    ok &= report(&gh, &mut rows, &seen, whole).await;
    env.append_summary(&summary(&rows, seen.run_url.as_deref()))?;
    env.append_output(&outputs(&rows))?;
    for r in &rows {
        eprintln!(
            "{}: {}{}",
            r.subject.name(),
            r.finding.status(),
            r.issue.as_deref().map(|u| format!(" ({u})")).unwrap_or_default()
        );
    }
    Ok(ok)
}

/// One issue per file that does not load (named relative to the root, the same on every
/// runner): none of its environments can be planned.
fn invalid_files(root: &std::path::Path, diags: &Diagnostics) -> Vec<Row> {
    let canonical = |p: &std::path::Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let root = canonical(root);
    let mut files: Vec<(String, Diagnostics)> = Vec::new();
    for d in &diags.0 {
        let file = canonical(&d.file);
        let path = file.strip_prefix(&root).unwrap_or(&file).to_string_lossy().into_owned();
        match files.iter_mut().find(|(p, _)| *p == path) {
            Some((_, ds)) => ds.push(d.clone()),
            None => files.push((path, Diagnostics(vec![d.clone()]))),
        }
    }
    files
        .into_iter()
        .map(|(path, ds)| Row {
            subject: Subject::File(path),
            finding: Finding::Error { message: ds.to_string(), plan: None },
            issue: None,
        })
        .collect()
}

struct Planned {
    /// `None` when every target runs on Kubernetes (AWS is not asked).
    session: Option<Session>,
    /// AWS (when needed) could be reached: heals may run.
    reachable: bool,
    findings: Vec<(Subject, Finding)>,
}

/// Plans every target against AWS (Kubernetes ones against their cluster, and AWS is not
/// connected when all are), a few at a time; an environment that cannot be planned is an
/// `Error` finding. `false` when AWS could not be reached at all.
async fn plan_all(project: &Project, targets: &[(usize, String)]) -> (Planned, bool) {
    let subject =
        |i: usize, env: &str| Subject::Environment { capsule: project.capsules[i].name.clone(), env: env.into() };
    let needs_aws = targets.iter().any(|t| !crate::k8s::is_kubernetes(project, t));
    let session = match if needs_aws { Session::connect().await.map(Some) } else { Ok(None) } {
        Ok(s) => s,
        Err(e) => {
            let message = format!("AWS could not be reached: {e:#}");
            eprintln!("{message}");
            let findings = targets
                .iter()
                .map(|(i, env)| (subject(*i, env), Finding::Error { message: message.clone(), plan: None }))
                .collect();
            return (Planned { session: None, reachable: false, findings }, false);
        }
    };
    let findings = futures::stream::iter(targets)
        .map(|(i, env)| {
            let session = session.as_ref();
            async move { (subject(*i, env), plan_one(session, project, *i, env).await) }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    (Planned { session, reachable: true, findings }, true)
}

/// The plan of one environment, against its cluster when it runs on Kubernetes.
async fn plan_one(session: Option<&Session>, project: &Project, capsule: usize, env: &str) -> Finding {
    let target = (capsule, env.to_string());
    let planned = match session {
        _ if crate::k8s::is_kubernetes(project, &target) => {
            crate::k8s::reconcile(project, capsule, env, false).await.map(|r| r.planned.plan)
        }
        Some(session) => engine::reconcile(session, project, capsule, env, false).await.map(|r| r.planned.plan),
        None => Err(anyhow::anyhow!("AWS was not connected")),
    };
    match planned {
        Err(e) => Finding::Error { message: format!("{e:#}"), plan: None },
        Ok(plan) => {
            if !plan.errors.is_empty() {
                let message = plan.errors.iter().map(|e| format!("{}: {}", e.address, e.message)).collect::<Vec<_>>();
                Finding::Error { message: message.join("\n"), plan: Some(Box::new(plan)) }
            } else if plan.has_changes() {
                Finding::Drifted { plan: Box::new(plan), not_healed: None }
            } else {
                Finding::Clean
            }
        }
    }
}

/// Applies back each drifted environment whose capsule says `on_drift = "heal"`, one at a
/// time under its lock. `false` when a heal failed.
async fn heal_all(
    session: Option<&Session>,
    project: &Project,
    targets: &[(usize, String)],
    findings: &mut [(Subject, Finding)],
) -> bool {
    let mut ok = true;
    for ((i, env), (_, finding)) in targets.iter().zip(findings.iter_mut()) {
        let Finding::Drifted { plan, not_healed } = finding else { continue };
        let Some(environment) = project.capsules[*i].environment(env) else { continue };
        if environment.config.capsule.on_drift != OnDrift::Heal {
            continue;
        }
        let destructive = engine::destructive_stateful(plan);
        if !destructive.is_empty() {
            let names: Vec<String> = destructive.iter().map(|c| format!("`{}`", c.address)).collect();
            *not_healed = Some(format!(
                "putting it back would delete or replace {}, and capsule never heals a change that destroys data. \
                 Decide by hand: apply with `--allow-destroy`, or write the live state into the file.",
                names.join(", ")
            ));
            continue;
        }
        eprintln!("::group::capsule heal {}/{env}", project.capsules[*i].name);
        let healed = heal_one(session, project, *i, env).await;
        eprintln!("::endgroup::");
        match healed {
            Healed::Done(f) | Healed::Refused(f) => *finding = f,
            Healed::Failed(f) => {
                *finding = f;
                ok = false;
            }
        }
    }
    ok
}

enum Healed {
    Done(Finding),
    Refused(Finding),
    Failed(Finding),
}

/// Applies one environment back (without `--allow-destroy`), then plans it again: healed
/// only when the new plan is clean.
async fn heal_one(session: Option<&Session>, project: &Project, capsule: usize, env: &str) -> Healed {
    let opts =
        deploy::Options { allow_destroy: false, goal: engine::Goal::Declared, human: true, color: false, head: None };
    let target = [(capsule, env.to_string())];
    let run = match session {
        _ if crate::k8s::is_kubernetes(project, &target[0]) => {
            crate::k8s::apply_all(project, &target, false, true).await
        }
        Some(session) => deploy::apply_all(session, project, &target, &opts).await,
        None => return Healed::Failed(Finding::Error { message: "AWS was not connected".into(), plan: None }),
    };
    let doc = run.doc.capsules.into_iter().next();
    if let Some(reason) = run.refused {
        let plan = doc.map(Box::new);
        return match plan {
            Some(plan) => Healed::Refused(Finding::Drifted { plan, not_healed: Some(reason) }),
            None => Healed::Refused(Finding::Error { message: reason, plan: None }),
        };
    }
    if !run.ok {
        let message =
            run.error.unwrap_or_else(|| "the heal's apply failed (see the plan below and the run's log)".into());
        return Healed::Failed(Finding::Error {
            message: format!("healing failed: {message}"),
            plan: doc.map(Box::new),
        });
    }
    match plan_one(session, project, capsule, env).await {
        Finding::Clean => {
            Healed::Done(Finding::Healed { applied: Box::new(doc.unwrap_or_else(|| empty(project, capsule, env))) })
        }
        Finding::Drifted { plan, .. } => Healed::Failed(Finding::Drifted {
            plan,
            not_healed: Some("the apply finished, but the environment still differs from the files (below)".into()),
        }),
        other => Healed::Failed(other),
    }
}

fn empty(project: &Project, capsule: usize, env: &str) -> crate::plan::CapsulePlan {
    crate::plan::CapsulePlan {
        capsule: project.capsules[capsule].name.clone(),
        environment: env.into(),
        region: String::new(),
        changes: vec![],
        artifacts: vec![],
        errors: vec![],
        notes: vec![],
    }
}

/// Keeps each row's issue in step with its finding, and (when the whole repository was
/// reconciled) closes capsule's issues about environments no longer declared. `false` when
/// GitHub could not be written.
async fn report(gh: &GitHub, rows: &mut [Row], seen: &Seen, whole: bool) -> bool {
    let listed = async { Ok::<_, GitHubError>((gh.me().await?, gh.open_issues().await?)) }.await;
    let (me, open) = match listed {
        Ok(x) => x,
        Err(e) => {
            warn(&format!("could not list the repository's issues: {e}"), &e);
            return false;
        }
    };
    let mut ok = true;
    for row in rows.iter_mut() {
        let marker = row.subject.marker();
        let existing = open.iter().find(|i| i.is_own(&marker, &me));
        match keep_issue(gh, row, existing, seen).await {
            Ok(url) => row.issue = url,
            Err(e) => {
                warn(&format!("could not update the drift issue of {}: {e}", row.subject.name()), &e);
                ok = false;
            }
        }
    }
    if whole {
        let known: Vec<String> = rows.iter().map(|r| r.subject.marker()).collect();
        for issue in &open {
            let first = issue.body.as_deref().and_then(|b| b.lines().next()).unwrap_or_default();
            if !first.starts_with("<!-- capsule:drift ")
                || known.iter().any(|k| k == first)
                || !issue.is_own(first, &me)
            {
                continue;
            }
            let name = first.trim_start_matches("<!-- capsule:drift ").trim_end_matches(" -->");
            // A file that loads again (or is gone) closes its issue as fixed.
            let why = match name.strip_prefix("file=") {
                Some(path) => drift::closing(&Subject::File(path.into()), &Finding::Clean, seen),
                None => drift::gone(name, seen),
            };
            if let Err(e) = gh.close_issue(issue.number, &why).await {
                warn(&format!("could not close drift issue #{}: {e}", issue.number), &e);
                ok = false;
            }
        }
    }
    ok
}

/// Creates, edits or closes one row's issue; its URL while it stays open (or records a heal).
async fn keep_issue(
    gh: &GitHub,
    row: &Row,
    existing: Option<&super::issues::Issue>,
    seen: &Seen,
) -> Result<Option<String>, GitHubError> {
    let (subject, finding) = (&row.subject, &row.finding);
    let title = subject.title(finding);
    let first = existing.and_then(|i| i.body.as_deref()).and_then(drift::first_seen);
    let body = drift::body(subject, finding, first.as_deref(), seen);
    match (finding.label(), existing) {
        (Some(label), None) => Ok(gh.create_issue(&title, &body, &[label], &subject.marker()).await?.html_url),
        (Some(label), Some(i)) => {
            let labels = drift::labels(&i.label_names(), label);
            Ok(gh.edit_issue(i.number, &title, &body, &labels).await?.html_url)
        }
        // A heal is recorded in an issue, closed at once, even when none was open.
        (None, existing) if matches!(finding, Finding::Healed { .. }) => {
            let issue = match existing {
                Some(i) => {
                    gh.edit_issue(i.number, &title, &body, &drift::labels(&i.label_names(), drift::DRIFT_LABELS[0]))
                        .await?
                }
                None => gh.create_issue(&title, &body, &[drift::DRIFT_LABELS[0]], &subject.marker()).await?,
            };
            gh.close_issue(issue.number, &drift::closing(subject, finding, seen)).await?;
            Ok(issue.html_url)
        }
        (None, Some(i)) => {
            gh.close_issue(i.number, &drift::closing(subject, finding, seen)).await?;
            Ok(None)
        }
        (None, None) => Ok(None),
    }
}

fn warn(msg: &str, e: &GitHubError) {
    let hint = e.hint().map(|h| format!(" ({h})")).unwrap_or_default();
    println!("::warning title=capsule::{}", super::comment::escape(&format!("{msg}{hint}")));
    eprintln!("warning: {msg}{hint}");
}

/// The step summary: one row per capsule environment (and invalid file).
fn summary(rows: &[Row], run_url: Option<&str>) -> String {
    let mut out =
        String::from("## capsule reconcile\n\n| capsule | environment | status | issue |\n|---|---|---|---|\n");
    for r in rows {
        let (capsule, env) = match &r.subject {
            Subject::Environment { capsule, env } => (format!("`{capsule}`"), env.clone()),
            Subject::File(path) => (format!("`{path}`"), "—".into()),
        };
        let issue = r.issue.as_deref().map(|u| format!("[issue]({u})")).unwrap_or_default();
        out.push_str(&format!("| {capsule} | {env} | {} | {issue} |\n", r.finding.status()));
    }
    if rows.is_empty() {
        out.push_str("\nNo capsule environment to reconcile.\n");
    }
    if let Some(url) = run_url {
        out.push_str(&format!("\n[Logs]({url})\n"));
    }
    out
}

/// `drifted` and `healed`: JSON arrays of `capsule/env`; `has_changes` when any drifted.
fn outputs(rows: &[Row]) -> String {
    let names = |status: &str| {
        let v: Vec<String> = rows.iter().filter(|r| r.finding.status() == status).map(|r| r.subject.name()).collect();
        serde_json::to_string(&v).unwrap_or_else(|_| "[]".into())
    };
    let drifted = names("drifted");
    format!("drifted={drifted}\nhealed={}\nhas_changes={}\n", names("healed"), drifted != "[]")
}
