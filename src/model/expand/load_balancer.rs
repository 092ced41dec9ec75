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
    let sg = b.add(
        Kind::SecurityGroup,
        "alb",
        b.name("alb", 255),
        json!({
            "description": "load balancer: HTTP and HTTPS from the internet",
            "ingress": [ { "port": 80, "cidr": "0.0.0.0/0" }, { "port": 80, "cidr": "::/0" },
                         { "port": 443, "cidr": "0.0.0.0/0" }, { "port": 443, "cidr": "::/0" } ],
        }),
        vec![],
    );
    let lb = b.add(
        Kind::Lb,
        "main",
        b.name("", 32),
        json!({
            "type": "application",
            "scheme": "internet-facing",
            // IPv4: the default VPC's subnets have no IPv6 ranges, which dualstack needs.
            "ip_address_type": "ipv4",
            "subnets": "vpc:public",
            "security_groups": [reference(&sg, "id")],
            "idle_timeout_seconds": 60,
            "drop_invalid_header_fields": true,
        }),
        vec![sg.clone()],
    );
    let domains: Vec<String> = services.values().filter(|s| s.public).filter_map(|s| s.domain.clone()).collect();
    let cert = (!domains.is_empty()).then(|| {
        b.add(
            Kind::AcmCertificate,
            "lb",
            domains[0].clone(),
            json!({
                "domain": domains[0],
                "alternative_names": domains[1..],
                "validation": "dns",
                "zone": zone,
            }),
            vec![],
        )
    });
    let http = b.add(Kind::LbListener, "http", b.name("http", 255), json!({
        "load_balancer": reference(&lb, "arn"),
        "port": 80,
        "protocol": "HTTP",
        "default_action": if cert.is_some() { json!({ "redirect": { "protocol": "HTTPS", "port": 443, "status": "HTTP_301" } }) }
                          else { json!({ "fixed_response": { "status": 404 } }) },
    }), vec![lb.clone()]);
    let listener = match &cert {
        None => http,
        Some(cert) => b.add(
            Kind::LbListener,
            "https",
            b.name("https", 255),
            json!({
                "load_balancer": reference(&lb, "arn"),
                "port": 443,
                "protocol": "HTTPS",
                "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
                "certificate": reference(cert, "arn"),
                "default_action": { "fixed_response": { "status": 404 } },
            }),
            vec![lb.clone(), cert.clone()],
        ),
    };
    Some(LoadBalancer { lb, security_group: sg, listener })
}
