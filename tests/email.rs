//! `[email]` on the test bed: the SES domain identity with DKIM and a MAIL FROM domain, and
//! every record capsule writes into the zone (verification, 3 DKIM CNAMEs, MAIL FROM MX and
//! SPF, DMARC only when none exists); a foreign identity of the same domain is refused.

mod common;

use capsule::aws::Aws;
use common::{capsule, hosted_zone, testbed, text, unique, write, zone_records};
use serde_json::Value;

/// A TXT record set made outside capsule.
async fn create_txt(zone_id: &str, name: &str, value: &str) {
    use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
    let r53 = Aws::from_env().await.route53("us-east-1");
    let set = ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::Txt)
        .ttl(300)
        .resource_records(ResourceRecord::builder().value(value).build().unwrap())
        .build()
        .unwrap();
    let change = Change::builder().action(ChangeAction::Create).resource_record_set(set).build().unwrap();
    r53.change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(ChangeBatch::builder().changes(change).build().unwrap())
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_gets_a_verified_dkim_identity_and_its_records() {
    testbed();
    let domain = format!("{}.example.com", unique("mail"));
    let zone_id = hosted_zone(&domain).await;
    // A DMARC policy the domain already has: capsule must keep it.
    create_txt(&zone_id, &format!("_dmarc.{domain}"), "\"v=DMARC1; p=reject;\"").await;

    let dir = tempfile::tempdir().unwrap();
    let name = unique("mailer");
    write(
        dir.path(),
        "capsule.toml",
        &format!("[capsule]\nname = \"{name}\"\n[dns]\nzone = \"{domain}\"\n[email]\ndomain = \"{domain}\"\n"),
    );
    // A new account is in the SES sandbox: the plan says so, without stopping anything.
    let out = capsule(dir.path(), &["plan", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let notes = doc["capsules"][0]["notes"].as_array().unwrap();
    assert!(notes.iter().any(|n| n.as_str().unwrap().contains("still in the sandbox")), "{notes:?}");
    let out = capsule(dir.path(), &["apply"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = capsule(dir.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "a re-plan is a no-op:\n{}", text(&out));

    let ses = Aws::from_env().await.ses("us-east-1");
    let dkim = ses.get_identity_dkim_attributes().identities(&domain).send().await.unwrap();
    let dkim = &dkim.dkim_attributes()[&domain];
    assert!(dkim.dkim_enabled());
    assert_eq!(dkim.dkim_tokens().len(), 3);
    let mail_from = ses.get_identity_mail_from_domain_attributes().identities(&domain).send().await.unwrap();
    assert_eq!(mail_from.mail_from_domain_attributes()[&domain].mail_from_domain(), format!("mail.{domain}"));

    let rs = zone_records(&zone_id).await;
    let has = |name: &str, kind: &str, value: &str| {
        rs.iter().any(|(n, k, v)| n == name && k == kind && v.iter().any(|x| x.contains(value)))
    };
    for token in dkim.dkim_tokens() {
        assert!(
            has(&format!("{token}._domainkey.{domain}"), "CNAME", &format!("{token}.dkim.amazonses.com")),
            "DKIM {token}: {rs:#?}"
        );
    }
    assert!(has(&format!("mail.{domain}"), "MX", "feedback-smtp.us-east-1.amazonses.com"), "{rs:#?}");
    assert!(has(&format!("mail.{domain}"), "TXT", "v=spf1 include:amazonses.com"), "{rs:#?}");
    assert!(has(&format!("_amazonses.{domain}"), "TXT", ""), "verification record: {rs:#?}");
    let dmarc: Vec<_> = rs.iter().filter(|(n, k, _)| *n == format!("_dmarc.{domain}") && k == "TXT").collect();
    assert_eq!(dmarc.len(), 1);
    assert_eq!(dmarc[0].2, ["\"v=DMARC1; p=reject;\""], "the existing DMARC policy is kept");

    // The identity is removed with the [email] table, its records with it; the foreign
    // DMARC record stays.
    write(dir.path(), "capsule.toml", &format!("[capsule]\nname = \"{name}\"\n[dns]\nzone = \"{domain}\"\n"));
    let out = capsule(dir.path(), &["apply"]);
    assert!(out.status.success(), "{}", text(&out));
    let ids = ses.list_identities().send().await.unwrap();
    assert!(!ids.identities().contains(&domain), "identity deleted");
    let rs = zone_records(&zone_id).await;
    assert!(
        !rs.iter().any(|(n, _, _)| n.contains("_domainkey") || n.starts_with("mail.") || n.starts_with("_amazonses")),
        "{rs:#?}"
    );
    assert!(rs.iter().any(|(n, _, v)| *n == format!("_dmarc.{domain}") && v == &["\"v=DMARC1; p=reject;\""]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_capsule_did_not_create_is_refused() {
    testbed();
    let domain = format!("{}.example.com", unique("foreign"));
    hosted_zone(&domain).await;
    Aws::from_env().await.ses("us-east-1").verify_domain_identity().domain(&domain).send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "capsule.toml",
        &format!("[capsule]\nname = \"{}\"\n[dns]\nzone = \"{domain}\"\n[email]\ndomain = \"{domain}\"\n", unique("m")),
    );
    let out = capsule(dir.path(), &["plan", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors = doc["capsules"][0]["errors"].as_array().unwrap();
    assert!(errors.iter().any(|e| e["address"].as_str().unwrap().ends_with("ses_identity.email")), "{errors:#?}");
}

/// The domain verified in another region already: its token in `_amazonses` is kept when
/// capsule adds its own, and when capsule removes its own (R6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verification_record_keeps_the_tokens_of_other_regions() {
    testbed();
    let domain = format!("{}.example.com", unique("shared"));
    let zone_id = hosted_zone(&domain).await;
    let theirs = "\"token-of-the-identity-in-eu-west-1\"";
    create_txt(&zone_id, &format!("_amazonses.{domain}"), theirs).await;
    let verification = |rs: &[(String, String, Vec<String>)]| {
        let mut v: Vec<String> = rs
            .iter()
            .filter(|(n, k, _)| *n == format!("_amazonses.{domain}") && k == "TXT")
            .flat_map(|(_, _, v)| v.clone())
            .collect();
        v.sort();
        v
    };

    let dir = tempfile::tempdir().unwrap();
    let name = unique("mailer");
    let with_email =
        format!("[capsule]\nname = \"{name}\"\n[dns]\nzone = \"{domain}\"\n[email]\ndomain = \"{domain}\"\n");
    write(dir.path(), "capsule.toml", &with_email);
    let out = capsule(dir.path(), &["apply"]);
    assert!(out.status.success(), "{}", text(&out));
    let ses = Aws::from_env().await.ses("us-east-1");
    let attrs = ses.get_identity_verification_attributes().identities(&domain).send().await.unwrap();
    let ours = format!("\"{}\"", attrs.verification_attributes()[&domain].verification_token().unwrap());
    let mut both = vec![ours, theirs.to_string()];
    both.sort();
    assert_eq!(verification(&zone_records(&zone_id).await), both);
    let out = capsule(dir.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "a re-plan is a no-op:\n{}", text(&out));

    write(dir.path(), "capsule.toml", &format!("[capsule]\nname = \"{name}\"\n[dns]\nzone = \"{domain}\"\n"));
    let out = capsule(dir.path(), &["apply"]);
    assert!(out.status.success(), "{}", text(&out));
    let rs = zone_records(&zone_id).await;
    assert_eq!(verification(&rs), vec![theirs.to_string()], "{rs:#?}");
    assert!(
        !rs.iter().any(|(n, _, _)| n.contains("_amazonses") && n != &format!("_amazonses.{domain}")),
        "marker gone: {rs:#?}"
    );
}
