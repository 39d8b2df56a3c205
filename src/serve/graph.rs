//! A run's DAG drawn as SVG: a layered layout (each node one layer right of its deepest
//! dependency, nodes within a layer ordered by the mean position of their dependencies),
//! edges as curves, each node coloured by its status through a CSS class. Pure: the same
//! nodes give the same picture. Every SVG element is closed explicitly (`<rect></rect>`): in
//! an HTML page an SVG element left open takes the next ones in as its children.

use maud::{Markup, html};

/// One step or phase to draw.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    /// A status word (`completed`, `running`, ...): the node's CSS class is `st-<status>`.
    pub status: String,
    /// A second line under the name (a `foreach:` step's count of items).
    pub note: Option<String>,
}

const W: usize = 168;
const H: usize = 40;
const GAP_X: usize = 56;
const GAP_Y: usize = 18;
const PAD: usize = 8;
/// Characters of a name shown in a node (the whole name is in its tooltip).
const SHOWN: usize = 21;

/// Layer of each node: 0 without dependencies, else one past its deepest dependency. Nodes on
/// a cycle (which validation refuses, but a hostile log may hold) go one layer past the rest.
fn layers(deps: &[Vec<usize>]) -> Vec<usize> {
    let n = deps.len();
    let mut dependents = vec![Vec::new(); n];
    let mut missing = vec![0usize; n];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds.iter().filter(|&&d| d < n) {
            dependents[d].push(i);
            missing[i] += 1;
        }
    }
    let mut layer = vec![0usize; n];
    let mut placed = vec![false; n];
    let mut ready: Vec<usize> = (0..n).filter(|&i| missing[i] == 0).collect();
    while let Some(i) = ready.pop() {
        placed[i] = true;
        for &j in &dependents[i] {
            layer[j] = layer[j].max(layer[i] + 1);
            missing[j] -= 1;
            if missing[j] == 0 {
                ready.push(j);
            }
        }
    }
    // A node without dependencies sits just before its nearest dependent, so that its edge
    // does not run through the layers between (the manual phase beside `build` that feeds
    // `ship` is drawn beside `build`, not at the far left).
    for i in 0..n {
        if placed[i]
            && deps[i].iter().all(|&d| d >= n)
            && let Some(nearest) = dependents[i]
                .iter()
                .filter(|&&j| placed[j])
                .map(|&j| layer[j])
                .min()
        {
            layer[i] = nearest.saturating_sub(1);
        }
    }
    let deepest = layer.iter().copied().max().unwrap_or(0);
    for (i, l) in layer.iter_mut().enumerate() {
        if !placed[i] {
            *l = deepest + 1;
        }
    }
    layer
}

/// Positions: (layer, row) of every node, rows ordered by the mean row of dependencies.
fn positions(deps: &[Vec<usize>]) -> Vec<(usize, usize)> {
    let layer = layers(deps);
    let count = layer.iter().copied().max().map_or(0, |m| m + 1);
    let mut by_layer: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (i, &l) in layer.iter().enumerate() {
        by_layer[l].push(i);
    }
    let mut row = vec![0usize; deps.len()];
    for nodes in &mut by_layer {
        let key = |i: usize| -> f64 {
            let ds: Vec<usize> = deps[i].iter().copied().filter(|&d| d < row.len()).collect();
            if ds.is_empty() {
                i as f64
            } else {
                ds.iter().map(|&d| row[d] as f64).sum::<f64>() / ds.len() as f64
            }
        };
        let mut keyed: Vec<(f64, usize)> = nodes.iter().map(|&i| (key(i), i)).collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        *nodes = keyed.into_iter().map(|(_, i)| i).collect();
        for (r, &i) in nodes.iter().enumerate() {
            row[i] = r;
        }
    }
    let tallest = by_layer.iter().map(Vec::len).max().unwrap_or(0);
    // Centre each layer's column: offsets in half rows, so they stay whole numbers.
    let mut out = vec![(0, 0); deps.len()];
    for (l, nodes) in by_layer.iter().enumerate() {
        let offset = tallest - nodes.len();
        for (r, &i) in nodes.iter().enumerate() {
            out[i] = (l, 2 * r + offset);
        }
    }
    out
}

