//! Phases as a DAG (petgraph): dependencies from `after:` conditions, cycle detection that
//! names the cycle, "parallel opportunities", and the ready set of a running scenario.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use super::ready::Slots;
use crate::definition::{Condition, Scenario};

/// The dependencies of every phase, by index (unknown names are left out: `validate`
/// reports them). Linear in phases and edges.
pub fn dependencies(scenario: &Scenario) -> Vec<Vec<usize>> {
    let names: Vec<&str> = scenario.phases.iter().map(|p| p.name.as_str()).collect();
    dependencies_among(scenario, &names)
}

/// The dependencies of each phase named in `nodes`, as indices into `nodes` (a name the
/// scenario does not have, or a dependency not among `nodes`, is left out): the edges of a
/// picture of some of its phases — the dashboard's graph, one node per phase of the
/// definition while a run's scenario also lists a `foreach:` phase's items. The first of
/// duplicate names wins, as in `phase_index`.
pub fn dependencies_among(scenario: &Scenario, nodes: &[&str]) -> Vec<Vec<usize>> {
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (*n, i))
        .rev()
        .collect();
    let mut phases = HashMap::new();
    for p in &scenario.phases {
        phases.entry(p.name.as_str()).or_insert(p);
    }
    nodes
        .iter()
        // The names of an `after:` list with an empty entry count too (such a phase never
        // starts), so `validate` finds a cycle through it beside the empty entry.
        .map(|n| match phases.get(n).and_then(|p| p.after_names()) {
            Some(deps) => deps
                .iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .collect(),
            None => Vec::new(),
        })
        .collect()
}

/// What scheduling needs of a scenario, computed once per run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PhasePlan {
    pub deps: Vec<Vec<usize>>,
    /// Phases in dependency order.
    pub order: Vec<usize>,
    pub manual: Vec<bool>,
    pub parallel: Vec<bool>,
    /// Conditions that cannot be understood (such a phase never starts; `validate` reports it).
    pub invalid: Vec<bool>,
    /// Some phase has an `if:` or a `foreach:` (else nothing is ever to prepare).
    pub composed: bool,
}

impl PhasePlan {
    pub fn of(scenario: &Scenario) -> PhasePlan {
        let conditions: Vec<_> = scenario
            .phases
            .iter()
            .map(|p| p.parsed_condition())
            .collect();
        let deps = dependencies(scenario);
        let invalid = conditions
            .iter()
            .zip(&deps)
            .map(|(c, resolved)| match c {
                Err(_) => true,
                // An unknown `after:` target can never complete (`dependencies` leaves it out).
                Ok(Condition::After(names)) => names.len() != resolved.len(),
                _ => false,
            })
            .collect();
        PhasePlan {
            order: topological_order(scenario),
            manual: conditions
                .iter()
                .map(|c| matches!(c, Ok(Condition::Manual)))
                .collect(),
            parallel: scenario.phases.iter().map(|p| p.parallel).collect(),
            invalid,
            composed: scenario
                .phases
                .iter()
                .any(|p| p.if_.is_some() || p.foreach.is_some()),
            deps,
        }
    }
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
    find_cycles(deps).into_iter().next()
}

/// A cycle (as [`find_cycle`] gives it) of each set of phases that wait for one another:
/// every independent cycle, so `validate` reports them all in one pass.
pub fn find_cycles(deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut found = Vec::new();
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
                found.push(cycle);
                break;
            }
            path.push(nextp);
            at = nextp;
        }
    }
    found.sort_by_key(|c| c[0]);
    found
}

