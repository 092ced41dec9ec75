//! How one attribute change reads: short values as `before -> after`, members of a
//! document as a `-`/`+` pair, documents and multi-line text as a line diff with a little
//! context. Works on values as `show_value` shows them; the output format is the caller's.

use serde_json::Value;
use similar::{Algorithm, DiffOp, DiffTag};

use super::{masked, show_value};
use crate::plan::AttributeChange;

/// Unchanged lines kept around each change of a line diff.
const CONTEXT: usize = 2;
/// Documents whose before and after together are no longer than this stay on one line.
const INLINE_WIDTH: usize = 80;

/// One attribute change, laid out for people.
#[derive(Debug, PartialEq)]
pub(crate) enum View {
    /// A top-level setting with short values: `path: before -> after`.
    Inline { before: String, after: String },
    /// A short member of a document the planner split into dotted paths (one environment
    /// variable, one tag): `- path: before` then `+ path: after`, each only when set.
    Member { before: Option<String>, after: Option<String> },
    /// A document (JSON object or array) or multi-line text: `path:` then its lines.
    Lines(Vec<Line>),
}

/// A line of a line diff.
#[derive(Debug, PartialEq)]
pub(crate) enum Line {
    Removed(String),
    Added(String),
    Unchanged(String),
    /// Unchanged lines left out.
    Gap,
}

/// How `a` reads in a plan (for updates and replacements: both sides matter).
pub(crate) fn view(a: &AttributeChange) -> View {
    let (before, after) = (masked(&a.before), masked(&a.after));
    let is_document =
        |v: &Value| matches!(v, Value::Object(m) if !m.is_empty()) || matches!(v, Value::Array(i) if !i.is_empty());
    let is_multiline = |v: &Value| v.as_str().is_some_and(|s| s.contains('\n'));
    let long = show_value(&a.before).len() + show_value(&a.after).len() > INLINE_WIDTH;
    if is_multiline(&before) || is_multiline(&after) || ((is_document(&before) || is_document(&after)) && long) {
        return View::Lines(line_diff(&lines_of(&a.before), &lines_of(&a.after)));
    }
    if a.path.contains('.') {
        let shown = |v: &Value| (!v.is_null()).then(|| show_value(v));
        return View::Member { before: shown(&a.before), after: shown(&a.after) };
    }
    View::Inline { before: show_value(&a.before), after: show_value(&a.after) }
}

/// The lines a value is compared by: text as written, documents pretty-printed in their
/// own key order, anything else as `show_value` shows it; nothing for null.
fn lines_of(v: &Value) -> Vec<String> {
    match masked(v) {
        Value::Null => vec![],
        Value::String(s) if s.contains('\n') => s.lines().map(str::to_string).collect(),
        doc @ (Value::Object(_) | Value::Array(_)) => match serde_json::to_string_pretty(&doc) {
            Ok(text) => text.lines().map(str::to_string).collect(),
            Err(_) => vec![show_value(v)],
        },
        _ => vec![show_value(v)],
    }
}

/// The changed lines of `old` -> `new` with `CONTEXT` unchanged lines around them; a
/// `Gap` wherever unchanged lines are left out. Lines compare without a trailing comma, so
/// appending to a JSON list does not show its last entry as removed and added again.
fn line_diff(old: &[String], new: &[String]) -> Vec<Line> {
    let key = |l: &String| l.strip_suffix(',').unwrap_or(l).to_string();
    let ops = similar::capture_diff_slices_by_key(Algorithm::Patience, old, new, key);
    let mut out = Vec::new();
    let mut shown_to = 0;
    for group in similar::group_diff_ops(ops, CONTEXT) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else { continue };
        if first.old_range().start > shown_to {
            out.push(Line::Gap);
        }
        shown_to = last.old_range().end;
        for op in &group {
            lines_of_op(op, old, new, &mut out);
        }
    }
    if shown_to < old.len() && !out.is_empty() {
        out.push(Line::Gap);
    }
    out
}

