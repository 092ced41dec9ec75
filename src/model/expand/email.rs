//! `[email]`: the SES domain identity and the DNS records that verify it and make mail
//! from it deliverable (DKIM, MAIL FROM MX and SPF, a DMARC record only if none exists).

use serde_json::json;

use super::builder::Builder;
use crate::config::types::Email;
use crate::model::{Address, Kind, reference};

/// The identity, which services may send from.
pub(super) fn expand(b: &mut Builder<'_>, email: Option<&Email>, zone: Option<&str>) -> Option<Address> {
    let email = email?;
    let domain = &email.domain;
    let identity = b.add(
        Kind::SesIdentity,
        "email",
        domain.clone(),
        json!({
            "domain": domain,
            "dkim": true,
            "mail_from_domain": format!("mail.{domain}"),
            "zone": zone,
        }),
        vec![],
    );
    for i in 1..=3 {
        b.add(
            Kind::Route53Record,
            &format!("email-dkim-{i}"),
            format!("dkim-{i}.{domain}"),
            json!({
                "zone": zone, "type": "CNAME", "ttl": 1800,
                "name": reference(&identity, &format!("dkim_name_{i}")),
                "values": [reference(&identity, &format!("dkim_value_{i}"))],
            }),
            vec![identity.clone()],
        );
    }
    let region = b.region.clone();
    let records = [
        (
            "email-mail-from-mx",
            format!("mail.{domain}"),
            "MX",
            format!("10 feedback-smtp.{region}.amazonses.com"),
            false,
        ),
        ("email-mail-from-spf", format!("mail.{domain}"), "TXT", "\"v=spf1 include:amazonses.com ~all\"".into(), false),
        ("email-dmarc", format!("_dmarc.{domain}"), "TXT", "\"v=DMARC1; p=none;\"".into(), true),
    ];
    for (name, record, rtype, value, only_if_absent) in records {
        let mut attributes = json!({
            "zone": zone, "type": rtype, "ttl": 300, "name": record, "values": [value],
        });
        if only_if_absent && let Some(obj) = attributes.as_object_mut() {
            obj.insert("only_if_absent".into(), json!(true));
        }
        b.add(Kind::Route53Record, name, record, attributes, vec![identity.clone()]);
    }
    Some(identity)
}
