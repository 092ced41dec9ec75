//! The Markdown of a plan or apply document, for pull-request comments and step summaries:
//! a summary table, the offline and destroy banners, then each capsule environment's changes
//! collapsed. Markers, commits and the comment header are the caller's (src/github).

use std::fmt::Write;

use super::diff::{self, Line, View};
use super::show_value;
use super::text::artifact_line;
use crate::plan::{Action, AttributeChange, CapsulePlan, Change, Outcome, Plan, Summary};

/// The offline banner, the only one of a comment (the caller adds none of its own).
pub const OFFLINE_BANNER: &str = "> [!WARNING]\n> **Offline plan.** AWS was not read — deletes and replacements cannot be shown; a maintainer must re-plan.\n";

/// Markdown for a pull-request comment: the title, a summary table of every capsule and
/// environment, banners, then a section per capsule and environment with its changes
/// collapsed. `run_url` links the CI run.
pub fn markdown(plan: &Plan, run_url: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", title(plan));
    if plan.offline {
        let _ = writeln!(out, "{OFFLINE_BANNER}");
    }
    summary_table(&mut out, plan);
    destroy_banners(&mut out, plan);
    for c in &plan.capsules {
        section(&mut out, c);
    }
    if let Some(url) = run_url {
        let what = if plan.ok.is_some() { "Logs" } else { "Full plan and logs" };
        let _ = writeln!(out, "[{what}]({url})");
    }
    out
}

fn title(plan: &Plan) -> &'static str {
    match plan.ok {
        None => "## capsule plan",
        Some(true) => "## capsule apply: :white_check_mark: applied",
        Some(false) => "## capsule apply: :x: failed",
    }
}

/// One row per capsule and environment: its status and how many resources are created,
/// updated, replaced and deleted.
fn summary_table(out: &mut String, plan: &Plan) {
    let _ = writeln!(out, "| capsule | environment | status | + | ~ | ± | − |\n|---|---|---|--:|--:|--:|--:|");
    for c in &plan.capsules {
        let s = c.summary();
        let status = if plan.ok.is_some() { apply_status(c) } else { plan_status(c) };
        let _ = writeln!(
            out,
            "| `{}` | {} | {status} | {} | {} | {} | {} |",
            c.capsule, c.environment, s.create, s.update, s.replace, s.delete
        );
    }
    out.push('\n');
}

fn plan_status(c: &CapsulePlan) -> &'static str {
    if !c.errors.is_empty() {
        ":x: error"
    } else if c.changes.iter().any(Change::is_destructive) {
        ":warning: destroys"
    } else if c.has_changes() {
        ":pencil2: changes"
    } else {
        ":white_check_mark: no changes"
    }
}

/// The outcome of a capsule environment in an apply document. Changes without an outcome
/// were never tried: the apply was refused or stopped before them.
fn apply_status(c: &CapsulePlan) -> &'static str {
    let changes = || c.changes.iter().filter(|ch| ch.action != Action::NoOp);
    if changes().any(|ch| ch.outcome == Some(Outcome::Failed)) {
        ":x: failed"
    } else if !c.errors.is_empty() {
        ":x: error"
    } else if !c.has_changes() {
        ":white_check_mark: no changes"
    } else if changes().all(|ch| ch.outcome == Some(Outcome::Applied)) {
        ":white_check_mark: applied"
    } else {
        ":no_entry: not applied"
    }
}

/// Deletes and replacements: those of resources holding data (which apply refuses without
/// `--allow-destroy`, see `engine::destructive_stateful`) apart from the stateless ones. An
/// apply document lists only what was done.
fn destroy_banners(out: &mut String, plan: &Plan) {
    let done = |ch: &&Change| plan.ok.is_none() || ch.outcome == Some(Outcome::Applied);
    let (data, stateless): (Vec<&Change>, Vec<&Change>) = plan
        .capsules
        .iter()
        .flat_map(|c| &c.changes)
        .filter(|ch| ch.is_destructive())
        .filter(done)
        .partition(|ch| ch.stateful);
    let plan_doc = plan.ok.is_none();
    let what = if plan_doc { "this plan deletes or replaces" } else { "this apply deleted or replaced" };
    let hold = |n: usize| match (plan_doc, n) {
        (false, _) => "held",
        (true, 1) => "holds",
        (true, _) => "hold",
    };
    if !data.is_empty() {
        let n = data.len();
        let _ = writeln!(
            out,
            "> [!CAUTION]\n> **Data loss:** {what} {} that {} data: {}",
            resources(n),
            hold(n),
            addresses(&data)
        );
        if plan_doc {
            let _ = writeln!(out, "> {REFUSAL}");
        }
        out.push('\n');
    }
    if !stateless.is_empty() {
        let n = stateless.len();
        let (resources, hold, addresses) = (resources(n), hold(n), addresses(&stateless));
        let _ = writeln!(
            out,
            "> [!WARNING]\n> **Stateless replacement or removal:** {what} {resources} that {hold} no data: {addresses}"
        );
        if plan_doc {
            let _ = writeln!(
                out,
                "> Apply goes ahead with {} without `allow-destroy`.",
                if n == 1 { "it" } else { "these" }
            );
        }
        out.push('\n');
    }
}

