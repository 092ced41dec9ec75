//! Domains, TLS and email together, as a user has them: one capsule in eu-west-1 with a
//! site domain, a service domain and `[email]`, applied on the test bed and read back
//! through ACM, CloudFront, ELBv2, SES and Route 53. Then a record capsule did not write is
//! refused, and a change of the load balancer's names replaces its certificate without
//! ever leaving the listener on a deleted one.

mod common;

use std::path::Path;

use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
use capsule::aws::Aws;
use common::{capsule_with, changes, hosted_zone, testbed, text, unique, write, zone_records};

const ENV: &[(&str, &str)] =
    &[("CAPSULE_ROLLOUT_POLL", "200ms"), ("CAPSULE_CERT_POLL", "200ms"), ("CAPSULE_BUILDER", "buildah")];
use serde_json::Value;

fn plan(dir: &Path) -> Value {
    let out = capsule_with(dir, &["plan", "--format", "json"], ENV);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// ARNs of the certificates in `region` whose domain is `domain`.
async fn certificates(aws: &Aws, region: &str, domain: &str) -> Vec<String> {
    let out = aws.acm(region).list_certificates().send().await.unwrap();
    out.certificate_summary_list()
        .iter()
        .filter(|c| c.domain_name() == Some(domain))
        .filter_map(|c| c.certificate_arn().map(str::to_string))
        .collect()
}

/// The validation CNAMEs ACM asks for `arn`, as (name, value) without final dots.
async fn validation(aws: &Aws, region: &str, arn: &str) -> Vec<(String, String)> {
    let out = aws.acm(region).describe_certificate().certificate_arn(arn).send().await.unwrap();
    let c = out.certificate().unwrap();
    assert_eq!(c.status().map(|s| s.as_str()), Some("ISSUED"), "{arn}");
    c.domain_validation_options()
        .iter()
        .filter_map(|o| o.resource_record())
        .map(|r| (r.name().trim_end_matches('.').to_string(), r.value().trim_end_matches('.').to_string()))
        .collect()
}

/// The certificate ARN on the HTTPS listener of the capsule's load balancer.
async fn listener_certificate(aws: &Aws, lb_name: &str) -> String {
    let elb = aws.elb("eu-west-1");
    let lbs = elb.describe_load_balancers().names(lb_name).send().await.unwrap();
    let arn = lbs.load_balancers()[0].load_balancer_arn().unwrap();
    let listeners = elb.describe_listeners().load_balancer_arn(arn).send().await.unwrap();
    let https = listeners.listeners().iter().find(|l| l.port() == Some(443)).expect("an HTTPS listener");
    https.certificates()[0].certificate_arn().unwrap().to_string()
}

fn config(name: &str, zone: &str, admin: Option<&str>) -> String {
    let admin = admin
        .map(|d| format!("[services.admin]\nbuild = \"app\"\nport = 8080\npublic = true\ndomain = \"{d}\"\n"))
        .unwrap_or_default();
    format!(
        "[capsule]\nname = \"{name}\"\nregion = \"eu-west-1\"\n[dns]\nzone = \"{zone}\"\n\
         [services.api]\nbuild = \"app\"\nport = 8080\npublic = true\ndomain = \"api.{zone}\"\n{admin}\
         [sites.web]\ndir = \"site\"\ndomain = \"www.{zone}\"\n[email]\ndomain = \"{zone}\"\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_domain_a_service_domain_and_email_in_eu_west_1() {
    testbed();
    let aws = Aws::from_env().await;
    let zone = format!("{}.example.com", unique("dom"));
    let r53 = aws.route53("us-east-1");
    let zone_id = hosted_zone(&zone).await;
    // A record somebody else wrote.
    let taken = format!("taken.{zone}");
    let foreign = ResourceRecordSet::builder()
        .name(&taken)
        .r#type(RrType::A)
        .ttl(60)
        .resource_records(ResourceRecord::builder().value("192.0.2.7").build().unwrap())
        .build()
        .unwrap();
    let batch = ChangeBatch::builder()
        .changes(Change::builder().action(ChangeAction::Create).resource_record_set(foreign).build().unwrap())
        .build()
        .unwrap();
    r53.change_resource_record_sets().hosted_zone_id(&zone_id).change_batch(batch).send().await.unwrap();

    let name = unique("dm");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "app/Dockerfile", "FROM scratch\nCOPY a.txt /a.txt\n");
    write(root, "app/a.txt", "a\n");
    write(root, "site/index.html", "<h1>hello</h1>\n");
    write(root, "capsule.toml", &config(&name, &zone, None));
    let out = capsule_with(root, &["apply"], ENV);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(changes(&plan(root)), vec![], "a re-plan is a no-op");

    // Certificates: CloudFront's in us-east-1, the load balancer's in the capsule's region.
    let (www, api) = (format!("www.{zone}"), format!("api.{zone}"));
    let site_certs = certificates(&aws, "us-east-1", &www).await;
    assert_eq!(site_certs.len(), 1, "one certificate for the site");
    assert!(certificates(&aws, "eu-west-1", &www).await.is_empty(), "not in the capsule's region");
    let lb_certs = certificates(&aws, "eu-west-1", &api).await;
    assert_eq!(lb_certs.len(), 1, "one certificate for the load balancer");
    assert!(certificates(&aws, "us-east-1", &api).await.is_empty());

    let rs = zone_records(&zone_id).await;
    let has = |rs: &[(String, String, Vec<String>)], name: &str, kind: &str, value: &str| {
        rs.iter().any(|(n, k, v)| n == name && k == kind && v.iter().any(|x| x.trim_end_matches('.').contains(value)))
    };
    // Their validation records are in the zone.
    for (region, arn) in [("us-east-1", &site_certs[0]), ("eu-west-1", &lb_certs[0])] {
        let wanted = validation(&aws, region, arn).await;
        assert!(!wanted.is_empty());
        for (n, v) in wanted {
            assert!(has(&rs, &n, "CNAME", &v), "validation record {n} of {arn}: {rs:#?}");
        }
    }
    // The distribution carries the alias and the us-east-1 certificate; www is an alias to it.
    let cf = aws.cloudfront("us-east-1");
    let list = cf.list_distributions().send().await.unwrap();
    let summary = list
        .distribution_list()
        .unwrap()
        .items()
        .iter()
        .find(|d| d.aliases().is_some_and(|a| a.items().contains(&www)))
        .expect("a distribution with the site's alias");
    assert_eq!(summary.viewer_certificate().unwrap().acm_certificate_arn(), Some(site_certs[0].as_str()));
    assert!(has(&rs, &www, "A", summary.domain_name().trim_end_matches('.')), "{rs:#?}");
    // The HTTPS listener carries the regional certificate; api is an alias to the LB.
    let lb_name = format!("{name}-production");
    assert_eq!(listener_certificate(&aws, &lb_name).await, lb_certs[0]);
    let lbs = aws.elb("eu-west-1").describe_load_balancers().names(&lb_name).send().await.unwrap();
    let lb_dns = lbs.load_balancers()[0].dns_name().unwrap().trim_end_matches('.').to_string();
    assert!(has(&rs, &api, "A", &lb_dns), "{rs:#?}");
    // Email: the identity is in eu-west-1, with DKIM, MAIL FROM and a DMARC record.
    let ses = aws.ses("eu-west-1");
    let dkim = ses.get_identity_dkim_attributes().identities(&zone).send().await.unwrap();
    let dkim = &dkim.dkim_attributes()[&zone];
    assert_eq!(dkim.dkim_tokens().len(), 3);
    for token in dkim.dkim_tokens() {
        assert!(has(&rs, &format!("{token}._domainkey.{zone}"), "CNAME", &format!("{token}.dkim.amazonses.com")));
    }
    assert!(has(&rs, &format!("mail.{zone}"), "MX", "feedback-smtp.eu-west-1.amazonses.com"), "{rs:#?}");
    assert!(has(&rs, &format!("mail.{zone}"), "TXT", "v=spf1 include:amazonses.com"), "{rs:#?}");
    assert!(has(&rs, &format!("_dmarc.{zone}"), "TXT", "v=DMARC1"), "{rs:#?}");
    // The service may send from that identity only: its task role's one policy allows the
    // send actions on the identity's ARN and nothing else.
    let td = aws
        .ecs("eu-west-1")
        .describe_task_definition()
        .task_definition(format!("{name}-production-api"))
        .send()
        .await
        .unwrap();
    let role = td.task_definition().unwrap().task_role_arn().unwrap().rsplit('/').next().unwrap().to_string();
    let policy = aws.iam("us-east-1").get_role_policy().role_name(&role).policy_name("capsule").send().await.unwrap();
    let document = percent_encoding::percent_decode_str(policy.policy_document()).decode_utf8().unwrap();
    let document: Value = serde_json::from_str(&document).unwrap();
    let identity = format!("arn:aws:ses:eu-west-1:123456789012:identity/{zone}");
    assert_eq!(
        document["Statement"],
        serde_json::json!([{ "Effect": "Allow", "Action": ["ses:SendEmail", "ses:SendRawEmail"], "Resource": [identity] }]),
        "{document:#}"
    );

    // A service domain on a name somebody else's record holds: a plan error, and apply
    // changes nothing; the record stays as it was.
    write(root, "capsule.toml", &config(&name, &zone, Some(&taken)));
    let out = capsule_with(root, &["plan"], ENV);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(&taken), "the error names the record: {}", text(&out));
    let out = capsule_with(root, &["apply"], ENV);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(listener_certificate(&aws, &lb_name).await, lb_certs[0], "nothing was applied");
    let after = zone_records(&zone_id).await;
    let kept: Vec<_> = after.iter().filter(|(n, _, _)| *n == taken).collect();
    assert_eq!(kept, [&(taken.clone(), "A".to_string(), vec!["192.0.2.7".to_string()])]);

    // A second service domain changes the load balancer certificate's names: a new
    // certificate replaces it, the listener moves over, then the old one is deleted.
    let admin = format!("admin.{zone}");
    write(root, "capsule.toml", &config(&name, &zone, Some(&admin)));
    let doc = plan(root);
    let cert_address = format!("{name}.production.acm_certificate.lb");
    assert!(changes(&doc).contains(&(cert_address.clone(), "replace".into())), "{:?}", changes(&doc));
    let out = capsule_with(root, &["apply"], ENV);
    assert!(out.status.success(), "{}", text(&out));
    let now = listener_certificate(&aws, &lb_name).await;
    assert_ne!(now, lb_certs[0], "the listener carries the new certificate");
    let detail = aws.acm("eu-west-1").describe_certificate().certificate_arn(&now).send().await.unwrap();
    let sans = detail.certificate().unwrap().subject_alternative_names().to_vec();
    assert!(sans.contains(&admin) && sans.contains(&api), "{sans:?}");
    assert_eq!(
        certificates(&aws, "eu-west-1", &api).await,
        std::slice::from_ref(&now),
        "the old certificate is deleted"
    );
    // The validation records the new certificate needs are all still there.
    let rs = zone_records(&zone_id).await;
    for (n, v) in validation(&aws, "eu-west-1", &now).await {
        assert!(has(&rs, &n, "CNAME", &v), "validation record {n}: {rs:#?}");
    }
    assert!(has(&rs, &admin, "A", &lb_dns), "{rs:#?}");
    assert_eq!(changes(&plan(root)), vec![], "a re-plan is a no-op");

    // An old certificate a replacement left behind (its delete failed): the next plan
    // deletes it as superseded, and apply does, leaving the current one.
    let tag = |k: &str, v: &str| aws_sdk_acm::types::Tag::builder().key(k).value(v).build().unwrap();
    let left = aws
        .acm("eu-west-1")
        .request_certificate()
        .domain_name(format!("old.{zone}"))
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .tags(tag("capsule:name", &name))
        .tags(tag("capsule:env", "production"))
        .tags(tag("capsule:component", "lb"))
        .tags(tag("managed-by", "capsule"))
        .send()
        .await
        .unwrap();
    let left = left.certificate_arn().unwrap().to_string();
    // ACM is eventually consistent (so is the test bed): wait until the certificate reads
    // back, as any AWS client must, before the plan looks for it.
    let started = std::time::Instant::now();
    while aws.acm("eu-west-1").describe_certificate().certificate_arn(&left).send().await.is_err() {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "the certificate never became visible");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let doc = plan(root);
    let superseded: Vec<&Value> = doc["capsules"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["address"] == cert_address.as_str() && c["action"] == "delete")
        .collect();
    assert_eq!(superseded.len(), 1, "{doc:#}");
    assert!(superseded[0]["reason"].as_str().unwrap().contains("superseded"), "{doc:#}");
    let out = capsule_with(root, &["apply"], ENV);
    assert!(out.status.success(), "{}", text(&out));
    let gone = aws.acm("eu-west-1").describe_certificate().certificate_arn(&left).send().await;
    assert!(gone.is_err(), "the superseded certificate is deleted");
    assert_eq!(listener_certificate(&aws, &lb_name).await, now);
    assert_eq!(changes(&plan(root)), vec![]);
}