fn shorten(name: &str) -> String {
    crate::render::clip(name, SHOWN).into_owned()
}

/// The SVG of `nodes` with dependencies `deps` (by index); node `i` links to `#step-i`.
pub fn layered_svg(nodes: &[Node], deps: &[Vec<usize>]) -> Markup {
    let pos = positions(deps);
    let x = |i: usize| PAD + pos[i].0 * (W + GAP_X);
    let y = |i: usize| PAD + pos[i].1 * (H + GAP_Y) / 2;
    let width = pos.iter().map(|p| p.0).max().map_or(0, |m| m + 1) * (W + GAP_X) + 2 * PAD;
    let height = pos.iter().map(|p| p.1).max().map_or(0, |m| m + 2) * (H + GAP_Y) / 2 + 2 * PAD;
    let edges: Vec<String> = deps
        .iter()
        .enumerate()
        .flat_map(|(i, ds)| {
            ds.iter()
                .filter(|&&d| d < nodes.len())
                .map(move |&d| (d, i))
        })
        .map(|(d, i)| {
            let (x1, y1) = (x(d) + W, y(d) + H / 2);
            let (x2, y2) = (x(i), y(i) + H / 2);
            let bend = GAP_X / 2;
            format!(
                "M{x1} {y1} C{} {y1} {} {y2} {x2} {y2}",
                x1 + bend,
                x2.saturating_sub(bend)
            )
        })
        .collect();
    html! {
        svg class="dag" xmlns="http://www.w3.org/2000/svg" role="img"
            width=(width) height=(height) viewBox={"0 0 " (width) " " (height)} {
            title { "Dependency graph" }
            defs {
                marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="8" markerHeight="8" orient="auto" {
                    path class="arrowhead" d="M0 0 L8 4 L0 8 z" {}
                }
            }
            @for d in &edges {
                path class="edge" d=(d) marker-end="url(#arrow)" {}
            }
            @for (i, node) in nodes.iter().enumerate() {
                a href={"#step-" (i)} {
                    g class={"node st-" (node.status)} data-step=(node.name) {
                        title { (node.name) " — " (node.status) @if let Some(n) = &node.note { " — " (n) } }
                        rect x=(x(i)) y=(y(i)) width=(W) height=(H) rx="6" {}
                        @if let Some(n) = &node.note {
                            text x=(x(i) + 10) y=(y(i) + 17) { (shorten(&node.name)) }
                            text class="note" x=(x(i) + 10) y=(y(i) + 32) { (shorten(n)) }
                        } @else {
                            text x=(x(i) + 10) y=(y(i) + H / 2 + 5) { (shorten(&node.name)) }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node is always right of every dependency, and no two nodes share a place.
    #[test]
    fn every_node_is_right_of_its_dependencies_and_places_are_distinct() {
        // a diamond with a tail, and an independent node
        let deps = vec![vec![], vec![0], vec![0], vec![1, 2], vec![3], vec![]];
        let pos = positions(&deps);
        for (i, ds) in deps.iter().enumerate() {
            for &d in ds {
                assert!(pos[d].0 < pos[i].0, "{d} before {i}: {pos:?}");
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for p in &pos {
            assert!(seen.insert(*p), "two nodes at {p:?}");
        }
    }

    #[test]
    fn a_cycle_from_a_hostile_log_is_drawn_not_looped_on() {
        let deps = vec![vec![1], vec![0], vec![]];
        let pos = positions(&deps);
        assert_eq!(pos.len(), 3);
        assert!(pos[0].0 > pos[2].0 && pos[1].0 > pos[2].0);
    }

    #[test]
    fn names_are_escaped_in_the_svg() {
        let nodes = vec![Node {
            name: "<script>alert(1)</script>".into(),
            status: "running".into(),
            note: Some("<b>note</b>".into()),
        }];
        let svg = layered_svg(&nodes, &[vec![]]).into_string();
        assert!(!svg.contains("<script>") && !svg.contains("<b>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"), "{svg}");
    }
}
