//! The names a refusal of an unknown step or phase offers instead: the closest few ("did you
//! mean"), and the run's names bounded — the items of a `foreach:` as one range, at most
//! `NAMES_SHOWN` names, and how many more.

/// The most names one hint lists: a run may hold 10,000 items of a `foreach:` (a hint of
/// them all was one line of 119 KB).
pub const NAMES_SHOWN: usize = 20;

/// The hints for `asked`, a step or phase that none of `names` is: "did you mean `x`?" (the
/// closest, `definition::catalog_suggest`), then `its steps: a, b, each, each[0]…each[9999]`
/// (`of`: `steps` or `phases`), cut after `NAMES_SHOWN` entries with how many more and
/// `lister`, the command that lists them all.
pub fn names_hints(asked: &str, names: &[&str], of: &str, lister: &str) -> Vec<String> {
    let mut hints = Vec::new();
    // The items of a `foreach:` are offered for a name that is one (`each[12]`), else their
    // step: `eahc` is `each`, not `each[0]`.
    let candidates = names
        .iter()
        .copied()
        .filter(|n| asked.contains('[') || item_of(n).is_none());
    let close = crate::definition::catalog_suggest(asked, candidates);
    if !close.is_empty() {
        let close: Vec<String> = close.iter().map(|n| format!("`{n}`")).collect();
        hints.push(format!("did you mean {}?", close.join(" or ")));
    }
    let entries = entries(names);
    let shown: Vec<&str> = entries
        .iter()
        .take(NAMES_SHOWN)
        .map(String::as_str)
        .collect();
    let more = entries.len().saturating_sub(NAMES_SHOWN);
    hints.push(if more == 0 {
        format!("its {of}: {}", shown.join(", "))
    } else {
        format!(
            "its {of}: {}, and {more} more ({lister} lists them)",
            shown.join(", ")
        )
    });
    hints
}

/// `names` with each run of items of one `foreach:` (`each[0]`, `each[1]`, …) as one entry
/// `each[0]…each[N]` (two or fewer as they are).
fn entries(names: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < names.len() {
        let Some((parent, 0)) = item_of(names[i]) else {
            out.push(names[i].to_string());
            i += 1;
            continue;
        };
        let mut last = i;
        while last + 1 < names.len() && item_of(names[last + 1]) == Some((parent, last + 1 - i)) {
            last += 1;
        }
        if last - i >= 2 {
            out.push(format!("{}…{}", names[i], names[last]));
        } else {
            out.extend(names[i..=last].iter().map(|n| n.to_string()));
        }
        i = last + 1;
    }
    out
}

/// `each[3]` as (`each`, 3).
fn item_of(name: &str) -> Option<(&str, usize)> {
    let (parent, rest) = name.strip_suffix(']')?.rsplit_once('[')?;
    Some((parent, rest.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_one_range_and_the_list_is_bounded() {
        let mut names = vec!["plan".to_string(), "each".to_string()];
        names.extend((0..10_000).map(|i| format!("each[{i}]")));
        names.push("last".into());
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let hints = names_hints("eahc", &names, "steps", "`cortex workflow status R`");
        assert_eq!(hints[0], "did you mean `each`?");
        assert_eq!(hints[1], "its steps: plan, each, each[0]…each[9999], last");
        let many: Vec<String> = (0..25).map(|i| format!("s{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let hints = names_hints("zzzzzz", &many, "phases", "`x`");
        assert_eq!(hints.len(), 1);
        assert!(
            hints[0].ends_with("s19, and 5 more (`x` lists them)"),
            "{}",
            hints[0]
        );
        assert_eq!(entries(&["a[0]", "a[1]"]), ["a[0]", "a[1]"]);
    }
}
