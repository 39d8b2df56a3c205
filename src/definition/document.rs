//! A YAML definition judged on the parser's events (`yaml_events`) before serde_yaml reads
//! it: one document per file, and what its aliases add once expanded, bounded.
//!
//! serde_yaml expands every alias into a copy of the node its anchor names as it reads, before
//! any check of ours, and the file's size does not bound that: an 850 KB file (a 400 KB
//! string behind 150,000 aliases) asked for 60 GB. Here each alias is counted where it is
//! written, as the size of its anchor's node (its nodes, aliases inside it expanded, plus the
//! bytes of its scalars), and the alias with which a file's aliases add more than
//! [`MAX_ALIAS_EXPANSION`] is refused at its place, before anything expands it.

use std::collections::HashMap;

use super::yaml_events::{Event, Events};
use super::{Location, Problem, shown_text};

/// What all the aliases of a definition may add to it once expanded, counted as nodes plus the
/// bytes of their scalars: as much as a definition file may hold (`MAX_DEFINITION_BYTES`), so
/// a definition read with its aliases expanded is never much more than twice the largest file.
/// (A file without aliases adds nothing: no file is refused for what it holds itself.)
pub const MAX_ALIAS_EXPANSION: u64 = super::MAX_DEFINITION_BYTES as u64;

/// The first problem of the YAML `text` its events show: a second document, an alias inside
/// the node it names (it would repeat without end), or the alias with which the file's aliases
/// add more than [`MAX_ALIAS_EXPANSION`]. `line_offset` is added to every line (front matter
/// does not start on the file's first line). Text that stops being YAML is judged up to there:
/// the parser's error is serde_yaml's to report.
pub(crate) fn problem(text: &str, line_offset: usize) -> Option<Problem> {
    let shift = |at: Location| Location {
        line: at.line + line_offset,
        column: at.column,
    };
    let mut anchors = Anchors::default();
    // The collections open around the current event: the anchor each defines, and its size so
    // far.
    let mut open: Vec<(Option<usize>, u64)> = Vec::new();
    let mut added: u64 = 0;
    let mut documents = 0;
    let grow = |open: &mut Vec<(Option<usize>, u64)>, size: u64| {
        if let Some((_, total)) = open.last_mut() {
            *total = total.saturating_add(size);
        }
    };
    for (event, at) in Events::new(text) {
        match event {
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Some(second_document(shift(at)));
                }
            }
            Event::DocumentEnd => {}
            Event::Scalar { anchor, bytes } => {
                let size = bytes.saturating_add(1);
                if let Some(anchor) = anchor {
                    let id = anchors.define(anchor);
                    anchors.sizes[id] = Some(size);
                }
                grow(&mut open, size);
            }
            Event::SequenceStart { anchor } | Event::MappingStart { anchor } => {
                let id = anchor.map(|a| anchors.define(a));
                open.push((id, 1));
            }
            Event::CollectionEnd => {
                let Some((id, size)) = open.pop() else {
                    continue;
                };
                if let Some(id) = id {
                    anchors.sizes[id] = Some(size);
                }
                grow(&mut open, size);
            }
            Event::Alias { anchor } => {
                // An anchor never given is serde_yaml's to report ("unknown anchor").
                let Some(&id) = anchors.by_name.get(&anchor) else {
                    continue;
                };
                let name = shown_text(&String::from_utf8_lossy(&anchor));
                let width = Some(1 + anchor.len());
                let Some(size) = anchors.sizes[id] else {
                    return Some(
                        Problem::new(
                            format!(
                                "the alias `*{name}` is inside the node its anchor `&{name}` names: it would repeat that node inside itself without end"
                            ),
                            Some(shift(at)),
                        )
                        .with_hint("an alias can only repeat a node that has ended before it")
                        .with_width(width),
                    );
                };
                added = added.saturating_add(size);
                if added > MAX_ALIAS_EXPANSION {
                    return Some(too_much(&name, shift(at)).with_width(width));
                }
                grow(&mut open, size);
            }
        }
    }
    None
}

/// The anchors of a document: the node each name names now (an anchor given again names its
/// latest node, as serde_yaml reads it), and each node's size once it has ended.
#[derive(Default)]
struct Anchors {
    by_name: HashMap<Vec<u8>, usize>,
    sizes: Vec<Option<u64>>,
}

impl Anchors {
    /// A node named `anchor` starts: its id.
    fn define(&mut self, anchor: Vec<u8>) -> usize {
        self.sizes.push(None);
        self.by_name.insert(anchor, self.sizes.len() - 1);
        self.sizes.len() - 1
    }
}

fn second_document(at: Location) -> Problem {
    Problem::new(
        "a second YAML document starts here: a definition file holds one document",
        Some(at),
    )
    .with_hint(
        "remove this `---` line and what follows it, or comment it out with `#` (a `---` alone at the end starts an empty document)",
    )
}

