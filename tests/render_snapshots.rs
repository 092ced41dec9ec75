//! Snapshots of the three renderers on the examples' offline plans, and the CLI's
//! behaviour around them (colour, NO_COLOR, exit codes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use capsule::aws::Live;
use capsule::config::load_project;
use capsule::engine::{Observation, Selection, desired_attributes, offline_plan, plan_live, select};
use capsule::model::{ExpandContext, Graph, Kind, as_reference, expand};
use capsule::plan::{Action, AttributeChange, Change, Outcome, Plan};
use capsule::render;
use serde_json::{Value, json};

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
    let banner = "> [!CAUTION]\n> **Data loss:** this plan deletes or replaces 2 resources that hold data: \
                  `hello.production.rds_instance.main` (replace), `hello.production.s3_bucket.old` (delete)\n\
                  > Apply refuses to change their capsule environment at all unless it runs with `allow-destroy: true` (`--allow-destroy`).\n";
    assert!(md.contains(banner), "{md}");
    assert!(!md.contains("Stateless"), "{md}");
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

/// Ten variables of one service; `LOG_LEVEL` is the one the pull request changes.
const TEN_VARIABLES: [&str; 10] = [
    "APP_ENV",
    "CACHE_TTL",
    "FEATURE_CHECKOUT",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "MAX_UPLOAD_MB",
    "PAYMENT_MODE",
    "REGION_HINT",
    "SESSION_DAYS",
    "WORKERS",
];

/// A live plan (the engine's planner, not a plan made by hand) of a service whose
/// configuration changes one environment variable among ten: AWS holds every resource as
/// declared, except that the running task definition has `LOG_LEVEL = "info"`.
fn one_variable_among_ten() -> Plan {
    ten_variables_against(|env| env["LOG_LEVEL"] = json!("info"))
}

