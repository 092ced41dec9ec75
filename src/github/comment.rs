//! What capsule writes for people on GitHub: the pull-request comment (with its hidden
//! marker), the step summary and outputs, and configuration errors as annotations. Pure
//! text from a plan; posting and writing files are the client's and the flows'.

use crate::plan::{Action, Plan};
use crate::render;

/// The hidden marker that identifies capsule's plan comment on a pull request (DESIGN
/// section 6); the `capsule:meta` line below it tells the fan-out jobs' comments apart.
pub const MARKER: &str = "<!-- capsule:plan -->";

/// The hidden marker of the apply comment for one pushed commit (one per commit, so a
/// re-run of the same apply updates its comment instead of adding another).
pub fn apply_marker(sha: &str) -> String {
    format!("<!-- capsule:apply {sha} -->")
}
/// GitHub rejects comment bodies longer than this (characters; capsule counts bytes).
pub const COMMENT_LIMIT: usize = 65_536;
/// GitHub aborts the upload of a step summary larger than this (1 MiB).
pub const SUMMARY_LIMIT: usize = 1024 * 1024;
/// The labels capsule keeps in step with the plan.
pub const LABELS: [&str; 3] = ["capsule:destroy", "capsule:no-changes", "capsule:plan-error"];
const APPLIED: &str = "<!-- capsule:applied -->";
const STALE: &str = "<!-- capsule:stale -->";

/// Which comment of a pull request a run keeps: its marker, the fan-out job's share
/// (`key`), and what the plan is for (commits, job link).
#[derive(Debug, Clone)]
pub struct Sticky {
    pub marker: String,
    pub key: String,
    pub head: String,
    pub base: Option<String>,
    pub run_url: Option<String>,
}

/// The hidden line after the marker: `key`, `head` and `digest` of a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub key: String,
    pub head: String,
    pub digest: String,
}

/// The share of a fan-out job, as it appears in the marker: `all`, or its root, capsules
/// and environment.
pub fn selection_key(select: &crate::engine::Selection) -> String {
    let root = repo_relative(&select.root);
    let mut parts = Vec::new();
    if !root.is_empty() {
        parts.push(format!("root={root}"));
    }
    if !select.capsules.is_empty() {
        let mut names = select.capsules.clone();
        names.sort();
        parts.push(format!("capsules={}", names.join(",")));
    }
    if let Some(env) = &select.env {
        parts.push(format!("env={env}"));
    }
    if parts.is_empty() { "all".into() } else { parts.join(" ").replace("--", "- -").replace('"', "'") }
}

