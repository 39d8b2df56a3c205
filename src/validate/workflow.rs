//! Checks a parsed workflow against everything the types cannot say.

use std::collections::{BTreeMap, BTreeSet};

use super::limits::attempt_limits;
use crate::definition::template::{Reference, scan};
use crate::definition::{
    Check, Config, DefinitionError, InputType, Location, NameKind, OnFailure, Problem, Seg,
    Workflow, check_name, locate, normalize_name, shown, shown_text,
};

/// What exists outside the definition: the configuration, the agents and the workflows that
/// can be found.
pub struct Known<'a> {
    pub config: &'a Config,
    /// Every agent name found (normalized), for `agent:` references.
    pub agents: &'a BTreeSet<String>,
    /// The agent files that are there but invalid, by the (normalized) names a definition
    /// would give them, with their first problem, located (`Catalog::broken_agents`).
    pub broken_agents: &'a BTreeMap<String, String>,
    /// How `uses:` finds workflows; none: `uses:` is not checked against them (a workflow
    /// checked as another's child, whose graph its parent checks).
    pub uses: Option<&'a super::uses::Uses<'a>>,
}

/// Collects located problems of one definition file.
pub(super) struct Checker<'a> {
    pub(super) text: &'a str,
    pub(super) problems: Vec<Problem>,
    /// `${{ item }}` is known here (the texts of a `foreach:` step or phase).
    pub(super) item_ok: bool,
    /// The `foreach:` steps or phases, whose items' outputs are read as `NAME[i]`, with the
    /// number of items of a list written in the definition (none: a template's list, known
    /// only when it runs).
    pub(super) foreach: BTreeMap<String, Option<usize>>,
    /// Every step (or phase) of the definition, in order: a reference to a name not among
    /// them is said not to exist, rather than not to run before.
    pub(super) units: Vec<String>,
    /// What is valid but unsafe, located (a template in a nested shell's script): said as
    /// warnings, never refusing the definition.
    pub(super) cautions: Vec<Problem>,
    /// The definition read as a workflow (a scenario's `as_workflow`), for which inputs and
    /// outputs are secret (`execute::secret_inputs`, `execute::is_secret_output`): an `if:`
    /// comparing one with a literal is refused. None: nothing is taken for secret.
    pub(super) secrets_of: Option<Workflow>,
}

/// The `foreach:` units of a definition, with the length of each list written in it.
pub(super) fn foreach_units<'a>(
    units: impl Iterator<Item = (&'a String, &'a Option<crate::definition::Foreach>)>,
) -> BTreeMap<String, Option<usize>> {
    units
        .filter_map(|(name, foreach)| {
            let items = match foreach.as_ref()? {
                crate::definition::Foreach::Items(items) => Some(items.len()),
                crate::definition::Foreach::Template(_) => None,
            };
            Some((name.clone(), items))
        })
        .collect()
}

impl<'a> Checker<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Checker {
            text,
            problems: Vec::new(),
            item_ok: false,
            foreach: BTreeMap::new(),
            units: Vec::new(),
            cautions: Vec::new(),
            secrets_of: None,
        }
    }

    /// The cautions as warnings: `FILE:LINE:COLUMN: message (hint)`, in the order of the file.
    pub(super) fn caution_lines(&mut self, file: &str) -> Vec<String> {
        self.cautions.sort_by_key(|p| (p.at.is_none(), p.at));
        self.cautions
            .iter()
            .map(|p| {
                let at = p.at.map_or_else(
                    || file.to_string(),
                    |l| format!("{file}:{}:{}", l.line, l.column),
                );
                match &p.hint {
                    Some(hint) => format!("{at}: {}; {hint}", p.message),
                    None => format!("{at}: {}", p.message),
                }
            })
            .collect()
    }
}

