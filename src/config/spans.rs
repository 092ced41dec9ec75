//! Where each key and value of a (merged) capsule document came from, so checks on typed
//! values can point at `file:line:column`. Paths are dotted: `services.api.port`,
//! `sites.web.headers.0.glob`.

use std::collections::HashMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

#[derive(Debug, Clone, Default)]
pub struct SpanIndex {
    keys: HashMap<String, Range<usize>>,
    values: HashMap<String, Range<usize>>,
}

impl SpanIndex {
    pub fn build(root: &DeTable<'_>) -> Self {
        let mut index = SpanIndex::default();
        index.walk_table(root, "");
        index
    }

    fn walk_table(&mut self, table: &DeTable<'_>, prefix: &str) {
        for (key, value) in table.iter() {
            let path = join(prefix, key.get_ref());
            self.keys.insert(path.clone(), key.span());
            self.values.insert(path.clone(), value.span());
            self.walk_value(value.get_ref(), &path);
        }
    }

    fn walk_value(&mut self, value: &DeValue<'_>, path: &str) {
        match value {
            DeValue::Table(t) => self.walk_table(t, path),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let p = join(path, &i.to_string());
                    self.values.insert(p.clone(), item.span());
                    self.walk_value(item.get_ref(), &p);
                }
            }
            _ => {}
        }
    }

    /// Span of the value at `path`, else of its closest ancestor, else the file start.
    pub fn value(&self, path: &str) -> Range<usize> {
        self.lookup(&self.values, path)
    }

    /// Span of the key at `path` (falling back like [`SpanIndex::value`]).
    pub fn key(&self, path: &str) -> Range<usize> {
        match self.keys.get(path) {
            Some(span) => span.clone(),
            None => self.value(path),
        }
    }

    pub fn contains(&self, path: &str) -> bool {
        self.values.contains_key(path)
    }

    fn lookup(&self, map: &HashMap<String, Range<usize>>, path: &str) -> Range<usize> {
        let mut p = path;
        loop {
            if let Some(span) = map.get(p) {
                return span.clone();
            }
            match p.rfind('.') {
                Some(i) => p = &p[..i],
                None => return self.keys.get(p).cloned().unwrap_or(0..0),
            }
        }
    }
}

pub fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") }
}

impl SpanIndex {
    /// The index of one subtree, with paths prefixed by `path`.
    pub fn build_value(value: &toml::Spanned<DeValue<'_>>, path: &str) -> Self {
        let mut index = SpanIndex::default();
        index.values.insert(path.to_string(), value.span());
        index.walk_value(value.get_ref(), path);
        index
    }
}