/// `root` relative to the top of its git repository (`""` at the top), so that the same
/// share (or file) has the same key on every runner.
pub(super) fn repo_relative(root: &std::path::Path) -> String {
    let canonical = |p: &std::path::Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let top = git2::Repository::discover(root).ok().and_then(|r| r.workdir().map(canonical));
    let root = canonical(root);
    let rel = top.as_deref().and_then(|t| root.strip_prefix(t).ok()).unwrap_or(&root);
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

pub fn parse_meta(body: &str) -> Option<Meta> {
    let line = body.lines().find(|l| l.starts_with("<!-- capsule:meta "))?;
    let field = |k: &str| {
        let start = line.find(&format!("{k}=\""))? + k.len() + 2;
        let len = line[start..].find('"')?;
        Some(line[start..start + len].to_string())
    };
    Some(Meta { key: field("key")?, head: field("head")?, digest: field("digest")? })
}

impl Sticky {
    /// Whether `body` is this run's comment: its marker and its share (a comment from
    /// before the share was recorded counts as the whole repository's).
    pub fn matches(&self, body: &str) -> bool {
        body.lines().next() == Some(self.marker.as_str())
            && match parse_meta(body) {
                Some(m) => m.key == self.key,
                None => self.key == "all",
            }
    }

    /// A digest of what the comment says, without the run link or the time: an unchanged
    /// plan for the same commits is not edited again, whatever the run.
    pub fn digest(&self, content: &str) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for part in [self.key.as_str(), &self.head, self.base.as_deref().unwrap_or(""), content] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(&h.finalize()[..8])
    }

    /// Whether an existing comment already says `content` (and is not marked stale).
    pub fn unchanged(&self, existing: &str, content: &str) -> bool {
        !existing.contains(STALE) && parse_meta(existing).is_some_and(|m| m.digest == self.digest(content))
    }

    /// The marker lines and the line saying what the plan is for, then `markdown` (whose
    /// first line is its heading).
    pub fn wrap(&self, markdown: &str, digest_of: &str) -> String {
        let short = |s: &str| s.chars().take(7).collect::<String>();
        let mut about = format!("Planned `{}`", short(&self.head));
        if let Some(b) = &self.base {
            about.push_str(&format!(" against base `{}`", short(b)));
        }
        about.push_str(&format!(" · {}", humantime::format_rfc3339_seconds(std::time::SystemTime::now())));
        if let Some(url) = &self.run_url {
            about.push_str(&format!(" · [job]({url})"));
        }
        let (heading, rest) = markdown.split_once("\n\n").unwrap_or((markdown, ""));
        format!(
            "{}\n<!-- capsule:meta key=\"{}\" head=\"{}\" digest=\"{}\" -->\n{heading}\n\n{about}\n\n{rest}",
            self.marker,
            self.key,
            self.head,
            self.digest(digest_of)
        )
    }
}

/// `existing` with a banner saying a newer commit is being planned, or `None` when it is
/// already for `head` or already says so.
pub fn mark_stale(existing: &str, head: &str) -> Option<String> {
    let meta = parse_meta(existing)?;
    if meta.head == head || existing.contains(STALE) {
        return None;
    }
    let short = |s: &str| s.chars().take(7).collect::<String>();
    let banner = format!(
        "{STALE}\n> [!IMPORTANT]\n> :hourglass: Re-planning `{}`: the plan below is for `{}`, an older commit.\n\n",
        short(head),
        short(&meta.head)
    );
    Some(insert_after_meta(existing, &banner))
}

/// `existing` (a plan comment) with one line linking the apply that deployed it.
pub fn link_apply(existing: &str, ok: bool, apply_url: Option<&str>, run_url: Option<&str>) -> String {
    let kept: String = existing
        .split_inclusive('\n')
        .scan(false, |skip, line| {
            if line.starts_with(APPLIED) {
                *skip = true;
                return Some(String::new());
            }
            if *skip && (line.starts_with('>') || line.trim().is_empty()) {
                *skip = !line.trim().is_empty();
                return Some(String::new());
            }
            *skip = false;
            Some(line.to_string())
        })
        .collect();
    let what = if ok { ":white_check_mark: Merged and applied" } else { ":x: Merged; the apply failed" };
    let mut line = format!("{APPLIED}\n> [!NOTE]\n> {what}");
    if let Some(u) = apply_url {
        line.push_str(&format!(": [result]({u})"));
    }
    if let Some(u) = run_url {
        line.push_str(&format!(" · [logs]({u})"));
    }
    insert_after_meta(&kept, &format!("{line}\n\n"))
}

fn insert_after_meta(body: &str, text: &str) -> String {
    let mut lines = body.split_inclusive('\n');
    let mut head = String::new();
    for l in lines.by_ref() {
        head.push_str(l);
        if l.starts_with("<!-- capsule:meta ") {
            break;
        }
    }
    format!("{head}{text}{}", lines.collect::<String>())
}

