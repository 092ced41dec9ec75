//! What a drift issue of `github reconcile` says: its hidden marker (which capsule
//! environment or file it is about), when the drift was first and last seen, the plan that
//! would put AWS back, or why it could not be planned or healed. Pure text; listing and
//! writing issues is `issues`' and the flow's.

use crate::plan::{CapsulePlan, Plan};

/// The labels of drift issues; capsule keeps exactly one of them on each.
pub const DRIFT_LABELS: [&str; 2] = ["capsule:drift", "capsule:plan-error"];

/// What one capsule environment (or one invalid file) came to in a reconcile run.
#[derive(Debug, Clone)]
pub enum Finding {
    /// Live AWS matches the files.
    Clean,
    /// Live AWS differs; `plan` is what applying would change. `not_healed`: why a heal
    /// was refused (data would be destroyed, the lock is held), when one was tried.
    Drifted { plan: Box<CapsulePlan>, not_healed: Option<String> },
    /// The drift was applied back: `applied` is the apply's document.
    Healed { applied: Box<CapsulePlan> },
    /// It could not be planned (or a heal failed): why.
    Error { message: String, plan: Option<Box<CapsulePlan>> },
}

impl Finding {
    /// The step summary's word for it.
    pub fn status(&self) -> &'static str {
        match self {
            Finding::Clean => "clean",
            Finding::Drifted { .. } => "drifted",
            Finding::Healed { .. } => "healed",
            Finding::Error { .. } => "error",
        }
    }

    /// The label the issue carries, or `None` when no issue stays open for it.
    pub fn label(&self) -> Option<&'static str> {
        match self {
            Finding::Clean | Finding::Healed { .. } => None,
            Finding::Drifted { .. } => Some(DRIFT_LABELS[0]),
            Finding::Error { .. } => Some(DRIFT_LABELS[1]),
        }
    }
}

/// One drift issue's subject: a capsule environment, or a file that does not load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Environment { capsule: String, env: String },
    File(String),
}

impl Subject {
    /// The hidden first line that finds the issue again.
    pub fn marker(&self) -> String {
        match self {
            Subject::Environment { capsule, env } => format!("<!-- capsule:drift {capsule}/{env} -->"),
            Subject::File(path) => format!("<!-- capsule:drift file={} -->", path.replace("--", "- -")),
        }
    }

    /// The name people see: `shop/production`, or the file's path.
    pub fn name(&self) -> String {
        match self {
            Subject::Environment { capsule, env } => format!("{capsule}/{env}"),
            Subject::File(path) => path.clone(),
        }
    }

    pub fn title(&self, finding: &Finding) -> String {
        match (self, finding) {
            (Subject::File(path), _) => format!("capsule: {path} does not load on the default branch"),
            (_, Finding::Error { .. }) => format!("capsule: {} cannot be planned", self.name()),
            _ => format!("capsule: drift in {}", self.name()),
        }
    }
}

/// When and where a run saw its findings.
#[derive(Debug, Clone)]
pub struct Seen {
    /// RFC 3339, UTC.
    pub now: String,
    /// The default branch's commit that was planned.
    pub sha: Option<String>,
    pub run_url: Option<String>,
}

const META: &str = "<!-- capsule:drift-meta first-seen=\"";

/// When an existing issue says the drift was first seen.
pub fn first_seen(body: &str) -> Option<String> {
    let line = body.lines().find(|l| l.starts_with(META))?;
    let rest = &line[META.len()..];
    Some(rest[..rest.find('"')?].to_string())
}

/// The issue's body for `finding` (not `Clean`), keeping `first` from an earlier run.
pub fn body(subject: &Subject, finding: &Finding, first: Option<&str>, seen: &Seen) -> String {
    let first = first.unwrap_or(&seen.now);
    let mut out = format!("{}\n{META}{first}\" -->\n## {}\n\n", subject.marker(), subject.title(finding));
    let at = seen.sha.as_deref().map(|s| format!(" at `{}`", s.chars().take(7).collect::<String>()));
    let mut when = format!("First seen {first} · last seen {}", seen.now);
    if let Some(url) = &seen.run_url {
        when.push_str(&format!(" · [run]({url})"));
    }
    let (what, plan) = explain(subject, finding, at.as_deref().unwrap_or(""));
    out.push_str(&format!("{what}\n\n{when}\n\n"));
    if let Some(p) = plan {
        // Notes (cost estimates, the SES sandbox) are about the files, not the drift.
        let doc = Plan::new(vec![CapsulePlan { notes: vec![], ..p.clone() }], false);
        let doc = if matches!(finding, Finding::Healed { .. }) { applied(doc) } else { doc };
        let md = super::comment_markdown(&doc, seen.run_url.as_deref(), None);
        // The plan's own heading is replaced by this issue's.
        out.push_str(md.split_once("\n\n").map_or(md.as_str(), |(_, rest)| rest));
    }
    out
}

fn applied(mut doc: Plan) -> Plan {
    doc.ok = Some(true);
    doc
}

