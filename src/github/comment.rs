//! What capsule writes for people on GitHub: the pull-request comment (with its hidden
//! marker), the step summary and outputs, and configuration errors as annotations. Pure
//! text from a plan; posting and writing files are the client's and the flows'.

use crate::plan::{Action, Plan};
use crate::render;

/// The hidden marker that identifies capsule's plan comment on a pull request.
pub const MARKER: &str = "<!-- capsule:plan -->";

/// The hidden marker of the apply comment for one pushed commit (one per commit, so a
/// re-run of the same apply updates its comment instead of adding another).
pub fn apply_marker(sha: &str) -> String {
    format!("<!-- capsule:apply {sha} -->")
}
/// GitHub rejects comment bodies longer than this.
pub const COMMENT_LIMIT: usize = 65_536;
/// GitHub shows at most this much of a step summary.
pub const SUMMARY_LIMIT: usize = 1024 * 1024;

/// The pull-request comment for `plan` (or an apply document), headed by `marker`: the
/// full Markdown when it fits GitHub's limit, else per capsule its summary and destructive
/// changes, pointing to the step summary.
pub fn comment_body(plan: &Plan, marker: &str, run_url: Option<&str>, note: Option<&str>) -> String {
    let mut head = format!("{marker}\n");
    if let Some(n) = note {
        head.push_str(&format!("> [!NOTE]\n> {n}\n\n"));
    }
    let full = format!("{head}{}", render::markdown(plan, run_url));
    if full.len() < COMMENT_LIMIT {
        return full;
    }
    let (title, what) = match plan.ok {
        None => ("capsule plan".to_string(), "plan"),
        Some(ok) => {
            (format!("capsule apply: {}", if ok { ":white_check_mark: applied" } else { ":x: failed" }), "result")
        }
    };
    let mut short = format!(
        "{head}## {title}\n\nThe full {what} is too long for a comment: it is in the [run's summary]({}).\n\n",
        run_url.unwrap_or("#")
    );
    for c in &plan.capsules {
        let destructive: Vec<&str> = c
            .changes
            .iter()
            .filter(|ch| ch.action == Action::Delete || ch.action == Action::Replace)
            .map(|ch| ch.address.as_str())
            .collect();
        short.push_str(&format!("- `{}` · {}: {}", c.capsule, c.environment, c.summary().line()));
        if !destructive.is_empty() {
            short.push_str(&format!(" **destroys or replaces {}**", destructive.len()));
        }
        short.push('\n');
    }
    if plan.has_destructive() {
        short.push_str("\n> [!WARNING]\n> This plan destroys or replaces resources: see the full plan.\n");
    }
    if short.len() >= COMMENT_LIMIT {
        let cut = short.char_indices().map(|(i, _)| i).take_while(|i| *i < COMMENT_LIMIT - 200).last().unwrap_or(0);
        short.truncate(cut);
        short.push_str("\n\n… (more capsules in the run's summary)\n");
    }
    short
}

/// The step summary: the full Markdown, cut at GitHub's 1 MiB.
pub fn step_summary(plan: &Plan, run_url: Option<&str>) -> String {
    let mut md = render::markdown(plan, run_url);
    if md.len() >= SUMMARY_LIMIT {
        let cut = md.char_indices().map(|(i, _)| i).take_while(|i| *i < SUMMARY_LIMIT - 200).last().unwrap_or(0);
        md.truncate(cut);
        md.push_str("\n\n… (cut at GitHub's 1 MiB summary limit; `capsule plan --format json` has all of it)\n");
    }
    md
}

/// `has_changes`, `destroy` and `capsules` for `GITHUB_OUTPUT`.
pub fn outputs(plan: &Plan) -> String {
    let mut names: Vec<&str> = plan.capsules.iter().map(|c| c.capsule.as_str()).collect();
    names.dedup();
    format!(
        "has_changes={}\ndestroy={}\ncapsules={}\n",
        plan.has_changes(),
        plan.has_destructive(),
        serde_json::to_string(&names).unwrap_or_else(|_| "[]".into())
    )
}

/// A configuration error as a workflow annotation on the file and line.
pub fn annotation(d: &crate::config::Diagnostic) -> String {
    let esc = |s: &str| s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    let msg = match &d.hint {
        Some(h) => format!("{} ({h})", d.message),
        None => d.message.clone(),
    };
    format!("::error file={},line={},col={}::{}", d.file.display(), d.line, d.column, esc(&msg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{AttributeChange, CapsulePlan, Change};

    fn big_plan(resources: usize) -> Plan {
        let changes = (0..resources)
            .map(|i| Change {
                address: format!("big.production.secret.s{i}"),
                kind: "secret".into(),
                action: if i % 100 == 0 { Action::Delete } else { Action::Update },
                reason: None,
                attributes: vec![AttributeChange {
                    path: "description".into(),
                    before: "old value".into(),
                    after: "a new value".into(),
                    forces_replacement: false,
                    impact: None,
                }],
                stateful: true,
                outcome: None,
                error: None,
            })
            .collect();
        let c = CapsulePlan {
            capsule: "big".into(),
            environment: "production".into(),
            region: "us-east-1".into(),
            changes,
            artifacts: vec![],
            errors: vec![],
            notes: vec![],
        };
        Plan::new(vec![c], false)
    }

    #[test]
    fn a_3000_resource_plan_stays_under_the_comment_limit() {
        let plan = big_plan(3000);
        assert!(render::markdown(&plan, None).len() > COMMENT_LIMIT, "the test plan must be too big for a comment");
        let body = comment_body(&plan, MARKER, Some("https://github.com/o/r/actions/runs/9"), None);
        assert!(body.len() < COMMENT_LIMIT, "{}", body.len());
        assert!(body.starts_with(MARKER));
        assert!(body.contains("run's summary](https://github.com/o/r/actions/runs/9)"));
        assert!(body.contains("destroys or replaces 30"));
        assert!(step_summary(&plan, None).len() < SUMMARY_LIMIT);
    }

    #[test]
    fn small_plans_are_commented_in_full() {
        let plan = big_plan(3);
        let body = comment_body(&plan, MARKER, None, Some("Offline plan"));
        assert!(body.contains("<details>") && body.contains("> [!NOTE]\n> Offline plan"));
        assert_eq!(outputs(&plan), "has_changes=true\ndestroy=true\ncapsules=[\"big\"]\n");
    }
}