impl Checker<'_> {
    /// Whether `unit` (a step, or `STEP[i]`, an item of one) runs before, given the units
    /// `earlier` that do.
    fn earlier_unit(&self, unit: &str, earlier: &[&str]) -> bool {
        earlier.contains(&unit)
            || crate::definition::item_suffix(unit)
                .is_some_and(|(base, _)| earlier.contains(&base) && self.foreach.contains_key(base))
    }

    /// For a reference to `unit` (`NAME` or `NAME[i]`) that names no step (or phase) of the
    /// definition: that it does not exist, and the names that do.
    fn no_such_unit(&self, unit: &str, kind: &str) -> Option<(String, String)> {
        let base = crate::definition::item_suffix(unit).map_or(unit, |(base, _)| base);
        if self.units.is_empty() || self.units.iter().any(|u| u == base) {
            return None;
        }
        const SHOWN: usize = 12;
        let mut names: Vec<String> = self.units.iter().take(SHOWN).map(|u| shown(u)).collect();
        if self.units.len() > SHOWN {
            names.push(format!("and {} more", self.units.len() - SHOWN));
        }
        let close = crate::definition::catalog_suggest(
            &crate::definition::normalize_name(base),
            self.units.iter().map(String::as_str),
        );
        let fix = match close.first() {
            Some(best) => format!(
                "did you mean `{}`? Its {kind}s: {}",
                shown(best),
                names.join(", ")
            ),
            None => format!(
                "its {kind}s: {} (names are matched exactly)",
                names.join(", ")
            ),
        };
        Some((
            format!("there is no {kind} `{}` in this definition", shown(base)),
            fix,
        ))
    }

    /// For `NAME[i]`, an item of a `foreach:` over a list written in the definition: what is
    /// wrong when there is no item `i` (the list has fewer), and how to fix it.
    fn missing_item(&self, unit: &str, kind: &str) -> Option<(String, String)> {
        let (base, i) = crate::definition::item_suffix(unit)?;
        let n = (*self.foreach.get(base)?)?;
        (i >= n).then(|| {
            (
                format!(
                    "{kind} `{}` has no item {i}: its `foreach:` list has {n} item{}",
                    shown(base),
                    if n == 1 { "" } else { "s" }
                ),
                match n {
                    0 => format!("its list is empty: no `{}[N]` ever runs", shown(base)),
                    1 => format!("use `{}[0]`, counted from 0", shown(base)),
                    _ => format!(
                        "use `{b}[0]` to `{b}[{}]`, counted from 0",
                        n - 1,
                        b = shown(base)
                    ),
                },
            )
        })
    }

    /// The place of character `offset` of the scalar `value`, which starts at `at`: in a
    /// block scalar (`|`, `>`) on its own line, else on the scalar's line, plain or quoted
    /// (escapes such as `\"` and a doubled `''` followed back to what is written); `at`
    /// itself when the place cannot be told. Before, an `if: >-` block or an escape before
    /// the offset put the caret on the scalar's start.
    fn within(&self, at: Location, value: &str, offset: usize) -> Location {
        let byte = value
            .char_indices()
            .nth(offset)
            .map_or(value.len(), |(b, _)| b);
        if let Some(found) = crate::definition::within_scalar(self.text, at, value, byte) {
            return found;
        }
        let Some(line) = self.text.lines().nth(at.line.saturating_sub(1)) else {
            return at;
        };
        let rest: Vec<char> = line.chars().skip(at.column.saturating_sub(1)).collect();
        let Some(quote) = rest.first().copied().filter(|c| matches!(c, '\'' | '"')) else {
            return at;
        };
        // Walk the written characters, one value character at a time.
        let mut i = 1;
        for _ in 0..offset {
            let width = match (quote, rest.get(i), rest.get(i + 1)) {
                (_, None, _) => return at,
                ('"', Some('\\'), Some('x')) => 4,
                ('"', Some('\\'), Some('u')) => 6,
                ('"', Some('\\'), Some('U')) => 10,
                ('"', Some('\\'), Some(_)) => 2,
                ('"', Some('\\'), None) => return at,
                ('"', Some('"'), _) => return at,
                ('\'', Some('\''), Some('\'')) => 2,
                ('\'', Some('\''), _) => return at,
                _ => 1,
            };
            i += width;
        }
        if i >= rest.len() {
            return at;
        }
        Location {
            line: at.line,
            column: at.column + i,
        }
    }

    fn at(&self, path: &[Seg]) -> Option<Location> {
        // Fall back to the nearest ancestor that exists (e.g. a missing key's parent).
        (0..=path.len())
            .rev()
            .find_map(|n| locate(self.text, &path[..n]))
    }

    pub(super) fn problem(&mut self, path: &[Seg], message: impl Into<String>) {
        let at = self.at(path);
        self.problems.push(Problem::new(message, at));
    }

    /// `hinted`, its caret on the key of the mapping entry at `path` (whose last segment is
    /// that key), where a map-keyed name (an input, an env variable, a `with:` entry) is
    /// written, not on its value; on the value if the key cannot be found.
    pub(super) fn hinted_at_key(
        &mut self,
        path: &[Seg],
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let at = crate::definition::locate_key(self.text, path).or_else(|| self.at(path));
        self.problems
            .push(Problem::new(message, at).with_hint(hint));
    }

    /// `problem`, its caret on the key of the mapping entry at `path`, as `hinted_at_key`.
    pub(super) fn problem_at_key(&mut self, path: &[Seg], message: impl Into<String>) {
        let at = crate::definition::locate_key(self.text, path).or_else(|| self.at(path));
        self.problems.push(Problem::new(message, at));
    }

    pub(super) fn hinted(
        &mut self,
        path: &[Seg],
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let at = self.at(path);
        self.problems
            .push(Problem::new(message, at).with_hint(hint));
    }

    /// Check every template in `text` refers to an input or an output of an earlier step.
    pub(super) fn templates(
        &mut self,
        path: &[Seg],
        text: &str,
        inputs: &BTreeMap<String, crate::definition::InputSpec>,
        earlier: &[&str],
    ) {
        self.templates_of("step", path, text, inputs, earlier);
    }

    /// `templates`, for steps or (in a scenario) phases: `earlier` are the units whose outputs
    /// are there by then.
    pub(super) fn templates_of(
        &mut self,
        unit: &str,
        path: &[Seg],
        text: &str,
        inputs: &BTreeMap<String, crate::definition::InputSpec>,
        earlier: &[&str],
    ) {
        for occ in scan(text) {
            // Placed only when refused: placing walks the whole document, and done for every
            // template it made validating a command of 9,000 templates take minutes.
            let report = |c: &mut Self, message: String, hint: Option<String>| {
                let (at, width) = c.template_place(path, text, occ.start, occ.end);
                let mut p = Problem::new(message, at).with_width(width);
                p.hint = hint;
                c.problems.push(p);
            };
            match occ.reference {
                Err(message) => report(self, message, None),
                Ok(Reference::StepOutput { step, key })
                    if let Some((problem, fix)) = unsettable_key(&step, &key) =>
                {
                    report(self, format!("template reads {problem}"), Some(fix))
                }
                Ok(Reference::Input(name)) if !inputs.contains_key(&name) => report(
                    self,
                    format!("template refers to unknown input `{name}`"),
                    Some(if inputs.is_empty() {
                        "it declares no `inputs:`".to_string()
                    } else {
                        format!(
                            "declared inputs: {}",
                            inputs.keys().cloned().collect::<Vec<_>>().join(", ")
                        )
                    }),
                ),
                Ok(Reference::StepOutput { step, .. })
                    if let Some((problem, fix)) = self.no_such_unit(&step, unit) =>
                {
                    report(self, format!("template refers to `{}`, but {problem}", shown(&step)), Some(fix))
                }
                Ok(Reference::StepOutput { step, .. }) if !self.earlier_unit(&step, earlier) => report(
                        self,
                        format!(
                            "template refers to {unit} `{step}`, which does not run before this point"
                        ),
                        Some(if unit == "phase" {
                            "a phase can use the outputs of the phases it runs after (`condition: after:...`)"
                        } else {
                            "a step can use the outputs of the steps before it"
                        }.to_string()),
                    ),
                Ok(Reference::StepOutput { step, .. }) if self.missing_item(&step, unit).is_some() => {
                    if let Some((problem, fix)) = self.missing_item(&step, unit) {
                        report(self, format!("template refers to `{}`, but {problem}", shown(&step)), Some(fix));
                    }
                }
                Ok(Reference::Item) if !self.item_ok => report(
                    self,
                    format!("`${{{{ item }}}}` is known only in a {unit} with `foreach:`"),
                    Some(format!("give the {unit} `foreach: [...]`, or remove the template")),
                ),
                Ok(_) => {}
            }
        }
    }

    /// Refuse a NUL character in `text` at `path`, which a process is given as `what` (its
    /// command, an environment variable, its working directory): no argument, variable or path
    /// can carry one, so the step or phase could never run. It can only be written as an
    /// escape (`"\0"`, `"\x00"`: a raw NUL byte is refused with the file); it is located at
    /// the escape where the scalar's layout allows.
    pub(super) fn no_nul(&mut self, path: &[Seg], text: &str, what: &str) {
        let Some(i) = text.find('\0') else {
            return;
        };
        let at = locate(self.text, path).map(|at| self.within(at, text, text[..i].chars().count()));
        // The escape's width where it is written there (`\0`, `\x00`, `\u0000`).
        let written: Vec<char> = at
            .and_then(|at| {
                let line = self.text.lines().nth(at.line - 1)?;
                Some(line.chars().skip(at.column - 1).take(3).collect())
            })
            .unwrap_or_default();
        let width = match written.as_slice() {
            ['\\', 'x', ..] => Some(4),
            ['\\', 'u', ..] => Some(6),
            ['\\', 'U', ..] => Some(10),
            ['\\', ..] => Some(2),
            _ => None,
        };
        self.problems.push(
            Problem::new(
                format!(
                    "{what} holds a NUL character (`\\0`), which no command can be given: it could never run"
                ),
                at.or_else(|| self.at(path)),
            )
            .with_hint("remove it; data holding NUL characters belongs in a file the command reads")
            .with_width(width),
        );
    }

    /// Refuse `text` at `path` when what is written of it — its text less its `${{ }}`
    /// templates, whose values are known only when it runs (a value made from one too long is
    /// the run's error to say) — is longer than Linux passes in one environment variable or
    /// argument (`MAX_ARG_STRLEN`, `limits::MAX_ARGUMENT_BYTES`): the step or phase could
    /// never start (E2BIG). `var`: the variable it becomes (`NAME=value` is counted), `None`
    /// for the command, which is one argument of the shell. As a name past its length is
    /// refused here, not at the first attempt.
    pub(super) fn fits_one(&mut self, path: &[Seg], text: &str, var: Option<&str>, what: &str) {
        use crate::definition::limits::MAX_ARGUMENT_BYTES;
        if text.len() <= MAX_ARGUMENT_BYTES {
            return;
        }
        let templated: usize = scan(text).iter().map(|o| o.end - o.start).sum();
        let written = text.len() - templated;
        let (counted, room) = match var {
            Some(name) => (
                name.len() + 1 + written,
                format!("one environment variable (`{name}=value`)"),
            ),
            None => (written, "one argument".to_string()),
        };
        if counted <= MAX_ARGUMENT_BYTES {
            return;
        }
        self.hinted(
            path,
            format!(
                "{what} is {written} bytes, and Linux passes at most {MAX_ARGUMENT_BYTES} bytes in {room}: it could never start"
            ),
            "write such data to a file the command reads, and give its path",
        );
    }

    /// Check the shell command `text`: that it holds no NUL character (`no_nul`), that it
    /// assigns no secret a value written out (`shell_secrets`), and that every template stands
    /// where a variable reference can expand (see `template::shell_contexts`): a refused one
    /// is located at the template itself where the scalar's layout allows.
    pub(super) fn shell_templates(&mut self, path: &[Seg], text: &str) {
        self.no_nul(path, text, "the command");
        self.fits_one(path, text, None, "the command");
        self.shell_secrets(path, text, true);
        // Valid, but pasted into code a nested shell reads (`sh -c '...'`, `eval`, `ssh`).
        for nested in crate::definition::template::nested_shells(text) {
            let end = crate::definition::template::scan(text)
                .into_iter()
                .find(|o| o.start == nested.start)
                .map_or(nested.start, |o| o.end);
            let (at, width) = self.template_place(path, text, nested.start, end);
            self.cautions.push(
                Problem::new(nested.message, at)
                    .with_hint(nested.hint)
                    .with_width(width),
            );
        }
        for refusal in crate::definition::template::shell_contexts(text)
            .into_iter()
            .filter_map(Result::err)
        {
            let end = crate::definition::template::scan(text)
                .into_iter()
                .find(|o| o.start == refusal.start)
                .map_or(refusal.start, |o| o.end);
            let (at, width) = self.template_place(path, text, refusal.start, end);
            self.problems.push(
                Problem::new(refusal.message, at)
                    .with_hint(refusal.hint)
                    .with_width(width),
            );
        }
    }

    /// Refuse every secret assigned a value written out in the shell command `text` at
    /// `path` (`GITHUB_TOKEN=ghp_… cmd`: `definition::secret_assignments`), as a secret
    /// `env:` entry written out is (`literal_secret`): the definition is kept in the run's
    /// log. Located at the assignment where the scalar's layout allows. `templates`: whether
    /// the command is rendered (a secret input can stand for the value).
    pub(super) fn shell_secrets(&mut self, path: &[Seg], text: &str, templates: bool) {
        let found = crate::definition::secret_assignments(
            text,
            &crate::execute::is_secret_name,
            &crate::execute::may_be_secret,
        );
        for a in found {
            let (problem, fix) =
                crate::definition::assignment_problem(&a.name, "the definition", templates);
            let (at, width) = self.template_place(path, text, a.start, a.end);
            self.problems.push(
                Problem::new(problem, at)
                    .with_hint(fix)
                    .with_width(width.map(|_| a.name.chars().count())),
            );
        }
    }

    /// The place of the template at bytes `start..end` of the scalar `value` at `path`, and
    /// how many characters it covers when it is written on one line there: inside a block
    /// scalar or on the scalar's line (`definition::within_scalar`); else the scalar itself
    /// (or its nearest ancestor), the whole of it.
    fn template_place(
        &self,
        path: &[Seg],
        value: &str,
        start: usize,
        end: usize,
    ) -> (Option<Location>, Option<usize>) {
        let node = locate(self.text, path);
        let Some(at) =
            node.and_then(|at| crate::definition::within_scalar(self.text, at, value, start))
        else {
            return (self.at(path), None);
        };
        let template = value.get(start..end).unwrap_or_default();
        let written = self
            .text
            .lines()
            .nth(at.line - 1)
            .unwrap_or_default()
            .chars()
            .skip(at.column - 1)
            .take(template.chars().count())
            .eq(template.chars());
        (Some(at), written.then(|| template.chars().count()))
    }

    /// Check an `if:`: an expression must parse and read only declared inputs and the outputs
    /// of `unit`s that run before; a command's templates as any command's.
    pub(super) fn condition(
        &mut self,
        unit: &str,
        path: &[Seg],
        condition: &crate::definition::IfCondition,
        inputs: &BTreeMap<String, crate::definition::InputSpec>,
        earlier: &[&str],
    ) {
        let item_ok = std::mem::replace(&mut self.item_ok, false);
        match condition {
            crate::definition::IfCondition::Command(command) => {
                let p = [path, &["run".into()]].concat();
                if command.run.trim().is_empty() {
                    self.hinted(
                        &p,
                        "`if: {run: ...}` is empty (an empty command would always hold)",
                        "give the command whose exit 0 runs the step, or remove the `if:`",
                    );
                }
                self.templates_of(unit, &p, &command.run, inputs, earlier);
                self.shell_templates(&p, &command.run);
            }
            crate::definition::IfCondition::Expression(text) => {
                match crate::definition::expr::parse(text) {
                    Err(e) => {
                        let scalar = self.at(path);
                        let at = scalar.map(|at| self.within(at, text, e.at));
                        // Located at the token (not fallen back to the scalar's start): the
                        // caret covers that token, not the rest of the line.
                        let width = (at != scalar || e.at == 0)
                            .then(|| token_width(text, e.at))
                            .flatten();
                        self.problems.push(
                            Problem::new(format!("`if:` does not parse: {e}"), at)
                                .with_width(width)
                                .with_hint(
                                format!(
                                    "write e.g. `inputs.env == 'prod' && {}s.build.outputs.changed != 'false'` (quote it in YAML when it starts with `!`)",
                                    if unit == "phase" { "phase" } else { "step" }
                                ),
                            ),
                        );
                    }
                    Ok(expr) => {
                        use crate::definition::{InputType, expr::Value};
                        let kind_of = |name: &str| match inputs.get(name)?.kind {
                            InputType::Integer | InputType::Number => {
                                Some(Value::Num(crate::definition::expr::Number::zero()))
                            }
                            InputType::Boolean => Some(Value::Bool(false)),
                            InputType::String | InputType::Path => None,
                        };
                        for problem in crate::definition::expr::type_problems(&expr, &kind_of) {
                            self.hinted(
                                path,
                                format!("`if:` {problem}"),
                                "compare a number input with a number (`inputs.n > 3`), a boolean input with `==`/`!=` and `true`/`false`; `&&`, `||`, `!` and the whole condition take comparisons or `true`/`false`",
                            );
                        }
                        // An optional input with no default, taken as true or false itself: a
                        // run not given it cannot decide the condition (and a resume takes no
                        // inputs), so it is refused here, not when the run reaches it.
                        for (reference, written) in crate::definition::expr::bare_operands(&expr) {
                            if let Reference::Input(name) = reference
                                && let Some(spec) = inputs.get(name)
                                && !spec.required
                                && spec.default.is_none()
                            {
                                self.hinted(
                                    path,
                                    format!(
                                        "`if:` takes `{written}` as true or false, but input `{name}` is optional with no `default:`: a run not given it cannot decide the condition"
                                    ),
                                    format!(
                                        "give the input a default (`default: false`), make it `required: true`, or compare it (`{written} == true` is false when it is not given)"
                                    ),
                                );
                            }
                        }
                        self.secret_comparisons(path, &expr);
                        for (reference, written) in crate::definition::expr::references(&expr) {
                            match reference {
                                Reference::Input(name) if !inputs.contains_key(name) => self.hinted(
                                    path,
                                    format!("`if:` reads `{written}`, an input that is not declared"),
                                    if inputs.is_empty() {
                                        "declare it under `inputs:`".to_string()
                                    } else {
                                        format!(
                                            "declared inputs: {}",
                                            inputs.keys().cloned().collect::<Vec<_>>().join(", ")
                                        )
                                    },
                                ),
                                Reference::StepOutput { step, key }
                                    if let Some((problem, fix)) = unsettable_key(step, key) =>
                                {
                                    self.hinted(path, format!("`if:` reads {problem}"), fix)
                                }
                                Reference::StepOutput { step, .. }
                                    if let Some((problem, fix)) = self.no_such_unit(step, unit) =>
                                {
                                    self.hinted(
                                        path,
                                        format!("`if:` reads `{written}`, but {problem}"),
                                        fix,
                                    )
                                }
                                Reference::StepOutput { step, .. }
                                    if !self.earlier_unit(step, earlier) =>
                                {
                                    self.hinted(
                                        path,
                                        format!(
                                            "`if:` reads `{written}`, but {unit} `{}` does not run before this one",
                                            shown(step)
                                        ),
                                        if unit == "phase" {
                                            "a phase's `if:` can read the outputs of the phases it runs after (`condition: after:...`)"
                                        } else {
                                            "a step's `if:` can read the outputs of the steps before it"
                                        },
                                    )
                                }
                                Reference::StepOutput { step, .. } => {
                                    if let Some((problem, fix)) = self.missing_item(step, unit) {
                                        self.hinted(
                                            path,
                                            format!("`if:` reads `{written}`, but {problem}"),
                                            fix,
                                        );
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                }
            }
        }
        self.item_ok = item_ok;
    }

    /// Refuse an `if:` comparison whose verdict, recorded and shown, tells something of a
    /// secret input or output beyond what the run may say: a secret is compared only for
    /// (in)equality, with another secret (`inputs.api_token == inputs.expected_token`) or with
    /// a literal that can be no secret (`may_be_secret`: `''`, `'no'`, `3`, so
    /// `inputs.api_token != ''` says whether one was given). Refused: a literal that may be
    /// the secret (written in the definition, which the run's log keeps, and `serve` shows:
    /// the verdict confirms or denies it), a value that is no secret (recorded in clear beside
    /// the verdict: `pw == steps.w.outputs.guess` tests a guess), and any order (`pw > lo`:
    /// one bit of the secret per condition, a search by halves).
    fn secret_comparisons(&mut self, path: &[Seg], expr: &crate::definition::expr::Expr) {
        use crate::definition::expr::Expr;
        let Some(wf) = &self.secrets_of else {
            return;
        };
        let secret_inputs = crate::execute::secret_inputs(wf);
        let secret = |e: &Expr| match e {
            Expr::Ref(Reference::Input(name), written) if secret_inputs.contains(name) => {
                Some((written.clone(), "a secret input"))
            }
            Expr::Ref(Reference::StepOutput { step, key }, written)
                if crate::execute::is_secret_output(wf, step, key) =>
            {
                Some((written.clone(), "a secret output"))
            }
            _ => None,
        };
        let mut found: Vec<(String, String)> = Vec::new();
        for (op, a, b) in crate::definition::expr::comparisons(expr) {
            for (one, other) in [(a, b), (b, a)] {
                let Some((written, what)) = secret(one) else {
                    continue;
                };
                if op.orders() {
                    found.push((
                        format!(
                            "`if:` orders `{written}`, {what}, against another value (`{}`): the verdict, recorded and shown, tells on which side of it the secret lies",
                            op.text()
                        ),
                        format!(
                            "a secret is only compared for equality, with another secret (`{written} == inputs.expected_token`) or with `''` (`{written} != ''`: whether there is one)"
                        ),
                    ));
                    break;
                }
                match other {
                    Expr::Literal(literal) => {
                        let text = match literal {
                            crate::definition::expr::Value::Str(s) => s.clone(),
                            crate::definition::expr::Value::Num(n) => n.to_string(),
                            crate::definition::expr::Value::Bool(_) => break,
                        };
                        if crate::execute::may_be_secret(&text) {
                            found.push((
                                format!(
                                    "`if:` compares `{written}`, {what}, with a value written in the definition, which is kept in the run's log: the value would be too, and the verdict shown would confirm or deny it"
                                ),
                                format!(
                                    "give the value to compare with as a secret input too, when the run starts (`{written} == inputs.expected_token`), or compare a value that is no secret (an input naming the environment: `inputs.env == 'prod'`)"
                                ),
                            ));
                        }
                    }
                    Expr::Ref(_, shown) if secret(other).is_none() => found.push((
                        format!(
                            "`if:` compares `{written}`, {what}, with `{shown}`, which is no secret: its value is recorded in clear beside the verdict, which confirms or denies that the secret is it"
                        ),
                        format!(
                            "compare a secret with another secret (a secret input: `{written} == inputs.expected_token`), or with `''`"
                        ),
                    )),
                    _ => {}
                }
                break;
            }
        }
        for (problem, fix) in found {
            self.hinted(path, problem, fix);
        }
    }

    /// Check a `foreach:`: a template must name a value (a list is read when the step runs);
    /// a string without one is no list.
    pub(super) fn foreach(
        &mut self,
        unit: &str,
        path: &[Seg],
        foreach: &crate::definition::Foreach,
        inputs: &BTreeMap<String, crate::definition::InputSpec>,
        earlier: &[&str],
        definition: &Workflow,
    ) {
        match foreach {
            crate::definition::Foreach::Items(items) => {
                if items.len() > crate::definition::MAX_FOREACH_ITEMS {
                    self.problem(
                        path,
                        format!(
                            "`foreach:` has {} items; at most {} (each is a {unit} of the run)",
                            items.len(),
                            crate::definition::MAX_FOREACH_ITEMS
                        ),
                    );
                }
                // A list written in the definition is data: a template in an item is never
                // rendered, so the item would be the text `${{ ... }}` itself.
                for (i, item) in items.iter().enumerate() {
                    // Each item is given to its unit as `CORTEX_ITEM` (a non-text item as
                    // JSON); a template in a written item is never rendered: all of it counts.
                    let given = crate::definition::Item::of_value(item).text();
                    if "CORTEX_ITEM".len() + 1 + given.len()
                        > crate::definition::limits::MAX_ARGUMENT_BYTES
                    {
                        self.hinted(
                            &[path, &[Seg::Index(i)]].concat(),
                            format!(
                                "item {i} of `foreach:` is {} bytes, and its {unit} is given it as the environment variable `CORTEX_ITEM`: Linux passes at most {} bytes in one (`CORTEX_ITEM=value`), so it could never start",
                                given.len(),
                                crate::definition::limits::MAX_ARGUMENT_BYTES
                            ),
                            "write such data to a file, and give its path as the item",
                        );
                    }
                    let serde_json::Value::String(text) = item else {
                        continue;
                    };
                    if let Some(first) = scan(text).first() {
                        self.hinted(
                            &[path, &[Seg::Index(i)]].concat(),
                            format!(
                                "item {i} of `foreach:` holds the template `{}`, which is not rendered in a list written in the definition: the item would be that text",
                                shown(&text[first.start..first.end])
                            ),
                            "to loop over a value, name it alone: `foreach: \"${{ inputs.regions }}\"` (an input or output holding a JSON list); inside the step, `${{ item }}` is each item; for an item that is the text `${{`, write `$${{`",
                        );
                    }
                }
            }
            crate::definition::Foreach::Template(text) => {
                if scan(text).is_empty() {
                    // Shown as written, quotes and all: a quoted JSON list is the usual slip.
                    let quoted_list =
                        serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| v.is_array());
                    self.hinted(
                        path,
                        format!(
                            "`foreach:` is the text `{}`, not a list",
                            shown_text(text)
                        ),
                        if quoted_list {
                            "a list in quotes is text to YAML: remove the quotes (`foreach: [\"x\", \"y\"]`)"
                        } else {
                            "write a list (`foreach: [a, b, c]`) or a template naming an output that holds a JSON list (`foreach: \"${{ steps.S.outputs.items }}\"`)"
                        },
                    );
                    return;
                }
                // Items are recorded in the log item by item (`foreach_expanded`, labels,
                // outputs): a list read from a secret would be kept in clear.
                let secret_inputs = crate::execute::secret_inputs(definition);
                for o in scan(text) {
                    let what = match &o.reference {
                        Ok(Reference::Input(n)) if secret_inputs.contains(n) => "a secret input",
                        Ok(Reference::StepOutput { step, key })
                            if crate::execute::is_secret_output(definition, step, key) =>
                        {
                            "a secret output"
                        }
                        _ => continue,
                    };
                    self.hinted(
                        path,
                        format!(
                            "`{}` is {what}: a `foreach:` list is recorded in the log item by item, so it cannot be read from a secret",
                            shown(&text[o.start..o.end])
                        ),
                        format!("give the items as plain values, and the secret to each item's command through `env:`{}", if unit == "phase" { "" } else { " (or a secret input read in its `run:`)" }),
                    );
                    return;
                }
                let item_ok = std::mem::replace(&mut self.item_ok, false);
                self.templates_of(unit, path, text, inputs, earlier);
                self.item_ok = item_ok;
            }
        }
    }

    fn checks(
        &mut self,
        base: &[Seg],
        checks: &[Check],
        wf: &Workflow,
        earlier: &[&str],
        outputs_allowed: bool,
    ) {
        for (i, check) in checks.iter().enumerate() {
            let path = [base, &[Seg::Index(i)]].concat();
            match (&check.run, &check.output) {
                (Some(run), None) => {
                    let p = [path.as_slice(), &["run".into()]].concat();
                    self.templates(&p, run, &wf.inputs, earlier);
                    self.shell_templates(&p, run);
                }
                (None, Some(key)) if outputs_allowed => {
                    if let Err(bad) = check_name(NameKind::OutputKey, key) {
                        let p = [path.as_slice(), &["output".into()]].concat();
                        self.hinted(&p, bad.problem, bad.fix);
                    }
                }
                (None, Some(_)) => self.problem(
                    &path,
                    "`output:` checks belong to a step's `validate`; here use `run:`",
                ),
                _ => self.hinted(
                    &path,
                    "a check needs exactly one of `run:` or `output:`",
                    "e.g. `- run: test -f target/app` or `- output: binary`",
                ),
            }
        }
    }
}

/// Why output `key` of `unit`, read by a template or an `if:`, can never be set, with what to
/// write instead; `None` when it can be. An output is set by a `KEY=VALUE` line in
/// `$CORTEX_OUTPUT` or a report's `--output KEY=VALUE`, each ending the key at its first `=`,
/// and held to the output key rule (`NameKind::OutputKey`: letters, digits, `_` and `-`);
/// a key outside it (`a=b`, `a.b`) passed before, and the step that read it waited for a
/// report that recorded another key (`a` = `b=...`), round after round.
pub(super) fn unsettable_key(unit: &str, key: &str) -> Option<(String, String)> {
    let bad = check_name(NameKind::OutputKey, key).err()?;
    Some((
        format!(
            "output `{}` of `{}`, which nothing can set: {}",
            shown(key),
            shown(unit),
            bad.problem
        ),
        bad.fix,
    ))
}

/// The input specifications of a workflow or a scenario: names, patterns, ranges, defaults.
/// `secret` names the secret inputs (`execute::secret_inputs`): a default written out for one
/// is refused, as a secret `env:` value written out is (`literal_secret`): the definition is
/// kept in the run's log (and shown by `serve`'s run form), so the value would be too.
pub(super) fn check_inputs(
    c: &mut Checker<'_>,
    inputs: &BTreeMap<String, crate::definition::InputSpec>,
    secret: &std::collections::BTreeSet<String>,
) {
    let mut inputs_seen: BTreeMap<String, &str> = BTreeMap::new();
    for (name, spec) in inputs {
        let base: Vec<Seg> = vec!["inputs".into(), Seg::Key(name.clone())];
        if let Err(bad) = check_name(NameKind::Input, name) {
            c.hinted_at_key(&base, bad.problem, bad.fix);
        } else if let Some(first) = inputs_seen.get(&normalize_name(name)) {
            c.hinted_at_key(
                &base,
                format!(
                    "input name `{}` collides with `{}`: both are passed as `CORTEX_INPUT_{}`",
                    shown(name),
                    shown(first),
                    name.to_ascii_uppercase()
                ),
                "rename one of them",
            );
        }
        inputs_seen.entry(normalize_name(name)).or_insert(name);
        if let Some(pattern) = &spec.pattern
            && let Err(e) = regex::Regex::new(pattern)
        {
            c.problem(
                &[base.as_slice(), &["pattern".into()]].concat(),
                format!(
                    "`pattern` is not a valid regular expression: {}",
                    e.to_string()
                        .lines()
                        .last()
                        .unwrap_or_default()
                        .trim_start_matches("error: ")
                ),
            );
        }
        if let (Some(min), Some(max)) = (&spec.minimum, &spec.maximum)
            && min.exact() > max.exact()
        {
            c.problem(
                &base,
                format!("`minimum` {min} is greater than `maximum` {max}"),
            );
        }
        if spec.exists.is_some() && spec.kind != InputType::Path {
            c.problem(&base, "`exists` applies only to inputs of `type: path`");
        }
        for (at, value) in spec
            .default
            .iter()
            .map(|d| (vec![Seg::from("default")], d))
            .chain(
                spec.choices
                    .iter()
                    .flatten()
                    .enumerate()
                    .map(|(i, c)| (vec![Seg::from("enum"), Seg::Index(i)], c)),
            )
        {
            if let Some(problem) = super::inputs::not_scalar(spec.kind, value) {
                c.hinted(
                    &[base.as_slice(), &at].concat(),
                    format!("input `{}`: {problem}", shown(name)),
                    "write one text, number or boolean; a list or a map can be given as its JSON text in quotes (`'[1, 2]'`), which a step parses",
                );
            }
        }
        if let Some(default) = &spec.default
            && super::inputs::not_scalar(spec.kind, default).is_none()
        {
            let text = match default {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if secret.contains(name) && crate::execute::may_be_secret(&text) {
                c.hinted(
                    &[base.as_slice(), &["default".into()]].concat(),
                    format!(
                        "input `{}` is secret, and its `default:` is written in the definition, which is kept in the run's log: the value would be too",
                        shown(name)
                    ),
                    format!(
                        "remove the default and give the value when the run starts: `--input {name}=...`, or CORTEX_INPUT_{} in the environment (out of sight of `ps`)",
                        name.to_ascii_uppercase()
                    ),
                );
            }
            let mut one = BTreeMap::new();
            one.insert(name.clone(), spec.clone());
            if let Err(problems) = super::resolve_inputs(&one, &[(name.clone(), text)], &|_| true) {
                for p in problems {
                    c.problem(
                        &[base.as_slice(), &["default".into()]].concat(),
                        format!("default: {p}"),
                    );
                }
            }
        }
    }
}

/// Every problem in `wf` (parsed from `text`), each with its location.
pub fn validate_workflow(
    path: &str,
    text: &str,
    wf: &Workflow,
    known: &Known<'_>,
) -> Result<(), DefinitionError> {
    validate_workflow_cautioned(path, text, wf, known).0
}

/// [`validate_workflow`], and what is valid but unsafe, as located warnings (a template in
/// the script of a nested shell: `Checker::shell_templates`).
pub fn validate_workflow_cautioned(
    path: &str,
    text: &str,
    wf: &Workflow,
    known: &Known<'_>,
) -> (Result<(), DefinitionError>, Vec<String>) {
    let mut c = Checker::new(text);
    c.secrets_of = Some(wf.clone());
    c.foreach = foreach_units(wf.steps.iter().map(|s| (&s.name, &s.foreach)));
    c.units = wf.steps.iter().map(|s| s.name.clone()).collect();
    if let Err(bad) = check_name(NameKind::Workflow, &wf.name) {
        c.hinted(&["name".into()], bad.problem, bad.fix);
    }
    check_inputs(&mut c, &wf.inputs, &crate::execute::secret_inputs(wf));
    super::notify::check_notify(&mut c, &wf.notify, &wf.inputs);
    if let Some(schedule) = &wf.schedule {
        let secret = crate::execute::secret_inputs(wf);
        super::schedule::check_schedule(&mut c, schedule, &wf.inputs, &secret);
    }
    c.checks(&["health".into()], &wf.health, wf, &[], false);
    if wf.steps.is_empty() {
        c.hinted(
            &["steps".into()],
            "a workflow needs at least one step",
            "list them under `steps:`, each `- name: ...` with `run:` or `prompt:`",
        );
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut earlier: Vec<&str> = Vec::new();
    for (i, step) in wf.steps.iter().enumerate() {
        let base: Vec<Seg> = vec!["steps".into(), Seg::Index(i)];
        let key = |k: &str| [base.as_slice(), &[Seg::Key(k.to_string())]].concat();
        if let Err(bad) = check_name(NameKind::Step, &step.name) {
            c.hinted(&key("name"), bad.problem, bad.fix);
        }
        if let Some(&first) = seen.get(&normalize_name(&step.name)) {
            let (message, hint) = if wf.steps[first].name == step.name {
                (
                    format!("step name `{}` is used twice", shown(&step.name)),
                    format!(
                        "step {} already has this name; names must be unique",
                        first + 1
                    ),
                )
            } else {
                (
                    format!(
                        "step name `{}` collides with `{}` (step {}): names are matched ignoring case, spaces, `_` and `-`, so `step complete` could mean either",
                        shown(&step.name),
                        shown(&wf.steps[first].name),
                        first + 1
                    ),
                    "rename one of them".to_string(),
                )
            };
            c.hinted(&key("name"), message, hint);
        } else {
            seen.insert(normalize_name(&step.name), i);
        }
        if step.run.is_none()
            && step.prompt.is_none()
            && step.agent.is_none()
            && step.uses.is_none()
        {
            c.hinted(
                &base,
                format!("step `{}` has nothing to do", step.name),
                "give it `run:` (a command cortex runs), `prompt:` (work for an agent or a person) or `uses:` (a workflow to run)",
            );
        }
        check_runs_on(&mut c, &key("runs_on"), &step.runs_on);
        if step.uses.is_some() {
            let given = [
                ("run", step.run.is_some()),
                ("prompt", step.prompt.is_some()),
                ("agent", step.agent.is_some()),
                ("env", !step.env.is_empty()),
                ("secret_env", !step.secret_env.is_empty()),
                ("timeout", step.timeout.is_some()),
                ("keep_background", step.keep_background),
            ];
            for (field, _) in given.iter().filter(|(_, set)| *set) {
                c.hinted(
                    &key(field),
                    format!("a step with `uses:` runs a workflow; it cannot also have `{field}`"),
                    match *field {
                        "env" | "secret_env" => "give the workflow its values with `with:`",
                        "timeout" => "the child workflow's steps have their own timeouts",
                        _ => "move it to a step of its own",
                    },
                );
            }
            if let Some(u) = known.uses {
                super::uses::check_uses(&mut c, &base, step, wf, u);
            }
        } else if !step.with.is_empty() {
            c.hinted_at_key(
                &key("with"),
                "`with:` gives inputs to the workflow a step runs with `uses:`, and this step has no `uses:`",
                "add `uses: WORKFLOW` (the workflow to give them to), or remove `with:`",
            );
        }
        if let Some(condition) = &step.if_ {
            c.condition("step", &key("if"), condition, &wf.inputs, &earlier);
        }
        if let Some(foreach) = &step.foreach {
            c.foreach("step", &key("foreach"), foreach, &wf.inputs, &earlier, wf);
        }
        c.item_ok = step.foreach.is_some();
        for (name, value) in &step.with {
            let p = [key("with").as_slice(), &[Seg::Key(name.clone())]].concat();
            c.templates(&p, &value.0, &wf.inputs, &earlier);
            // (given to the child workflow's steps as `CORTEX_INPUT_...`)
            c.no_nul(&p, &value.0, &format!("the input `{}`", shown(name)));
        }
        if let Some(agent) = &step.agent
            && !known
                .agents
                .contains(&crate::definition::normalize_name(agent))
        {
            match known
                .broken_agents
                .get(&crate::definition::normalize_name(agent))
            {
                Some(summary) => {
                    let (message, hint) = super::broken_agent_problem(agent, summary);
                    c.hinted(&key("agent"), message, hint);
                }
                None => c.hinted(
                    &key("agent"),
                    format!("Agent not found: {}", shown(agent)),
                    "agents are Markdown files in CORTEX_HOME/agents/ or .claude/agents/",
                ),
            }
        }
        for (path, e) in attempt_limits(step.timeout.as_ref(), step.retry.as_ref()) {
            c.problem(&[base.as_slice(), &path].concat(), e);
        }
        for (name, value) in &step.env {
            let p = [key("env").as_slice(), &[Seg::Key(name.clone())]].concat();
            if !super::is_env_name(name) {
                c.problem_at_key(
                    &p,
                    format!("`{}` is not a valid environment variable name", shown(name)),
                );
            }
            if let Some((problem, fix)) = super::literal_secret(
                name,
                &value.0,
                crate::execute::is_secret_env(step, name),
                "step",
            ) {
                c.hinted(&p, problem, fix);
            }
            c.templates(&p, &value.0, &wf.inputs, &earlier);
            c.no_nul(&p, &value.0, &format!("the value of `{}`", shown(name)));
            c.fits_one(
                &p,
                &value.0,
                Some(name),
                &format!("the value of `{}`", shown(name)),
            );
        }
        for (j, name) in step.secret_env.iter().enumerate() {
            if !super::is_env_name(name) {
                c.problem(
                    &[key("secret_env").as_slice(), &[Seg::Index(j)]].concat(),
                    format!("`{}` is not a valid environment variable name", shown(name)),
                );
            }
        }
        for field in ["run", "prompt", "rollback"] {
            let value = match field {
                "run" => &step.run,
                "prompt" => &step.prompt,
                _ => &step.rollback,
            };
            if let Some(v) = value {
                // A rollback runs only once its step completed: it may read the step's own
                // outputs. (The step's name is pushed for the call and popped after it: a
                // copy of `earlier` per step made validation quadratic in the steps.)
                if field == "rollback" {
                    earlier.push(&step.name);
                    c.templates(&key(field), v, &wf.inputs, &earlier);
                    earlier.pop();
                } else {
                    c.templates(&key(field), v, &wf.inputs, &earlier);
                }
                if field != "prompt" {
                    c.shell_templates(&key(field), v);
                }
            }
        }
        if let Some(dir) = &step.working_dir {
            c.templates(&key("working_dir"), dir, &wf.inputs, &earlier);
            c.no_nul(&key("working_dir"), dir, "the working directory");
        }
        earlier.push(&step.name);
        c.checks(&key("validate"), &step.validate, wf, &earlier, true);
        earlier.pop();
        c.item_ok = false;
        if step.on_failure == Some(OnFailure::Rollback) && !known.config.enable_rollback {
            c.hinted(
                &key("on_failure"),
                "`on_failure: rollback` but rollback is disabled",
                "set \"enable_rollback\": true in cortex.config.json, or choose pause, skip or abort",
            );
        }
        earlier.push(&step.name);
    }
    c.checks(&["post".into()], &wf.post, wf, &earlier, false);
    let cautions = c.caution_lines(path);
    if c.problems.is_empty() {
        (Ok(()), cautions)
    } else {
        c.problems.sort_by_key(|p| p.at);
        (
            Err(DefinitionError {
                path: path.to_string(),
                text: text.to_string(),
                problems: c.problems,
            }),
            cautions,
        )
    }
}

/// Each tag of a `runs_on:` list (at `path`) is a worker tag.
pub(super) fn check_runs_on(c: &mut Checker<'_>, path: &[Seg], tags: &[String]) {
    for (j, tag) in tags.iter().enumerate() {
        if let Some(problem) = crate::definition::tag_problem(tag) {
            c.hinted(
                &[path, &[Seg::Index(j)]].concat(),
                problem,
                "name a tag that `cortex worker --tags` offers, e.g. `runs_on: [gpu]`",
            );
        }
    }
}

/// How many characters the token of an `if:` expression starting at character `at` of
/// `text` covers: a name, a quoted string, an operator; None past the end.
fn token_width(text: &str, at: usize) -> Option<usize> {
    let chars: Vec<char> = text.chars().skip(at).collect();
    let first = *chars.first()?;
    let word = |c: &char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    let width = if word(&first) {
        chars.iter().take_while(|c| word(c)).count()
    } else if matches!(first, '\'' | '"') {
        chars[1..]
            .iter()
            .position(|&c| c == first)
            .map_or(chars.len(), |end| end + 2)
    } else if matches!(first, '=' | '!' | '<' | '>' | '&' | '|') {
        chars
            .iter()
            .take(2)
            .take_while(|c| matches!(c, '=' | '!' | '<' | '>' | '&' | '|'))
            .count()
    } else {
        1
    };
    Some(width)
}
