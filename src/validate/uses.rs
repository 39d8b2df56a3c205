//! Checks of `uses:` steps against the workflows they name: the workflow exists and is valid,
//! `with:` gives inputs it declares and every required one, and no chain of `uses:` comes
//! back to a workflow already on it (a → b → a). The workflows are found by the caller (as
//! `workflow run` finds them), so the checks stay pure.

use std::collections::{BTreeMap, BTreeSet};

use super::workflow::Checker;
use crate::definition::{InputSpec, Seg, Step, Workflow, shown};

pub use crate::definition::limits::MAX_USES_DEPTH;

/// A workflow a `uses:` names, as the checks need to know it.
#[derive(Debug, Clone, PartialEq)]
pub struct UsedInfo {
    pub name: String,
    /// Its file as the user knows it (a path, or `builtin:NAME`): its identity in the graph.
    pub path: String,
    pub inputs: BTreeMap<String, InputSpec>,
    /// The `uses:` of its steps, in order.
    pub uses: Vec<String>,
    /// Its inputs a step's `foreach:` template reads: a list recorded item by item, so never
    /// to be given a secret (`with:` naming a secret of the parent is refused).
    pub foreach_inputs: BTreeSet<String>,
    /// What is wrong with it on its own (empty: valid).
    pub problems: Vec<String>,
}

/// How `uses:` texts are resolved, for a workflow whose file is `root`.
pub struct Uses<'a> {
    /// The file of the workflow being checked (its identity in the graph).
    pub root: String,
    /// Its name, for messages.
    pub root_name: String,
    /// The workflow a `uses:` text names, or why there is none.
    pub find: &'a dyn Fn(&str) -> Result<UsedInfo, String>,
    /// Where workflows named by a bare name are looked for, as shown in a hint.
    pub workflows_dir: String,
    /// The options a suggested command carries (`--home`, `--db`), as `Ctx::globals` gives them.
    pub globals: Vec<String>,
}

/// What is wrong down a chain of `uses:`, and how to fix it.
struct Wrong {
    message: String,
    hint: String,
}

/// The "too deep" error for a chain of workflow names (the first `MAX_USES_DEPTH + 1` shown).
fn too_deep<'n>(names: impl Iterator<Item = &'n String>) -> Wrong {
    Wrong {
        message: format!(
            "`uses:` nests deeper than {MAX_USES_DEPTH} workflows (through {})",
            names
                .take(MAX_USES_DEPTH + 1)
                .map(|n| shown(n))
                .collect::<Vec<_>>()
                .join(" → ")
        ),
        hint: format!(
            "a chain of `uses:` is at most {MAX_USES_DEPTH} workflows long: let a workflow higher up run some of these as its own steps"
        ),
    }
}

/// Walk the chain from `info` (the last of `chain`): a cycle (as names), a workflow that
/// cannot be found or is invalid deeper down, or a chain too deep is an error; otherwise
/// the names of the deepest chain below `info`. `below` remembers that chain for each
/// workflow already walked, so a workflow reached again is not walked again (a diamond of
/// `uses:` stays linear) and yet a chain through it is measured whole, however it is reached.
fn walk(
    uses: &Uses<'_>,
    info: &UsedInfo,
    chain: &mut Vec<(String, String)>,
    below: &mut BTreeMap<String, Vec<String>>,
) -> Result<Vec<String>, Wrong> {
    if chain.len() > MAX_USES_DEPTH {
        return Err(too_deep(chain.iter().map(|(n, _)| n)));
    }
    if let Some(tail) = below.get(&info.path) {
        if chain.len() + tail.len() > MAX_USES_DEPTH {
            return Err(too_deep(chain.iter().map(|(n, _)| n).chain(tail)));
        }
        return Ok(tail.clone());
    }
    let mut deepest: Vec<String> = Vec::new();
    for text in &info.uses {
        let next = (uses.find)(text).map_err(|e| Wrong {
            message: format!(
                "`{}` uses `{}`, which cannot be run: {e}",
                shown(&info.name),
                shown(text)
            ),
            hint: format!(
                "name a workflow of {} or a built-in ({} lists them), or give a path ending in .yaml",
                uses.workflows_dir,
                crate::render::suggested_command(&uses.globals, &["workflow", "list"])
            ),
        })?;
        if let Some(at) = chain.iter().position(|(_, p)| *p == next.path) {
            let mut names: Vec<String> = chain[at..].iter().map(|(n, _)| shown(n)).collect();
            names.push(shown(&next.name));
            return Err(Wrong {
                message: format!("a cycle through `uses:`: {}", names.join(" → ")),
                hint: "a workflow may run another, never itself through others".into(),
            });
        }
        if let Some(first) = next.problems.first() {
            return Err(Wrong {
                message: format!(
                    "`{}` uses `{}` ({}), which is not valid: {first}",
                    shown(&info.name),
                    shown(text),
                    next.path
                ),
                hint: format!(
                    "{} shows them all",
                    crate::render::suggested_command(
                        &uses.globals,
                        &["workflow", "validate", text]
                    )
                ),
            });
        }
        chain.push((next.name.clone(), next.path.clone()));
        let tail = walk(uses, &next, chain, below)?;
        chain.pop();
        if tail.len() >= deepest.len() {
            deepest = std::iter::once(next.name.clone()).chain(tail).collect();
        }
    }
    below.insert(info.path.clone(), deepest.clone());
    Ok(deepest)
}