fn too_much(name: &str, at: Location) -> Problem {
    Problem::new(
        format!(
            "the alias `*{name}` repeats too much: with it, the aliases of this file would add more than 1 MiB to it ({MAX_ALIAS_EXPANSION} nodes and bytes of text)"
        ),
        Some(at),
    )
    .with_hint(format!(
        "an alias copies the whole node its anchor (`&{name}`) names, aliases inside it included; together a file's aliases may add at most as much as a definition file may hold: repeat a smaller node, or fewer times"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Option<(usize, usize, String)> {
        problem(text, 0).map(|p| {
            let at = p.at.expect("located");
            (at.line, at.column, p.message)
        })
    }

    /// `name: x` and a list `key` of one anchored string of `bytes` bytes and `aliases`
    /// aliases of it.
    fn repeated(bytes: usize, aliases: usize) -> String {
        format!(
            "name: x\nlist: [&s \"{}\"{}]\n",
            "A".repeat(bytes),
            ", *s".repeat(aliases)
        )
    }

    #[test]
    fn a_long_string_behind_many_aliases_is_refused_at_the_alias_that_crosses_the_bound() {
        // 100 KB behind each alias: the eleventh takes the aliases past 1 MiB.
        let text = repeated(100_000, 2_000);
        let (line, column, message) = at(&text).expect("refused");
        let eleventh = 10 + 100_002 + 1 + 4 * 10 + 2;
        assert_eq!((line, column), (2, eleventh), "{message}");
        assert!(message.contains("`*s` repeats too much"), "{message}");
        // What stays under the bound is no problem.
        assert_eq!(at(&repeated(100_000, 10)), None);
    }

    #[test]
    fn nested_aliases_are_counted_as_what_they_expand_to() {
        // The classic bomb: nine of nine of nine ... of a short list.
        let mut text = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for (name, of) in ["b", "c", "d", "e", "f", "g"].iter().zip("abcdef".chars()) {
            let aliases = vec![format!("*{of}"); 9].join(", ");
            text.push_str(&format!("{name}: &{name} [{aliases}]\n"));
        }
        text.push_str("steps: *g\n");
        let (line, _, message) = at(&text).expect("refused");
        // Refused within the definitions of the anchors, before `steps: *g` is reached.
        assert!(line < 8, "{line}: {message}");
    }

    #[test]
    fn a_block_repeated_through_an_alias_into_a_list_is_bounded_too() {
        // The shape of a workflow whose snapshot grew to 30 MB: a 100 KB check, 300 times.
        let text = format!(
            "name: w\nsteps:\n  - name: a\n    run: 'true'\n    validate: [&c {{run: \"true #{}\"}}{}]\n",
            "x".repeat(100_000),
            ", *c".repeat(300)
        );
        let (line, _, message) = at(&text).expect("refused");
        assert_eq!(line, 5, "{message}");
    }

    #[test]
    fn an_alias_inside_its_own_node_is_refused() {
        let (line, column, message) = at("name: x\nsteps: &s [*s]\n").expect("refused");
        assert_eq!((line, column), (2, 12));
        assert!(
            message.contains("inside the node its anchor `&s` names"),
            "{message}"
        );
    }

    #[test]
    fn an_anchor_given_again_names_its_latest_node() {
        let big = "B".repeat(600_000);
        // `*a` after the second `&a` repeats the short string: no problem.
        let text = format!("x: &a \"{big}\"\ny: &a short\nz: [*a, *a]\n");
        assert_eq!(at(&text), None);
        let text = format!("y: &a short\nx: &a \"{big}\"\nz: [*a, *a]\n");
        assert_eq!(at(&text).map(|(l, c, _)| (l, c)), Some((3, 9)));
    }

    #[test]
    fn a_second_document_is_refused_where_it_starts() {
        let (line, column, message) = at("name: x\nsteps: []\n---\n").expect("refused");
        assert_eq!((line, column), (3, 1));
        assert!(message.contains("second YAML document"), "{message}");
        assert_eq!(at("---\nname: x\n...\n"), None);
        assert_eq!(at("name: x\n# ---\n"), None);
    }

    #[test]
    fn front_matter_problems_are_placed_in_the_file() {
        let p = problem("a: 1\nb: &y [*y]\n", 1).expect("refused");
        assert_eq!(p.at, Some(Location { line: 3, column: 8 }));
    }

    #[test]
    fn text_that_stops_being_yaml_is_judged_up_to_there() {
        assert_eq!(at("a: [1, 2\nb: *nowhere\n"), None);
        assert_eq!(at("a: *nowhere\n"), None);
    }
}
