//! Phases as a DAG (petgraph): dependencies from `after:` conditions, cycle detection that
//! names the cycle, "parallel opportunities", and the ready set of a running scenario.

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::definition::{Condition, Scenario};

/// The dependencies of every phase, by index (unknown names are left out: `validate`
/// reports them).
pub fn dependencies(scenario: &Scenario) -> Vec<Vec<usize>> {
    scenario
        .phases
        .iter()
        .map(|p| match p.parsed_condition() {
            Ok(Condition::After(deps)) => deps
                .iter()
                .filter_map(|d| scenario.phase_index(d))
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

fn graph(deps: &[Vec<usize>]) -> DiGraph<usize, ()> {
    let mut g = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..deps.len()).map(|i| g.add_node(i)).collect();
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            g.add_edge(nodes[d], nodes[i], ());
        }
    }
    g
}

/// A dependency cycle, as phase indices in order (the first repeated at the end), if any.
pub fn find_cycle(deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    let g = graph(deps);
    for scc in tarjan_scc(&g) {
        let members: Vec<usize> = scc.iter().map(|n| g[*n]).collect();
        let self_loop = members.len() == 1 && deps[members[0]].contains(&members[0]);
        if members.len() < 2 && !self_loop {
            continue;
        }
        // Walk dependency edges inside the component from its smallest member until a phase
        // repeats: that walk is a cycle.
        let start = *members.iter().min().expect("components are not empty");
        let mut path = vec![start];
        let mut at = start;
        loop {
            let nextp = *deps[at]
                .iter()
                .filter(|d| members.contains(d))
                .min()
                .expect("every member of a cycle has a dependency inside it");
            if let Some(pos) = path.iter().position(|&p| p == nextp) {
                let mut cycle = path[pos..].to_vec();
                cycle.push(nextp);
                cycle.reverse();
                return Some(cycle);
            }
            path.push(nextp);
            at = nextp;
        }
    }
    None
}

/// Groups of phases that can run at the same time: the same dependencies, at least two
/// members, at least one of them `parallel: true`. (Manual phases are excluded: each waits for
/// its own start.)
pub fn parallel_opportunities(scenario: &Scenario) -> Vec<Vec<String>> {
    let deps = dependencies(scenario);
    let mut groups: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
    for (i, p) in scenario.phases.iter().enumerate() {
        if matches!(p.parsed_condition(), Ok(Condition::Manual) | Err(_)) {
            continue;
        }
        let mut key = deps[i].clone();
        key.sort_unstable();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    groups
        .into_iter()
        .filter(|(_, m)| m.len() > 1 && m.iter().any(|&i| scenario.phases[i].parallel))
        .map(|(_, m)| m.iter().map(|&i| scenario.phases[i].name.clone()).collect())
        .collect()
}

/// Phases in dependency order (stable: definition order among equals); a cycle keeps the rest
/// in definition order.
pub fn topological_order(scenario: &Scenario) -> Vec<usize> {
    let deps = dependencies(scenario);
    let n = deps.len();
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let next = (0..n).find(|&i| !placed[i] && deps[i].iter().all(|&d| placed[d] || d == i));
        match next {
            Some(i) => {
                placed[i] = true;
                order.push(i);
            }
            None => {
                order.extend((0..n).filter(|&i| !placed[i]));
                break;
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::parse_scenario;

    fn scenario(phases: &[(&str, &str, bool)]) -> Scenario {
        let mut y = String::from("name: s\ndescription: d\nphases:\n");
        for (name, cond, parallel) in phases {
            y.push_str(&format!(
                "  - name: {name}\n    condition: '{cond}'\n    parallel: {parallel}\n"
            ));
        }
        parse_scenario("s.yaml", &y).unwrap()
    }

    #[test]
    fn cycles_are_named_in_order() {
        let s = scenario(&[
            ("a", "after:c", false),
            ("b", "after:a", false),
            ("c", "after:b", false),
            ("d", "auto", false),
        ]);
        let cycle = find_cycle(&dependencies(&s)).unwrap();
        let names: Vec<&str> = cycle.iter().map(|&i| s.phases[i].name.as_str()).collect();
        assert_eq!(names.first(), names.last());
        assert_eq!(names.len(), 4);
        assert!(
            find_cycle(&dependencies(&scenario(&[
                ("a", "auto", false),
                ("b", "after:a", false)
            ])))
            .is_none()
        );
    }

    #[test]
    fn the_seed_has_one_parallel_opportunity() {
        let s = scenario(&[
            ("analysis", "manual", false),
            ("backend", "after:analysis", false),
            ("frontend", "after:analysis", true),
            ("integration", "after:backend,frontend", false),
        ]);
        assert_eq!(
            parallel_opportunities(&s),
            vec![vec!["backend".to_string(), "frontend".to_string()]]
        );
    }
}