/// Unchanged lines read as they are in `new`.
fn lines_of_op(op: &DiffOp, old: &[String], new: &[String], out: &mut Vec<Line>) {
    let (tag, old_range, new_range) = op.as_tag_tuple();
    let removed = || old[old_range.clone()].iter().cloned().map(Line::Removed);
    let added = || new[new_range.clone()].iter().cloned().map(Line::Added);
    match tag {
        DiffTag::Equal => out.extend(new[new_range.clone()].iter().cloned().map(Line::Unchanged)),
        DiffTag::Delete => out.extend(removed()),
        DiffTag::Insert => out.extend(added()),
        DiffTag::Replace => {
            out.extend(removed());
            out.extend(added());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(path: &str, before: Value, after: Value) -> AttributeChange {
        AttributeChange { path: path.into(), before, after, forces_replacement: false, impact: None }
    }

    fn lines(v: View) -> Vec<Line> {
        match v {
            View::Lines(lines) => lines,
            other => panic!("expected a line diff, got {other:?}"),
        }
    }

    use Line::{Added, Gap, Removed, Unchanged};
    fn s(text: &str) -> String {
        text.to_string()
    }

    #[test]
    fn short_top_level_values_stay_on_one_line() {
        let v = view(&change("retention_days", json!(7), json!(30)));
        assert_eq!(v, View::Inline { before: s("7"), after: s("30") });
        let v = view(&change("security_groups", json!(["sg-1"]), json!(["sg-2"])));
        assert_eq!(v, View::Inline { before: s("[\"sg-1\"]"), after: s("[\"sg-2\"]") });
    }

    #[test]
    fn a_document_member_is_a_pair_and_an_added_one_only_a_plus() {
        let v = view(&change("container.environment.LOG_LEVEL", json!("info"), json!("debug")));
        assert_eq!(v, View::Member { before: Some(s("\"info\"")), after: Some(s("\"debug\"")) });
        let v = view(&change("container.environment.NEW", Value::Null, json!("1")));
        assert_eq!(v, View::Member { before: None, after: Some(s("\"1\"")) });
    }

    #[test]
    fn multi_line_text_diffs_by_line_with_context_and_gaps() {
        let before: Vec<String> = (1..=12).map(|i| format!("line {i}")).collect();
        let mut after = before.clone();
        after[5] = "line six".into();
        let v = view(&change("user_data", json!(before.join("\n")), json!(after.join("\n"))));
        let expected = vec![
            Gap,
            Unchanged(s("line 4")),
            Unchanged(s("line 5")),
            Removed(s("line 6")),
            Added(s("line six")),
            Unchanged(s("line 7")),
            Unchanged(s("line 8")),
            Gap,
        ];
        assert_eq!(lines(v), expected);
    }

    #[test]
    fn a_policy_diffs_pretty_printed_in_its_own_key_order() {
        let statement = |action: &str| json!({ "Sid": "Logs", "Effect": "Allow", "Action": [action, "logs:PutLogEvents"], "Resource": ["arn:aws:logs:*"] });
        let before = json!([statement("logs:CreateLogStream"), { "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": ["*"] }]);
        let after = json!([statement("logs:CreateLogGroup"), { "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": ["*"] }]);
        let got = lines(view(&change("policy.Statement", before, after)));
        let expected = vec![
            Gap,
            Unchanged(s(r#"    "Effect": "Allow","#)),
            Unchanged(s(r#"    "Action": ["#)),
            Removed(s(r#"      "logs:CreateLogStream","#)),
            Added(s(r#"      "logs:CreateLogGroup","#)),
            Unchanged(s(r#"      "logs:PutLogEvents""#)),
            Unchanged(s(r#"    ],"#)),
            Gap,
        ];
        assert_eq!(got, expected);
    }

    #[test]
    fn an_entry_appended_to_a_list_is_one_added_line() {
        let before = json!({ "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::hello-production-web/*"] });
        let after = json!({ "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": ["arn:aws:s3:::hello-production-web/*"] });
        let got = lines(view(&change("policy.Statement", json!([before]), json!([after]))));
        let added: Vec<&Line> = got.iter().filter(|l| !matches!(l, Unchanged(_) | Gap)).collect();
        assert_eq!(added, [&Added(s(r#"      "s3:PutObject""#))], "{got:?}");
        assert!(got.contains(&Unchanged(s(r#"      "s3:GetObject","#))), "unchanged lines read as after: {got:?}");
    }

    #[test]
    fn references_read_known_after_apply_inside_a_diff_too() {
        let r = json!({ "$ref": "shop.production.secret.stripe", "attr": "arn" });
        let before = json!([{ "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": ["arn:aws:secretsmanager:old"] }]);
        let after = json!([{ "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": [r] }]);
        let got = lines(view(&change("policy.Statement", before, after)));
        assert!(got.contains(&Added(s(r#"      "(known after apply)""#))), "{got:?}");
        assert!(!format!("{got:?}").contains("$ref"), "{got:?}");
    }

    #[test]
    fn a_new_document_is_all_added_lines() {
        let after = json!({ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*" }] });
        let got = lines(view(&change("policy", Value::Null, after)));
        assert!(got.iter().all(|l| matches!(l, Added(_))), "{got:?}");
        assert_eq!(got.len(), 10);
    }
}
