//! The Route 53 record and ACM certificate adapters against the local test bed
//! (`scripts/testbed up`), each test in a hosted zone of its own: records are created,
//! observed without a difference, edited, listed, deleted; a record capsule did not write is
//! refused and left untouched (or, with `only_if_absent`, taken as satisfying the desired
//! one); a certificate is requested, validated through records in the zone, issued, and
//! deleted with its validation records.

mod common;

use std::collections::BTreeMap;

use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
use capsule::aws::adapters::adapter;
use capsule::aws::{Aws, Cx, ErrorKind, Live};
use capsule::engine::{observe, plan_live};
use capsule::model::{Address, Desired, Graph, Kind, Resource, ownership_tags, reference};
use capsule::plan::{Action, Observed, plan_resource};
use common::{testbed, unique, zone_records};
use serde_json::{Value, json};

async fn cx(capsule: &str, region: &str) -> Cx {
    Cx::new(Aws::from_env().await, "123456789012".into(), capsule.into(), "production".into(), region.into(), false)
}

fn resource(cx: &Cx, kind: Kind, name: &str, aws_name: &str, attributes: Value) -> Resource {
    Resource {
        address: Address { capsule: cx.capsule.clone(), env: cx.env.clone(), kind, name: name.into() },
        aws_name: aws_name.into(),
        region: cx.region.clone(),
        attributes: attributes.as_object().unwrap().clone().into_iter().collect(),
        depends_on: vec![],
        tags: ownership_tags(&cx.capsule, &cx.env, name),
    }
}

fn attrs_of(r: &Resource) -> BTreeMap<String, Value> {
    let mut attrs = r.attributes.clone();
    adapter(r.address.kind).unwrap().normalize(&mut attrs);
    attrs
}

fn diff(r: &Resource, live: &Live) -> Vec<String> {
    change(r, live).attributes.iter().map(|a| format!("{}: {} -> {}", a.path, a.before, a.after)).collect()
}

fn change(r: &Resource, live: &Live) -> capsule::plan::Change {
    let observed = Observed { attributes: live.attributes.clone(), outputs: live.outputs.clone() };
    plan_resource(r, &attrs_of(r), Some(&observed), &adapter(r.address.kind).unwrap().plan_rules())
}

/// A fresh public hosted zone; returns (name, id).
async fn zone(aws: &Aws) -> (String, String) {
    let name = format!("{}.example.com", unique("z"));
    let out =
        aws.route53("us-east-1").create_hosted_zone().name(&name).caller_reference(unique("ref")).send().await.unwrap();
    (name, out.hosted_zone().unwrap().id().trim_start_matches("/hostedzone/").to_string())
}