/// What happened, for people, and the plan to show below it.
fn explain<'a>(subject: &Subject, finding: &'a Finding, at: &str) -> (String, Option<&'a CapsulePlan>) {
    let name = subject.name();
    match finding {
        Finding::Clean => (format!("`{name}` matches the files."), None),
        Finding::Drifted { plan, not_healed: None } => (
            format!(
                "Live AWS differs from the default branch{at}: something changed `{name}` outside git. \
                 Nothing was changed (`on_drift = \"report\"`). To put AWS back, apply git's state \
                 (`capsule apply --capsule {} --env {}`); to keep the change, write it into the capsule's file.",
                plan.capsule, plan.environment
            ),
            Some(plan),
        ),
        Finding::Drifted { plan, not_healed: Some(why) } => (
            format!(
                "Live AWS differs from the default branch{at}, and it was **not healed**: {}",
                why.replace('\n', "\n> ")
            ),
            Some(plan),
        ),
        Finding::Healed { applied } => (
            format!(
                "Live AWS had drifted from the default branch{at}; capsule applied it back (`on_drift = \"heal\"`)."
            ),
            Some(applied),
        ),
        Finding::Error { message, plan } => {
            let what = match subject {
                Subject::File(_) => {
                    format!("The file does not load on the default branch{at}, so nothing in it was planned:")
                }
                Subject::Environment { .. } => format!("`{name}` could not be planned{at}:"),
            };
            (format!("{what}\n\n```\n{}\n```", message.replace("```", "'''")), plan.as_deref())
        }
    }
}

/// The issue's labels: those people gave it, with capsule's set to `label`.
pub fn labels(existing: &[String], label: &str) -> Vec<String> {
    let mut out: Vec<String> = existing.iter().filter(|l| !DRIFT_LABELS.contains(&l.as_str())).cloned().collect();
    out.push(label.to_string());
    out
}

/// The comment that closes an issue once its subject is clean again.
pub fn closing(subject: &Subject, finding: &Finding, seen: &Seen) -> String {
    let at =
        seen.sha.as_deref().map(|s| format!(" at `{}`", s.chars().take(7).collect::<String>())).unwrap_or_default();
    let run = seen.run_url.as_deref().map(|u| format!(" ([run]({u}))")).unwrap_or_default();
    match (subject, finding) {
        (_, Finding::Healed { .. }) => {
            format!(
                ":white_check_mark: Healed: capsule applied the default branch{at} back to `{}`{run}.",
                subject.name()
            )
        }
        (Subject::File(path), _) => format!(":white_check_mark: `{path}` loads again (or is gone){at}{run}."),
        _ => format!(":white_check_mark: `{}` matches the default branch{at} again{run}.", subject.name()),
    }
}

/// The comment that closes an issue whose subject is no longer in the files.
pub fn gone(name: &str, seen: &Seen) -> String {
    let run = seen.run_url.as_deref().map(|u| format!(" ([run]({u}))")).unwrap_or_default();
    format!(":white_check_mark: `{name}` is no longer declared on the default branch: nothing to reconcile{run}.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, AttributeChange, Change};
    use serde_json::json;

    fn drifted() -> CapsulePlan {
        CapsulePlan {
            capsule: "shop".into(),
            environment: "production".into(),
            region: "us-east-1".into(),
            changes: vec![Change {
                address: "shop.production.ecs_service.api".into(),
                kind: "ecs_service".into(),
                action: Action::Update,
                reason: None,
                attributes: vec![AttributeChange {
                    path: "desired_count".into(),
                    before: json!(0),
                    after: json!(2),
                    forces_replacement: false,
                    impact: None,
                }],
                stateful: false,
                outcome: None,
                error: None,
            }],
            artifacts: vec![],
            errors: vec![],
            notes: vec![],
        }
    }

    #[test]
    fn the_body_names_the_drifted_attribute_and_keeps_the_first_sighting() {
        let subject = Subject::Environment { capsule: "shop".into(), env: "production".into() };
        let finding = Finding::Drifted { plan: Box::new(drifted()), not_healed: None };
        let seen = Seen { now: "2026-12-02T13:00:00Z".into(), sha: Some("0123456789ab".into()), run_url: None };
        let body = body(&subject, &finding, Some("2026-12-01T06:17:00Z"), &seen);
        assert!(body.starts_with("<!-- capsule:drift shop/production -->\n"), "{body}");
        assert_eq!(first_seen(&body).as_deref(), Some("2026-12-01T06:17:00Z"));
        assert!(body.contains("First seen 2026-12-01T06:17:00Z · last seen 2026-12-02T13:00:00Z"), "{body}");
        assert!(body.contains("desired_count") && body.contains("`0123456`"), "{body}");
        assert!(!body.contains("## capsule plan"), "the plan's heading is the issue's: {body}");
        assert_eq!(subject.title(&finding), "capsule: drift in shop/production");
    }

    #[test]
    fn labels_people_added_are_kept_and_capsules_is_swapped() {
        let have = vec!["ops".to_string(), "capsule:drift".to_string()];
        assert_eq!(labels(&have, "capsule:plan-error"), vec!["ops", "capsule:plan-error"]);
    }

    #[test]
    fn a_file_marker_cannot_close_the_html_comment() {
        assert_eq!(
            Subject::File("a--b/capsule.toml".into()).marker(),
            "<!-- capsule:drift file=a- -b/capsule.toml -->"
        );
    }
}