/// What `deploy::apply_one` does with a plan that destroys data.
const REFUSAL: &str = "Apply refuses to change their capsule environment at all unless it runs with `allow-destroy: true` (`--allow-destroy`).";

fn resources(n: usize) -> String {
    format!("{n} resource{}", if n == 1 { "" } else { "s" })
}

fn addresses(changes: &[&Change]) -> String {
    let named: Vec<String> = changes
        .iter()
        .map(|ch| format!("`{}` ({})", ch.address, if ch.action == Action::Delete { "delete" } else { "replace" }))
        .collect();
    named.join(", ")
}

/// A capsule environment: one line when nothing changes, else its errors, notes, changes
/// (collapsed) and artifacts.
fn section(out: &mut String, c: &CapsulePlan) {
    let changes: Vec<&Change> = c.changes.iter().filter(|ch| ch.action != Action::NoOp).collect();
    if changes.is_empty() && c.errors.is_empty() && !c.artifacts.iter().any(|a| a.has_work()) {
        let _ = writeln!(out, "### `{}` · {} — no changes\n", c.capsule, c.environment);
        return;
    }
    let _ = writeln!(out, "### `{}` · {}\n", c.capsule, c.environment);
    for e in &c.errors {
        let hint = e.hint.as_ref().map(|h| format!(" — {h}")).unwrap_or_default();
        let _ = writeln!(out, "- :x: `{}`: {}{hint}", e.address, e.message);
    }
    if !c.errors.is_empty() {
        out.push('\n');
    }
    for n in &c.notes {
        let _ = writeln!(out, "> [!NOTE]\n> {n}\n");
    }
    if changes.is_empty() {
        let _ = writeln!(out, "No resource changes.\n");
    } else {
        details(out, &changes, c.summary());
    }
    if !c.artifacts.is_empty() {
        let _ = writeln!(out, "**Artifacts**\n");
        for a in &c.artifacts {
            let _ = writeln!(out, "- {}", artifact_line(a).replace('\n', " "));
        }
        out.push('\n');
    }
}

/// The changes in a collapsed ```` ```diff ```` block, summed up by what they do.
fn details(out: &mut String, changes: &[&Change], s: Summary) {
    let parts: Vec<String> =
        [(s.create, "to create"), (s.update, "to update"), (s.replace, "to replace"), (s.delete, "to delete")]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
    let destroys = s.replace + s.delete;
    let destroy = if destroys > 0 { format!(" ({destroys} destroy)") } else { String::new() };
    let _ = writeln!(out, "<details><summary>{}{destroy}</summary>\n\n```diff", parts.join(", "));
    for ch in changes {
        change(out, ch);
    }
    let _ = writeln!(out, "```\n\n</details>\n");
}

/// A change's line (`+` create, `~` update, `!` replace, `-` delete, as ```` ```diff ````
/// colours them) and its attributes.
fn change(out: &mut String, ch: &Change) {
    let sign = match ch.action {
        Action::Create => "+",
        Action::Delete => "-",
        Action::Replace => "!",
        _ => "~",
    };
    let reason = match (&ch.reason, ch.action) {
        (Some(r), Action::Replace) => format!(" (replace: {r})"),
        (Some(r), a) if a != Action::Create => format!(" ({r})"),
        _ => String::new(),
    };
    let outcome = match (ch.outcome, &ch.error) {
        (Some(Outcome::Failed), Some(e)) => format!(" — FAILED: {}", e.replace('\n', " ")),
        (Some(Outcome::Failed), None) => " — FAILED".into(),
        (Some(Outcome::Skipped), _) => " — skipped".into(),
        _ => String::new(),
    };
    let _ = writeln!(out, "{sign} {}{reason}{outcome}", ch.address);
    for a in &ch.attributes {
        match ch.action {
            Action::Create => {}
            Action::Delete => {
                let _ = writeln!(out, "-     {}: {}", a.path, show_value(&a.before));
            }
            _ => attribute(out, sign, a),
        }
    }
}

/// An updated or replaced attribute, laid out as `diff::view` says; `-`/`+` lines and
/// context lines (leading space) are what ```` ```diff ```` colours.
fn attribute(out: &mut String, sign: &str, a: &AttributeChange) {
    let forces = match (a.forces_replacement, a.impact.as_deref()) {
        (true, _) => " # forces replacement".to_string(),
        (false, Some(impact)) => format!(" # {}", super::impact_text(impact)),
        _ => String::new(),
    };
    let path = &a.path;
    match diff::view(a) {
        View::Inline { before, after } => {
            let _ = writeln!(out, "{sign}     {path}: {before} -> {after}{forces}");
        }
        View::Member { before, after } => {
            if let Some(b) = before {
                let _ = writeln!(out, "-     {path}: {b}");
            }
            if let Some(a) = after {
                let _ = writeln!(out, "+     {path}: {a}{forces}");
            }
        }
        View::Lines(lines) => {
            let _ = writeln!(out, "{sign}     {path}:{forces}");
            for line in lines {
                let _ = match line {
                    Line::Removed(l) => writeln!(out, "-       {l}"),
                    Line::Added(l) => writeln!(out, "+       {l}"),
                    Line::Unchanged(l) => writeln!(out, "        {l}"),
                    Line::Gap => writeln!(out, "        …"),
                };
            }
        }
    }
}