/// Writes a record the way someone else would: no capsule marker.
async fn foreign(aws: &Aws, zone_id: &str, name: &str, rtype: RrType, value: &str) {
    let set = ResourceRecordSet::builder()
        .name(name)
        .r#type(rtype)
        .ttl(60)
        .resource_records(ResourceRecord::builder().value(value).build().unwrap())
        .build()
        .unwrap();
    let change = Change::builder().action(ChangeAction::Create).resource_record_set(set).build().unwrap();
    aws.route53("us-east-1")
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(ChangeBatch::builder().changes(change).build().unwrap())
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn records_carry_ownership_markers() {
    testbed();
    let cx = cx(&unique("dns"), "eu-west-1").await;
    let aws = cx.aws.clone();
    let (zone, zone_id) = zone(&aws).await;
    let a = adapter(Kind::Route53Record).unwrap();

    // An alias A record to a distribution, then a CNAME: create, observe, edit, list.
    let www = format!("www.{zone}");
    let alias = resource(
        &cx,
        Kind::Route53Record,
        "web-a",
        &www,
        json!({ "zone": zone, "type": "A", "name": www,
                "alias": { "target": "d111abcdef8.cloudfront.net", "hosted_zone": "cloudfront" } }),
    );
    assert!(a.observe(&cx, &alias).await.unwrap().is_none());
    let created = a.create(&cx, &alias, &attrs_of(&alias)).await.unwrap();
    assert_eq!(diff(&alias, &created), Vec::<String>::new());
    let live = a.observe(&cx, &alias).await.unwrap().expect("alias record observed");
    assert_eq!(diff(&alias, &live), Vec::<String>::new());
    assert!(live.is_owned_by(&cx.capsule, &cx.env));
    assert_eq!(live.component(), Some("web-a"));
    assert_eq!(live.attributes["alias"]["hosted_zone"], json!("Z2FDTNDATAQYW2"));
    let in_zone = zone_records(&zone_id).await;
    let marker = in_zone.iter().find(|(n, t, _)| *n == format!("_capsule-owner-a.{www}") && t == "TXT");
    let marker = marker.unwrap_or_else(|| panic!("no marker next to the record: {in_zone:?}"));
    assert!(marker.2[0].contains(&format!("capsule:name={}", cx.capsule)), "{marker:?}");

    let api = format!("api.{zone}");
    let cname = resource(
        &cx,
        Kind::Route53Record,
        "api-cname",
        &api,
        json!({ "zone": zone, "type": "CNAME", "ttl": 300, "name": api, "values": ["target.example.net."] }),
    );
    let live = a.create(&cx, &cname, &attrs_of(&cname)).await.unwrap();
    assert_eq!(diff(&cname, &live), Vec::<String>::new());
    // A second create adopts its own record.
    let again = a.create(&cx, &cname, &attrs_of(&cname)).await.unwrap();
    assert_eq!(again.outputs, live.outputs);

    // Edit the TTL and the value: an in-place update.
    let mut edited = cname.clone();
    edited.attributes.insert("ttl".into(), json!(60));
    edited.attributes.insert("values".into(), json!(["other.example.net"]));
    let planned = change(&edited, &live);
    assert_eq!(planned.action, Action::Update, "{planned:?}");
    let updated = a.update(&cx, &edited, &attrs_of(&edited), &live).await.unwrap();
    assert_eq!(diff(&edited, &updated), Vec::<String>::new());
    let live = a.observe(&cx, &edited).await.unwrap().unwrap();
    assert_eq!(diff(&edited, &live), Vec::<String>::new());
    // A new name is a replacement.
    let mut renamed = edited.clone();
    renamed.attributes.insert("name".into(), json!(format!("api2.{zone}")));
    assert_eq!(change(&renamed, &live).action, Action::Replace);
    // Observed under its new name (or a reference), it is still found by its marker.
    assert_eq!(a.observe(&cx, &renamed).await.unwrap().map(|l| l.aws_name), Some(api.clone()));
    let mut referenced = edited.clone();
    referenced.attributes.insert(
        "name".into(),
        reference(
            &Address {
                capsule: cx.capsule.clone(),
                env: cx.env.clone(),
                kind: Kind::SesIdentity,
                name: "email".into(),
            },
            "dkim_name_1",
        ),
    );
    assert_eq!(a.observe(&cx, &referenced).await.unwrap().map(|l| l.aws_name), Some(api.clone()));

    // list_owned finds both, with their components.
    let owned = a.list_owned(&cx).await.unwrap();
    let mut components: Vec<&str> = owned.iter().filter_map(|l| l.component()).collect();
    components.sort();
    assert_eq!(components, vec!["api-cname", "web-a"], "{owned:?}");

    // Delete: record and marker go; again is fine.
    a.delete(&cx, &live).await.unwrap();
    assert!(a.observe(&cx, &edited).await.unwrap().is_none());
    a.delete(&cx, &live).await.unwrap();
    let left = zone_records(&zone_id).await;
    assert!(!left.iter().any(|(n, _, _)| n.contains("api.")), "{left:?}");
    assert_eq!(a.list_owned(&cx).await.unwrap().len(), 1);
    let web = a.observe(&cx, &alias).await.unwrap().unwrap();
    a.delete(&cx, &web).await.unwrap();
    assert!(a.list_owned(&cx).await.unwrap().is_empty());
    let left = zone_records(&zone_id).await;
    assert!(left.iter().all(|(_, t, _)| t == "NS" || t == "SOA"), "only the zone's own records are left: {left:?}");
}

#[tokio::test]
async fn records_capsule_did_not_write_are_left_alone() {
    testbed();
    let cx = cx(&unique("dnsf"), "eu-west-1").await;
    let aws = cx.aws.clone();
    let (zone, zone_id) = zone(&aws).await;
    let a = adapter(Kind::Route53Record).unwrap();

    // A pre-existing record: observed as not capsule's, refused by create, untouched.
    let mail = format!("mail.{zone}");
    foreign(&aws, &zone_id, &mail, RrType::Txt, "\"v=spf1 -all\"").await;
    let spf = resource(
        &cx,
        Kind::Route53Record,
        "email-mail-from-spf",
        &mail,
        json!({ "zone": zone, "type": "TXT", "ttl": 300, "name": mail,
                "values": ["\"v=spf1 include:amazonses.com ~all\""] }),
    );
    let live = a.observe(&cx, &spf).await.unwrap().expect("the foreign record is observed");
    assert!(!live.is_owned_by(&cx.capsule, &cx.env), "{live:?}");
    let err = a.create(&cx, &spf, &attrs_of(&spf)).await.expect_err("a foreign record must be refused");
    assert_eq!(err.kind, ErrorKind::Conflict, "{err}");
    assert!(err.message.contains(&mail), "{err}");
    a.delete(&cx, &live).await.unwrap(); // no marker: nothing happens
    let after = zone_records(&zone_id).await;
    assert!(after.contains(&(mail.clone(), "TXT".into(), vec!["\"v=spf1 -all\"".into()])), "{after:?}");
    assert!(!after.iter().any(|(n, _, _)| n.starts_with("_capsule-owner")), "{after:?}");
    assert!(a.list_owned(&cx).await.unwrap().is_empty());

    // A CNAME where another record sits is refused too.
    let clash = resource(
        &cx,
        Kind::Route53Record,
        "clash",
        &mail,
        json!({ "zone": zone, "type": "CNAME", "ttl": 300, "name": mail, "values": ["x.example.net"] }),
    );
    assert_eq!(a.create(&cx, &clash, &attrs_of(&clash)).await.unwrap_err().kind, ErrorKind::Conflict);

    // only_if_absent: an existing DMARC record satisfies the desired one, and stays as it is.
    let dmarc_name = format!("_dmarc.{zone}");
    let dmarc = resource(
        &cx,
        Kind::Route53Record,
        "email-dmarc",
        &dmarc_name,
        json!({ "zone": zone, "type": "TXT", "ttl": 300, "name": dmarc_name,
                "values": ["\"v=DMARC1; p=none;\""], "only_if_absent": true }),
    );
    assert!(a.observe(&cx, &dmarc).await.unwrap().is_none());
    let created = a.create(&cx, &dmarc, &attrs_of(&dmarc)).await.unwrap();
    assert_eq!(diff(&dmarc, &created), Vec::<String>::new());
    assert!(created.is_owned_by(&cx.capsule, &cx.env));
    let live = a.observe(&cx, &dmarc).await.unwrap().unwrap();
    assert_eq!(diff(&dmarc, &live), Vec::<String>::new());
    assert_eq!(live.outputs.get("existing_record"), None, "capsule wrote this one");
    a.delete(&cx, &live).await.unwrap();

    foreign(&aws, &zone_id, &dmarc_name, RrType::Txt, "\"v=DMARC1; p=reject;\"").await;
    let live = a.observe(&cx, &dmarc).await.unwrap().expect("satisfied by the existing record");
    assert_eq!(diff(&dmarc, &live), Vec::<String>::new(), "nothing to do");
    assert!(live.is_owned_by(&cx.capsule, &cx.env), "the plan must not refuse it");
    assert_eq!(live.outputs["existing_record"], json!(true));
    let kept = a.create(&cx, &dmarc, &attrs_of(&dmarc)).await.unwrap();
    assert_eq!(kept.outputs["existing_record"], json!(true));
    a.delete(&cx, &live).await.unwrap();
    let after = zone_records(&zone_id).await;
    assert!(after.contains(&(dmarc_name.clone(), "TXT".into(), vec!["\"v=DMARC1; p=reject;\"".into()])), "{after:?}");
    assert!(a.list_owned(&cx).await.unwrap().is_empty());

    // A zone that does not exist is a clear error.
    let mut lost = spf.clone();
    lost.attributes.insert("zone".into(), json!(format!("missing-{zone}")));
    let err = a.observe(&cx, &lost).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(err.message.contains(&format!("missing-{zone}")) && err.message.contains("[dns] zone"), "{err}");
}

#[tokio::test]
async fn certificates_validate_through_the_zone() {
    testbed();
    let cx = cx(&unique("cert"), "eu-west-1").await;
    let aws = cx.aws.clone();
    let (zone, zone_id) = zone(&aws).await;
    let a = adapter(Kind::AcmCertificate).unwrap();
    let records_adapter = adapter(Kind::Route53Record).unwrap();
    let domain = format!("api.{zone}");
    let cert = resource(
        &cx,
        Kind::AcmCertificate,
        "lb",
        &domain,
        json!({ "domain": domain, "alternative_names": [format!("www.{zone}"), format!("admin.{zone}")],
                "validation": "dns", "zone": zone }),
    );
    assert!(a.observe(&cx, &cert).await.unwrap().is_none());
    let created = a.create(&cx, &cert, &attrs_of(&cert)).await.unwrap();
    assert_eq!(diff(&cert, &created), Vec::<String>::new());
    assert_eq!(created.attributes["status"], json!("ISSUED"));
    let arn = created.outputs["arn"].as_str().unwrap().to_string();
    assert!(arn.starts_with("arn:aws:acm:eu-west-1:"), "{arn}");
    let live = a.observe(&cx, &cert).await.unwrap().expect("certificate observed");
    assert_eq!(diff(&cert, &live), Vec::<String>::new());
    assert!(live.is_owned_by(&cx.capsule, &cx.env));
    assert_eq!(live.attributes["alternative_names"], json!([format!("admin.{zone}"), format!("www.{zone}")]));

    // The validation CNAMEs are in the zone, each with its marker; they are the
    // certificate's, not records the record adapter would list (and delete).
    let detail = aws.acm("eu-west-1").describe_certificate().certificate_arn(&arn).send().await.unwrap();
    let wanted: Vec<String> = detail
        .certificate()
        .unwrap()
        .domain_validation_options()
        .iter()
        .map(|o| o.resource_record().unwrap().name().trim_end_matches('.').to_string())
        .collect();
    assert!(!wanted.is_empty());
    let in_zone = zone_records(&zone_id).await;
    for name in &wanted {
        assert!(in_zone.iter().any(|(n, t, _)| n == name && t == "CNAME"), "{name} not in {in_zone:?}");
        assert!(in_zone.iter().any(|(n, _, _)| *n == format!("_capsule-owner-cname.{name}")), "{in_zone:?}");
    }
    assert!(records_adapter.list_owned(&cx).await.unwrap().is_empty());

    // Again: adopts, nothing new; listed once.
    let again = a.create(&cx, &cert, &attrs_of(&cert)).await.unwrap();
    assert_eq!(again.outputs, live.outputs);
    let owned = a.list_owned(&cx).await.unwrap();
    assert_eq!(owned.iter().filter(|l| l.aws_name == arn).count(), 1, "{owned:?}");

    // New names: a replacement.
    let mut renamed = cert.clone();
    renamed.attributes.insert("alternative_names".into(), json!([format!("www.{zone}")]));
    assert_eq!(change(&renamed, &live).action, Action::Replace);

    // Delete: the certificate and its validation records go.
    a.delete(&cx, &live).await.unwrap();
    assert!(a.observe(&cx, &cert).await.unwrap().is_none());
    a.delete(&cx, &live).await.unwrap();
    let left = zone_records(&zone_id).await;
    assert!(left.iter().all(|(_, t, _)| t == "NS" || t == "SOA"), "validation records left: {left:?}");
    assert!(!a.list_owned(&cx).await.unwrap().iter().any(|l| l.aws_name == arn));
}

// ---- through the engine: references unresolved at observe, re-plan, undeclared deletes ----

fn dns_model(cx: &Cx, zone: &str, with_extras: bool) -> Desired {
    let base_name = format!("base.{zone}");
    let base = resource(
        cx,
        Kind::Route53Record,
        "base",
        &base_name,
        json!({ "zone": zone, "type": "TXT", "ttl": 300, "name": base_name, "values": ["\"hello\""] }),
    );
    // A CloudFront certificate: us-east-1 whatever the capsule's region.
    let mut cert = resource(
        cx,
        Kind::AcmCertificate,
        "site-web",
        &format!("www.{zone}"),
        json!({ "domain": format!("www.{zone}"), "alternative_names": [], "validation": "dns", "zone": zone }),
    );
    cert.region = "us-east-1".into();
    // Named by a reference, as the DKIM records are.
    let mut mx = resource(
        cx,
        Kind::Route53Record,
        "mx",
        &format!("mx.{zone}"),
        json!({ "zone": zone, "type": "MX", "ttl": 300, "name": reference(&base.address, "name"),
                "values": [format!("10 feedback-smtp.{}.amazonses.com", cx.region)] }),
    );
    mx.depends_on = vec![base.address.clone()];
    let dmarc_name = format!("_dmarc.{zone}");
    let dmarc = resource(
        cx,
        Kind::Route53Record,
        "email-dmarc",
        &dmarc_name,
        json!({ "zone": zone, "type": "TXT", "ttl": 300, "name": dmarc_name,
                "values": ["\"v=DMARC1; p=none;\""], "only_if_absent": true }),
    );
    let resources = if with_extras { vec![base, cert, mx, dmarc] } else { vec![base, dmarc] };
    Desired {
        capsule: cx.capsule.clone(),
        env: cx.env.clone(),
        region: cx.region.clone(),
        resources,
        artifacts: vec![],
        existing_network: None,
        notes: vec![],
    }
}

async fn plan(cx: &Cx, desired: &Desired) -> (Graph, capsule::engine::Observation, capsule::engine::Planned) {
    let graph = Graph::build(&desired.resources).unwrap();
    let obs = observe(cx, desired).await;
    let planned = plan_live(desired, &graph, &obs, "123456789012", None);
    (graph, obs, planned)
}

fn changed(planned: &capsule::engine::Planned) -> Vec<(String, Action)> {
    let mut out: Vec<_> = planned
        .plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| (c.address.split('.').skip(2).collect::<Vec<_>>().join("."), c.action))
        .collect();
    out.sort();
    out
}