/// The ten-variable service planned against a running task definition whose environment
/// `live_env` changes (desired: `LOG_LEVEL = "debug"`, every other variable "a value").
fn ten_variables_against(live_env: impl Fn(&mut Value)) -> Plan {
    let dir = tempfile::tempdir().unwrap();
    let env: String = TEN_VARIABLES
        .iter()
        .map(|v| format!("{v} = \"{}\"\n", if *v == "LOG_LEVEL" { "debug" } else { "a value" }))
        .collect();
    let toml = format!(
        "[capsule]\nname = \"shop\"\nregion = \"eu-west-1\"\n\n[services.api]\nimage = \"public.ecr.aws/nginx/nginx:1.27\"\nport = 8080\n\n[services.api.env]\n{env}"
    );
    std::fs::write(dir.path().join("capsule.toml"), toml).unwrap();
    let project = load_project(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let capsule = &project.capsules[0];
    let env = capsule.environment("production").unwrap();
    let desired =
        expand(capsule, env, &ExpandContext { account: "123456789012".into(), default_region: "eu-west-1".into() });
    let graph = Graph::build(&desired.resources).unwrap();
    let outputs = every_output(&desired.resources);
    let mut obs = Observation::default();
    for r in &desired.resources {
        let live = Live {
            aws_name: r.aws_name.clone(),
            region: r.region.clone(),
            attributes: desired_attributes(r, &outputs),
            outputs: outputs.get(&r.address.to_string()).cloned().unwrap_or_default(),
            tags: r.tags.clone(),
        };
        obs.live.insert(r.address.to_string(), live);
    }
    let td = desired.resources.iter().find(|r| r.address.kind == Kind::EcsTaskDefinition).unwrap();
    let live_td = obs.live.get_mut(&td.address.to_string()).unwrap();
    live_env(&mut live_td.attributes.get_mut("container").unwrap()["environment"]);
    let planned = plan_live(&desired, &graph, &obs, "123456789012", None);
    Plan::new(vec![planned.plan], false)
}

/// A value for every output any resource references, as a live environment has them.
fn every_output(resources: &[capsule::model::Resource]) -> BTreeMap<String, BTreeMap<String, Value>> {
    fn walk(v: &Value, out: &mut BTreeMap<String, BTreeMap<String, Value>>) {
        if let Some((address, attr)) = as_reference(v) {
            out.entry(address.to_string()).or_default().insert(attr.to_string(), json!(format!("{attr} of {address}")));
        }
        match v {
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Object(m) => m.values().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    resources.iter().flat_map(|r| r.attributes.values()).for_each(|v| walk(v, &mut out));
    out
}

#[test]
fn one_variable_among_ten_is_the_plans_only_change() {
    let plan = one_variable_among_ten();
    let changed: Vec<(&str, Vec<&str>)> = plan.capsules[0]
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| (c.address.as_str(), c.attributes.iter().map(|a| a.path.as_str()).collect()))
        .collect();
    // The service rolls out the task definition's new revision: that is the only other line.
    let expected = vec![
        ("shop.production.ecs_task_definition.api", vec!["container.environment.LOG_LEVEL"]),
        ("shop.production.ecs_service.api", vec!["task_definition"]),
    ];
    assert_eq!(changed, expected);
}

#[test]
fn a_variable_taken_out_of_the_file_is_planned_as_removed() {
    let plan = ten_variables_against(|env| env["OLD_FLAG"] = json!("on"));
    let td = plan.capsules[0].changes.iter().find(|c| c.kind == "ecs_task_definition").unwrap();
    assert_eq!(td.action, Action::Update, "the running revision still has OLD_FLAG");
    let removed = td.attributes.iter().find(|a| a.path == "container.environment.OLD_FLAG").expect("OLD_FLAG removed");
    assert_eq!((&removed.before, &removed.after), (&json!("on"), &Value::Null));
    assert!(render::text(&plan, false).contains("container.environment.OLD_FLAG"));
}

#[test]
fn one_variable_among_ten_is_one_line_pair_and_the_others_at_most_once() {
    let plan = one_variable_among_ten();
    for (name, out) in [("text", render::text(&plan, false)), ("markdown", render::markdown(&plan, None))] {
        // Words only: the two renderers indent differently.
        let lines: Vec<String> = out.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
        let removed = lines.iter().position(|l| l.starts_with("- container.environment.LOG_LEVEL: \"info\""));
        let removed = removed.unwrap_or_else(|| panic!("{name}: no `-` line for LOG_LEVEL:\n{out}"));
        assert!(
            lines[removed + 1].starts_with("+ container.environment.LOG_LEVEL: \"debug\""),
            "{name}: the `+` line does not follow the `-` line:\n{out}"
        );
        assert_eq!(out.matches("LOG_LEVEL").count(), 2, "{name}:\n{out}");
        for v in TEN_VARIABLES.iter().filter(|v| **v != "LOG_LEVEL") {
            assert!(out.matches(v).count() <= 1, "{name} prints {v} more than once:\n{out}");
        }
    }
}

#[test]
fn one_variable_among_ten_text() {
    insta::assert_snapshot!(render::text(&one_variable_among_ten(), false));
}

#[test]
fn one_variable_among_ten_markdown() {
    insta::assert_snapshot!(render::markdown(&one_variable_among_ten(), None));
}

fn change(address: &str, action: Action, stateful: bool, attributes: Vec<AttributeChange>) -> Change {
    let kind = address.split('.').nth(2).unwrap_or_default().to_string();
    let reason = match action {
        Action::Replace => Some("subnets cannot change in place".into()),
        Action::Delete => Some("no longer declared".into()),
        _ => None,
    };
    Change { address: address.into(), kind, action, reason, attributes, stateful, outcome: None, error: None }
}

fn attribute(path: &str, before: Value, after: Value, forces_replacement: bool) -> AttributeChange {
    AttributeChange { path: path.into(), before, after, forces_replacement, impact: None }
}

/// What a reviewer meets: a policy edited, a load balancer replaced (no data), a database
/// deleted (data), and a second environment where nothing changes.
fn review_plan() -> Plan {
    let mut plan = plan_of("hello", None);
    let statement = |actions: Value| json!({ "Effect": "Allow", "Action": actions, "Resource": ["arn:aws:s3:::hello-production-web/*"] });
    let logs = json!({ "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": ["*"] });
    let policy = attribute(
        "policy.Statement",
        json!([logs, statement(json!(["s3:GetObject"]))]),
        json!([logs, statement(json!(["s3:GetObject", "s3:PutObject"]))]),
        false,
    );
    let subnets = attribute("subnets", json!(["subnet-1", "subnet-2"]), json!(["subnet-1", "subnet-3"]), true);
    let production = &mut plan.capsules[0];
    production.changes = vec![
        change("hello.production.iam_role.api", Action::Update, false, vec![policy]),
        change("hello.production.lb.main", Action::Replace, false, vec![subnets]),
        change("hello.production.rds_instance.main", Action::Delete, true, vec![]),
        change("hello.production.s3_bucket.web", Action::NoOp, true, vec![]),
    ];
    production.artifacts.clear();
    let mut staging = production.clone();
    staging.environment = "staging".into();
    staging.changes = vec![change("hello.staging.s3_bucket.web", Action::NoOp, true, vec![])];
    staging.notes.clear();
    plan.capsules.push(staging);
    Plan::new(plan.capsules, false)
}

#[test]
fn review_markdown() {
    insta::assert_snapshot!(render::markdown(&review_plan(), None));
}

#[test]
fn review_text() {
    insta::assert_snapshot!(render::text(&review_plan(), false));
}

#[test]
fn the_comment_separates_data_loss_from_stateless_replacement() {
    let md = render::markdown(&review_plan(), None);
    let data = "> [!CAUTION]\n> **Data loss:** this plan deletes or replaces 1 resource that holds data: ";
    assert!(md.contains(&format!("{data}`hello.production.rds_instance.main` (delete)\n")), "{md}");
    let stateless = "> [!WARNING]\n> **Stateless replacement or removal:** this plan deletes or replaces 1 resource that holds no data: `hello.production.lb.main` (replace)\n> Apply goes ahead with it without `allow-destroy`.\n";
    assert!(md.contains(stateless), "{md}");
    assert!(md.contains("| `hello` | production | :warning: destroys | 0 | 1 | 1 | 1 |\n"), "{md}");
    assert!(md.contains("<summary>1 to update, 1 to replace, 1 to delete (2 destroy)</summary>"), "{md}");
}

#[test]
fn a_section_without_changes_is_one_line() {
    let md = render::markdown(&review_plan(), None);
    assert!(md.contains("| `hello` | staging | :white_check_mark: no changes | 0 | 0 | 0 | 0 |\n"), "{md}");
    let staging = &md[md.find("### `hello` · staging").expect("a staging section")..];
    assert_eq!(staging, "### `hello` · staging — no changes\n\n");
}

#[test]
fn an_apply_comment_shows_each_outcome_and_only_what_was_destroyed() {
    let mut plan = review_plan();
    for (ch, outcome) in plan.capsules[0].changes.iter_mut().zip([Outcome::Applied, Outcome::Applied, Outcome::Failed])
    {
        ch.outcome = Some(outcome);
    }
    plan.ok = Some(false);
    let md = render::markdown(&plan, None);
    assert!(md.starts_with("## capsule apply: :x: failed\n"), "{md}");
    assert!(md.contains("| `hello` | production | :x: failed | 0 | 1 | 1 | 1 |\n"), "{md}");
    assert!(
        md.contains("this apply deleted or replaced 1 resource that held no data: `hello.production.lb.main`"),
        "{md}"
    );
    assert!(!md.contains("Data loss"), "the database was not deleted:\n{md}");
    assert!(!md.contains("refuses"), "{md}");
}

#[test]
fn an_offline_plan_says_once_what_it_cannot_show() {
    let md = render::markdown(&plan_of("hello", None), None);
    let banner = "> [!WARNING]\n> **Offline plan.** AWS was not read — deletes and replacements cannot be shown; a maintainer must re-plan.\n";
    assert_eq!(md.matches("AWS was not read").count(), 1, "{md}");
    assert!(md.contains(banner), "{md}");
    assert_eq!(render::OFFLINE_BANNER, banner);
}
