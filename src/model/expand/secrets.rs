//! `[secrets]`: one Secrets Manager secret per declared name. Their values are set with
//! `capsule secrets set`, never here: expansion only declares that they exist.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde_json::json;

use super::builder::Builder;
use crate::config::types::SecretDecl;
use crate::model::{Address, Kind};

/// The secrets, by their `[secrets]` name.
pub(super) fn expand(b: &mut Builder<'_>, secrets: &IndexMap<String, SecretDecl>) -> BTreeMap<String, Address> {
    let mut addresses = BTreeMap::new();
    for (name, decl) in secrets {
        let a = b.add(
            Kind::Secret,
            name,
            b.secret_name(name),
            json!({
                "description": decl.description.clone().unwrap_or_default(),
                "value_source": "user",
            }),
            vec![],
        );
        addresses.insert(name.clone(), a);
    }
    addresses
}

/// The connection secret of a data store (`db-NAME`, `cache-NAME`): capsule generates
/// and keeps its value.
pub(super) fn connection(b: &mut Builder<'_>, name: &str, description: String) -> Address {
    b.add(
        Kind::Secret,
        name,
        b.secret_name(name),
        json!({ "description": description, "value_source": "generated" }),
        vec![],
    )
}