/// Check the `uses:` and `with:` of step `step` of `wf` (at `base` in the file).
pub(super) fn check_uses(
    c: &mut Checker<'_>,
    base: &[Seg],
    step: &Step,
    wf: &Workflow,
    uses: &Uses<'_>,
) {
    let Some(text) = &step.uses else {
        return;
    };
    let at = |k: &str| [base, &[Seg::Key(k.to_string())]].concat();
    let info = match (uses.find)(text) {
        Ok(info) => info,
        Err(e) => {
            c.hinted(
                &at("uses"),
                format!("`uses: {}`: {e}", shown(text)),
                format!(
                    "name a workflow of {} or a built-in ({} lists them), or give a path ending in .yaml",
                    uses.workflows_dir,
                    crate::render::suggested_command(&uses.globals, &["workflow", "list"])
                ),
            );
            return;
        }
    };
    if info.path == uses.root {
        c.hinted(
            &at("uses"),
            format!(
                "a cycle through `uses:`: {} → {}",
                shown(&uses.root_name),
                shown(&uses.root_name)
            ),
            "a workflow cannot run itself as a step",
        );
        return;
    }
    if let Some(first) = info.problems.first() {
        c.hinted(
            &at("uses"),
            format!(
                "`uses: {}`: {} is not valid ({} problem{}; the first: {first})",
                shown(text),
                info.path,
                info.problems.len(),
                if info.problems.len() == 1 { "" } else { "s" }
            ),
            format!(
                "{} shows them all",
                crate::render::suggested_command(&uses.globals, &["workflow", "validate", text])
            ),
        );
        return;
    }
    let mut chain = vec![
        (uses.root_name.clone(), uses.root.clone()),
        (info.name.clone(), info.path.clone()),
    ];
    if let Err(wrong) = walk(uses, &info, &mut chain, &mut BTreeMap::new()) {
        c.hinted(&at("uses"), wrong.message, wrong.hint);
    }
    for (key, value) in &step.with {
        let Some(spec) = info.inputs.get(key) else {
            let declared: Vec<&str> = info.inputs.keys().map(String::as_str).collect();
            let hint = match (declared.is_empty(), looks_like(key, &info)) {
                (true, _) => format!(
                    "`{}` declares no inputs: remove `{}:` from `with:` (or declare it under `inputs:` in {})",
                    shown(&info.name),
                    shown(key),
                    info.path
                ),
                (false, Some(best)) => format!(
                    "did you mean `{best}`? rename it; `{}` declares: {}",
                    shown(&info.name),
                    declared.join(", ")
                ),
                (false, None) => format!(
                    "remove it, or give one `{}` declares: {}",
                    shown(&info.name),
                    declared.join(", ")
                ),
            };
            c.hinted_at_key(
                &[at("with").as_slice(), &[Seg::Key(key.clone())]].concat(),
                format!(
                    "`with:` gives `{}`, which is not an input of `{}`",
                    shown(key),
                    shown(&info.name)
                ),
                hint,
            );
            continue;
        };
        // A secret of the parent given to an input the child loops over (`foreach:`): its
        // items would be recorded one by one in the child's log. Refused as a `foreach:` over
        // a secret is in one workflow; before, it passed and the child failed at run time.
        if info.foreach_inputs.contains(key) {
            let secret_inputs = crate::execute::secret_inputs(wf);
            let secret = crate::definition::template::scan(&value.0)
                .into_iter()
                .find_map(|o| {
                    let what = match o.reference.as_ref().ok()? {
                        crate::definition::template::Reference::Input(n)
                            if secret_inputs.contains(n) =>
                        {
                            "a secret input"
                        }
                        crate::definition::template::Reference::StepOutput { step, key }
                            if crate::execute::is_secret_output(wf, step, key) =>
                        {
                            "a secret output"
                        }
                        _ => return None,
                    };
                    Some((value.0[o.start..o.end].to_string(), what))
                });
            if let Some((written, what)) = secret {
                c.hinted(
                    &[at("with").as_slice(), &[Seg::Key(key.clone())]].concat(),
                    format!(
                        "`with:` gives `{}` {what} (`{}`), and `{}` loops over it with `foreach:`: a `foreach:` list is recorded in the log item by item, so it cannot be read from a secret",
                        shown(key),
                        shown(&written),
                        shown(&info.name)
                    ),
                    "give the items as plain values, and the secret to each item's command through `env:` (or a secret input of the child read in its `run:`)",
                );
                continue;
            }
        }
        // A value written as is (no template) is known now: typed and checked as `workflow
        // run` will (a path's existence is a fact of the run's directory, checked then).
        if crate::definition::template::scan(&value.0).is_empty() {
            let one = BTreeMap::from([(key.clone(), spec.clone())]);
            let given = [(key.clone(), value.0.clone())];
            if let Err(problems) = super::resolve_inputs(&one, &given, &|_| true) {
                for problem in problems {
                    c.hinted(
                        &[at("with").as_slice(), &[Seg::Key(key.clone())]].concat(),
                        format!(
                            "`with:` gives `{}` to `{}`: {}",
                            shown(key),
                            shown(&info.name),
                            problem.trim_start_matches(&format!("input `{key}`: "))
                        ),
                        format!(
                            "give a value of type {}{}",
                            format!("{:?}", spec.kind).to_lowercase(),
                            spec.choices
                                .as_ref()
                                .map_or(String::new(), |_| ", one of its choices".into())
                        ),
                    );
                }
            }
        }
    }
    // `with:` written but set aside by the parser (not a mapping: `with: [version]`), or an
    // input under it set aside (a value of the wrong type): that problem is said where it
    // is; the input is not also said to be missing.
    let with_written = crate::definition::locate(c.text, &at("with")).is_some();
    if with_written && step.with.is_empty() {
        return;
    }
    for (name, spec) in &info.inputs {
        let under_with = [at("with").as_slice(), &[Seg::Key(name.clone())]].concat();
        if !spec.required
            || spec.default.is_some()
            || step.with.contains_key(name)
            || crate::definition::locate(c.text, &under_with).is_some()
        {
            continue;
        }
        let message = format!(
            "`{}` requires the input `{}` (it has no default), and this step's `with:` does not give it",
            shown(&info.name),
            shown(name)
        );
        // A key of `with:` that is no input and looks like this one: a misspelling.
        let misspelled = step.with.keys().find(|k| {
            !info.inputs.contains_key(*k) && looks_like(k, &info).as_deref() == Some(name)
        });
        match (with_written, misspelled) {
            (true, Some(k)) => c.hinted_at_key(
                &at("with"),
                message,
                format!(
                    "`{}:` under `with:` looks like a misspelling of it: rename it `{}:`",
                    shown(k),
                    shown(name)
                ),
            ),
            (true, None) => c.hinted_at_key(
                &at("with"),
                message,
                format!("add `{}: VALUE` under `with:`", shown(name)),
            ),
            (false, _) => c.hinted(
                &at("uses"),
                message,
                format!("add `with: {{{}: VALUE}}` to the step", shown(name)),
            ),
        }
    }
}

/// The input of `info` that `key` (given under `with:`, not one of them) most looks like.
fn looks_like(key: &str, info: &UsedInfo) -> Option<String> {
    crate::definition::catalog_suggest(key, info.inputs.keys().map(String::as_str))
        .into_iter()
        .next()
}
