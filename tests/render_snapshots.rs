//! Snapshots of the three renderers on the examples' offline plans, and the CLI's
//! behaviour around them (colour, NO_COLOR, exit codes).

use std::path::{Path, PathBuf};

use capsule::config::load_project;
use capsule::engine::{Selection, offline_plan, select};
use capsule::plan::{Action, AttributeChange, Change, Plan};
use capsule::render;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn plan_of(capsule: &str, env: Option<&str>) -> Plan {
    let project = load_project(&examples()).unwrap_or_else(|e| panic!("{e}"));
    let sel = Selection { root: examples(), capsules: vec![capsule.into()], env: env.map(String::from) };
    let targets = select(&project, &sel).unwrap();
    offline_plan(&project, &targets, "us-east-1").unwrap()
}

#[test]
fn hello_text() {
    insta::assert_snapshot!(render::text(&plan_of("hello", None), false));
}

#[test]
fn hello_markdown() {
    insta::assert_snapshot!(render::markdown(&plan_of("hello", None), Some("https://github.com/o/r/actions/runs/1")));
}

#[test]
fn hello_json() {
    insta::assert_snapshot!(render::json(&plan_of("hello", None)));
}

#[test]
fn shop_production_text() {
    insta::assert_snapshot!(render::text(&plan_of("shop", Some("production")), false));
}

#[test]
fn shop_both_environments_markdown() {
    insta::assert_snapshot!(render::markdown(&plan_of("shop", None), None));
}

#[test]
fn shop_staging_json() {
    insta::assert_snapshot!(render::json(&plan_of("shop", Some("staging"))));
}

/// A plan with every action, rendered three ways from the same data.
fn mixed_plan() -> Plan {
    let mut plan = plan_of("hello", None);
    let c = &mut plan.capsules[0];
    c.changes = vec![
        Change {
            address: "hello.production.log_group.api".into(),
            kind: "log_group".into(),
            action: Action::Update,
            reason: None,
            attributes: vec![AttributeChange {
                path: "retention_days".into(),
                before: 7.into(),
                after: 30.into(),
                forces_replacement: false,
                impact: None,
            }],
            stateful: false,
            outcome: None,
            error: None,
        },
        Change {
            address: "hello.production.rds_instance.main".into(),
            kind: "rds_instance".into(),
            action: Action::Replace,
            reason: Some("engine cannot change in place".into()),
            attributes: vec![AttributeChange {
                path: "engine".into(),
                before: "postgres".into(),
                after: "mysql".into(),
                forces_replacement: true,
                impact: None,
            }],
            stateful: true,
            outcome: None,
            error: None,
        },
        Change {
            address: "hello.production.s3_bucket.old".into(),
            kind: "s3_bucket".into(),
            action: Action::Delete,
            reason: Some("no longer declared".into()),
            attributes: vec![],
            stateful: true,
            outcome: None,
            error: None,
        },
        Change {
            address: "hello.production.secret.same".into(),
            kind: "secret".into(),
            action: Action::NoOp,
            reason: None,
            attributes: vec![],
            stateful: true,
            outcome: None,
            error: None,
        },
    ];
    plan.offline = false;
    Plan::new(plan.capsules, false)
}

#[test]
fn every_action_text() {
    insta::assert_snapshot!(render::text(&mixed_plan(), false));
}

#[test]
fn every_action_markdown_has_a_destruction_banner() {
    let md = render::markdown(&mixed_plan(), None);
    assert!(md.contains("> [!WARNING]\n> **This plan destroys or replaces 2 resources:**"), "{md}");
    insta::assert_snapshot!(md);
}

#[test]
fn summary_counts_replace_as_add_and_destroy() {
    let plan = mixed_plan();
    assert_eq!(plan.summary.line(), "Plan: 1 to add, 1 to change, 2 to destroy.");
    let json: serde_json::Value = serde_json::from_str(&render::json(&plan)).unwrap();
    assert_eq!(json["summary"], serde_json::json!({ "create": 0, "update": 1, "replace": 1, "delete": 1, "no_op": 1 }));
    assert_eq!(json["format_version"], "1");
}

#[test]
fn colour_only_when_asked() {
    let plain = render::text(&mixed_plan(), false);
    let coloured = render::text(&mixed_plan(), true);
    assert!(!plain.contains('\x1b'));
    assert!(coloured.contains("\x1b[31m-/+ hello.production.rds_instance.main"));
}