/// The comment's content for `plan` (or an apply document): the full Markdown when it fits
/// GitHub's limit, else per capsule its summary and destructive changes, pointing to the
/// step summary. The marker lines are added by `Sticky::wrap`.
pub fn comment_markdown(plan: &Plan, run_url: Option<&str>, note: Option<&str>) -> String {
    let note = note.map(|n| format!("> [!NOTE]\n> {n}\n\n")).unwrap_or_default();
    let full = render::markdown(plan, run_url);
    let full = match full.split_once("\n\n") {
        Some((heading, rest)) => format!("{heading}\n\n{note}{rest}"),
        None => format!("{full}\n\n{note}"),
    };
    if full.len() < COMMENT_LIMIT - 1000 {
        return full;
    }
    let (title, what) = match plan.ok {
        None => ("capsule plan".to_string(), "plan"),
        Some(ok) => {
            (format!("capsule apply: {}", if ok { ":white_check_mark: applied" } else { ":x: failed" }), "result")
        }
    };
    let mut short = format!(
        "## {title}\n\n{note}The full {what} is too long for a comment: it is in the [run's summary]({}).\n\n",
        run_url.unwrap_or("#")
    );
    for c in &plan.capsules {
        let destructive =
            c.changes.iter().filter(|ch| ch.action == Action::Delete || ch.action == Action::Replace).count();
        short.push_str(&format!("- `{}` · {}: {}", c.capsule, c.environment, c.summary().line()));
        if destructive > 0 {
            short.push_str(&format!(" **destroys or replaces {destructive}**"));
        }
        short.push('\n');
    }
    if plan.has_destructive() {
        short.push_str("\n> [!WARNING]\n> This plan destroys or replaces resources: see the full plan.\n");
    }
    cut(short, COMMENT_LIMIT - 1000, "\n\n… (more capsules in the run's summary)\n")
}

/// `md` cut under `limit` bytes on a character boundary, with any open code fence and
/// `<details>` closed before `notice`, so that the notice renders as text.
fn cut(mut md: String, limit: usize, notice: &str) -> String {
    if md.len() < limit {
        return md;
    }
    let at = md.char_indices().map(|(i, _)| i).take_while(|i| *i < limit.saturating_sub(200)).last().unwrap_or(0);
    md.truncate(at);
    if let Some(nl) = md.rfind('\n') {
        md.truncate(nl + 1);
    }
    if md.lines().filter(|l| l.trim_start().starts_with("```")).count() % 2 == 1 {
        md.push_str("```\n");
    }
    let open = md.matches("<details>").count().saturating_sub(md.matches("</details>").count());
    md.push_str(&"\n</details>\n".repeat(open));
    md.push_str(notice);
    md
}

/// The step summary: the full Markdown, cut under GitHub's 1 MiB.
pub fn step_summary(plan: &Plan, run_url: Option<&str>) -> String {
    let md = render::markdown(plan, run_url);
    cut(
        md,
        SUMMARY_LIMIT,
        "\n\n… (cut under GitHub's 1 MiB summary limit; `capsule plan --format json` has all of it)\n",
    )
}

/// The `capsule:*` labels a plan calls for.
pub fn labels_for(plan: Option<&Plan>) -> Vec<&'static str> {
    match plan {
        None => vec![LABELS[2]],
        Some(p) if p.has_errors() => vec![LABELS[2]],
        Some(p) if p.has_destructive() => vec![LABELS[0]],
        Some(p) if !p.has_changes() => vec![LABELS[1]],
        Some(_) => vec![],
    }
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

