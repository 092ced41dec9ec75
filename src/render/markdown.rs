use std::fmt::Write;

use super::show_value;
use super::text::artifact_line;
use crate::plan::{Action, Outcome, Plan};

/// Markdown for a pull-request comment: a section per capsule and environment, changes
/// collapsible, destructive changes under a warning banner. `run_url` links the CI run.
pub fn markdown(plan: &Plan, run_url: Option<&str>) -> String {
    let mut out = String::new();
    match plan.ok {
        None => {
            let _ = writeln!(out, "## capsule plan\n");
        }
        Some(true) => {
            let _ = writeln!(out, "## capsule apply: :white_check_mark: applied\n");
        }
        Some(false) => {
            let _ = writeln!(out, "## capsule apply: :x: failed\n");
        }
    }
    if plan.offline {
        let _ = writeln!(
            out,
            "> [!NOTE]\n> Offline plan: AWS was not read (no credentials), so every resource is shown as created.\n"
        );
    }
    let destructive: Vec<String> = plan
        .capsules
        .iter()
        .flat_map(|c| &c.changes)
        .filter(|ch| ch.is_destructive())
        .map(|ch| format!("`{}` ({})", ch.address, if ch.action == Action::Delete { "delete" } else { "replace" }))
        .collect();
    if !destructive.is_empty() {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> **This plan destroys or replaces {} resource{}:** {}\n",
            destructive.len(),
            if destructive.len() == 1 { "" } else { "s" },
            destructive.join(", ")
        );
    }
    for c in &plan.capsules {
        let summary = c.summary();
        let _ = writeln!(out, "### `{}` · {}\n", c.capsule, c.environment);
        let _ = writeln!(out, "**{}**\n", summary.line());
        for e in &c.errors {
            let _ = writeln!(
                out,
                "- :x: `{}`: {}{}",
                e.address,
                e.message,
                e.hint.as_ref().map(|h| format!(" — {h}")).unwrap_or_default()
            );
        }
        if !c.errors.is_empty() {
            out.push('\n');
        }
        for n in &c.notes {
            let _ = writeln!(out, "> [!NOTE]\n> {n}\n");
        }
        let changes: Vec<_> = c.changes.iter().filter(|ch| ch.action != Action::NoOp).collect();
        if changes.is_empty() {
            let _ = writeln!(out, "No changes.\n");
        } else {
            let _ = writeln!(
                out,
                "<details><summary>{} change{}</summary>\n\n```diff",
                changes.len(),
                if changes.len() == 1 { "" } else { "s" }
            );
            for ch in changes {
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
                if ch.action != Action::Create {
                    for a in &ch.attributes {
                        let forces = match (a.forces_replacement, a.impact.as_deref()) {
                            (true, _) => " # forces replacement".to_string(),
                            (false, Some(impact)) => format!(" # {}", super::impact_text(impact)),
                            _ => String::new(),
                        };
                        let _ = writeln!(
                            out,
                            "{sign}     {}: {} -> {}{forces}",
                            a.path,
                            show_value(&a.before),
                            show_value(&a.after)
                        );
                    }
                }
            }
            let _ = writeln!(out, "```\n\n</details>\n");
        }
        if !c.artifacts.is_empty() {
            let _ = writeln!(out, "**Artifacts**\n");
            for a in &c.artifacts {
                let _ = writeln!(out, "- {}", artifact_line(a).replace('\n', " "));
            }
            out.push('\n');
        }
    }
    if let Some(url) = run_url {
        let what = if plan.ok.is_some() { "Logs" } else { "Full plan and logs" };
        let _ = writeln!(out, "[{what}]({url})");
    }
    out
}