/// What the scheduler runs at once (SPEC §4), for `orchestrate preview`: for each group of
/// phases ready together (the same dependencies; manual phases are excluded, each waits for
/// its own start), the sets of two or more of them that run at the same time, as
/// `ready_phases` admits them (`Slots`: non-parallel phases one at a time, each beside the
/// parallel ones, at most `limit` at once), phases assumed to finish in the order they
/// started. Phases `a`, `b` (`parallel: false`) and `c` (`parallel: true`) are `a + c`, then
/// `b + c` — never `a + b + c`, which it said before. Groups in the order of their first
/// member; each set in definition order.
pub fn parallel_opportunities(scenario: &Scenario, limit: usize) -> Vec<Vec<Vec<String>>> {
    let deps = dependencies(scenario);
    let mut by_key: HashMap<Vec<usize>, usize> = HashMap::new();
    let mut groups: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
    for (i, p) in scenario.phases.iter().enumerate() {
        if matches!(p.parsed_condition(), Ok(Condition::Manual) | Err(_)) {
            continue;
        }
        let mut key = deps[i].clone();
        key.sort_unstable();
        match by_key.get(&key) {
            Some(&g) => groups[g].1.push(i),
            None => {
                by_key.insert(key.clone(), groups.len());
                groups.push((key, vec![i]));
            }
        }
    }
    groups
        .into_iter()
        .filter(|(_, m)| m.len() > 1 && m.iter().any(|&i| scenario.phases[i].parallel))
        .map(|(_, m)| {
            let parallel: Vec<bool> = m.iter().map(|&i| scenario.phases[i].parallel).collect();
            at_once(&parallel, limit)
                .into_iter()
                .map(|set| {
                    set.into_iter()
                        .map(|k| scenario.phases[m[k]].name.clone())
                        .collect()
                })
                .collect::<Vec<Vec<String>>>()
        })
        .filter(|sets| !sets.is_empty())
        .collect()
}

/// The `foreach:` phases whose items run beside each other (SPEC §4: each item is a phase of
/// its own, `parallel: true` as its phase is, within `limit`), for `orchestrate preview`: each
/// such phase and how many of its items run at once — `limit`, or fewer when its list is
/// written and shorter. A phase whose items run one at a time (`parallel: false`, a limit of
/// 1, a written list of one item) is none; nor is a manual one (it waits for its start).
/// Before, preview said "Parallel opportunities: 0" of a rollout whose regions run two at a
/// time.
pub fn parallel_items(scenario: &Scenario, limit: usize) -> Vec<(String, usize)> {
    use crate::definition::Foreach;
    scenario
        .phases
        .iter()
        .filter(|p| p.parallel && !matches!(p.parsed_condition(), Ok(Condition::Manual) | Err(_)))
        .filter_map(|p| {
            let at_once = match p.foreach.as_ref()? {
                Foreach::Items(items) => items.len().min(limit),
                Foreach::Template(_) => limit,
            };
            (at_once > 1).then(|| (p.name.clone(), at_once))
        })
        .collect()
}

/// The sets (two or more, as indices into `parallel`, ascending) of phases ready together
/// that the scheduler's rule (`Slots`) runs at once, admitting in order as `ready_phases`
/// does and each phase finishing in the order they started. Linear in the phases and the
/// sets' sizes.
fn at_once(parallel: &[bool], limit: usize) -> Vec<Vec<usize>> {
    use std::collections::VecDeque;
    // Waiting phases, in order, by kind: once a non-parallel phase is active only parallel
    // ones are admitted, so the walk in order never needs to pass over refused ones.
    let mut waiting_parallel: VecDeque<usize> =
        (0..parallel.len()).filter(|&i| parallel[i]).collect();
    let mut waiting_exclusive: VecDeque<usize> =
        (0..parallel.len()).filter(|&i| !parallel[i]).collect();
    let mut running: VecDeque<usize> = VecDeque::new();
    let mut sets = Vec::new();
    loop {
        let mut slots = Slots::new(limit);
        for &r in &running {
            slots.take(parallel[r]);
        }
        let mut started = false;
        loop {
            let next = match (waiting_parallel.front(), waiting_exclusive.front()) {
                (Some(&p), Some(&e)) if e < p && slots.admits(false) => {
                    waiting_exclusive.pop_front()
                }
                (Some(_), _) if slots.admits(true) => waiting_parallel.pop_front(),
                (None, Some(_)) if slots.admits(false) => waiting_exclusive.pop_front(),
                _ => None,
            };
            let Some(i) = next else { break };
            slots.take(parallel[i]);
            running.push_back(i);
            started = true;
        }
        if started && running.len() > 1 {
            let mut set: Vec<usize> = running.iter().copied().collect();
            set.sort_unstable();
            sets.push(set);
        }
        if waiting_parallel.is_empty() && waiting_exclusive.is_empty() {
            return sets;
        }
        // The earliest started finishes (how long each takes is not known before a run).
        running.pop_front();
    }
}