async fn apply(cx: &Cx, desired: &Desired) {
    let (graph, obs, mut planned) = plan(cx, desired).await;
    assert!(planned.plan.errors.is_empty(), "{:?}", planned.plan.errors);
    let ok = capsule::apply::apply(
        cx,
        desired,
        &graph,
        &obs,
        &mut planned,
        &capsule::artifacts::image::Shipper::default(),
        &|_, _| {},
    )
    .await;
    assert!(ok, "{:#?}", planned.plan.changes.iter().filter(|c| c.error.is_some()).collect::<Vec<_>>());
}

#[tokio::test]
async fn dns_through_the_engine_plans_no_change_after_apply() {
    testbed();
    let cx = cx(&unique("dnse"), "eu-west-1").await;
    let aws = cx.aws.clone();
    let (zone, zone_id) = zone(&aws).await;
    // Someone else's DMARC record: it satisfies capsule's, which is never written.
    foreign(&aws, &zone_id, &format!("_dmarc.{zone}"), RrType::Txt, "\"v=DMARC1; p=quarantine;\"").await;
    let desired = dns_model(&cx, &zone, true);
    let (_, _, planned) = plan(&cx, &desired).await;
    assert!(planned.plan.errors.is_empty(), "{:?}", planned.plan.errors);
    assert_eq!(
        changed(&planned),
        vec![
            ("acm_certificate.site-web".into(), Action::Create),
            ("route53_record.base".into(), Action::Create),
            ("route53_record.mx".into(), Action::Create),
        ]
    );
    apply(&cx, &desired).await;
    let (_, _, planned) = plan(&cx, &desired).await;
    assert!(planned.plan.errors.is_empty(), "{:?}", planned.plan.errors);
    assert_eq!(changed(&planned), vec![], "re-plan after apply");
    let certs = adapter(Kind::AcmCertificate).unwrap().list_owned(&cx).await.unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0].region, "us-east-1", "a CloudFront certificate lives in us-east-1");
    let in_zone = zone_records(&zone_id).await;
    assert!(in_zone.contains(&(
        format!("base.{zone}"),
        "MX".into(),
        vec![format!("10 feedback-smtp.eu-west-1.amazonses.com")]
    )));
    assert!(in_zone.contains(&(format!("_dmarc.{zone}"), "TXT".into(), vec!["\"v=DMARC1; p=quarantine;\"".into()])));

    // Dropped from the model: the certificate (and its validation records) and the MX go.
    let shrunk = dns_model(&cx, &zone, false);
    let (_, _, planned) = plan(&cx, &shrunk).await;
    assert_eq!(
        changed(&planned),
        vec![("acm_certificate.site-web".into(), Action::Delete), ("route53_record.mx".into(), Action::Delete)]
    );
    apply(&cx, &shrunk).await;
    let (_, _, planned) = plan(&cx, &shrunk).await;
    assert_eq!(changed(&planned), vec![]);
    let in_zone = zone_records(&zone_id).await;
    let mut names: Vec<String> =
        in_zone.iter().filter(|(_, t, _)| t != "NS" && t != "SOA").map(|(n, t, _)| format!("{t} {n}")).collect();
    names.sort();
    assert_eq!(
        names,
        vec![format!("TXT _capsule-owner-txt.base.{zone}"), format!("TXT _dmarc.{zone}"), format!("TXT base.{zone}")]
    );

    // A record someone else wrote where capsule wants one: a plan error, and it stays.
    foreign(&aws, &zone_id, &format!("taken.{zone}"), RrType::Txt, "\"mine\"").await;
    let mut conflicting = shrunk.clone();
    let taken = format!("taken.{zone}");
    conflicting.resources.push(resource(
        &cx,
        Kind::Route53Record,
        "taken",
        &taken,
        json!({ "zone": zone, "type": "TXT", "ttl": 300, "name": taken, "values": ["\"capsule's\""] }),
    ));
    // The next run sees it (a run's listings, kept in its `Cx`, predate the record).
    let next_run = crate::cx(&cx.capsule, &cx.region).await;
    let (_, _, planned) = plan(&next_run, &conflicting).await;
    assert_eq!(planned.plan.errors.len(), 1, "{:?}", planned.plan.errors);
    assert!(planned.plan.errors[0].address.ends_with("route53_record.taken"), "{:?}", planned.plan.errors);

    apply(&cx, &Desired { resources: vec![], ..shrunk }).await;
    let in_zone = zone_records(&zone_id).await;
    let mut left: Vec<String> =
        in_zone.iter().filter(|(_, t, _)| t != "NS" && t != "SOA").map(|(n, _, _)| n.clone()).collect();
    left.sort();
    assert_eq!(left, vec![format!("_dmarc.{zone}"), taken], "only the records capsule did not write are left");
}
