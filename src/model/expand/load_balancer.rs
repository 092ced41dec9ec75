//! The capsule's public entrance: one application load balancer with its security group,
//! the HTTP listener (a redirect once a certificate exists), the HTTPS listener and the
//! certificate for every public service domain. Per-service routing is `services`'.

use indexmap::IndexMap;
use serde_json::json;

use super::builder::Builder;
use crate::config::types::Service;
use crate::model::{Address, Kind, reference};

/// What public services attach to.
pub(super) struct LoadBalancer {
    pub lb: Address,
    pub security_group: Address,
    /// The listener service rules go on: HTTPS when there is a certificate, else HTTP.
    pub listener: Address,
}

/// The load balancer, when any service is public.
pub(super) fn expand(
    b: &mut Builder<'_>,
    services: &IndexMap<String, Service>,
    zone: Option<&str>,
) -> Option<LoadBalancer> {
    if !services.values().any(|s| s.public) {
        return None;
    }
    let ingress = vec![
        json!({ "port": 80, "cidr": "0.0.0.0/0" }),
        json!({ "port": 80, "cidr": "::/0" }),
        json!({ "port": 443, "cidr": "0.0.0.0/0" }),
        json!({ "port": 443, "cidr": "::/0" }),
    ];
    let sg = b.security_group("alb", "load balancer: HTTP and HTTPS from the internet".into(), ingress, vec![]);
    let lb = b.add(
        Kind::Lb,
        "main",
        b.name("", 32),
        json!({
            "type": "application",
            "scheme": "internet-facing",
            // IPv4: capsule's subnets have no IPv6 ranges, which dualstack needs.
            "ip_address_type": "ipv4",
            "subnets": b.net.public,
            "security_groups": [reference(&sg, "id")],
            "idle_timeout_seconds": 60,
            "drop_invalid_header_fields": true,
        }),
        [sg.clone()].into_iter().chain(b.net.public_deps.iter().cloned()).collect(),
    );
    let domains: Vec<String> = services.values().filter(|s| s.public).filter_map(|s| s.domain.clone()).collect();
    let certs = certificates(b, &domains, zone);
    let http = b.add(Kind::LbListener, "http", b.name("http", 255), json!({
        "load_balancer": reference(&lb, "arn"),
        "port": 80,
        "protocol": "HTTP",
        "default_action": if !certs.is_empty() { json!({ "redirect": { "protocol": "HTTPS", "port": 443, "status": "HTTP_301" } }) }
                          else { json!({ "fixed_response": { "status": 404 } }) },
    }), vec![lb.clone()]);
    let listener = match certs.split_first() {
        None => http,
        Some((cert, extra)) => b.add(
            Kind::LbListener,
            "https",
            b.name("https", 255),
            json!({
                "load_balancer": reference(&lb, "arn"),
                "port": 443,
                "protocol": "HTTPS",
                "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
                "certificate": reference(cert, "arn"),
                "extra_certificates": extra.iter().map(|c| reference(c, "arn")).collect::<Vec<_>>(),
                "default_action": { "fixed_response": { "status": 404 } },
            }),
            [lb.clone()].into_iter().chain(certs.iter().cloned()).collect(),
        ),
    };
    Some(LoadBalancer { lb, security_group: sg, listener })
}

/// ACM's quota of names on one certificate (docs.aws.amazon.com/acm/latest/userguide/acm-limits.html).
const NAMES_PER_CERTIFICATE: usize = 10;

/// The certificates for the public service domains: `lb` for the first ten, `lb-2` for the
/// next ten, and so on; the listener serves the first as its default, the rest by SNI.
fn certificates(b: &mut Builder<'_>, domains: &[String], zone: Option<&str>) -> Vec<Address> {
    domains
        .chunks(NAMES_PER_CERTIFICATE)
        .enumerate()
        .map(|(i, names)| {
            let name = if i == 0 { "lb".to_string() } else { format!("lb-{}", i + 1) };
            b.add(
                Kind::AcmCertificate,
                &name,
                names[0].clone(),
                json!({
                    "domain": names[0],
                    "alternative_names": names[1..],
                    "validation": "dns",
                    "zone": zone,
                }),
                vec![],
            )
        })
        .collect()
}
