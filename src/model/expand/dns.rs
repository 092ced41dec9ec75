//! `[dns]` and the records of service domains. The hosted zone is looked up by name (it
//! must exist: capsule never creates or deletes zones); site and email records are made by
//! their own units, service domains point at the load balancer here.

use indexmap::IndexMap;
use serde_json::json;

use super::builder::Builder;
use super::load_balancer::LoadBalancer;
use crate::config::types::{Dns, Service};
use crate::model::{Kind, reference};

/// The zone every domain of the capsule lives in, without its trailing dot.
pub(super) fn zone(dns: Option<&Dns>) -> Option<String> {
    dns.map(|d| d.zone.trim_end_matches('.').to_string())
}

/// Service domains point at the load balancer: an A alias only, since the load balancer
/// is IPv4 (capsule's subnets have no IPv6 ranges).
pub(super) fn service_records(
    b: &mut Builder<'_>,
    services: &IndexMap<String, Service>,
    lb: Option<&LoadBalancer>,
    zone: Option<&str>,
) {
    let Some(lb) = lb else { return };
    for (name, s) in services.iter().filter(|(_, s)| s.public) {
        let Some(domain) = &s.domain else { continue };
        b.add(
            Kind::Route53Record,
            &format!("{name}-a"),
            domain.clone(),
            json!({
                "zone": zone, "type": "A", "name": domain,
                "alias": { "target": reference(&lb.lb, "dns_name"), "hosted_zone": reference(&lb.lb, "zone_id") },
            }),
            vec![lb.lb.clone()],
        );
    }
}