/// A workflow command's message, escaped as the runner reads it (`%`, CR, LF).
pub fn escape(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A configuration error as a workflow annotation on the file and line.
pub fn annotation(d: &crate::config::Diagnostic) -> String {
    let esc = escape;
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

    fn sticky(key: &str, head: &str) -> Sticky {
        Sticky { marker: MARKER.into(), key: key.into(), head: head.into(), base: Some("b0".into()), run_url: None }
    }

    #[test]
    fn a_3000_resource_plan_stays_under_the_comment_limit() {
        let plan = big_plan(3000);
        assert!(render::markdown(&plan, None).len() > COMMENT_LIMIT, "the test plan must be too big for a comment");
        let md = comment_markdown(&plan, Some("https://github.com/o/r/actions/runs/9"), None);
        let body = sticky("all", "h1").wrap(&md, &md);
        assert!(body.len() < COMMENT_LIMIT, "{}", body.len());
        assert!(body.starts_with(MARKER));
        assert!(body.contains("run's summary](https://github.com/o/r/actions/runs/9)"));
        assert!(body.contains("destroys or replaces 30"));
        assert!(step_summary(&plan, None).len() < SUMMARY_LIMIT);
    }

    #[test]
    fn small_plans_are_commented_in_full() {
        let plan = big_plan(3);
        let body = comment_markdown(&plan, None, Some("A note"));
        assert!(body.contains("<details>") && body.contains("> [!NOTE]\n> A note"));
        assert_eq!(outputs(&plan), "has_changes=true\ndestroy=true\ncapsules=[\"big\"]\n");
    }

    #[test]
    fn each_share_has_its_own_comment_and_digest() {
        let all = sticky("all", "h1");
        let body = all.wrap("## capsule plan\n\nbody", "body");
        assert!(body.starts_with("<!-- capsule:plan -->\n<!-- capsule:meta key=\"all\" head=\"h1\" digest=\""));
        assert!(body.contains("Planned `h1` against base `b0` · "), "{body}");
        assert_eq!(parse_meta(&body).unwrap().key, "all");
        assert!(all.matches(&body) && !sticky("env=staging", "h1").matches(&body));
        // A comment from before the share was recorded belongs to the whole repository.
        assert!(all.matches("<!-- capsule:plan -->\nold") && !sticky("env=x", "h1").matches("<!-- capsule:plan -->\n"));
        // A marker anywhere but the first line is someone quoting it.
        assert!(!all.matches("quoted:\n<!-- capsule:plan -->"));
        assert!(all.unchanged(&body, "body") && !all.unchanged(&body, "other"));
        assert!(!sticky("all", "h2").unchanged(&body, "body"), "another head commit is another plan");
    }

    #[test]
    fn an_older_plan_is_marked_stale_once_and_links_its_apply() {
        let body = sticky("all", "aaaaaaa1").wrap("## capsule plan\n\nthe plan", "the plan");
        assert_eq!(mark_stale(&body, "aaaaaaa1"), None);
        let stale = mark_stale(&body, "bbbbbbb2").unwrap();
        assert!(stale.contains("Re-planning `bbbbbbb`: the plan below is for `aaaaaaa`"), "{stale}");
        assert!(stale.starts_with(MARKER) && stale.ends_with("the plan"));
        assert_eq!(mark_stale(&stale, "ccccccc3"), None);
        assert!(!sticky("all", "aaaaaaa1").unchanged(&stale, "the plan"), "a stale comment is rewritten");
        let linked = link_apply(&body, true, Some("https://github.com/o/r/pull/5#issuecomment-9"), None);
        let again = link_apply(&linked, false, None, Some("https://x/run"));
        assert_eq!(again.matches("capsule:applied").count(), 1, "{again}");
        assert!(again.contains(":x: Merged; the apply failed · [logs](https://x/run)") && again.ends_with("the plan"));
    }

    #[test]
    fn a_cut_closes_open_fences_and_details() {
        let md = format!("## t\n\n<details><summary>x</summary>\n\n```diff\n{}", "+ line\n".repeat(1000));
        let out = cut(md, 2000, "\n\nNOTICE\n");
        assert!(out.len() < 2000);
        assert!(out.ends_with("```\n\n</details>\n\n\nNOTICE\n"), "{out}");
        let utf = cut("é".repeat(2000), 1000, "");
        assert!(utf.len() < 1000 && utf.chars().all(|c| c == 'é'));
    }

    #[test]
    fn labels_follow_the_plan() {
        assert_eq!(labels_for(None), vec!["capsule:plan-error"]);
        assert_eq!(labels_for(Some(&big_plan(3))), vec!["capsule:destroy"]);
        assert_eq!(labels_for(Some(&Plan::new(vec![], false))), vec!["capsule:no-changes"]);
    }
}
