//! The dependency graph of a desired model: checked for unknown edges and cycles, and
//! ordered topologically (stable: ties keep declaration order).

use std::collections::{BTreeSet, HashMap};

use super::{Address, Resource};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GraphError {
    #[error("{from} depends on {to}, which is not part of the model")]
    UnknownDependency { from: String, to: String },
    #[error("dependency cycle through {0}")]
    Cycle(String),
}

/// Resource indices in an order where every resource comes after its dependencies.
#[derive(Debug, Clone)]
pub struct Graph {
    pub order: Vec<usize>,
    /// For each resource, the indices it depends on.
    pub deps: Vec<Vec<usize>>,
}

impl Graph {
    pub fn build(resources: &[Resource]) -> Result<Graph, GraphError> {
        let index: HashMap<&Address, usize> = resources.iter().enumerate().map(|(i, r)| (&r.address, i)).collect();
        let mut deps = Vec::with_capacity(resources.len());
        for r in resources {
            let mut d = Vec::new();
            for to in &r.depends_on {
                match index.get(to) {
                    Some(&j) => d.push(j),
                    None => {
                        return Err(GraphError::UnknownDependency { from: r.address.to_string(), to: to.to_string() });
                    }
                }
            }
            deps.push(d);
        }
        let mut indegree: Vec<usize> = deps.iter().map(Vec::len).collect();
        let mut dependents = vec![Vec::new(); resources.len()];
        for (i, d) in deps.iter().enumerate() {
            for &j in d {
                dependents[j].push(i);
            }
        }
        let mut ready: BTreeSet<usize> = (0..resources.len()).filter(|&i| indegree[i] == 0).collect();
        let mut order = Vec::with_capacity(resources.len());
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for &k in &dependents[i] {
                indegree[k] -= 1;
                if indegree[k] == 0 {
                    ready.insert(k);
                }
            }
        }
        if order.len() != resources.len() {
            let stuck = (0..resources.len())
                .find(|i| indegree[*i] > 0)
                .map(|i| resources[i].address.to_string())
                .unwrap_or_default();
            return Err(GraphError::Cycle(stuck));
        }
        Ok(Graph { order, deps })
    }
}