/// Phases in dependency order (stable: the earliest defined ready phase first); phases on a
/// cycle follow in definition order. Kahn's algorithm: O((phases + edges) log phases).
pub fn topological_order(scenario: &Scenario) -> Vec<usize> {
    let deps = dependencies(scenario);
    let n = deps.len();
    let mut waiting_on = vec![0usize; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, ds) in deps.iter().enumerate() {
        let mut unique = ds.clone();
        unique.sort_unstable();
        unique.dedup();
        for d in unique.into_iter().filter(|&d| d != i) {
            waiting_on[i] += 1;
            dependents[d].push(i);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..n)
        .filter(|&i| waiting_on[i] == 0)
        .map(Reverse)
        .collect();
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        placed[i] = true;
        order.push(i);
        for &j in &dependents[i] {
            waiting_on[j] -= 1;
            if waiting_on[j] == 0 {
                ready.push(Reverse(j));
            }
        }
    }
    order.extend((0..n).filter(|&i| !placed[i]));
    items_after_their_phase(scenario, order)
}

/// The items of a `foreach:` phase (`NAME[i]`, units of a run: names ending so are refused in
/// definitions) have no `after:` of their own; in the order they follow their phase.
fn items_after_their_phase(scenario: &Scenario, order: Vec<usize>) -> Vec<usize> {
    let foreach: std::collections::HashSet<&str> = scenario
        .phases
        .iter()
        .filter(|p| p.foreach.is_some())
        .map(|p| p.name.as_str())
        .collect();
    if foreach.is_empty() {
        return order;
    }
    let is_item = |i: usize| {
        crate::definition::item_suffix(&scenario.phases[i].name)
            .is_some_and(|(base, _)| foreach.contains(base))
    };
    let mut items: HashMap<&str, Vec<usize>> = HashMap::new();
    for &i in &order {
        if is_item(i) {
            let (base, _) = crate::definition::item_suffix(&scenario.phases[i].name)
                .expect("an item's name ends in [N]");
            items.entry(base).or_default().push(i);
        }
    }
    let mut out = Vec::with_capacity(order.len());
    for &i in &order {
        if is_item(i) {
            continue;
        }
        out.push(i);
        if let Some(mine) = items.get_mut(scenario.phases[i].name.as_str()) {
            mine.sort_unstable();
            out.append(mine);
        }
    }
    out
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
            parallel_opportunities(&s, 4),
            vec![vec![vec!["backend".to_string(), "frontend".to_string()]]]
        );
    }

    /// Seen by a review: phases `a`, `b` (`parallel: false`) and `c` (`parallel: true`),
    /// ready together, were one opportunity `a + b + c`; the scheduler never runs `a` beside
    /// `b`. The sets are the scheduler's: `a + c`, then `b + c`; and `max_parallel` bounds
    /// each.
    #[test]
    fn parallel_opportunities_are_what_the_scheduler_runs_at_once() {
        let names = |groups: Vec<Vec<Vec<String>>>| -> Vec<String> {
            groups
                .into_iter()
                .flatten()
                .map(|set| set.join(" + "))
                .collect()
        };
        let s = scenario(&[
            ("a", "auto", false),
            ("b", "auto", false),
            ("c", "auto", true),
        ]);
        assert_eq!(names(parallel_opportunities(&s, 4)), ["a + c", "b + c"]);
        assert!(parallel_opportunities(&s, 1).is_empty(), "one at a time");
        let s = scenario(&[
            ("p", "auto", true),
            ("q", "auto", true),
            ("r", "auto", true),
        ]);
        assert_eq!(names(parallel_opportunities(&s, 2)), ["p + q", "q + r"]);
        assert_eq!(names(parallel_opportunities(&s, 4)), ["p + q + r"]);
    }
}
