use std::fmt::Write;

use super::diff::{self, Line, View};
use super::show_value;
use crate::plan::{Action, ArtifactPlan, AttributeChange, CapsulePlan, Change, Plan};

struct Paint {
    on: bool,
}

impl Paint {
    fn code(&self, code: &str, s: &str) -> String {
        if self.on { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
    }
    fn action(&self, a: Action, s: &str) -> String {
        match a {
            Action::Create => self.code("32", s),
            Action::Update => self.code("33", s),
            Action::Replace | Action::Delete => self.code("31", s),
            Action::NoOp => s.to_string(),
        }
    }
}

/// Terraform-like text: one block per changed resource, artifacts, then the summary line.
/// `color` is decided by the caller (TTY and no `NO_COLOR`).
pub fn text(plan: &Plan, color: bool) -> String {
    let p = Paint { on: color };
    let mut out = String::new();
    if plan.offline {
        let _ = writeln!(out, "{}", p.code("2", "Offline plan: AWS was not read, every resource is shown as created."));
        out.push('\n');
    }
    for c in &plan.capsules {
        capsule(&mut out, &p, c);
    }
    if plan.capsules.len() != 1 {
        let _ = writeln!(out, "{}", plan.summary.line());
    }
    out
}

/// One capsule environment: errors, notes, each change with its attributes, artifacts and
/// its summary line.
fn capsule(out: &mut String, p: &Paint, c: &CapsulePlan) {
    let _ = writeln!(
        out,
        "{}",
        p.code("1", &format!("capsule {} · environment {} ({})", c.capsule, c.environment, c.region))
    );
    out.push('\n');
    for e in &c.errors {
        let _ = writeln!(out, "  {} {}: {}", p.code("31", "error"), e.address, e.message);
        if let Some(h) = &e.hint {
            let _ = writeln!(out, "        hint: {h}");
        }
    }
    for n in &c.notes {
        let _ = writeln!(out, "  {} {n}", p.code("33", "note"));
    }
    let changes: Vec<&Change> = c.changes.iter().filter(|ch| ch.action != Action::NoOp).collect();
    for ch in &changes {
        let mut head = format!("{:>3} {}", ch.action.symbol(), ch.address);
        if let Some(reason) = &ch.reason
            && ch.action != Action::Create
        {
            let _ = write!(head, " ({reason})");
        }
        let _ = writeln!(out, "{}", p.action(ch.action, &head));
        for a in &ch.attributes {
            attribute(out, p, ch.action, a);
        }
    }
    if changes.is_empty() && c.errors.is_empty() {
        let _ = writeln!(out, "  No changes. Live AWS matches the configuration.");
    }
    if !c.artifacts.is_empty() {
        let _ = writeln!(out, "\n  Artifacts:");
        for a in &c.artifacts {
            let _ = writeln!(out, "    {}", artifact_line(a));
        }
    }
    let _ = writeln!(out, "\n  {}\n", c.summary().line());
}

/// One attribute of a change: a create shows the new value, a delete the old one, anything
/// else what changes (see `diff::view`).
fn attribute(out: &mut String, p: &Paint, action: Action, a: &AttributeChange) {
    let forces = match (a.forces_replacement, a.impact.as_deref()) {
        (true, _) => p.code("31", " # forces replacement"),
        (false, Some(impact)) => p.code("33", &format!(" # {}", super::impact_text(impact))),
        _ => String::new(),
    };
    let path = &a.path;
    let one_side = match action {
        Action::Create => Some(&a.after),
        Action::Delete => Some(&a.before),
        _ => None,
    };
    if let Some(v) = one_side {
        let _ = writeln!(out, "      {path}: {}{forces}", show_value(v));
        return;
    }
    match diff::view(a) {
        View::Inline { before, after } => {
            let _ = writeln!(out, "      {path}: {before} -> {after}{forces}");
        }
        View::Member { before, after } => {
            if let Some(b) = before {
                let _ = writeln!(out, "      {}", p.code("31", &format!("- {path}: {b}")));
            }
            if let Some(a) = after {
                let _ = writeln!(out, "      {}{forces}", p.code("32", &format!("+ {path}: {a}")));
            }
        }
        View::Lines(lines) => {
            let _ = writeln!(out, "      {path}:{forces}");
            for line in lines {
                let _ = writeln!(out, "      {}", diff_line(p, &line));
            }
        }
    }
}

fn diff_line(p: &Paint, line: &Line) -> String {
    match line {
        Line::Removed(l) => p.code("31", &format!("- {l}")),
        Line::Added(l) => p.code("32", &format!("+ {l}")),
        Line::Unchanged(l) => format!("  {l}"),
        Line::Gap => p.code("2", "  …"),
    }
}

pub(crate) fn artifact_line(a: &ArtifactPlan) -> String {
    match a {
        ArtifactPlan::Image { name, action, tag, reason, pushed, digest } => {
            let mut s = format!("image {name}: {action}");
            if let Some(t) = tag {
                s.push_str(&format!(" (tag {t})"));
            }
            match (pushed, digest) {
                (Some(true), Some(d)) => s.push_str(&format!(", pushed {d}")),
                (Some(false), Some(d)) => s.push_str(&format!(", already in the registry as {d}")),
                _ => {}
            }
            if let Some(r) = reason {
                s.push_str(&format!(" — {r}"));
            }
            s
        }
        ArtifactPlan::Site { name, upload, delete, unchanged, invalidate, note, upload_paths, .. } => {
            let n = |v: &Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
            let mut s =
                format!("site {name}: {} to upload, {} to delete, {} unchanged", n(upload), n(delete), n(unchanged));
            if !invalidate.is_empty() {
                s.push_str(&format!("; invalidate {}", invalidate.join(" ")));
            }
            if !upload_paths.is_empty() {
                s.push_str(&format!("\n      first: {}", upload_paths.join(", ")));
            }
            if let Some(note) = note {
                s.push_str(&format!(" ({note})"));
            }
            s
        }
    }
}
