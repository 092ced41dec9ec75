use crate::plan::Plan;

/// The `format_version` "1" document of DESIGN section 4, pretty-printed.
pub fn json(plan: &Plan) -> String {
    serde_json::to_string_pretty(plan).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
