//! Workflow operations: list, validate, run, status, resume, abort, history, step reports.
//! Each returns its document and its text for people (`Output`), never prints.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::SystemTime;

use serde_json::json;

use super::drive::{KILL_GRACE, Live, drive_on_recorded, driver, holder, resume_driving};
use super::{CommandError, Ctx, Output, Scope, exit};
use crate::decide::{AttemptReport, Command, StepStatus};
use crate::definition::{
    Config, DefinitionError, Durability, Entry, EntrySource, ResolvedAgents, Workflow,
    normalize_name, parse_workflow_setting_aside, resolve_agents, snapshot,
};
use crate::event::{AttemptEnd, Operator, ResumeMode, RunKind, RunStarted, UsedWorkflow};
use crate::execute::{
    DriverLock, Journal, StopFlag, SystemClock, UlidIds, input_env_name, materialize,
    secret_input_from_env, secret_inputs,
};
use crate::plan::{
    Setting, preview_resume, preview_run, shown_inputs, step_setting, with_settings,
};
use crate::project::RunStatus;
use crate::render::{render_history, render_plan, render_status};
use crate::store::EventStore;
use crate::validate::{Known, UsedInfo, Uses, resolve_inputs, validate_workflow};

/// `workflow ...` commands act on workflow runs.
pub const WORKFLOWS: Scope = Scope::of(RunKind::Workflow);

/// A definition that parsed and validated, with what it needs to run.
struct Loaded {
    entry: Entry,
    workflow: Workflow,
    config: Config,
    agents: ResolvedAgents,
    /// Every workflow its `uses:` steps run, directly or not, keyed by the `uses:` text.
    uses: BTreeMap<String, UsedWorkflow>,
    /// What `validate` warns of, located (a template in a nested shell's script).
    cautions: Vec<String>,
}

/// A workflow a `uses:` text names, read once per load.
struct Found {
    entry: Entry,
    workflow: Workflow,
    info: UsedInfo,
}

/// Finds the workflows `uses:` texts name, as `workflow run` finds them, each read, parsed and
/// validated once (on its own: its `uses:` graph is checked from the workflow being loaded).
struct UsesFinder<'a> {
    catalog: &'a crate::definition::Catalog,
    known: &'a BTreeSet<String>,
    /// The agent files that are there but invalid (`Catalog::broken_agents`).
    broken_agents: &'a BTreeMap<String, String>,
    config: &'a Config,
    /// The name of the workflow being validated: never suggested for a name not found (it
    /// would call itself, a cycle).
    root: String,
    found: RefCell<BTreeMap<String, Result<Rc<Found>, String>>>,
}

impl UsesFinder<'_> {
    fn find(&self, text: &str) -> Result<Rc<Found>, String> {
        if let Some(hit) = self.found.borrow().get(text) {
            return hit.clone();
        }
        let result = self.read(text);
        self.found
            .borrow_mut()
            .insert(text.to_string(), result.clone());
        result
    }

    fn read(&self, text: &str) -> Result<Rc<Found>, String> {
        let entry = self.catalog.find_workflow(text).map_err(|e| {
            let mut message = e.to_string();
            if let crate::definition::LookupError::NotFound { suggestions, .. } = &e
                && let Some(best) = suggestions
                    .iter()
                    .find(|s| normalize_name(s) != normalize_name(&self.root))
            {
                message.push_str(&format!(" (did you mean `{best}`?)"));
            }
            message
        })?;
        let path = entry.display_path();
        let (workflow, problems) = match parse_workflow_setting_aside(&path, &entry.text) {
            Err(e) => (None, e.problems),
            Ok((wf, set_aside)) => {
                let known = Known {
                    config: self.config,
                    agents: self.known,
                    broken_agents: self.broken_agents,
                    uses: None,
                };
                let verdict = validate_workflow(&path, &entry.text, &wf, &known);
                let problems =
                    DefinitionError::with_set_aside(&path, &entry.text, set_aside, verdict)
                        .err()
                        .map(|e| e.problems)
                        .unwrap_or_default();
                // A child with unknown keys is no workflow to run.
                (problems.is_empty().then_some(wf), problems)
            }
        };
        let problems: Vec<String> = problems
            .iter()
            .map(|p| match p.at {
                Some(at) => format!("{}:{}:{}: {}", path, at.line, at.column, p.message),
                None => format!("{path}: {}", p.message),
            })
            .collect();
        let workflow = workflow.unwrap_or_else(|| Workflow {
            name: entry.name.clone(),
            description: None,
            inputs: BTreeMap::new(),
            requires: Default::default(),
            health: Vec::new(),
            steps: Vec::new(),
            post: Vec::new(),
            notify: Default::default(),
            schedule: None,
        });
        let info = UsedInfo {
            name: workflow.name.clone(),
            path,
            inputs: workflow.inputs.clone(),
            uses: workflow
                .steps
                .iter()
                .filter_map(|s| s.uses.clone())
                .collect(),
            foreach_inputs: workflow
                .steps
                .iter()
                .filter_map(|s| match &s.foreach {
                    Some(crate::definition::Foreach::Template(t)) => Some(t),
                    _ => None,
                })
                .flat_map(|t| crate::definition::template::scan(t))
                .filter_map(|o| match o.reference {
                    Ok(crate::definition::template::Reference::Input(n)) => Some(n),
                    _ => None,
                })
                .collect(),
            problems,
        };
        Ok(Rc::new(Found {
            entry,
            workflow,
            info,
        }))
    }

    /// Every workflow `root` runs through `uses:`, directly or not (the graph is known to be
    /// valid: finite and found).
    fn closure(&self, root: &Workflow) -> BTreeMap<String, Rc<Found>> {
        let mut out: BTreeMap<String, Rc<Found>> = BTreeMap::new();
        let mut todo: Vec<String> = root.steps.iter().filter_map(|s| s.uses.clone()).collect();
        while let Some(text) = todo.pop() {
            if out.contains_key(&text) {
                continue;
            }
            if let Ok(found) = self.find(&text) {
                todo.extend(found.workflow.steps.iter().filter_map(|s| s.uses.clone()));
                out.insert(text, found);
            }
        }
        out
    }
}

/// Whether the workflow `name` finds would run (it is found, reads and validates).
pub(super) fn runs(ctx: &Ctx, name: &str) -> bool {
    load(ctx, name).is_ok()
}

/// For a definition of the other kind: `use cortex GROUP validate X to check it, cortex GROUP
/// run X to run it`, X the path as it was typed (or the file's path, for one found by name in
/// the wrong folder), quoted for pasting.
pub(super) fn other_kind_commands(ctx: &Ctx, group: &str, query: &str, path: &str) -> String {
    // A path under the project directory (where a relative path is read from) as one
    // relative to it.
    let project = ctx.catalog().project_dir;
    let relative = std::path::Path::new(path)
        .strip_prefix(&project)
        .ok()
        .and_then(|p| p.to_str())
        .filter(|p| !p.is_empty() && !p.starts_with('-'));
    let target = match relative {
        _ if query.contains('/') && query != path => query,
        Some(relative) => relative,
        None => path,
    };
    format!(
        "use {} to check it, {} to run it",
        ctx.cmd(&[group, "validate", target]),
        ctx.cmd(&[group, "run", target])
    )
}

/// Whether workflow `name` loads as `run` loads it: it validates, with the workflows its
/// `uses:` steps run.
pub(super) fn loads(ctx: &Ctx, name: &str) -> bool {
    load(ctx, name).is_ok()
}

fn load(ctx: &Ctx, name: &str) -> Result<Loaded, CommandError> {
    let config_file = ctx
        .catalog()
        .config_file()
        .map_err(|e| CommandError::definition(&e))?;
    load_with(ctx, name, config_file)
}

/// `load` under `config_file`: a listing whose configuration is invalid (said once, of its
/// own file: `invalid_home_file`) checks each workflow itself under the defaults.
fn load_with(
    ctx: &Ctx,
    name: &str,
    config_file: crate::definition::ConfigFile,
) -> Result<Loaded, CommandError> {
    let catalog = ctx.catalog();
    let config = config_file.workflow;
    let entry = catalog.find_workflow(name)?;
    let path = entry.display_path();
    // Keys it does not know are reported with the rest of what validation finds.
    let parsed = parse_workflow_setting_aside(&path, &entry.text);
    // A scenario given as a workflow (by its path) is said to be one, with its commands. Only
    // a text without steps can be one (a parse that found steps read a `steps:` key): the
    // look is not paid by every run.
    if parsed.as_ref().map_or(true, |(w, _)| w.steps.is_empty())
        && let Some(e) = crate::definition::wrong_kind(
            &path,
            &entry.text,
            "workflow",
            &other_kind_commands(ctx, "orchestrate", name, &path),
        )
    {
        return Err(CommandError::definition(&e));
    }
    let (workflow, set_aside) = parsed.map_err(|e| CommandError::definition(&e))?;
    let found: Vec<_> = catalog
        .agents()
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    let agent_names: BTreeSet<String> =
        found.iter().map(|(a, _)| normalize_name(&a.name)).collect();
    // An agent whose file is there but invalid is told so where the step names it, with the
    // file's first problem, beside the workflow's other problems.
    let broken_agents = catalog.broken_agents();
    let finder = UsesFinder {
        catalog: &catalog,
        known: &agent_names,
        broken_agents: &broken_agents,
        config: &config,
        root: workflow.name.clone(),
        found: RefCell::new(BTreeMap::new()),
    };
    let find = |text: &str| finder.find(text).map(|f| f.info.clone());
    let uses = Uses {
        root: path.clone(),
        root_name: workflow.name.clone(),
        find: &find,
        workflows_dir: format!("{}/", catalog.workflows_dir().display()),
        globals: ctx.globals(),
    };
    let (verdict, cautions) = crate::validate::validate_workflow_cautioned(
        &path,
        &entry.text,
        &workflow,
        &Known {
            config: &config,
            agents: &agent_names,
            broken_agents: &broken_agents,
            uses: Some(&uses),
        },
    );
    let namesakes = catalog.workflow_namesakes(&entry, &workflow.name);
    let verdict = crate::validate::with_namesakes(
        verdict,
        &path,
        &entry.text,
        "workflow",
        &workflow.name,
        &namesakes,
    );
    DefinitionError::with_set_aside(&path, &entry.text, set_aside, verdict)
        .map_err(|e| CommandError::definition(&e))?;
    let children = finder.closure(&workflow);
    let found: Vec<_> = found.into_iter().map(|(a, _)| a).collect();
    // The agents of the whole tree: a child run is given its parent's.
    let agents = resolve_agents(
        workflow
            .steps
            .iter()
            .chain(children.values().flat_map(|f| f.workflow.steps.iter()))
            .filter_map(|s| s.agent.clone()),
        &found,
        &config_file.agents,
    );
    super::agents::claude_body_too_long(ctx, &agents)?;
    let uses = children
        .into_iter()
        .map(|(text, f)| {
            let (definition, definition_hash) = snapshot(&f.workflow);
            (
                text,
                UsedWorkflow {
                    name: f.workflow.name.clone(),
                    source: f.entry.display_path(),
                    definition,
                    definition_hash,
                },
            )
        })
        .collect();
    Ok(Loaded {
        entry,
        workflow,
        config,
        agents,
        uses,
        cautions,
    })
}

/// `workflow list`: the workflows of the home and the built-in templates.
pub fn list(ctx: &Ctx) -> Result<Output, CommandError> {
    let catalog = ctx.catalog();
    // An invalid configuration is its own file's error, said once (a warning, above the
    // table): each row is the workflow's own verdict. Before, every row, the built-ins too,
    // showed the configuration's `1:32: unknown field` as if it were in that workflow.
    let (config_file, warnings) = home_config(ctx, &["workflow", "validate", "NAME"]);
    let mut rows = Vec::new();
    for listed in catalog.list_workflows() {
        let src = match &listed.source {
            EntrySource::Builtin => "built-in".to_string(),
            EntrySource::File(p) => p.display().to_string(),
        };
        // Valid as `validate` says it (its agents, its `uses:` children), not only parsed:
        // `valid` is what an agent picks a workflow to run by. A file by its path: a name
        // other files also match is still that file's.
        let parsed = match (&listed.text, &listed.source) {
            (Ok(_), EntrySource::File(p)) => {
                load_with(ctx, &p.display().to_string(), config_file.clone())
                    .map(|l| l.workflow)
                    .map_err(|e| e.first_problem())
            }
            (Ok(_), EntrySource::Builtin) => load_with(ctx, &listed.name, config_file.clone())
                .map(|l| l.workflow)
                .map_err(|e| e.first_problem()),
            (Err(e), _) => Err(e.definition_error(&listed.path()).first_problem()),
        };
        let ambiguity = listed.ambiguity();
        let valid = parsed.as_ref().ok();
        rows.push(json!({
            "name": listed.name,
            "source": src,
            "valid": valid.is_some() && ambiguity.is_none(),
            "steps": valid.map(|w| w.steps.len()),
            "description": valid.and_then(|w| w.description.clone()),
            "error": parsed.as_ref().err().or(ambiguity.as_ref()),
        }));
    }
    let mut text = format!("Workflows ({}):\n", ctx.home.join("workflows").display());
    let width = crate::render::name_width(&rows);
    for r in &rows {
        let steps = match (r["steps"].as_u64(), r["valid"].as_bool()) {
            (Some(n), Some(true)) => crate::render::count(n as usize, "step"),
            (Some(_), _) => "ambiguous".to_string(),
            (None, _) => "invalid".to_string(),
        };
        let about = r["error"]
            .as_str()
            .or_else(|| r["description"].as_str())
            .unwrap_or_default();
        let origin = if r["source"] == "built-in" {
            "  [built-in]"
        } else {
            ""
        };
        text.push_str(&format!(
            "  {}  {:<9}  {}{origin}\n",
            crate::render::padded(r["name"].as_str().unwrap_or_default(), width),
            steps,
            about,
        ));
    }
    text.push_str(&format!(
        "\nRun one with {}.\n",
        ctx.cmd(&["workflow", "run", "NAME"])
    ));
    Ok(Output::new(rows, text, exit::OK).warn(warnings))
}

/// The home's configuration, and, when it is invalid, the defaults and the warning that
/// names its file and first problem (every run is refused until it is fixed; `validate`,
/// the command `validate` gives, shows it all).
pub(super) fn home_config(
    ctx: &Ctx,
    validate: &[&str],
) -> (crate::definition::ConfigFile, Vec<String>) {
    match ctx.catalog().config_file() {
        Ok(c) => (c, Vec::new()),
        Err(e) => (
            crate::definition::ConfigFile::default(),
            vec![invalid_home_file(ctx, &e, validate)],
        ),
    }
}

/// The warning a listing gives of a file of the home every definition depends on
/// (`cortex.config.json`, `scenarios/schema.yaml`) when it is invalid: the file, where,
/// what, and that no run starts until it is fixed.
pub(super) fn invalid_home_file(
    ctx: &Ctx,
    e: &crate::definition::DefinitionError,
    validate: &[&str],
) -> String {
    let path = &e.path;
    let e = CommandError::definition(e);
    let shown = match e.errors.first() {
        Some(p) => {
            let at = match (p.line, p.column) {
                (Some(line), Some(column)) => format!(" at {line}:{column}"),
                _ => String::new(),
            };
            let message = p.message.lines().next().unwrap_or_default();
            format!("{path} is invalid{at}: {message}")
        }
        None => format!("{path} is invalid: {}", e.message),
    };
    format!(
        "{shown} (every run is refused until it is fixed; {} shows every problem)",
        ctx.cmd(validate)
    )
}

/// `workflow validate NAME`: the verdict on one workflow, the same document as
/// `orchestrate validate NAME` (`{file, name, valid, errors: [{message, file, line, column,
/// hint}], ...}`); invalid is exit 2 with every problem.
pub fn validate(ctx: &Ctx, name: &str) -> Result<Output, CommandError> {
    let entry = match ctx.catalog().find_workflow(name) {
        Ok(entry) => entry,
        Err(e) => return found_invalid(ctx, e),
    };
    let file = entry.display_path();
    let loaded = ctx
        .catalog()
        .config_file()
        .map_err(|e| CommandError::definition(&e))
        .and_then(|c| load_with(ctx, name, c));
    verdict(ctx, file, loaded)
}

/// `validate` under `config_file` (`validate_all`, which says an invalid one once).
fn validate_with(
    ctx: &Ctx,
    name: &str,
    config_file: crate::definition::ConfigFile,
) -> Result<Output, CommandError> {
    let entry = match ctx.catalog().find_workflow(name) {
        Ok(entry) => entry,
        Err(e) => return found_invalid(ctx, e),
    };
    let file = entry.display_path();
    verdict(ctx, file, load_with(ctx, name, config_file))
}

/// A workflow `validate` could not find as a definition: the verdict on a file whose content
/// no definition can have (too large, not UTF-8), located as any invalid definition's; any
/// other failure to find it, that error.
fn found_invalid(ctx: &Ctx, e: crate::definition::LookupError) -> Result<Output, CommandError> {
    match e {
        crate::definition::LookupError::Invalid { error, .. } => verdict(
            ctx,
            error.path.clone(),
            Err(CommandError::definition(&error)),
        ),
        e => Err(e.into()),
    }
}

/// The verdict on a workflow `load` loaded (or refused) from `file`.
fn verdict(
    ctx: &Ctx,
    file: String,
    loaded: Result<Loaded, CommandError>,
) -> Result<Output, CommandError> {
    let l = match loaded {
        Ok(l) => l,
        Err(e) if !e.errors.is_empty() => {
            let text = e.detail.clone().unwrap_or_default();
            return Ok(Output::new(
                json!({"file": file, "valid": false, "errors": e.errors}),
                text,
                exit::BAD_INPUT,
            ));
        }
        Err(e) => return Err(e),
    };
    let agents: BTreeSet<&String> = l.agents.commands.keys().collect();
    // Valid, but what would make its runs fail here is said in the document too.
    let mut warnings = super::agents::claude_missing(ctx, &l.agents);
    warnings.extend(crate::execute::secret_outputs_across_waits(
        &l.workflow,
        None,
        &l.agents,
        &l.uses,
    ));
    warnings.extend(crate::execute::inert_settings_on_reported_steps(
        &l.workflow,
        &l.agents,
    ));
    warnings.extend(crate::execute::foreach_from_secret_fed(
        &l.workflow,
        &l.entry.display_path(),
        &l.entry.text,
        "steps",
    ));
    warnings.extend(crate::validate::name_mismatch(
        &l.entry,
        "workflow",
        &l.workflow.name,
    ));
    warnings.extend(
        l.workflow
            .items_not_as_written(&l.entry.display_path(), &l.entry.text),
    );
    warnings.extend(l.cautions.iter().cloned());
    let doc = json!({
        "file": file, "name": l.workflow.name, "valid": true,
        "steps": l.workflow.steps.len(), "agents": agents,
        "inputs": l.workflow.inputs.keys().collect::<Vec<_>>(), "errors": [],
        "warnings": warnings,
    });
    let shown = match &l.entry.source {
        EntrySource::File(p) => p
            .file_name()
            .map_or(file.clone(), |f| f.to_string_lossy().into_owned()),
        EntrySource::Builtin => file.clone(),
    };
    let mut text = format!("[OK] {shown} - Valid\n");
    text.push_str(&format!(
        "  - {} defined\n",
        crate::render::count(l.workflow.steps.len(), "step")
    ));
    text.push_str(&format!(
        "  - {} referenced\n",
        crate::render::count(agents.len(), "unique agent")
    ));
    if !l.workflow.inputs.is_empty() {
        let names: Vec<&str> = l.workflow.inputs.keys().map(String::as_str).collect();
        text.push_str(&format!("  - inputs: {}\n", names.join(", ")));
    }
    Ok(Output::new(doc, text, exit::OK).warn(warnings))
}

/// `workflow validate --all`: the verdict on every workflow of the home and every built-in
/// (`{valid, workflows: [...]}`, each as `validate` gives it; the human form is theirs one
/// after the other, as `orchestrate validate --all`). Invalid is exit 2. A file that cannot be
/// read, or whose name another file's matches, is one verdict among the others.
pub fn validate_all(ctx: &Ctx) -> Result<Output, CommandError> {
    let mut text = String::new();
    let mut docs = Vec::new();
    let mut warnings = Vec::new();
    // An invalid configuration is said once, of its own file (`config`), as
    // `orchestrate validate --all` says it; each workflow is checked itself under the
    // defaults. Before, its problem was repeated as every workflow's.
    let catalog = ctx.catalog();
    let config = catalog.config_file();
    let config_file = config.clone().unwrap_or_default();
    let config = config.err().map(|e| CommandError::definition(&e));
    if let Some(e) = &config {
        text.push_str(e.detail.as_deref().unwrap_or_default());
    }
    for listed in catalog.list_workflows() {
        let file = match &listed.source {
            EntrySource::File(p) => p.display().to_string(),
            EntrySource::Builtin => format!("builtin:{}", listed.name),
        };
        let name = match &listed.source {
            EntrySource::File(_) => file.clone(),
            EntrySource::Builtin => listed.name.clone(),
        };
        // A file is checked by its path: a name other files also match is still that file's.
        let verdict = validate_with(ctx, &name, config_file.clone()).and_then(|out| {
            match listed.ambiguity() {
                Some(why) => Err(CommandError::definition(
                    &crate::definition::DefinitionError {
                        path: file.clone(),
                        text: String::new(),
                        problems: vec![crate::definition::Problem::new(why, None)],
                    },
                )),
                None => Ok(out),
            }
        });
        match verdict {
            Ok(out) => {
                text.push_str(&out.human);
                warnings.extend(out.warnings);
                docs.push(out.json);
            }
            Err(e) => {
                let e = if e.errors.is_empty() {
                    CommandError::definition(&crate::definition::DefinitionError {
                        path: file.clone(),
                        text: String::new(),
                        problems: vec![crate::definition::Problem::new(e.message, None)],
                    })
                } else {
                    e
                };
                text.push_str(e.detail.as_deref().unwrap_or_default());
                docs.push(json!({"file": file, "valid": false, "errors": e.errors}));
            }
        }
    }
    let valid = docs.iter().all(|d| d["valid"] == true) && config.is_none();
    let code = if valid { exit::OK } else { exit::BAD_INPUT };
    warnings.dedup();
    let mut doc = json!({"valid": valid, "workflows": docs});
    if let Some(e) = &config {
        doc["config"] = json!({
            "file": catalog.config_path().display().to_string(),
            "valid": false,
            "errors": e.errors,
        });
    }
    Ok(Output::new(doc, text, code).warn(warnings))
}

/// `workflow run NAME`: start a run and drive it to where it stops (or, with `dry_run`, the
/// plan, recording nothing).
pub fn run(
    ctx: &Ctx,
    name: &str,
    inputs: &[(String, String)],
    how: super::RunHow,
    by: Operator,
    live: &mut Live<'_>,
) -> Result<Output, CommandError> {
    let loaded = load(ctx, name)?;
    // Refused for a busy log before the run was recorded: the same command again.
    let again = super::Retry::command(&["workflow", "run"])
        .operand(name)
        .inputs(inputs)
        .switch("--submit", how == super::RunHow::Submit)
        .by(&by)
        .of_definition(&loaded.workflow);
    let inputs = run_inputs_of(ctx, &loaded.workflow, Some(&loaded.uses), inputs)?;
    let by = secret_values_scrubbed(by, &loaded.workflow, &inputs);
    if how == super::RunHow::DryRun {
        let agents = &loaded.agents;
        let wf = &loaded.workflow;
        let plan = preview_run(wf, &|i| {
            let s = &wf.steps[i];
            s.run.is_none()
                && s.uses.is_none()
                && !s.agent.as_ref().is_some_and(|a| agents.is_run(a))
        });
        let (inputs, settings) = preview_settings(wf, &inputs, &ctx.cwd, "step");
        let plan = with_settings(plan, &|name| settings.get(name).cloned());
        let text = render_plan(&format!("Plan for workflow `{}`", wf.name), &inputs, &plan);
        return Ok(Output::new(
            json!({ "workflow": wf.name, "dry_run": true, "inputs": inputs, "steps": plan }),
            text,
            exit::OK,
        ));
    }
    let (definition, definition_hash) = snapshot(&loaded.workflow);
    let started = RunStarted {
        kind: RunKind::Workflow,
        name: loaded.workflow.name.clone(),
        definition,
        definition_hash,
        source: loaded.entry.display_path(),
        inputs,
        // The journal finds the secret inputs, keeps their values and records `***`.
        secret_inputs: Vec::new(),
        secret_defaults: Vec::new(),
        config: loaded.config.clone(),
        agents: loaded.agents.commands.clone(),
        claude: loaded.agents.claude.clone(),
        parent: None,
        uses: loaded.uses.clone(),
        working_dir: ctx.cwd.display().to_string(),
        driver: driver(),
        by: by.clone(),
    };
    let durability = loaded.config.durability;
    super::drive::start_run(ctx, durability, started, Vec::new(), by, how, live)
        .map_err(|e| again.on_busy(ctx, e))
}

/// `by` scrubbed of the values of `workflow`'s secret inputs among `inputs` (given with
/// `--input`, from `CORTEX_INPUT_<NAME>`, or a secret default), before the run's lock is
/// taken (`context::with_secrets_scrubbed`).
pub(super) fn secret_values_scrubbed(
    by: Operator,
    workflow: &Workflow,
    inputs: &BTreeMap<String, serde_json::Value>,
) -> Operator {
    let secret = secret_inputs(workflow);
    let values: Vec<String> = inputs
        .iter()
        .filter(|(name, _)| secret.contains(*name))
        .map(|(_, value)| crate::execute::input_text(value))
        .collect();
    super::context::with_secrets_scrubbed(by, values.iter().map(String::as_str))
}

/// The declared type of each input of the workflow or scenario `name` would start, if it
/// loads (else the run itself says what is wrong): the MCP server reads a JSON number for an
/// input by it.
pub fn input_types(
    ctx: &Ctx,
    kind: RunKind,
    name: &str,
) -> Option<BTreeMap<String, crate::definition::InputType>> {
    let inputs = match kind {
        RunKind::Workflow => load(ctx, name).ok()?.workflow.inputs,
        RunKind::Scenario => {
            let entry = ctx.catalog().find_scenario(name).ok()?;
            super::scenario::check(ctx, &entry)
                .ok()?
                .as_workflow()
                .inputs
        }
    };
    Some(inputs.into_iter().map(|(k, spec)| (k, spec.kind)).collect())
}

/// The typed values of a run's inputs (a workflow's, or a scenario's as a workflow), checked
/// before anything is recorded: every problem at once, exit 2. A secret input may come from
/// the environment (`CORTEX_INPUT_<NAME>`), out of sight of `ps`.
pub fn run_inputs(
    ctx: &Ctx,
    workflow: &Workflow,
    given: &[(String, String)],
) -> Result<BTreeMap<String, serde_json::Value>, CommandError> {
    run_inputs_of(ctx, workflow, None, given)
}

/// `run_inputs`, and with `uses` (the workflows the run's `uses:` steps run, as `load` found
/// them) what its child runs need of those inputs, in the same check and the same error
/// (`children_input_problems`): before, a run given its own inputs started, did its first
/// steps, and failed at the `uses:` step whose child lacked one (`--input n` missing), and a
/// run missing its own was told only of those.
fn run_inputs_of(
    ctx: &Ctx,
    workflow: &Workflow,
    uses: Option<&BTreeMap<String, UsedWorkflow>>,
    given: &[(String, String)],
) -> Result<BTreeMap<String, serde_json::Value>, CommandError> {
    super::refuse_placeholders(ctx, given, "input")?;
    let mut given = given.to_vec();
    for name in secret_inputs(workflow) {
        if !given.iter().any(|(n, _)| *n == name)
            && let Some(value) = secret_input_from_env(&name)
        {
            given.push((name, value));
        }
    }
    let cwd = ctx.cwd.clone();
    let surface = ctx.surface;
    let value = match surface {
        super::Surface::Cli => "VALUE",
        _ => "\"...\"",
    };
    let give = |name: &str| surface.give("input", &[name], value);
    let exists = |p: &str| cwd.join(p).exists();
    let children = |inputs: &BTreeMap<String, serde_json::Value>| {
        let mut problems = Vec::new();
        if let Some(uses) = uses {
            let origin = workflow
                .inputs
                .keys()
                .map(|n| (n.clone(), BTreeSet::from([n.clone()])))
                .collect();
            let at = ChildCheck {
                uses,
                give: &give,
                top: workflow,
            };
            at.check(workflow, inputs, &origin, &cwd, &[], &mut problems);
        }
        problems
    };
    let resolved = crate::validate::resolve_inputs_giving(&workflow.inputs, &given, &exists, &give)
        .and_then(|inputs| {
            let problems = children(&inputs);
            if problems.is_empty() {
                Ok(inputs)
            } else {
                Err(problems)
            }
        })
        .map_err(|mut problems| {
            // The run's own inputs refused: its children are checked with those that
            // pass, so that one error says all that is needed.
            if !problems.iter().any(|p| p.starts_with(CHILD_PROBLEM)) {
                let partial: BTreeMap<String, serde_json::Value> = workflow
                    .inputs
                    .iter()
                    .filter_map(|(name, spec)| {
                        let one = BTreeMap::from([(name.clone(), spec.clone())]);
                        let mine: Vec<(String, String)> =
                            given.iter().filter(|(n, _)| n == name).cloned().collect();
                        crate::validate::resolve_inputs_giving(&one, &mine, &exists, &give).ok()
                    })
                    .flatten()
                    .collect();
                problems.extend(children(&partial));
            }
            problems
        });
    resolved.map_err(|problems| {
        // A problem quotes the value (`\`x\` does not match the pattern`): never a secret's,
        // which would reach a terminal, a CI log, a scheduled run's record.
        let mut secrets = crate::execute::Redactor::of_process();
        let secret = secret_inputs(workflow);
        given
            .iter()
            .filter(|(n, _)| secret.contains(n))
            .for_each(|(_, v)| secrets.add(v));
        let mut problems = scrubbed(&secrets, problems);
        let inputs = problems.len();
        // What pre-validation would find next is said now too (every problem at once, SPEC
        // §4): before, a missing command or file came out only after the inputs were fixed.
        problems.extend(
            crate::execute::check_requires(&workflow.requires, &cwd)
                .into_iter()
                .map(|p| format!("and before it can start: {p}")),
        );
        CommandError::bad_input(format!(
            "the inputs of `{}` are not valid ({inputs} problem{}{})",
            workflow.name,
            if inputs == 1 { "" } else { "s" },
            match problems.len() - inputs {
                0 => String::new(),
                n => format!(
                    ", and {n} prerequisite{} unmet",
                    if n == 1 { "" } else { "s" }
                ),
            }
        ))
        .listing(&problems)
    })
}

/// What a dry run of a new run of `wf` shows besides its actions: its inputs (a secret one as
/// `***`) and what each step would run with, by step name (its directory under `base`, the
/// run's: where `run` is called).
/// How a problem of a child run's inputs begins (`ChildCheck`): `workflow `…` (run by step …`.
const CHILD_PROBLEM: &str = "workflow `";

/// What the run's child runs need of its inputs (`run_inputs_of`): each `uses:` step without
/// `if:` or `foreach:` whose `with:` values read only the run's inputs (literals and
/// `${{ inputs.X }}`, none secret; no step output, no item) gives its child the values they
/// render to — an entry that is one template of an input not given gives nothing
/// (`execute::given_value`, as the child is started) — checked as `workflow run` checks a
/// run's, and so on down the child's own `uses:` steps with the inputs it then has. Each
/// problem names where it is needed (`workflow `kid` (run by step `k`)`, deeper `… (run by step
/// `g` of `mid`, run by step `k`)`) and, where the value comes from inputs of the run, which
/// of them to give.
struct ChildCheck<'a> {
    uses: &'a BTreeMap<String, UsedWorkflow>,
    give: &'a dyn Fn(&str) -> String,
    top: &'a Workflow,
}

impl ChildCheck<'_> {
    #[allow(clippy::too_many_arguments)]
    fn check(
        &self,
        wf: &Workflow,
        inputs: &BTreeMap<String, serde_json::Value>,
        origin: &BTreeMap<String, BTreeSet<String>>,
        base: &std::path::Path,
        chain: &[(String, String)],
        out: &mut Vec<String>,
    ) {
        use crate::definition::template::{Reference, render_text, scan};
        // Deeper than validation lets a chain go: nothing more to check.
        if chain.len() > 16 {
            return;
        }
        let secret = secret_inputs(wf);
        let resolve = |r: &Reference| match r {
            Reference::Input(n) => inputs.get(n).map(crate::execute::input_text),
            _ => None,
        };
        for step in &wf.steps {
            let Some(used) = step.uses.as_deref().and_then(|u| self.uses.get(u)) else {
                continue;
            };
            let read_inputs = |text: &str| -> Option<BTreeSet<String>> {
                scan(text)
                    .iter()
                    .map(|o| match &o.reference {
                        Ok(Reference::Input(n)) if !secret.contains(n) => Some(n.clone()),
                        _ => None,
                    })
                    .collect()
            };
            if step.if_.is_some()
                || step.foreach.is_some()
                || step.with.values().any(|v| read_inputs(&v.0).is_none())
            {
                continue;
            }
            let Ok(child) = serde_json::from_value::<Workflow>(used.definition.clone()) else {
                continue;
            };
            let mut chain = chain.to_vec();
            chain.push((step.name.clone(), child.name.clone()));
            let label = where_needed(&chain, &self.top.name);
            let dir = match &step.working_dir {
                Some(dir) => base.join(render_text(dir, &resolve)),
                None => base.to_path_buf(),
            };
            let mut theirs = BTreeMap::new();
            let mut their_origin = BTreeMap::new();
            let before = out.len();
            for (name, spec) in &child.inputs {
                let entry = step.with.get(name);
                let from: BTreeSet<String> = entry
                    .and_then(|v| read_inputs(&v.0))
                    .unwrap_or_default()
                    .iter()
                    .flat_map(|n| origin.get(n).cloned().unwrap_or_default())
                    .collect();
                let given: Vec<(String, String)> = entry
                    .and_then(|v| crate::execute::given_value(&v.0, &resolve))
                    .map(|v| vec![(name.clone(), v)])
                    .unwrap_or_default();
                let names: Vec<&str> = from.iter().map(String::as_str).collect();
                let give = |_: &str| {
                    if names.is_empty() {
                        format!(
                            "give it in the `with:` of step `{}`",
                            crate::definition::shown(&step.name)
                        )
                    } else {
                        names
                            .iter()
                            .map(|n| (self.give)(n))
                            .collect::<Vec<_>>()
                            .join(" ")
                    }
                };
                let one = BTreeMap::from([(name.clone(), spec.clone())]);
                match crate::validate::resolve_inputs_giving(
                    &one,
                    &given,
                    &|p| dir.join(p).exists(),
                    &give,
                ) {
                    Ok(value) => {
                        theirs.extend(value);
                        their_origin.insert(name.clone(), from);
                    }
                    Err(problems) => {
                        let came = if given.is_empty() || from.is_empty() {
                            String::new()
                        } else {
                            format!(
                                " (given from the run's input{} {})",
                                if from.len() == 1 { "" } else { "s" },
                                from.iter()
                                    .map(|n| format!("`{}`", crate::definition::shown(n)))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        };
                        out.extend(problems.into_iter().map(|p| format!("{label}: {p}{came}")));
                    }
                }
            }
            if out.len() == before {
                self.check(&child, &theirs, &their_origin, &dir, &chain, out);
            }
        }
    }
}

/// Where a child run's input is needed: `workflow `kid` (run by step `k`)`, and down a chain
/// `workflow `leaf` (run by step `l` of `mid`, run by step `m`)`.
fn where_needed(chain: &[(String, String)], top: &str) -> String {
    let shown = crate::definition::shown;
    let Some(((step, child), above)) = chain.split_last() else {
        return format!("workflow `{}`", shown(top));
    };
    let mut text = format!(
        "{CHILD_PROBLEM}{}` (run by step `{}`",
        shown(child),
        shown(step)
    );
    // Each step above runs the workflow that holds the step below it.
    for (step, of) in above.iter().rev() {
        text.push_str(&format!(
            " of `{}`, run by step `{}`",
            shown(of),
            shown(step)
        ));
    }
    text.push(')');
    text
}

/// What each step of a new run of `wf` would run with (its prompt rendered as far as known
/// before the run), and the inputs as the plan shows them (a secret one `***`). `noun`:
/// `step`, or `phase` for a scenario's `as_workflow`.
pub(super) fn preview_settings(
    wf: &Workflow,
    inputs: &BTreeMap<String, serde_json::Value>,
    base: &std::path::Path,
    noun: &str,
) -> (
    BTreeMap<String, serde_json::Value>,
    BTreeMap<String, Setting>,
) {
    let secret = secret_inputs(wf);
    let shown = shown_inputs(inputs, &|name| secret.contains(name));
    let resolve = |r: &crate::definition::template::Reference| input_value(&shown, r);
    let settings = wf
        .steps
        .iter()
        .map(|step| {
            let setting = step_setting(
                step,
                base,
                &resolve,
                &crate::execute::is_secret_env,
                &crate::execute::is_secret_name,
            );
            let mut setting = commands_shown(setting, step, None, &resolve);
            // A prompt is shown rendered (SPEC §7), as status shows it: a value not known
            // before the run (another step's output, an item) as a marker saying so, never
            // the raw `${{ ... }}`.
            setting.prompt = step.prompt.as_ref().map(|text| {
                crate::render::render_prompt(text, noun == "phase", &resolve, &|r| {
                    crate::render::not_known_before_the_run(r, &step.name, noun)
                })
            });
            (step.name.clone(), setting)
        })
        .collect();
    (shown, settings)
}

/// The value of an input template among a plan's `shown` inputs (a secret one `***`); any
/// other template has none yet.
pub(super) fn input_value(
    shown: &BTreeMap<String, serde_json::Value>,
    r: &crate::definition::template::Reference,
) -> Option<String> {
    match r {
        crate::definition::template::Reference::Input(name) => {
            shown.get(name).map(crate::execute::input_text)
        }
        _ => None,
    }
}

/// `setting` with its `run:` and `rollback:` commands as they would run, as `orchestrate
/// preview` shows them (`render::shown_command`: a known value written as the shell reads the
/// value it is given, a secret `***`, one not known yet as written); a scenario's `phase` its
/// commands one per line, not the `set -e` script they run as.
fn commands_shown(
    mut setting: Setting,
    step: &crate::definition::Step,
    phase: Option<&crate::definition::Phase>,
    resolve: &dyn Fn(&crate::definition::template::Reference) -> Option<String>,
) -> Setting {
    let show = |command: &str| crate::render::shown_command(command, resolve);
    setting.run = match phase {
        Some(phase) => phase.run.as_ref().map(|c| {
            c.list()
                .iter()
                .map(|command| show(command))
                .collect::<Vec<_>>()
                .join("\n")
        }),
        None => step.run.as_deref().map(show),
    };
    setting.rollback = step.rollback.as_deref().map(show);
    setting
}

/// What step (or unit) `name` of the run in `state` would run with if resumed: templates
/// resolved with its inputs (a secret one is `***` in the log) and the outputs recorded so far.
fn resumed_setting(state: &crate::decide::RunState, name: &str) -> Option<Setting> {
    let index = state.step_index(name)?;
    let step = state.workflow.as_ref()?.steps.get(index)?;
    let base = std::path::PathBuf::from(&state.start.as_ref()?.working_dir);
    let resolve =
        |r: &crate::definition::template::Reference| state.template_value_in(r, Some(index));
    let setting = step_setting(
        step,
        &base,
        &resolve,
        &crate::execute::is_secret_env,
        &crate::execute::is_secret_name,
    );
    let phase = state
        .scenario
        .as_ref()
        .and_then(|sc| sc.phases.iter().find(|p| p.name == step.name));
    let mut setting = commands_shown(setting, step, phase, &resolve);
    // Its prompt as status shows it: a value not given yet as a marker saying so.
    setting.prompt = step
        .prompt
        .as_ref()
        .map(|text| state.render_prompt_in(text, index));
    Some(setting)
}

/// `problems` with every secret `secrets` knows replaced by `***`.
fn scrubbed(secrets: &crate::execute::Redactor, problems: Vec<String>) -> Vec<String> {
    problems
        .into_iter()
        .map(|p| secrets.redact(&p).into_owned())
        .collect()
}

/// `workflow status [RUN] [--at SEQ]` (and `orchestrate status`, with its scope): the status
/// document of a run, now or as of an event.
pub fn status(
    ctx: &Ctx,
    scope: Scope,
    run: Option<&str>,
    at: Option<u64>,
) -> Result<Output, CommandError> {
    let Some(store) = ctx.reading_store()? else {
        return Err(ctx.no_runs(scope, run));
    };
    let run_id = ctx.resolve_run_at(&store, scope, run, at)?;
    if at.is_none() {
        // The leases first, then the log: a unit the log still shows running whose lease is
        // gone or lapsed is then orphaned, not finished in between (`with_leases`). Without
        // them (a log that cannot say), nothing is said of leases.
        let leases = store.leases(Some(&run_id)).ok();
        // The present: from the latest snapshot plus the events after it.
        // What it reads is checked as it is read (the events after the snapshot, chained to
        // it, and the index's head): a run whose log does not verify is said to be so.
        let (mut state, alive, problem) =
            crate::execute::load_live_checked(&ctx.home, &store, &run_id)?;
        state.run_id = run_id.clone();
        // The cache is written, where the log can be written, only when a snapshot is due.
        if crate::execute::snapshot_due(&store, &state)
            && let Ok(Some(mut writable)) = ctx.existing_store()
        {
            crate::execute::maybe_snapshot(&mut writable, &state);
        }
        // Its notifications: a line each above the Next block (what to do comes last),
        // `notifications` in the document, and the resume that delivers those still due
        // when nobody does (`notify::shown`, as the driver's own answer shows them).
        let shown = super::notify::shown(
            ctx,
            &store,
            &state,
            alive,
            &crate::execute::Redactor::of_run(&state),
        )?;
        let deliver = shown.deliver.clone();
        let mut output = status_output(
            ctx,
            &state,
            alive,
            None,
            Some((&store, leases.as_deref())),
            &shown.output.human.clone(),
            Some(problem.as_ref()),
            deliver,
        );
        shown.into_doc(&mut output.json);
        // Its Next commands record: on a log this process cannot write they would fail,
        // so it says so (the suggestions stay: they are what is next, from where it can).
        let suggests = output.json["next"]
            .as_array()
            .is_some_and(|n| !n.is_empty());
        if suggests && let Some(path) = ctx.read_only_log() {
            output = output.warn(vec![format!(
                "the event log {} cannot be written by this user: the commands under Next record, so they work only where it can be written",
                path.display()
            )]);
        }
        return Ok(output);
    }
    let seq = at.unwrap_or(u64::MAX);
    // The past: the log replayed from its start to SEQ, that prefix checked as it is read (as
    // the present's read is), so a view of a changed event says so.
    let (mut state, verifier, last, events) =
        crate::execute::load_state_upto_checked(&store, &run_id, seq)?;
    if seq >= events {
        return Err(CommandError::bad_input(format!(
            "run {run_id} has {events} events (seq 0 to {}); event {seq} is past its end",
            events.saturating_sub(1)
        ))
        // Every other refusal of `status` says where to go; this one said nothing.
        .hint(format!(
            "{} lists its events, each by its seq",
            ctx.cmd(&["log", "show", &run_id])
        )));
    }
    state.run_id = run_id.clone();
    let as_of = last.map(|(seq, time)| crate::project::AsOf { seq, time });
    // Whether a driver was at work on it then, as the status now would say at that event.
    let driven = driven_at(ctx, &store, &state, seq, events)?;
    Ok(status_output(
        ctx,
        &state,
        driven,
        as_of.as_ref(),
        None,
        "",
        Some(verifier.first_bad()),
        None,
    ))
}

/// Whether a driver was at work on the run at event `seq` (`state` is the run as of it; the
/// log holds `events`), for `status --at SEQ`: the status then is the one `status` gave at
/// that event. At the head, what `status` says now (the same live driver, or none). Before
/// it, what the log proves: an attempt (or check, or compensation) was in hand, which a driver
/// had started; or a driver went on from there — the next event that is no follow-on of this
/// one (a checkpoint, an output) is one a driver writes of its own, not an operator's action
/// nor a resume taking the run over. Before, every past event was taken as driven: a run
/// that a `--no-drive` report left for nobody to drive was `waiting` in `status` and
/// `running` in `status --at` of the same (head) event.
fn driven_at(
    ctx: &Ctx,
    store: &dyn EventStore,
    state: &crate::decide::RunState,
    seq: u64,
    events: u64,
) -> Result<bool, CommandError> {
    if seq.saturating_add(1) >= events {
        return Ok(crate::execute::run_holder(&ctx.home, store, state).is_some());
    }
    if state.work_in_hand() {
        return Ok(true);
    }
    use crate::event::Event;
    let mut from = seq + 1;
    loop {
        let page = store.read_run_page(&state.run_id, from, 16)?;
        let Some(last) = page.last() else {
            return Ok(false);
        };
        from = last.seq + 1;
        for rec in &page {
            match &rec.event {
                Event::CheckpointSaved { .. }
                | Event::OutputRecorded { .. }
                | Event::NotificationDelivered { .. }
                | Event::AttemptLog { .. }
                | Event::CriterionMet { by: None, .. } => continue,
                Event::RunStopped { .. } => return Ok(false),
                event => return Ok(event.operator().is_none()),
            }
        }
    }
}

/// A run's status document and screen (a scenario's in its own screen), as of `at` if given;
/// with the log (`present`), what its waiting `uses:` steps wait on down their child runs and,
/// given the run's leases read before the log, which of its claimed units are orphaned;
/// `notes` (lines) go last before the Next block, which ends the screen; `deliver`: the resume
/// that delivers notifications still due, among the suggestions.
#[allow(clippy::too_many_arguments)]
pub fn status_output(
    ctx: &Ctx,
    state: &crate::decide::RunState,
    alive: bool,
    at: Option<&crate::project::AsOf>,
    present: Option<(&dyn EventStore, Option<&[crate::store::Lease]>)>,
    notes: &str,
    checked: Option<Option<&crate::store::BadEvent>>,
    deliver: Option<crate::project::Suggestion>,
) -> Output {
    let mut view = match present {
        Some((store, Some(leases))) => {
            crate::execute::with_run_leases(ctx.view_with_children(state, alive, store), leases)
        }
        Some((store, None)) => ctx.view_with_children(state, alive, store),
        None => ctx.view(state, alive),
    };
    // The resume that delivers the notifications still due: first, or said of the plain
    // resume already suggested.
    super::notify::Shown::suggest(deliver, &mut view.next);
    // Held by the driver its log names, alive on this host, with no lock in this home and no
    // lease (a log copied from under its driver, a driver of another home): its running steps
    // name it, as `resume` does when it refuses — never shown as nobody's.
    if alive
        && at.is_none()
        && let Some((store, _)) = present
        && crate::execute::live_lock(&ctx.home, store, &state.run_id).is_none()
        && crate::execute::driven_elsewhere(store, &state.run_id).is_none()
        && let Some(holder) = crate::execute::run_holder(&ctx.home, store, state)
    {
        for s in &mut view.steps {
            if s.status == StepStatus::Running && s.worker.is_none() {
                s.worker = Some(format!(
                    "driver {} (the process its log names; its lock is not in this home)",
                    crate::decide::process_on(holder.pid, &holder.host)
                ));
            }
        }
    }
    // The past stays in the past: times end at that event, and nothing is to be done.
    let mut now = SystemTime::now();
    if let Some(rec) = at {
        view.next.clear();
        // What a report on a waiting step was to give is a suggestion too ("Report with:",
        // "Later steps use:"): none in the past. What its gate runs is a fact, and stays.
        for s in &mut view.steps {
            s.required_outputs.clear();
            s.expected_outputs.clear();
            if let Some(w) = s.uses.as_mut().and_then(|u| u.waits_on.as_mut()) {
                w.required_outputs.clear();
                w.expected_outputs.clear();
            }
        }
        view.as_of = Some(rec.clone());
        if let Ok(t) = humantime::parse_rfc3339(&rec.time) {
            now = t;
        }
    }
    // Whether what was read verified: a run whose log does not is one cortex will not act on
    // (a driver's replay refuses it), so nothing is suggested but the check that says where
    // it breaks, and a warning says why.
    let mut warning = String::new();
    match checked {
        None => {}
        Some(None) => view.verified = Some(true),
        Some(Some(bad)) => {
            view.verified = Some(false);
            view.unverified = Some(crate::project::Unverified {
                seq: bad.seq,
                reason: bad.reason.clone(),
            });
            let mut argv = vec!["cortex".to_string()];
            argv.extend(ctx.globals());
            argv.extend(["log".into(), "verify".into(), state.run_id.clone()]);
            view.next = vec![crate::project::Suggestion {
                argv,
                why: format!(
                    "its log does not verify (event #{}: {}): cortex will not act on it until the log is restored; this says where it breaks",
                    bad.seq, bad.reason
                ),
                fill: Vec::new(),
            }];
            warning = format!(
                "\n⚠ This run's log does not verify: event #{}: {}. The run is shown as its log says; cortex will not act on it.\n",
                bad.seq, bad.reason
            );
        }
    }
    let next = std::mem::take(&mut view.next);
    let mut text = if state.is_scenario() {
        crate::render::render_scenario_status(&view, now)
    } else {
        render_status(&view, now)
    };
    text.push_str(notes);
    text.push_str(&warning);
    text.push_str(&crate::render::render_next(&next));
    view.next = next;
    Output::new(view.to_json(), text, exit::OK)
}

/// What `resume` was asked to do.
pub struct ResumeArgs<'a> {
    pub mode: ResumeMode,
    /// Values of secret inputs, given again.
    pub inputs: &'a [(String, String)],
    pub dry_run: bool,
    /// `--timeout`: the run's time limit from now on.
    pub timeout: Option<&'a str>,
    /// `--notify-only`: deliver the notifications still due (a driver died before delivering
    /// them) and nothing else — a run paused on a failure is not gone on with (a plain resume
    /// of it runs the failed step again).
    pub notify_only: bool,
    /// `--submit`: record the resume and leave the run to `cortex worker`s, returning at once
    /// (as `run --submit` leaves a new run), instead of driving it here.
    pub submit: bool,
}

/// `workflow resume` (and `orchestrate resume`, with its scope): go on with a run, or say
/// why there is nothing to do; with `dry_run`, the plan, recording nothing.
pub fn resume(
    ctx: &Ctx,
    scope: Scope,
    run: Option<&str>,
    args: ResumeArgs<'_>,
    by: Operator,
    live: &mut Live<'_>,
) -> Result<Output, CommandError> {
    // Refused for a busy log: the same resume again (`Retry`).
    let again = super::Retry::on_run(scope, run, &["resume"])
        .operand_if(run)
        .flags(mode_flags(&args.mode))
        .inputs(args.inputs)
        .option("--timeout", args.timeout)
        .switch("--notify-only", args.notify_only)
        .switch("--submit", args.submit)
        .by(&by);
    resume_run(ctx, scope, run, args, by, live).map_err(|e| again.on_busy(ctx, e))
}

/// `resume`, once.
fn resume_run(
    ctx: &Ctx,
    scope: Scope,
    run: Option<&str>,
    args: ResumeArgs<'_>,
    by: Operator,
    live: &mut Live<'_>,
) -> Result<Output, CommandError> {
    let ResumeArgs {
        mut mode,
        inputs,
        dry_run,
        timeout,
        notify_only,
        submit,
    } = args;
    super::refuse_placeholders(ctx, inputs, "input")?;
    // `--input` gives again only secret inputs (any other is refused): their values are
    // scrubbed from the actor before the run's lock names it.
    let by = super::context::with_secrets_scrubbed(by, inputs.iter().map(|(_, v)| v.as_str()));
    // Flags are checked before anything, a dry run included.
    let args_timeout = timeout;
    let timeout = timeout.map(|t| run_timeout_seconds(ctx, t)).transpose()?;
    // A dry run only reads. So does the resume of a finished run (SPEC §4: it changes
    // nothing): on a log that cannot be written (a read-only home, a read-only database) it is
    // answered from the log read only; any other resume meets the error then. Before, it
    // failed (exit 1, "the event log is read-only").
    let (opened, mut read_only) = match dry_run {
        true => (ctx.reading_store()?, None),
        false => ctx.changing_store()?,
    };
    let Some(mut store) = opened else {
        return Err(ctx.no_runs(scope, run));
    };
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    let run_id = ctx.resolve_run(&store, scope, run)?;
    // A child (`uses:`) whose parents were interrupted with it (their driver, which drove the
    // whole tree, died): the topmost of them is resumed, which carries the child on where its
    // step left it and every parent after it — as a report on a child carries its parents on.
    // Before, the child alone completed and its parents stayed interrupted. Only a plain
    // resume: `--retry`, `--skip`, `--from`, `--rollback-to` and `--input` speak of the child.
    // A dry run says the same: the plan is the root's, naming the chain down to this run
    // (before, it showed the child's plan alone, which is not what `resume` does).
    if (dry_run || read_only.is_none())
        && mode == ResumeMode::Continue
        && inputs.is_empty()
        && !notify_only
        && let Some((root, chain)) = interrupted_root(ctx, &*store, &run_id)
    {
        drop(store);
        if !dry_run {
            live.observer.note(&format!(
                "Run {run_id} is a `uses:` child of run {root}, interrupted with it: resuming {root}, which carries {run_id} on.\n"
            ));
        }
        let mut out = resume_run(
            ctx,
            Scope::any(),
            Some(&root),
            ResumeArgs {
                mode,
                inputs,
                dry_run,
                timeout: args_timeout,
                notify_only,
                submit,
            },
            by,
            live,
        )?;
        if dry_run {
            let through = chain.join(" → ");
            out.human = format!(
                "Run {run_id} is a `uses:` child of run {root}, interrupted with it: `resume` resumes {root}, which carries {run_id} on ({through}).\n\n{}",
                out.human
            );
            if let Some(doc) = out.json.as_object_mut() {
                doc.insert("asked".into(), json!(run_id));
                doc.insert("through".into(), json!(chain));
            }
        }
        return Ok(out);
    }
    let durability = {
        let mut journal = Journal::open(&mut store, &clock, &mut ids, &run_id)?;
        // A step (or phase) named by `--from` or `--rollback-to` is checked first: a misspelt
        // one is said even of a finished run, with the names there are.
        // Matched forgivingly, as every name given to a command: the real name is recorded.
        mode = resolve_unit(ctx, &journal.state, mode)?;
        // Read only: only a finished run is answered, changing nothing (and `--notify-only`
        // with nothing due).
        if let Some(e) = read_only.take_if(|_| journal.state.outcome().is_none() && !notify_only) {
            return Err(e);
        }
        let outcome = journal.state.outcome();
        // `--notify-only` of a run a live driver holds: held, as a plain `resume` is (exit 4).
        // Before, the run was said `interrupted` ("its driver is gone") with `resume` and
        // `abort` suggested, while its driver ran it (the view took no driver for alive).
        if notify_only && outcome.is_none() {
            if let Some(holder) = DriverLock::probe(&ctx.home, &run_id) {
                return Err(crate::execute::LockError::Held {
                    run_id: run_id.clone(),
                    holder: Some(holder),
                }
                .into());
            }
            // Held by a driver's lease (another home or host): said as a driver does it.
            let leased = journal
                .nested(|store, _, _| store.leases(Some(&run_id)))
                .unwrap_or_default()
                .into_iter()
                .find(|l| l.unit == crate::store::DRIVER_UNIT && !crate::execute::holder_gone(l));
            if let Some(lease) = leased {
                return Err(super::drive::driven_by(ctx, &journal, &lease));
            }
        }
        if notify_only || outcome.is_some() {
            // What the run is, said first: finished, or (`--notify-only`) as its status says.
            let was = match outcome {
                Some(outcome) => format!("already finished ({})", outcome.as_str()),
                None => format!("({})", ctx.view(&journal.state, false).status.as_str()),
            };
            // Nothing to run, but derived files deleted by hand are rebuilt from the log
            // (where the home can be written; a run not finished is its drivers' to write).
            let warnings = (read_only.is_none() && outcome.is_some())
                .then(|| materialize(&ctx.home, &journal.state))
                .and_then(Result::err)
                .map(|e| format!("could not write derived files: {e}"))
                .into_iter()
                .collect();
            let view = ctx.view(&journal.state, false);
            // Its notifications still due (its driver died delivering them): this process
            // delivers them, holding the run's lock as a driver would.
            let state = journal.state.clone();
            let pending = journal
                .nested(|store, _, _| super::notify::pending(&*store, &state))
                .unwrap_or_default();
            if let Some(e) = read_only.take_if(|_| !pending.is_empty()) {
                // Its notifications are delivered and recorded by a process that can write.
                return Err(e);
            }
            if !pending.is_empty() {
                // A notification reading a secret input (`webhook: ${{ inputs.hook }}`) is
                // delivered only with its value given again: without it, the delivery would be
                // used up on an unknown input, never to be made.
                crate::execute::inherit_secret_inputs(&mut journal);
                if let Some(w) = take_secret_inputs(ctx, &mut journal, inputs)? {
                    live.observer.warn(&w);
                }
                let redactor = journal.redactor.clone();
                drop(journal);
                let what = crate::render::count(pending.len(), "notification");
                if dry_run {
                    let text = format!(
                        "Run {run_id} {was}; {what} still due, not delivered (its driver ended first): `resume{}` without --dry-run delivers them.\n",
                        if notify_only { " --notify-only" } else { "" }
                    );
                    return Ok(Output::new(view.to_json(), text, view.status.exit_code()));
                }
                // One reading a secret input or a variable this process lacks: refused rather
                // than used up (recorded not delivered, never due again), naming the command
                // that delivers them given it: `--notify-only` kept (without it, a resume of a
                // run paused on a failure would run the failed step again).
                let how: Vec<String> = match notify_only {
                    true => vec!["--notify-only".into()],
                    false => Vec::new(),
                };
                let deliverable = super::notify::deliverable(&state, &redactor, &pending)
                    .map_err(|lacking| lacking_refused(ctx, &run_id, &state, &lacking, &how))?;
                let lock = DriverLock::acquire(&ctx.home, &run_id, &holder(&by.actor))?;
                let mut warnings: Vec<String> = warnings;
                warnings.extend(deliverable.deliver(ctx));
                drop(lock);
                let rest = match outcome {
                    Some(_) => "",
                    None => {
                        " Nothing else was done: `resume` without --notify-only goes on with the run."
                    }
                };
                // A process that lives on (`cortex serve`) hands them to its background
                // deliverer: they are under way when it answers, not made yet.
                let sent = match ctx.deliveries {
                    super::context::Deliveries::Background(_) => "being sent now",
                    _ => "sent now",
                };
                let text = format!(
                    "Run {run_id} {was}; the {what} still due (not delivered by the process that left the run there) {sent}: its status lists how each went.{rest}\n   Head hash: {}\n",
                    view.head_hash
                );
                let code = view.status.exit_code();
                let mut out = Output::new(view.to_json(), text, code);
                // What came of them, in the document as `status` gives it (`notifications`,
                // and `notifications_pending` for those still under way): the answer of every
                // front end (CLI `--json`, MCP, the API) says what was delivered.
                let mut delivered = Output::new(json!({}), String::new(), exit::OK);
                if let Ok(store) = ctx.store(crate::definition::Durability::Normal) {
                    let _ = super::notify::add_deliveries(
                        &*store,
                        &run_id,
                        Some(super::notify::StillDue {
                            state: &state,
                            resume_with: None,
                            cut_short: &[],
                        }),
                        &mut delivered,
                    );
                }
                for key in ["notifications", "notifications_pending"] {
                    if let (Some(map), Some(docs)) =
                        (out.json.as_object_mut(), delivered.json.get_mut(key))
                    {
                        map.insert(key.into(), docs.take());
                    }
                }
                if let Some(map) = out.json.as_object_mut() {
                    map.insert(
                        "note".into(),
                        format!("run {run_id} {was}; the {what} still due {sent}").into(),
                    );
                }
                return Ok(out.warn(warnings));
            }
            if outcome.is_none() {
                // `--notify-only` with nothing due: nothing is done.
                let text = format!(
                    "Run {run_id} {was}; no notification is due, so nothing was done.\n   Head hash: {}\n",
                    view.head_hash
                );
                let code = view.status.exit_code();
                return Ok(Output::new(view.to_json(), text, code).warn(warnings));
            }
            let mut text = format!(
                "Run {run_id} {was}; nothing to do.\n   Head hash: {}\n",
                view.head_hash
            );
            // Said in the document too (SPEC §4: "changes nothing, says so"): before, `--json`
            // and the MCP `resume` tool returned the plain status of the finished run, and a
            // `--from` asked for was dropped without a word.
            let mut json = view.to_json();
            json["note"] =
                format!("run {run_id} {was}; nothing to do, nothing was recorded").into();
            let mut warnings = warnings;
            warnings.extend(unapplied_on_finished(ctx, &view, &mode));
            // The latest run, taken for want of a RUN: the runs that wait or were cut short
            // are named, each with its command (an older run is what was meant, likely).
            if let Some(name) = looked_up_by(run, &run_id) {
                let state = journal.state.clone();
                let others = journal.nested(|store, _, _| {
                    other_open_runs(ctx, &*store, scope, &state.run_id, name)
                });
                text.push_str(&others_text(ctx, &others));
                others_in_json(ctx, &others, &mut json);
            }
            let code = view.status.exit_code();
            return Ok(Output::new(json, text, code).warn(warnings));
        }
        if dry_run {
            // The values given are checked as the resume itself checks them (secret inputs
            // only, of their type, the values the run started with): a dry run that passes
            // says the resume would take them.
            let unchecked = take_secret_inputs(ctx, &mut journal, inputs)?;
            // A `uses:` step's plan depends on its child run as its log says now.
            let links: Vec<crate::decide::ChildLink> = journal
                .state
                .steps
                .iter()
                .filter_map(|s| s.child.clone())
                .collect();
            let children: Vec<crate::decide::RunState> = links
                .iter()
                .filter_map(|link| {
                    journal.nested(|store, _, _| {
                        let mut c = crate::execute::fold_log(
                            &*store,
                            &link.run_id,
                            0,
                            crate::decide::RunState::default(),
                        )
                        .ok()?;
                        c.run_id = link.run_id.clone();
                        Some(c)
                    })
                })
                .collect();
            // Held by a live driver (its lock, a lease elsewhere, or the driver the log names
            // for a session still open, alive here), by the rule `status` uses: the resume
            // itself would be refused, exit 4 — whatever the mode, so that is said before the
            // run's status is judged (before, `--retry` on a held run that had not failed said
            // there was nothing to retry, exit 2, where the resume itself says it is held).
            let state = journal.state.clone();
            let holder =
                journal.with_leases(|store| crate::execute::run_holder(&ctx.home, store, &state));
            let held = holder.as_ref().map(|h| h.to_string());
            let enable_rollback = ctx.catalog().config().ok().map(|c| c.enable_rollback);
            let plan = preview_resume(&journal.state, mode.clone(), enable_rollback, &|id| {
                children.iter().find(|c| c.run_id == id).cloned()
            })
            .map_err(|e| match (e, &held) {
                (_, Some(holder)) => CommandError::new(
                    exit::HELD,
                    format!(
                        "run {run_id} is driven now by {holder}; `resume` is refused (exit 4) until that driver stops"
                    ),
                )
                .hint(format!(
                    "wait for it, or see it with {}; resume it once its driver stopped",
                    ctx.cmd(&[
                        if state.is_scenario() { "orchestrate" } else { "workflow" },
                        "status",
                        &run_id
                    ])
                )),
                // Its way on (`orchestrate start`, a plain resume), as the resume itself
                // gives it.
                (
                    e @ (crate::decide::DecideError::ManualNotStarted { .. }
                    | crate::decide::DecideError::CannotRetry(_)),
                    None,
                ) => {
                    super::drive::resume_refused(
                        ctx,
                        &journal.state,
                        crate::execute::JournalError::Decide(e),
                    )
                }
                (e, None) => CommandError::bad_input(e.to_string()),
            })?;
            // The log holds a secret input's value as `***` already.
            let state = &journal.state;
            let inputs = state
                .start
                .as_ref()
                .map(|s| s.inputs.clone())
                .unwrap_or_default();
            let plan = with_settings(plan, &|name| resumed_setting(state, name));
            let plan = crate::plan::with_phase_starts(plan, state);
            let mut text = render_plan(&format!("Resume plan for run {run_id}"), &inputs, &plan);
            let code = match &held {
                Some(holder_text) => {
                    // A worker has no terminal or MCP call to stop it by.
                    let how = match holder.as_ref().and_then(|h| h.worker()) {
                        Some((pid, host)) => format!(
                            "wait for it, or drain that worker (`kill -TERM {}` on {host}: it lets what it runs finish and hands its runs back), or stop this run alone with `workflow stop` (resume goes on), or end it for good with `workflow abort`",
                            if pid == 0 { "PID".to_string() } else { pid.to_string() }
                        ),
                        None => "wait for it, or stop it gracefully from any terminal with `workflow stop` (or Ctrl-C in its terminal)".to_string(),
                    };
                    text.push_str(&format!(
                        "\n⏸️  Held: run {run_id} is driven now by {holder_text}; `resume` is refused (exit 4) until that driver stops: {how}\n"
                    ));
                    exit::HELD
                }
                None => exit::OK,
            };
            return Ok(Output::new(
                json!({ "run_id": run_id, "dry_run": true, "inputs": inputs, "steps": plan, "held_by": held }),
                text,
                code,
            )
            .warn(unchecked.into_iter().collect()));
        }
        // A plain resume of a run that only waits on people (a prompt step, a phase to
        // report or start) changes nothing: it records nothing (an agent polling with
        // `resume` would grow the log by a `run_resumed` each time) and says what the run
        // waits for. A resume with anything to change (`--timeout`, `--input`, a mode, a
        // time limit changed in cortex.config.json, an interrupted or paused run) records.
        // A `uses:` unit's child run (and theirs) idle the same way, nobody driving it,
        // leaves its parent idle too.
        let idle = if mode == ResumeMode::Continue && inputs.is_empty() && timeout.is_none() {
            let state = journal.state.clone();
            journal.nested(|store, _, _| idle_waits(ctx, &*store, &state))
        } else {
            None
        };
        if let Some(waits) = idle {
            let state = journal.state.clone();
            let others = match looked_up_by(run, &run_id) {
                Some(name) => journal
                    .nested(|store, _, _| other_open_runs(ctx, &*store, scope, &run_id, name)),
                None => Vec::new(),
            };
            return Ok(journal
                .nested(|store, _, _| nothing_to_resume(ctx, &*store, &state, &waits, &others)));
        }
        // A live driver holds the run: the resume is refused (exit 4) whatever values it is
        // given, so that is said before asking for them (before, exit 2 asked for the
        // secret inputs' values, and giving them met the hold). A lock whose driver's lease
        // lapsed is taken over below, as ever.
        if let Some(h) = DriverLock::probe(&ctx.home, &run_id)
            && !journal.with_leases(|store| {
                store
                    .leases(Some(&run_id))
                    .is_ok_and(|leases| crate::execute::lock_lapsed(&leases, &h))
            })
        {
            return Err(crate::execute::LockError::Held {
                run_id: run_id.clone(),
                holder: Some(h),
            }
            .into());
        }
        // Before anything is recorded: a run with secret inputs cannot go on without them
        // (nor with other values than it started with). Said once, below, under the lock.
        supply_secret_inputs(ctx, &mut journal, inputs, &mode)?;
        // Fixed at `run` (it is in `run_started`): no need to read it again under the lock.
        journal
            .state
            .start
            .as_ref()
            .map_or(Durability::Normal, |s| s.config.durability)
    };
    // Limits can be lifted: the time limit from now on is `--timeout`, else the one in
    // cortex.config.json now, or the longer one a session nobody ended ran under
    // (`RunState::resume_limit`, judged in `go_on` under the lock; recorded in `run_resumed`).
    // So can rollback: `enable_rollback` in cortex.config.json now decides `--rollback-to`.
    // And how Claude Code runs: `agents.claude` now (a fixed program helps this run).
    let file = ctx
        .catalog()
        .config_file()
        .map_err(|e| CommandError::definition(&e))?;
    let config = file.workflow;
    let settings = (
        (timeout, config.timeout_seconds),
        config.enable_rollback,
        file.agents.claude,
    );
    // A driver frozen (SIGSTOP, Ctrl-Z) or cut off past its driver lease holds the lock
    // still: it is broken, the lapsed lease claimed (`drive::hold_driver_lease`), and the
    // old driver fenced by its epoch.
    let lock = DriverLock::take_over(&ctx.home, &run_id, &holder(&by.actor), |old| {
        store
            .leases(Some(&run_id))
            .is_ok_and(|leases| crate::execute::lock_lapsed(&leases, old))
    })?;
    // The run's own configuration decides how hard its appends try.
    store.set_durability(durability)?;
    let mut journal = Journal::open(&mut store, &clock, &mut ids, &run_id)?;
    if let Some(w) = supply_secret_inputs(ctx, &mut journal, inputs, &mode)? {
        live.observer.warn(&w);
    }
    // The notifications of the session this resume ends that its driver died delivering (a
    // run paused on a failure): delivered first, under the lock, else the new session would
    // make them never due again.
    let state = journal.state.clone();
    let late = match journal.nested(|store, _, _| super::notify::pending(&*store, &state)) {
        Ok(pending) if !pending.is_empty() => {
            // One reading what this process lacks is refused here rather than used up
            // (recorded not delivered, and never due again once the new session begins).
            super::notify::deliverable(&state, &journal.redactor, &pending)
                .map_err(|lacking| {
                    lacking_refused(ctx, &run_id, &state, &lacking, &mode_flags(&mode))
                })?
                .deliver(ctx)
        }
        _ => Vec::new(),
    };
    go_on(
        ctx,
        journal,
        lock,
        (
            mode,
            if submit {
                Taker::Submitter
            } else {
                Taker::Operator
            },
        ),
        settings,
        by,
        live,
    )
    .map(|out| out.warn(late))
}

/// `resume --drive-on` (hidden): drive on a run that an operator's start or report, recorded
/// by another process with `--no-drive` (`cortex serve`), left with work and nobody driving
/// it — as that report's own drive goes on (`drive_on_recorded`, after `operator::drive_on`
/// handed it the run): nothing is recorded first, no `run_resumed`. So a report made through
/// the web page records the events its CLI twin records. Before, the page's background driver
/// was a plain `resume`, which recorded a `run_resumed` the CLI's report never did.
pub fn drive_on_reported(
    ctx: &Ctx,
    scope: Scope,
    run: Option<&str>,
    by: Operator,
    live: &mut Live<'_>,
) -> Result<Output, CommandError> {
    use crate::execute::operator::{self, DriveOn};
    let (opened, read_only) = ctx.changing_store()?;
    if let Some(e) = read_only {
        return Err(e);
    }
    let Some(mut store) = opened else {
        return Err(ctx.no_runs(scope, run));
    };
    let run_id = ctx.resolve_run(&store, scope, run)?;
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    let seen = crate::execute::load_state(&store, &run_id)?;
    let kind = seen.start.as_ref().map_or(RunKind::Workflow, |s| s.kind);
    let answer = move |view: &crate::project::StatusView, code: i32| match kind {
        RunKind::Scenario => super::scenario::scenario_output(view, code),
        RunKind::Workflow => {
            Output::new(view.to_json(), render_status(view, SystemTime::now()), code)
        }
    };
    let lock = match operator::drive_on(&ctx.home, &*store, &seen, &holder(&by.actor))? {
        DriveOn::Here(lock) => lock,
        DriveOn::Elsewhere => {
            return Err(crate::execute::LockError::Held {
                run_id: run_id.clone(),
                holder: DriverLock::probe(&ctx.home, &run_id),
            }
            .into());
        }
        DriveOn::Nothing => {
            let view = ctx.view(&seen, false);
            return Ok(answer(&view, view.status.exit_code()));
        }
    };
    let durability = seen
        .start
        .as_ref()
        .map_or(Durability::Normal, |s| s.config.durability);
    store.set_durability(durability)?;
    let mut journal = Journal::open(&mut store, &clock, &mut ids, &run_id)?;
    // Read again under the lock: what it has to do now decides, not what was read before.
    if !operator::has_work(&journal.state) {
        drop(lock);
        let view = ctx.view(&journal.state, false);
        return Ok(answer(&view, view.status.exit_code()));
    }
    // A child run's secret inputs come from its parent; the others are in this process's
    // environment (`CORTEX_INPUT_<NAME>`), as the front end that started it gave them.
    crate::execute::inherit_secret_inputs(&mut journal);
    drive_on_recorded(ctx, journal, by, lock, live, answer)
}

/// `abort` of a run whose live driver has an abort asked of it that it has not acted on yet:
/// nothing is recorded, exit 0 (the request stands, as when this abort waited for it in vain).
fn abort_pending(ctx: &Ctx, store: &dyn EventStore, state: &crate::decide::RunState) -> Output {
    let run_id = &state.run_id;
    let holder = crate::execute::run_holder(&ctx.home, store, state);
    let who = crate::execute::Holder::pending_actor(holder.as_ref(), state);
    let note = requested_already(
        "Abort",
        run_id,
        crate::project::pending_stop(state).as_ref(),
        &who,
        "it ends the run at its next turn",
    );
    let mut json = ctx.view(state, true).to_json();
    json["note"] = note.clone().into();
    Output::new(json, format!("⏳ {note}\n"), exit::OK)
}

/// The note of a stop or abort (`what`) of run `run_id` asked again while the one `pending`
/// is not acted on yet: who asked it and when, that nothing was recorded, who has yet to act
/// on it (`who`: `Holder::pending_actor`) and what it does then (`effect`).
pub(super) fn requested_already(
    what: &str,
    run_id: &str,
    pending: Option<&crate::project::StopRequestView>,
    who: &str,
    effect: &str,
) -> String {
    let by = pending.map_or_else(String::new, |p| {
        let at =
            p.at.as_deref()
                .map(|t| format!(" at {t}"))
                .unwrap_or_default();
        format!(" by {}{at}", p.by.actor)
    });
    format!(
        "{what} of run {run_id} was requested already{by}; nothing was recorded. {who} has not acted on it yet (it may be frozen or busy); {effect}."
    )
}

/// What run `state` waits for, if it only waits on people (a prompt step, a phase to report or
/// start), nobody drives it, and its time limit is the one a plain resume would give it
/// (`RunState::resume_limit`): a plain resume of it changes nothing.
fn idle_waits(
    ctx: &Ctx,
    store: &dyn EventStore,
    state: &crate::decide::RunState,
) -> Option<(Vec<usize>, Vec<usize>)> {
    let waits = crate::plan::idle_wait(state, &|id| child_idle(ctx, store, id, 1))?;
    let idle = crate::execute::DriverLock::probe(&ctx.home, &state.run_id).is_none()
        && crate::execute::live_recorded_driver(store, state).is_none()
        && ctx
            .catalog()
            .config()
            .is_ok_and(|c| state.resume_limit(None, c.timeout_seconds) == state.time_limit());
    idle.then_some(waits)
}

/// What a plain `resume RUN` (no mode, input or time limit) answers of run `run_id` when it
/// would change nothing — the run only waits on people (`idle_waits`) — without recording or
/// driving: the same status document with its `note`, and exit code, as `resume` gives. None
/// when the resume would act. For a caller that drives elsewhere (`cortex serve`), which must
/// answer as the CLI's resume does before it starts a driver.
pub fn idle_resume(ctx: &Ctx, run_id: &str) -> Result<Option<Output>, CommandError> {
    let Some(store) = ctx.reading_store()? else {
        return Ok(None);
    };
    let mut state = crate::execute::load_state(&store, run_id)?;
    state.run_id = run_id.to_string();
    if state.outcome().is_some() {
        return Ok(None);
    }
    Ok(idle_waits(ctx, &store, &state)
        .map(|waits| nothing_to_resume(ctx, &store, &state, &waits, &[])))
}

/// The step (phase) named by `--from` or `--rollback-to`, matched forgivingly
/// (`normalize_name`: `plan` finds `Plan`, as `step complete` does), as the mode to record with
/// its real name; a name that is no step of the run is refused with the names it could take
/// and how to see them. An item of a `foreach:` step is found too (and refused by the decider
/// with the step to name instead).
fn resolve_unit(
    ctx: &Ctx,
    state: &crate::decide::RunState,
    mode: ResumeMode,
) -> Result<ResumeMode, CommandError> {
    let (ResumeMode::From(name) | ResumeMode::RollbackTo(name)) = &mode else {
        return Ok(mode);
    };
    if state.step_index(name).is_some() {
        return Ok(mode);
    }
    let wanted = normalize_name(name);
    if let Some(real) = state
        .steps
        .iter()
        .find(|s| normalize_name(&s.name) == wanted)
        .map(|s| s.name.clone())
    {
        return Ok(match mode {
            ResumeMode::RollbackTo(_) => ResumeMode::RollbackTo(real),
            _ => ResumeMode::From(real),
        });
    }
    let (noun, group) = if state.is_scenario() {
        ("phase", "orchestrate")
    } else {
        ("step", "workflow")
    };
    let names: Vec<String> = state
        .steps
        .iter()
        .filter(|s| s.item.is_none())
        .map(|s| crate::definition::shown(&s.name))
        .collect();
    Err(CommandError::bad_input(format!(
        "no {noun} named `{}` in run {}",
        crate::definition::shown(name),
        state.run_id
    ))
    .hint(format!(
        "{} shows where the run is (nothing was recorded)",
        ctx.cmd(&[group, "status", &state.run_id])
    ))
    .hint(format!("its {noun}s: {}", names.join(", "))))
}

/// The unfinished child run, down `state`'s `uses:` steps (their children first, then
/// theirs), that has a step named `wanted` (normalized), and the step of `state` that runs
/// the branch it is in.
pub(crate) fn child_with_step(
    store: &dyn crate::store::EventStore,
    state: &crate::decide::RunState,
    wanted: &str,
) -> Option<(String, String)> {
    let mut todo: Vec<(String, String)> = state
        .steps
        .iter()
        .filter_map(|s| Some((s.child.as_ref()?.run_id.clone(), s.name.clone())))
        .collect();
    let mut seen = 0;
    while let Some((child, by_step)) = todo.pop() {
        seen += 1;
        if seen > crate::validate::MAX_USES_DEPTH * 16 {
            return None;
        }
        let Ok(c) = crate::execute::load_state(store, &child) else {
            continue;
        };
        if c.outcome().is_some() {
            continue;
        }
        if c.steps.iter().any(|s| normalize_name(&s.name) == wanted) {
            return Some((child, by_step));
        }
        todo.extend(
            c.steps
                .iter()
                .filter_map(|s| Some((s.child.as_ref()?.run_id.clone(), by_step.clone()))),
        );
    }
    None
}

/// The topmost run above `run_id` (its parent, theirs, ...) whose `uses:` step waits on the
/// run below it and that nobody drives (interrupted: its driver died), if its parent is one:
/// the run whose resume carries `run_id` on with its parents; with the chain of runs from it
/// down to `run_id`.
fn interrupted_root(
    ctx: &Ctx,
    store: &dyn crate::store::EventStore,
    run_id: &str,
) -> Option<(String, Vec<String>)> {
    use crate::decide::{RunPhase, StepStatus};
    let mut child = run_id.to_string();
    let mut root = None;
    let mut chain = vec![run_id.to_string()];
    // A tree is at most 16 levels deep (validation); a log linking in a loop still ends.
    for _ in 0..32 {
        let state = crate::execute::fold_log(store, &child, 0, Default::default()).ok()?;
        let Some(parent) = state.start.as_ref().and_then(|s| s.parent.clone()) else {
            break;
        };
        let Ok((above, alive)) = crate::execute::load_live(&ctx.home, store, &parent.run_id) else {
            break;
        };
        let waits = above.step(&parent.step).is_some_and(|s| {
            matches!(s.status, StepStatus::Running | StepStatus::Waiting)
                && s.child.as_ref().is_some_and(|c| c.run_id == child)
        });
        // Interrupted: running as its log says, with no driver alive. One that waits (its
        // driver ended cleanly, waiting on a prompt of the child) is carried on by the child
        // when it ends, as before (`drive::drive_parent_on`).
        if alive || !waits || above.phase != RunPhase::Running {
            break;
        }
        root = Some(parent.run_id.clone());
        chain.push(parent.run_id.clone());
        child = parent.run_id;
    }
    chain.reverse();
    root.map(|r| (r, chain))
}

/// `--timeout` (a tool's or a request's `timeout`), in the range of `timeout_seconds`, as
/// whole seconds (`limits::run_timeout_seconds`, the TUI's resume form's rule too), its
/// error naming it as the front end that asked takes it (`Surface`).
fn run_timeout_seconds(ctx: &Ctx, text: &str) -> Result<u64, CommandError> {
    use crate::definition::limits::{RUN_TIMEOUT, RUN_TIMEOUT_ARGUMENT};
    let s = ctx.surface;
    let range = match s {
        super::Surface::Cli => RUN_TIMEOUT,
        super::Surface::Mcp | super::Surface::Api => RUN_TIMEOUT_ARGUMENT,
    };
    range.check_flag(text).map(|d| d.as_secs()).map_err(|e| {
        CommandError::bad_input(e).hint(format!(
            "write e.g. {}, {}, or {} for no limit",
            s.set("timeout", "2h"),
            s.set("timeout", "90m"),
            s.set("timeout", "0")
        ))
    })
}

/// Drive on a run that a worker took (`cortex worker`): `state` is the worker's fold of it
/// (caught up with the log here, not replayed), `store` a connection of the worker's, and
/// the journal is fenced with `lease`, the run's driver lease the worker claimed for it.
/// The same resume as `resume` (mode continue, the time limit a plain resume gives:
/// `RunState::resume_limit`).
pub fn resume_claimed(
    ctx: &Ctx,
    store: &mut dyn crate::store::EventStore,
    state: crate::decide::RunState,
    lease: crate::store::Lease,
    stale: Option<&crate::execute::Holder>,
    by: Operator,
    live: &mut Live<'_>,
) -> Result<Output, CommandError> {
    let run_id = state.run_id.clone();
    let file = ctx
        .catalog()
        .config_file()
        .map_err(|e| CommandError::definition(&e))?;
    let config = file.workflow;
    let settings = (
        (None, config.timeout_seconds),
        config.enable_rollback,
        file.agents.claude,
    );
    // The lock of a driver whose lease lapsed (`stale`, the lease now this worker's) is
    // broken: that driver is fenced.
    let lock = DriverLock::take_over(&ctx.home, &run_id, &holder(&by.actor), |h| stale == Some(h))?;
    let durability = state
        .start
        .as_ref()
        .map_or(Durability::Normal, |s| s.config.durability);
    store.set_durability(durability)?;
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    // Caught up with the log: the worker decided to take the run on the state it read at the
    // start of its pass, and an operator may have stopped it since (or a driver finished,
    // paused or let it wait for a report). The run is taken only if it is still one for a
    // worker; else the claim is let go of (by the worker) and nothing is recorded. Before, an
    // ordinary resume was applied to a run an operator had just stopped, and it ran again.
    let mut journal = Journal::from_state(store, &clock, &mut ids, state)?;
    journal.fence(lease);
    // A stop or abort asked of a driver that died before it acted on it: recorded now, as the
    // operator asked it (their name on it), and the run is not driven on — as every taker
    // records it (`take_up_request`). Before, a worker left such a run alone, the stop never
    // recorded until someone ran `stop` or `resume` again.
    if let Some(out) = take_up_request(ctx, &mut journal, Taker::Worker, &by, live)? {
        drop(lock);
        return Ok(out);
    }
    let gone_elsewhere = journal.state.outcome().is_some()
        || crate::decide::not_for_workers(&journal.state).is_some();
    if gone_elsewhere {
        let view = ctx.view(&journal.state, false);
        let code = view.status.exit_code();
        let now = if journal.state.abort_requested.is_some() {
            "being aborted"
        } else if journal.state.stop_requested {
            "being stopped"
        } else {
            view.status.as_str()
        };
        let why = match journal.state.outcome() {
            Some(_) => "already finished; nothing to do".to_string(),
            None => format!(
                "{now} since this worker chose to take it (an operator's or another driver's doing); left alone, nothing recorded"
            ),
        };
        let mut doc = view.to_json();
        doc["left_alone"] = why.clone().into();
        return Ok(Output::new(doc, format!("Run {run_id}: {why}.\n"), code));
    }
    if let Some(w) = supply_secret_inputs(ctx, &mut journal, &[], &ResumeMode::Continue)? {
        live.observer.warn(&w);
    }
    go_on(
        ctx,
        journal,
        lock,
        (ResumeMode::Continue, Taker::Worker),
        settings,
        by,
        live,
    )
}

/// Who takes a run over with a resume: an operator (`resume`), or a worker driving a run
/// whose driver died. A worker never overrides a stop asked for and not acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Taker {
    Operator,
    Worker,
    /// An operator who hands the run to workers (`resume --submit`): the resume is recorded,
    /// then `run_submitted`, and nothing is driven here (as `run --submit` leaves a new run).
    Submitter,
}

/// What every resume does once it holds the run's lock: warn of a changed definition, and
/// drive on with `run_resumed` staged (appended with the driver's first append, after its
/// lease is held: `drive::resume_driving`).
fn go_on(
    ctx: &Ctx,
    mut journal: Journal<'_>,
    lock: DriverLock,
    (mode, taker): (ResumeMode, Taker),
    ((given, configured), enable_rollback, claude): (
        (Option<u64>, u64),
        bool,
        crate::definition::ClaudeConfig,
    ),
    by: Operator,
    live: &mut Live<'_>,
) -> Result<Output, CommandError> {
    let lock = super::drive::not_driven_elsewhere(ctx, lock, &mut journal)?;
    if let Some(out) = take_up_request(ctx, &mut journal, taker, &by, live)? {
        drop(lock);
        return Ok(out);
    }
    let lease_lapsed = crate::execute::driver_lease_lapsed(&mut journal);
    let resume = Command::Resume {
        mode,
        by: by.clone(),
        driver: driver(),
        timeout_seconds: Some(journal.state.resume_limit(given, configured)),
        enable_rollback: Some(enable_rollback),
        claude: Some(claude),
        // A worker reaps lapsed leases: what other workers claimed is left to them.
        leave_claimed: ctx.dispatch.shared.is_some(),
        lease_lapsed,
    };
    // A resume the run refuses (`--retry` of a run that is not failed, `--from` a step it
    // has not) is said before anything is announced: "Resumed ..." then an error was a
    // resume that did not happen.
    if let Err(e) = crate::decide::decide(&journal.state, resume.clone()) {
        let e = crate::execute::JournalError::Decide(e);
        return Err(super::drive::resume_refused(ctx, &journal.state, e));
    }
    if taker == Taker::Submitter {
        return submit_resumed(ctx, journal, by, lock, resume);
    }
    live.observer.begin(&journal.state, true);
    resume_driving(ctx, journal, by, lock, live, resume)
}

/// `resume --submit`: record the resume and hand the run to `cortex worker`s, in one commit
/// with `run_submitted` (as `run --submit` records a new run: a worker never reads the run
/// resumed by a process that is gone and takes it for one whose driver died). Nothing is
/// driven here. The commands a dead driver left running are ended first, as a driver taking
/// the run over ends them: the attempts `run_resumed` records interrupted must not run on
/// beside the ones a worker starts (a worker on another host could not end them).
fn submit_resumed(
    ctx: &Ctx,
    mut journal: Journal<'_>,
    by: Operator,
    lock: DriverLock,
    resume: Command,
) -> Result<Output, CommandError> {
    let run_id = journal.run_id.clone();
    let mut warnings = end_orphans_said(ctx, &run_id);
    if let Some(start) = journal.state.start.as_deref() {
        warnings.extend(super::drive::definition_changed(start));
    }
    if let Err(e) = journal.stage(resume) {
        return Err(super::drive::resume_refused(ctx, &journal.state, e));
    }
    let out = super::drive::submit_run(ctx, journal, by, lock)?;
    Ok(out.warn(warnings))
}

/// A run taken over (its driver died) with a stop or abort asked of that driver and never
/// acted on: the request is older than this resume and is recorded first
/// (`Command::TakeUpRequest`), after what the dead driver left running is ended, as the
/// request would have ended it. An abort is final: the run ends aborted and the answer says
/// by whom (exit 1); nothing is resumed. A stop stops the run; a worker then lets it be
/// (exit 3: only an operator resumes a stopped run), an operator's resume goes on after it
/// (the newer intent), recorded as the stop, then the resume. None: nothing was pending, or
/// the resume goes on.
fn take_up_request(
    ctx: &Ctx,
    journal: &mut Journal<'_>,
    taker: Taker,
    by: &Operator,
    live: &mut Live<'_>,
) -> Result<Option<Output>, CommandError> {
    let Some(pending) = crate::project::pending_stop(&journal.state) else {
        return Ok(None);
    };
    let run_id = journal.run_id.clone();
    let mut warnings = end_orphans_said(ctx, &run_id);
    journal.submit(Command::TakeUpRequest)?;
    if let Err(e) = materialize(&ctx.home, &journal.state) {
        warnings.push(format!("could not write the run's derived files: {e}"));
    }
    // "X (with message "M"), asked for at T; its driver died before it acted on it".
    let asked = format!(
        "{}{}, asked for{}; its driver died before it acted on the request",
        pending.by.actor,
        pending
            .by
            .message
            .as_deref()
            .filter(|m| !m.trim().is_empty())
            .map(|m| format!(" with message \"{m}\""))
            .unwrap_or_default(),
        pending
            .at
            .as_deref()
            .map(|t| format!(" at {t}"))
            .unwrap_or_default(),
    );
    let group = if journal.state.is_scenario() {
        "orchestrate"
    } else {
        "workflow"
    };
    if pending.abort {
        // Its unfinished child runs end with it, as an abort ends them.
        let state = journal.state.clone();
        journal.nested(|store, clock, ids| {
            crate::execute::end_children(
                store,
                clock,
                ids,
                &ctx.home,
                &state,
                &pending.by,
                KILL_GRACE,
            )
        });
        warnings.extend(super::notify::after_change(ctx, &state, &journal.redactor));
        warnings.extend(super::notify::after_change_below(ctx, &state));
        let view = ctx.view(&state, false);
        let verb = match taker {
            Taker::Operator | Taker::Submitter => "it is not resumed: an abort is final",
            Taker::Worker => "not driven on: an abort is final",
        };
        let text = format!(
            "❌ Run {run_id} was aborted by {asked}; the abort is recorded now, and {verb}.\n   Head hash: {}\n",
            view.head_hash
        );
        let code = view.status.exit_code();
        return Ok(Some(Output::new(view.to_json(), text, code).warn(warnings)));
    }
    if taker == Taker::Worker {
        let view = ctx.view(&journal.state, false);
        let text = format!(
            "⏸️  Run {run_id} was stopped by {asked}; the stop is recorded now, and the run is not driven on (a worker never overrides a stop): {} continues it.\n   Head hash: {}\n",
            ctx.cmd(&[group, "resume", &run_id]),
            view.head_hash
        );
        let code = view.status.exit_code();
        return Ok(Some(Output::new(view.to_json(), text, code).warn(warnings)));
    }
    for w in &warnings {
        live.observer.warn(w);
    }
    live.observer.note(&format!(
        "Run {run_id} was stopped by {asked}; the stop is recorded first, then this resume by {by} goes on with the run.\n",
        by = by.actor
    ));
    Ok(None)
}

/// Give the journal the values of the run's secret inputs passed with `--input` (it found
/// those in the environment itself), checked as `run` checks inputs; refuse the resume if a
/// secret input that what is left of the run may read (`plan::secret_inputs_ahead`) is still
/// without a value. One nothing left reads is not asked for: the drive goes on without it
/// (and waits for it, should something need it after all, as after a report).
fn supply_secret_inputs(
    ctx: &Ctx,
    journal: &mut Journal<'_>,
    given: &[(String, String)],
    mode: &ResumeMode,
) -> Result<Option<String>, CommandError> {
    let run_id = journal.run_id.clone();
    // A child run's secret inputs come from its parent, given again to this process.
    crate::execute::inherit_secret_inputs(journal);
    let warning = take_secret_inputs(ctx, journal, given)?;
    let ahead = crate::plan::secret_inputs_ahead(&journal.state, mode.clone());
    let missing: Vec<String> = journal
        .redactor
        .missing_inputs(&journal.state)
        .into_iter()
        .filter(|name| ahead.contains(name))
        .collect();
    if missing.is_empty() {
        Ok(warning)
    } else {
        let kind = journal
            .state
            .start
            .as_ref()
            .map_or(RunKind::Workflow, |s| s.kind);
        // The command that gives them resumes as this one was asked to.
        let how = mode_flags(mode);
        Err(missing_secret_inputs(ctx, &run_id, kind, &missing, &how))
    }
}

/// End what a gone driver of `run_id` left running (before the log records what it stands
/// for), each group ended said as a warning.
fn end_orphans_said(ctx: &Ctx, run_id: &str) -> Vec<String> {
    crate::execute::end_orphans_of(&ctx.home, run_id, KILL_GRACE, &[])
        .into_iter()
        .map(|pgid| format!("ended process group {pgid} left running by the previous driver"))
        .collect()
}

/// The flags of `resume` that ask for `mode` (none for a plain resume).
fn mode_flags(mode: &ResumeMode) -> Vec<String> {
    match mode {
        ResumeMode::Continue => Vec::new(),
        ResumeMode::Retry => vec!["--retry".into()],
        ResumeMode::Skip => vec!["--skip".into()],
        ResumeMode::From(unit) => vec!["--from".into(), unit.clone()],
        ResumeMode::RollbackTo(step) => vec!["--rollback-to".into(), step.clone()],
    }
}

/// The warning of a resume asked to act (`--retry`, `--skip`, `--from`, `--rollback-to`) on a
/// run that already finished: not applied, since a finished run does not run again, and the
/// command that starts a new run with its inputs. None for a plain resume.
fn unapplied_on_finished(
    ctx: &Ctx,
    view: &crate::project::StatusView,
    mode: &ResumeMode,
) -> Option<String> {
    if *mode == ResumeMode::Continue {
        return None;
    }
    let flag = crate::render::command_line(&mode_flags(mode));
    let again = crate::project::run_again(view, view.kind.group());
    let fill = if again.fill.is_empty() {
        ""
    } else {
        " (VALUE: each secret input's value again)"
    };
    Some(format!(
        "{flag} was not applied: run {} already finished ({}), and a finished run does not run again; {}{fill} starts a new run",
        view.run_id,
        view.status.as_str(),
        crate::render::suggested_command(&ctx.globals(), &again.argv[1..]),
    ))
}

/// Give the journal the values of secret inputs in `given` (a resume's or a report's
/// `--input`, the MCP tools' `inputs`), checked as `run` checks inputs: only secret inputs of
/// the run, of their type. Held by this process for the run (`hold_secret_inputs`). An input
/// still without a value is not refused here.
///
/// Every value this process has for them (given now, or in its environment as
/// `CORTEX_INPUT_<NAME>`) is checked against the check values kept in the home when the run
/// started (`execute::record_secret_inputs`): one that differs is refused, saying which; with
/// no check values to compare (a run started from another home), the answer is a warning
/// that the values could not be checked.
pub(super) fn take_secret_inputs(
    ctx: &Ctx,
    journal: &mut Journal<'_>,
    given: &[(String, String)],
) -> Result<Option<String>, CommandError> {
    let run_id = journal.run_id.clone();
    let Some(start) = journal.state.start.clone() else {
        return Ok(None);
    };
    let specs = journal
        .state
        .workflow
        .as_ref()
        .map(|w| w.inputs.clone())
        .unwrap_or_default();
    for (name, _) in given {
        if start.secret_inputs.contains(name) {
            continue;
        }
        let why = if specs.contains_key(name) {
            format!("input `{name}` of run {run_id} is not secret: its value is in the log")
        } else {
            format!("run {run_id} has no input `{name}`")
        };
        let secret = if start.secret_inputs.is_empty() {
            "this run has no secret inputs".to_string()
        } else {
            format!("its secret inputs: {}", start.secret_inputs.join(", "))
        };
        return Err(CommandError::bad_input(why)
            .hint(
                "`--input` (the MCP tools' `inputs`) gives again only the values of secret inputs",
            )
            .hint(secret));
    }
    // Checked as at `run` (type, pattern, range), not required here: a missing one is said
    // below, with how to give it.
    let secret_specs: BTreeMap<_, _> = specs
        .into_iter()
        .filter(|(name, _)| start.secret_inputs.contains(name))
        .map(|(name, mut spec)| {
            spec.required = false;
            spec.default = None;
            (name, spec)
        })
        .collect();
    let mut values: Vec<(String, String)> = start
        .secret_inputs
        .iter()
        .filter_map(|n| {
            journal
                .redactor
                .input(n)
                .map(|v| (n.clone(), v.to_string()))
        })
        .collect();
    values.extend(given.iter().cloned());
    let cwd = std::path::PathBuf::from(&start.working_dir);
    let typed =
        resolve_inputs(&secret_specs, &values, &|p| cwd.join(p).exists()).map_err(|problems| {
            let mut secrets = crate::execute::Redactor::of_process();
            values.iter().for_each(|(_, v)| secrets.add(v));
            CommandError::bad_input(format!(
                "the secret inputs given for run {run_id} are not valid"
            ))
            .listing(&scrubbed(&secrets, problems))
        })?;
    let mut redactor = journal.redactor.clone();
    for (name, value) in &typed {
        redactor.set_input(name, &crate::execute::input_text(value));
    }
    let values: Vec<(&str, &str)> = redactor
        .input_values()
        .filter(|(name, _)| start.secret_inputs.iter().any(|s| s == name))
        .collect();
    let warning = match crate::execute::check_secret_inputs(&ctx.home, &run_id, values.clone()) {
        crate::execute::SecretCheck::Same => None,
        crate::execute::SecretCheck::Differs(names) => {
            return Err(differing_secret_inputs(ctx, &journal.state, &names));
        }
        crate::execute::SecretCheck::Unchecked if values.is_empty() => None,
        crate::execute::SecretCheck::Unchecked => Some(format!(
            "the values of run {run_id}'s secret inputs ({}) could not be checked against those it started with: this home keeps no check values for it (it was started from another home, or before cortex kept them, or its folder was removed); a wrong value would be used as given",
            values
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    };
    journal.redactor = redactor;
    crate::execute::hold_secret_inputs(&run_id, journal.redactor.input_values());
    Ok(warning)
}

/// Scrub from a report the values of the run's secret inputs typed into it (`texts`: its
/// outputs' values and its message, each whole and word by word) that this process was not
/// given (neither in its environment nor with the report, whose values the journal scrubs
/// already): recognised by the check values this home keeps of the run
/// (`execute::recognise_secret_inputs`: a keyed hash, never the value) and scrubbed as any
/// secret the journal knows, so that the log keeps `***`. A home that keeps none (the run was
/// started from another home) cannot tell them: the answer is a warning saying so, since what
/// was typed is recorded as given. Before, such a report stored the value in clear, and only
/// a reporter with `CORTEX_INPUT_<NAME>` in its environment had it scrubbed. DESIGN.md §7 says
/// what cannot be scrubbed, and why the log keeps nothing a value could be told by.
pub(super) fn scrub_typed_secret_inputs(
    ctx: &Ctx,
    journal: &mut Journal<'_>,
    texts: &[&str],
) -> Option<String> {
    let start = journal.state.start.as_ref()?;
    let unknown: Vec<&str> = start
        .secret_inputs
        .iter()
        .filter(|name| journal.redactor.input(name).is_none())
        .map(String::as_str)
        .collect();
    if unknown.is_empty() || texts.iter().all(|t| t.trim().is_empty()) {
        return None;
    }
    // Whole, and each word: a value is typed alone (`--output pw=…`) or in a sentence.
    let words = texts.iter().flat_map(|text| {
        std::iter::once(text.trim())
            .chain(text.split(|c: char| c.is_whitespace() || "=:,;\"'`()[]{}<>".contains(c)))
    });
    let candidates: Vec<&str> = words.filter(|w| !w.is_empty()).collect();
    let run_id = journal.run_id.clone();
    match crate::execute::recognise_secret_inputs(
        &ctx.home,
        &run_id,
        &unknown,
        candidates.iter().copied(),
    ) {
        Some(found) => {
            for value in found {
                journal.redactor.add(value);
            }
            None
        }
        None => {
            let vars: Vec<String> = unknown.iter().map(|n| input_env_name(n)).collect();
            Some(format!(
                "this process does not know the values of run {run_id}'s secret inputs ({}), and this home keeps no check values to recognise them by (the run was started from another home): a value of one typed into this report is recorded as given, not as `***`; give {} in the environment of the process that reports, and it is scrubbed",
                unknown.join(", "),
                vars.join(", ")
            ))
        }
    }
}

/// Secret inputs given again with values that differ from those run `state` started with:
/// what, which, and how to go on.
fn differing_secret_inputs(
    ctx: &Ctx,
    state: &crate::decide::RunState,
    names: &[String],
) -> CommandError {
    let run_id = &state.run_id;
    let (they, it, inputs) = match names {
        [one] => ("its value differs", "it", format!("secret input `{one}`")),
        _ => (
            "their values differ",
            "them",
            format!(
                "secret inputs {}",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    };
    let scope = if state.is_scenario() {
        "orchestrate"
    } else {
        "workflow"
    };
    let vars = names
        .iter()
        .map(|n| crate::execute::input_env_name(n))
        .collect::<Vec<_>>()
        .join(", ");
    CommandError::bad_input(format!(
        "run {run_id} was given {inputs} again, but {they} from the value{} the run started with (checked against the check values this home keeps, never the value itself); refused, nothing recorded",
        if names.len() == 1 { "" } else { "s" }
    ))
    .hint(format!(
        "give {it} the value{} the run started with (`--input NAME=VALUE`, or {vars} in the environment, which is read too)",
        if names.len() == 1 { "" } else { "s" }
    ))
    .hint(format!(
        "or end this run with {} and start a new one with the new value{}",
        ctx.cmd(&[scope, "abort", run_id]),
        if names.len() == 1 { "" } else { "s" }
    ))
}

/// Keep the check values of the secret inputs the run in `journal` just started with (in its
/// folder in the home, never the log), which `resume` and reports check values given again
/// against (`take_secret_inputs`). Not kept (a home that cannot be written), a later resume
/// says it could not check them.
pub(super) fn keep_secret_checks(ctx: &Ctx, journal: &Journal<'_>) {
    let Some(start) = &journal.state.start else {
        return;
    };
    let values = journal
        .redactor
        .input_values()
        .filter(|(name, _)| start.secret_inputs.iter().any(|s| s == name));
    let _ = crate::execute::record_secret_inputs(&ctx.home, &journal.run_id, values);
}

/// The refusal of a report whose checks need secret inputs this process was not given
/// (`operator::checks_lack_secrets`): the one error of `workflow step complete` and
/// `orchestrate complete` (and so of MCP's `step_complete` and `phase_complete`, and the HTTP
/// API's report), exit 2, nothing recorded, naming the inputs and how to give them. With
/// every problem at once (SPEC §7): the required outputs the report lacks too, as the gate
/// would name them once it can run.
pub(super) fn checks_need_secrets(
    ctx: &Ctx,
    lack: &crate::execute::operator::ChecksLackSecrets,
    kind: RunKind,
) -> CommandError {
    let crate::execute::operator::ChecksLackSecrets {
        run_id,
        unit,
        missing,
        lacking_outputs,
    } = lack;
    let vars: Vec<String> = missing.iter().map(|n| input_env_name(n)).collect();
    let lacking = lacking_outputs.iter().map(|(key, read)| {
        if *read {
            format!(
                "output `{key}` was not given: add {}",
                crate::render::command_line(&crate::render::pair_args("--output", key, "VALUE"))
            )
        } else {
            format!("output `{key}` was not produced")
        }
    });
    let (noun, again, tool) = match kind {
        RunKind::Workflow => (
            "step",
            vec!["workflow", "step", "complete", unit, "--run", run_id],
            "step_complete",
        ),
        RunKind::Scenario => (
            "phase",
            vec!["orchestrate", "complete", run_id, unit],
            "phase_complete",
        ),
    };
    // Every command cortex runs, a check included, is given all the run's inputs as
    // `CORTEX_INPUT_<NAME>` (`Runner::step_context`): which ones a check reads cannot be
    // known from its text (a script it calls may read one), so a check is never run with a
    // secret input missing or `***` (DESIGN.md §7, "Checks and secret inputs").
    let one = missing.len() == 1;
    let names: Vec<String> = missing.iter().map(|n| format!("`{n}`")).collect();
    let secret = format!(
        "the checks of {noun} `{unit}` need the secret input{} {} of run {run_id}: every command cortex runs, checks included, gets the run's inputs in its environment ({}), and the log keeps only `***` of a secret one, so its value must be given again, even for a check that does not read it",
        if one { "" } else { "s" },
        names.join(", "),
        vars.join(", ")
    );
    let e = if lacking_outputs.is_empty() {
        CommandError::bad_input(secret)
    } else {
        let problems: Vec<String> = std::iter::once(secret).chain(lacking).collect();
        CommandError::report_refused(unit, &problems)
    };
    let assigned: Vec<String> = vars.iter().map(|v| format!("{v}=VALUE")).collect();
    let again = ctx.cmd(&again);
    e.hint(format!(
        "set {} in the environment, {} the value the run started with: `{} {}`",
        vars.join(", "),
        if one { "to" } else { "each to" },
        assigned.join(" "),
        again.trim_matches('`')
    ))
    .hint(format!(
        "through MCP: give {} in `inputs` of {tool} (the server keeps {} for the run)",
        if one { "it" } else { "them" },
        if one { "it" } else { "them" },
    ))
}

/// A run cannot be driven without the values of its secret inputs: say how to give them.
pub fn missing_secret_inputs(
    ctx: &Ctx,
    run_id: &str,
    kind: RunKind,
    missing: &[String],
    how: &[String],
) -> CommandError {
    let group = kind.group();
    let names: Vec<String> = missing.iter().map(|n| format!("`{n}`")).collect();
    let values: Vec<String> = missing
        .iter()
        .flat_map(|n| crate::render::pair_args("--input", n, "VALUE"))
        .collect();
    let mut argv = vec![group, "resume", run_id];
    argv.extend(how.iter().map(String::as_str));
    argv.extend(values.iter().map(String::as_str));
    let vars: Vec<String> = missing.iter().map(|n| input_env_name(n)).collect();
    CommandError::bad_input(format!(
        "run {run_id} needs the value of its secret input{} {}: the log keeps only `***`",
        if missing.len() == 1 { "" } else { "s" },
        names.join(", ")
    ))
    .hint(format!(
        "give {} again: {}",
        if missing.len() == 1 { "it" } else { "them" },
        ctx.cmd(&argv)
    ))
    .hint(format!("or set {} in the environment", vars.join(", ")))
}

/// Refusal of a `resume` that would deliver notifications its dead driver left due that read
/// what this process lacks (`notify::deliverable`): the secret inputs (given again as `resume`
/// takes them, with the flags `how`), else the environment variables their webhooks are made
/// of. The same command given them delivers them (made without, each would be recorded not
/// delivered, never to be made).
fn lacking_refused(
    ctx: &Ctx,
    run_id: &str,
    state: &crate::decide::RunState,
    lacking: &super::notify::Lacking,
    how: &[String],
) -> CommandError {
    let kind = state.start.as_ref().map_or(RunKind::Workflow, |s| s.kind);
    if !lacking.inputs.is_empty() {
        return missing_secret_inputs(ctx, run_id, kind, &lacking.inputs, how);
    }
    let unset = &lacking.env;
    let names: Vec<String> = unset.iter().map(|n| format!("`{n}`")).collect();
    let one = unset.len() == 1;
    CommandError::bad_input(format!(
        "run {run_id} has notifications still due (not delivered by the process that left the run there) whose webhooks are made of the environment variable{} {}, not set for this command: delivered without {}, they would be recorded not delivered and never be made",
        if one { "" } else { "s" },
        names.join(", "),
        if one { "it" } else { "them" },
    ))
    .hint(format!(
        "set {} in the environment and run it again ({} shows what is due)",
        unset.join(", "),
        ctx.cmd(&[kind.group(), "status", run_id])
    ))
}

/// `workflow abort` (and `orchestrate abort`, with its scope): end a run for good, whoever
/// drives it. Refused for a busy log, the same abort is suggested again (`Retry`).
pub fn abort(
    ctx: &Ctx,
    scope: Scope,
    run: Option<&str>,
    by: Operator,
) -> Result<Output, CommandError> {
    let again = super::Retry::on_run(scope, run, &["abort"])
        .operand_if(run)
        .by(&by);
    abort_run(ctx, scope, run, by).map_err(|e| again.on_busy(ctx, e))
}

/// `abort`, once.
fn abort_run(
    ctx: &Ctx,
    scope: Scope,
    run: Option<&str>,
    by: Operator,
) -> Result<Output, CommandError> {
    let (opened, read_only) = ctx.changing_store()?;
    let Some(mut store) = opened else {
        return Err(ctx.no_runs(scope, run));
    };
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    let run_id = ctx.resolve_run(&store, scope, run)?;
    // Already ended: nothing is recorded, and it says so (as `resume` of a finished run does),
    // with the exit code of its outcome (on a read-only log too).
    let finished = |store: &dyn crate::store::EventStore| -> Result<Option<Output>, CommandError> {
        let mut state = crate::execute::load_state(store, &run_id)?;
        state.run_id = run_id.clone();
        Ok(state
            .outcome()
            .is_some()
            .then(|| ctx.already_finished(&state, "abort")))
    };
    if let Some(out) = finished(&*store)? {
        return Ok(out);
    }
    if let Some(e) = read_only {
        return Err(e);
    }
    // An abort asked for already, that its live driver has not acted on (frozen, busy): a
    // second request changes nothing, so it is answered at once rather than after another
    // wait (as `orchestrate stop` does). A pending stop is not: the abort goes further.
    let mut before = crate::execute::load_state(&*store, &run_id)?;
    before.run_id = run_id.clone();
    if crate::project::pending_stop(&before).is_some_and(|p| p.abort) {
        let (mut now, alive) = crate::execute::load_live(&ctx.home, &*store, &run_id)?;
        now.run_id = run_id.clone();
        if alive {
            return Ok(abort_pending(ctx, &*store, &now));
        }
    }
    // The notification commands a dead driver left running, ended first, said first.
    let mut late = Vec::new();
    let state = crate::execute::operator::abort(
        &mut store,
        &clock,
        &mut ids,
        &ctx.home,
        &run_id,
        &by,
        &holder(&by.actor),
        KILL_GRACE * 3,
        &mut |_| late.extend(super::notify::end_dead_drivers_commands(ctx, &run_id)),
    );
    let state = match state {
        Ok(state) => state,
        // It ended by another hand meanwhile (its driver finished it, another abort).
        Err(e @ crate::execute::operator::OperatorError::Finished { .. }) => {
            return match finished(&*store)? {
                Some(out) => Ok(out),
                None => Err(e.into()),
            };
        }
        // The request is in the log but its driver did not record the abort within the wait:
        // the request was recorded (never exit 4, "held", for it), and its driver ends the
        // run when it sees it. Before, this said the run was held (exit 4) though the abort
        // was then applied.
        Err(crate::execute::operator::OperatorError::Lock(l)) => {
            let mut now = crate::execute::load_state(&*store, &run_id)?;
            now.run_id = run_id.clone();
            if let Some(out) = finished(&*store)? {
                return Ok(out);
            }
            if now.abort_requested.is_none() {
                return Err(CommandError::from(l));
            }
            let (now, alive) = crate::execute::load_live(&ctx.home, &*store, &run_id)?;
            let view = ctx.view(&now, alive);
            let who = now.driven_by.clone().unwrap_or_else(|| "its driver".into());
            let text = format!(
                "⏳ Abort of run {run_id} requested: {who} carries the run on and ends it when it sees the request.\n"
            );
            return Ok(Output::new(view.to_json(), text, exit::OK));
        }
        Err(e) => return Err(e.into()),
    };
    let mut view = ctx.view(&state, false);
    // The abort replayed the run verified (`Journal::open`) and appended to that chain: its
    // document says so, as the run's status then does.
    view.verified = Some(true);
    // An abort mid-rollback stopped the rollback where it was: say what it left undone.
    let left = match view.rollback.as_ref().filter(|rb| rb.left_unfinished) {
        Some(rb) => {
            let mut parts = Vec::new();
            if let Some(c) = &rb.cut_off {
                parts.push(format!(
                    "`{c}` cut off mid-compensation (may be half-undone)"
                ));
            }
            if !rb.not_run.is_empty() {
                let names: Vec<String> = rb.not_run.iter().map(|n| format!("`{n}`")).collect();
                parts.push(format!("{} never compensated", names.join(", ")));
            }
            format!(
                "   The rollback was left unfinished: {}; check them by hand.\n",
                parts.join("; ")
            )
        }
        None => String::new(),
    };
    // Who aborted it and why, once (the reason the run records: `aborted by ACTOR: MESSAGE`).
    // A rollback it cut short is said below (`left`), not again in the reason.
    let said = view
        .reason
        .as_deref()
        .filter(|r| r.starts_with("aborted by ") && left.is_empty())
        .map_or_else(
            || "aborted.".to_string(),
            |r| crate::render::hanging(r, 3).into_owned(),
        );
    let text = format!(
        "❌ Run {run_id} {said}\n{left}   Head hash: {}\n",
        view.head_hash
    );
    let code = view.status.exit_code();
    let mut warnings = late;
    // Its own, and its child runs' (aborted with it, each its own `notify:`), each for the
    // end that made it due — what a failure the run was paused on owed is delivered for
    // `failed`, with the run as it was then, before the abort's own: what reads a value this
    // process lacks is left due, said once, as a resume leaves it.
    warnings.extend(super::notify::after_abort(ctx, &state));
    // A child run aborted directly: its parent, waiting on it, takes that end now (said
    // below this run's own answer, which stays the document).
    let mut quiet = crate::execute::Quiet;
    let mut live = super::Live {
        observer: &mut quiet,
        stop: StopFlag::default(),
    };
    let parent = super::drive::hand_over_ended_child(ctx, &mut *store, &state, "", by, &mut live)?;
    let mut text = text;
    if let Some(parent) = parent {
        // The document is the top-most run's: said when it is not this run's parent.
        let top = parent.json["run_id"].as_str().unwrap_or_default();
        let direct = state.start.as_ref().and_then(|s| s.parent.as_ref());
        let above = match direct {
            Some(p) if p.run_id != top => format!(
                "The parent run {} goes on (its step `{}` waited on this run), and so does run {top} above it",
                p.run_id, p.step
            ),
            Some(p) => format!(
                "The parent run {} goes on (its step `{}` waited on this run)",
                p.run_id, p.step
            ),
            None => format!("The parent run {top} goes on (its step waited on this run)"),
        };
        text.push_str(&format!("\n↑ {above}:\n{}", parent.human));
        warnings.extend(parent.warnings);
        // This run's document, with the commands the text ends with: the parent's (this run,
        // aborted, has none of its own), so that `--json` suggests what the screen does.
        let mut json = view.to_json();
        json["next"] = parent.json["next"].clone();
        return Ok(Output::new(json, text, code).warn(warnings));
    }
    Ok(Output::new(view.to_json(), text, code).warn(warnings))
}

/// `workflow history` and `orchestrate history`: the newest runs of a kind, or (`before`) the
/// runs older than a run.
pub fn history(
    ctx: &Ctx,
    kind: RunKind,
    limit: usize,
    before: Option<&str>,
) -> Result<Output, CommandError> {
    history_with_more(ctx, kind, limit, before).map(|(output, _)| output)
}

/// `history`, and whether older runs exist beyond the `limit` listed. Its document is
/// `{"runs": [rows, newest first], "more": bool, "next": [...]}` (an object, as every other
/// `--json` document; the MCP tool's structured content is the same, `GET /api/v1/runs` the
/// same but `next`, its `Link` header). Before, `--json` printed the rows as a bare array,
/// and `more` only the MCP tool said.
///
/// `before` (`--before RUN`, the MCP tool's `before`): a run of the kind, by its id, a unique
/// prefix of it or its name (its latest run), as everywhere a run is named; the page lists
/// the runs older than it. `next` is the command that lists the page after this one, when
/// there is one: the text's hint and `--json`'s `next` suggest it. Before, the hint suggested
/// five times the limit, past the 500 `--limit` takes (`--limit 600`, refused), and past 500
/// runs nothing reached the older ones.
pub fn history_with_more(
    ctx: &Ctx,
    kind: RunKind,
    limit: usize,
    before: Option<&str>,
) -> Result<(Output, bool), CommandError> {
    let limit = super::checked_history_limit(limit, "`--limit`")?;
    let mut damage = None;
    let page = match ctx.reading_store()? {
        Some(store) => {
            let before = before
                .map(|q| ctx.resolve_run(&store, Scope::of(kind), Some(q)))
                .transpose()?;
            let page = super::history_page_before(
                &store,
                &ctx.home,
                Some(kind),
                before.as_deref(),
                limit,
            )?;
            damage = store.index_damage();
            page
        }
        // No log yet: a run named by `before` is no run here (as `status RUN` says).
        None if before.is_some() => {
            return Err(ctx.no_runs(Scope::of(kind), before));
        }
        None => super::History {
            kind: Some(kind),
            limit,
            ..Default::default()
        },
    };
    let text = render_history(&page, &|args| ctx.cmd(args));
    let doc = history_json(ctx, &page);
    let mut out = Output::new(doc, text, exit::OK);
    if let Some(what) = damage {
        // The runs are listed as their events say; the index is a cache to rebuild.
        out = out.warn(vec![format!(
            "the run index is damaged ({what}): runs are listed as their events say; {} rebuilds it from them ({} says what differs)",
            ctx.cmd(&["log", "reindex"]),
            ctx.cmd(&["log", "verify"])
        )]);
    }
    Ok((out, page.more))
}

/// The document of a page of history: `{"runs", "more", "next"}`, `next` the command that
/// lists the page after it (`History::next_args`, as pasted here) when there is one — the
/// same for `history --json`, the MCP tool and `GET /api/v1/runs` (which also names it in its
/// `Link` header).
pub fn history_json(ctx: &Ctx, page: &super::History) -> serde_json::Value {
    let next: Vec<crate::project::Suggestion> = page
        .next_args()
        .map(|args| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut s =
                crate::project::Suggestion::new(&args, "list the older runs (the next page)");
            s.argv.splice(1..1, ctx.globals());
            s
        })
        .into_iter()
        .collect();
    json!({ "runs": &page.runs, "more": page.more, "next": next })
}

/// A person's or an agent's report on an external step.
pub struct StepReport<'a> {
    /// The step's name (forgiving).
    pub step: &'a str,
    /// The run (default: the latest workflow run).
    pub run: Option<&'a str>,
    pub success: bool,
    pub outputs: Vec<(String, String)>,
    /// Only record the report; do not drive the run on.
    pub no_drive: bool,
    /// The report is driven on, but by a driver this process starts once it is recorded
    /// (`cortex serve`): it holds the run as a report that drives does (the run's lock, exit
    /// 4 while another process holds it), rather than only recording at the head of the log
    /// as a `--no-drive` report does.
    pub drives_after: bool,
    /// The process making the report lives on and hands the secret outputs it holds to the
    /// drivers it starts for the run (`cortex serve`), or drives the run on with them itself
    /// at a later call (`cortex mcp`): it says itself what becomes of them, so the note of a
    /// `--no-drive` report ("held by this process only, which ends now") is left out.
    pub holder_stays: bool,
    pub by: Operator,
    /// Values of the run's secret inputs given with the report (the MCP tools' `inputs`):
    /// its checks and the drive after it have them.
    pub inputs: &'a [(String, String)],
}

/// Refuse an `--output KEY=VALUE` whose key breaks the name rule, as definitions do
/// (`validate: - output: KEY`): a step's report and a phase's (`orchestrate complete`).
/// A key holding a secret this process knows is refused too, without quoting it, before
/// anything (a suggested command, a lock) could repeat it; the run's own secrets (its
/// `secret_env`) are the journal's to refuse, when the report is decided.
pub(super) fn check_output_keys(outputs: &[(String, String)]) -> Result<(), CommandError> {
    let known = crate::execute::Redactor::of_process();
    let secret = outputs
        .iter()
        .filter(|(k, _)| known.holds_secret(k))
        .count();
    if secret > 0 {
        return Err(CommandError::bad_input(format!(
            "{}; nothing was recorded",
            crate::execute::secret_output_keys_problem(secret)
        ))
        .hint("report it again with the secret as the value of an output whose key names it"));
    }
    for (key, _) in outputs {
        crate::definition::check_name(crate::definition::NameKind::OutputKey, key).map_err(
            |e| {
                // Worded for every caller: the CLI's `--output`, an MCP tool's `outputs`, the
                // web form's fields (before, an MCP tool error spoke of `--output`).
                CommandError::bad_input(format!(
                    "reported output {}: {}",
                    crate::definition::shown(key),
                    e.problem
                ))
                .hint(e.fix)
            },
        )?;
    }
    Ok(())
}

/// `workflow step complete|fail`: record the report and, unless asked not to, drive the run on.
/// Refused for a busy log, the same report is suggested again (`Retry`).
pub fn report_step(
    ctx: &Ctx,
    report: StepReport<'_>,
    live: &mut Live<'_>,
) -> Result<Output, CommandError> {
    let verb = if report.success { "complete" } else { "fail" };
    let again = super::Retry::on_run(WORKFLOWS, report.run, &["step", verb])
        .operand(report.step)
        .option("--run", report.run)
        .switch("--no-drive", report.no_drive)
        .outputs(&report.outputs)
        .by(&report.by);
    record_step_report(ctx, report, live).map_err(|e| again.on_busy(ctx, e))
}

/// `report_step`, once.
fn record_step_report(
    ctx: &Ctx,
    mut report: StepReport<'_>,
    live: &mut Live<'_>,
) -> Result<Output, CommandError> {
    // The inputs a report gives are the run's secret ones (any other is refused): their values
    // are scrubbed from the actor before the run's lock, or a command suggested, names it.
    super::refuse_placeholders(ctx, &report.outputs, "output")?;
    super::refuse_placeholders(ctx, report.inputs, "input")?;
    report.by = super::context::with_secrets_scrubbed(
        report.by.clone(),
        report.inputs.iter().map(|(_, v)| v.as_str()),
    );
    let success = report.success;
    // A failed step has no outputs (as a command's failed attempt records none, and a phase
    // fails with none): outputs given with a fail report are refused, never dropped unsaid.
    if !success && !report.outputs.is_empty() {
        return Err(CommandError::bad_input(
            "a fail report takes no outputs: a failed step records none (later steps read only a completed step's outputs); nothing was recorded",
        )
        .hint("leave the outputs out, and say what happened with --message")
        .hint("report the step complete instead if its outputs are good"));
    }
    let (opened, read_only) = ctx.changing_store()?;
    let Some(mut store) = opened else {
        return Err(ctx.no_runs(WORKFLOWS, report.run));
    };
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    // The latest run, or the one named (a name: its latest run): a finished one says so
    // rather than an older waiting run taking the report.
    let verb = if success { "complete" } else { "fail" };
    // Every argument the report was given besides its unit and run, repeated by each command
    // suggested in its place (its secrets left out: `Said`): pasting one does what was meant.
    let said =
        super::said::Said::of_report(ctx, Some(&*store), report.run, &report.outputs, &report.by);
    let instead: Vec<&str> = match report.run {
        Some(run) => ["orchestrate", verb, run, report.step]
            .into_iter()
            .chain(said.args.iter().map(String::as_str))
            .collect(),
        None => Vec::new(),
    };
    let run_id =
        ctx.resolve_report_run(&store, WORKFLOWS, report.run, &instead, &said.note_text())?;
    // Without `--run`, a latest run that cannot take the report names the older runs that
    // wait on a step of that name, with the command for each.
    // `own`: the run addressed has that step and can still take its report (once resumed,
    // say): its hints come first, and another run's step of that name is named last.
    let elsewhere = |store: &dyn EventStore, e: CommandError, own: bool| -> CommandError {
        let Some(name) = looked_up_by(report.run, &run_id) else {
            return e;
        };
        let argv = |id: &str, name: &str| -> Vec<String> {
            ["workflow", "step", verb, name, "--run", id]
                .map(String::from)
                .into_iter()
                .chain(said.args.iter().cloned())
                .collect()
        };
        let at = Elsewhere {
            scope: WORKFLOWS,
            run_id: &run_id,
            name,
            unit: report.step,
            start: false,
            own,
            said: &said,
        };
        report_elsewhere(ctx, store, at, &argv, e)
    };
    let outputs = report.outputs;
    check_output_keys(&outputs)?;
    let by = report.by;
    // A step the engine runs (a command, an agent with a command) is not reported on: say so
    // before waiting for the run's lock, which its driver holds while it runs. Whether the
    // step's gate runs commands (`validate:` checks with `run:`), read on the way.
    let gated = {
        let seen = crate::execute::load_state(&store, &run_id)?;
        let wanted = normalize_name(report.step);
        // A step of a child run (a `uses:` step's), named with the parent's run: say whose
        // it is and how to report it there.
        if !seen.steps.iter().any(|s| normalize_name(&s.name) == wanted)
            && let Some((child, by_step)) = child_with_step(&store, &seen, &wanted)
        {
            let verb = if report.success { "complete" } else { "fail" };
            let mut argv = vec!["workflow", "step", verb, report.step, "--run", &child];
            argv.extend(said.args.iter().map(String::as_str));
            return Err(CommandError::bad_input(format!(
                "step `{}` is not a step of run {run_id}: it is in child run {child}, which its step `{by_step}` runs",
                report.step
            ))
            .hint(format!(
                "{} reports it there (and drives this run on too){}",
                ctx.cmd(&argv),
                said.note_text()
            )));
        }
        // A finished run says so on a read-only log too (nothing would be recorded).
        if read_only.is_some() && seen.outcome().is_some() {
            return Err(elsewhere(
                &*store,
                ctx.finished(&seen, "its steps cannot be reported any more"),
                false,
            ));
        }
        if let Some(e) = read_only {
            return Err(e);
        }
        if let Some(i) = seen
            .steps
            .iter()
            .position(|s| normalize_name(&s.name) == wanted)
            && seen.outcome().is_none()
            && !seen.is_external(i)
            && !seen.is_uses(i)
            && !seen.is_open_parent(i)
        {
            return Err(CommandError::bad_input(format!(
                "step `{}` is run by the engine (its `run:` or its agent's command), not reported by a person or an agent",
                seen.steps[i].name
            ))
            .hint(format!(
                "{} shows how it stands; a failed one goes on with `resume --retry` or `--skip`",
                ctx.cmd(&["workflow", "status", &run_id])
            )));
        }
        seen.steps
            .iter()
            .position(|s| normalize_name(&s.name) == wanted)
            .and_then(|i| seen.workflow.as_ref()?.steps.get(i))
            .is_some_and(|d| d.validate.iter().any(|c| c.run.is_some()))
    };
    // Only recording (`--no-drive`): no lock is taken, as for `orchestrate complete
    // --no-drive`. The report is a fact decided at the head of the log against the state it
    // follows (`Journal::submit`); the run's lock is a driver's, and a report that drives
    // nothing needs none. Before, two such reports at once (or one beside a report that
    // drives) took it for a moment each, and the one that found it taken on a step not yet
    // waiting was told the run was held by another process (exit 4), naming the other
    // reporter.
    // Unless the step's gate runs commands: those (`make test`, `pytest` in a shared folder)
    // run under the run's lock, one report's at a time, and a second report finds the step
    // reported and runs none. Lock-free, two reports ran them together, and one failed by the
    // other's could land first and fail the step.
    let lock = match report.no_drive && !report.drives_after && !gated {
        true => None,
        false => Some(report_lock(ctx, &store, &run_id, report.step, &by)?),
    };
    let mut journal = Journal::open(&mut store, &clock, &mut ids, &run_id)?;
    // A child run's secret inputs come from its parent, given again to this process.
    crate::execute::inherit_secret_inputs(&mut journal);
    if journal.state.outcome().is_some() {
        let e = ctx.finished(&journal.state, "its steps cannot be reported any more");
        return Err(journal.nested(|store, _, _| elsewhere(&*store, e, false)));
    }
    if let Some(w) = take_secret_inputs(ctx, &mut journal, report.inputs)? {
        live.observer.warn(&w);
    }
    let typed: Vec<&str> = outputs
        .iter()
        .map(|(_, v)| v.as_str())
        .chain(by.message.as_deref())
        .collect();
    if let Some(w) = scrub_typed_secret_inputs(ctx, &mut journal, &typed) {
        live.observer.warn(&w);
    }
    let state = &journal.state;
    let wanted = normalize_name(report.step);
    let Some(index) = state
        .steps
        .iter()
        .position(|s| normalize_name(&s.name) == wanted)
    else {
        let names: Vec<&str> = state.steps.iter().map(|s| s.name.as_str()).collect();
        let lister = ctx.cmd(&["workflow", "status", &run_id]);
        let e = crate::render::names_hints(report.step, &names, "steps", &lister)
            .into_iter()
            .fold(
                CommandError::bad_input(format!(
                    "run {run_id} has no step `{}`",
                    crate::definition::shown(report.step)
                )),
                |e, hint| e.hint(hint),
            );
        return Err(journal.nested(|store, _, _| elsewhere(&*store, e, false)));
    };
    let step = state.steps[index].clone();
    if state.is_open_parent(index) {
        let waiting: Vec<String> = state
            .item_units(index)
            .filter(|&j| state.steps[j].status == StepStatus::Waiting)
            .map(|j| state.steps[j].name.clone())
            .collect();
        return Err(CommandError::bad_input(format!(
            "step `{}` runs as its items ({}): report on them",
            step.name,
            if waiting.is_empty() {
                "none waits for a report now".to_string()
            } else {
                waiting.join(", ")
            }
        ))
        .hint(format!(
            "{} shows every step and item",
            ctx.cmd(&["workflow", "status", &run_id])
        )));
    }
    if step.status != StepStatus::Waiting {
        let now = match state.steps.iter().find(|s| s.status == StepStatus::Waiting) {
            Some(w) => format!("the run waits on `{}`", w.name),
            None if state.phase == crate::decide::RunPhase::Stopped => {
                "the run is stopped".to_string()
            }
            None => "no step is waiting for a report".to_string(),
        };
        // Its state refuses the report now (a report or stop got there first): a conflict.
        let mut e = CommandError::bad_input(
            match already_reported(&step).filter(|_| step.status == StepStatus::Completed) {
                Some(done) => format!("{done}; {now}"),
                None => format!(
                    "step `{}` is {}, not waiting for a report; {now}",
                    step.name,
                    step.status.as_str()
                ),
            },
        )
        .because(crate::ops::Cause::Conflict);
        // Failed and paused: a retry has it wait for its report again (a step the engine
        // runs, run again), or it is skipped; as the run's `next` says.
        if step.status == StepStatus::Failed
            && matches!(state.phase, crate::decide::RunPhase::Paused { .. })
        {
            let retry = ctx.cmd(&["workflow", "resume", &run_id, "--retry"]);
            e = e.hint(if state.is_external(index) {
                format!("{retry} has the step wait for its report again; then report it")
            } else {
                format!("{retry} runs the step again")
            });
            e = e.hint(format!(
                "{} skips it and goes on with the steps after it",
                ctx.cmd(&["workflow", "resume", &run_id, "--skip"])
            ));
        }
        // Stopped with the run (as a scenario's phase is): resume has a step that waits for
        // a report wait for it again, and runs a step the engine runs again.
        if step.status == StepStatus::Stopped {
            let resume = ctx.cmd(&["workflow", "resume", &run_id]);
            e = e.hint(if state.is_external(index) {
                format!("{resume} goes on (the step waits for its report again); then report it")
            } else {
                format!(
                    "{resume} goes on and runs the step again (the engine runs it, so it reports itself: nothing to report by hand)"
                )
            });
        }
        if step.status == StepStatus::Pending
            && !state.steps.iter().any(|s| s.status == StepStatus::Waiting)
        {
            // Nobody drove the run on to it yet (a report recorded with --no-drive).
            e = e.hint(format!(
                "{} goes on to it; then report it",
                ctx.cmd(&["workflow", "resume", &run_id])
            ));
        }
        let e = e.hint(format!(
            "{} shows every step",
            ctx.cmd(&["workflow", "status", &run_id])
        ));
        // This run has the step: the fix is here; a same-named step elsewhere comes last.
        return Err(journal.nested(|store, _, _| elsewhere(&*store, e, true)));
    }
    if let Some(child) = step.child.as_ref().filter(|_| state.is_uses(index)) {
        let seen = state.clone();
        let waits = journal.nested(|store, _, _| child_waiting(&*store, &seen, index));
        return Err(CommandError::bad_input(format!(
            "step `{}` runs workflow `{}` as child run {}: it waits with that run, not for a report",
            step.name, child.workflow, child.run_id
        ))
        .hint(match waits {
            // The report that is taken: the step the child run (or one below it) waits on.
            Some((run, name)) => {
                let mut argv = vec!["workflow", "step", verb, &name, "--run", &run];
                argv.extend(said.args.iter().map(String::as_str));
                format!(
                    "{} reports `{}`, which child run {run} waits on; this run goes on with it{}",
                    ctx.cmd(&argv),
                    crate::definition::shown(&name),
                    said.note_text()
                )
            }
            None => format!(
                "{} shows what the child run waits for; reporting on it drives this run on too",
                ctx.cmd(&["workflow", "status", &child.run_id])
            ),
        }));
    }
    if success
        && let Some(lack) =
            crate::execute::operator::checks_lack_secrets(state, &journal.redactor, index, &outputs)
    {
        return Err(checks_need_secrets(ctx, &lack, RunKind::Workflow));
    }
    let problems = if success {
        let observer = &mut *live.observer;
        crate::execute::operator::report_checks(
            &ctx.home,
            KILL_GRACE,
            journal.redactor.clone(),
            state,
            index,
            &outputs,
            &mut |step, s, l| observer.line(step, s, l),
        )
    } else {
        Vec::new()
    };
    // Outputs later steps read that the report leaves out (its gate does not require them):
    // said, with the steps that will see them empty.
    let unsaid = if success {
        omitted_outputs(state, index, &outputs)
    } else {
        Vec::new()
    };
    let attempt = step.attempts;
    let submitted = journal.submit(Command::FinishAttempt(Box::new(AttemptReport {
        step: step.name.clone(),
        attempt,
        end: AttemptEnd::Reported { success },
        outputs,
        output_tail: String::new(),
        validation_problems: problems,
        by: Some(by.clone()),
        agent: None,
        log: None,
        permanent: false,
    })));
    // Refused at the head: another report (one with `--no-drive` takes no lock) landed on
    // the step since this one read it, or the run changed otherwise. Said as the report it
    // is, as `report_lock` says one recorded while it waited, a conflict (exit 2) with the
    // run's status hinted, rather than as the decider's bare refusal.
    if let Err(crate::execute::JournalError::Decide(refused)) = &submitted
        && !matches!(refused, crate::decide::DecideError::ReportRefused { .. })
    {
        journal.refresh()?;
        if let Some(done) = journal.state.step(&step.name).and_then(already_reported) {
            return Err(reported_meanwhile(
                ctx,
                &run_id,
                &done,
                " while this report was made",
            ));
        }
        // Any other change meanwhile (the run stopped or aborted, the step skipped by a
        // `resume --skip`): the same conflict, with how the run stands now.
        return Err(reported_meanwhile(
            ctx,
            &run_id,
            &format!("{refused}"),
            " (the run changed while this report was made)",
        ));
    }
    submitted?;
    let _ = materialize(&ctx.home, &journal.state);
    // Found by other than its whole id (the latest run, of a name perhaps, or by a prefix):
    // say which.
    let of = match report.run {
        Some(q) if q.trim().eq_ignore_ascii_case(&run_id) => String::new(),
        _ => format!(" of run {run_id}"),
    };
    // What the report did, as it is: a failure the step's `on_failure: skip` turned into a
    // skip says so (the drive that follows announces only what it records itself).
    let done = match journal.state.step(&step.name).map(|s| s.status) {
        Some(StepStatus::Completed) => format!("✅ Step `{}`{of} reported complete.\n", step.name),
        Some(StepStatus::Skipped) => format!(
            "⏭️ Step `{}`{of} reported failed, and skipped (its on_failure: skip).\n",
            step.name
        ),
        _ => format!("❌ Step `{}`{of} reported failed.\n", step.name),
    };
    // A report drives the run on (one command per prompt step), unless asked not to; without
    // the values of the run's secret inputs it goes on as far as nothing runs (prompt steps),
    // and says what it needs before anything that would.
    // A failure report may have started a rollback (`on_failure: rollback`): it is driven on
    // at once like the rest, compensations and all.
    let running = matches!(
        journal.state.phase,
        crate::decide::RunPhase::Running | crate::decide::RunPhase::RollingBack
    );
    match lock {
        Some(lock) if running && !report.no_drive => {
            live.observer.note(&done);
            return drive_on_recorded(ctx, journal, by, lock, live, |view, code| {
                Output::new(view.to_json(), render_status(view, SystemTime::now()), code)
            })
            .map(|o| o.warn(unsaid));
        }
        lock => drop(lock),
    }
    // A secret output given with `--no-drive` is held by this process alone, which ends now:
    // the step that reads it would be refused. Said, so that the report is made again with
    // the drive (the log keeps `***` either way).
    let unheld: Vec<String> = journal
        .state
        .step(&step.name)
        .map(|s| s.outputs.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|key| {
            report.no_drive
                && !report.holder_stays
                && crate::execute::held_secret_output(&journal.run_id, &step.name, key).is_some()
        })
        .map(|key| format!("`{}`", crate::definition::shown(&key)))
        .collect();
    let no_drive_note = (!unheld.is_empty()).then(|| {
        format!(
            "the secret output {} is held by this process only, which ends now (the log keeps `***`): a step that reads it will be refused; report it without --no-drive, which drives the run on with it",
            unheld.join(", ")
        )
    });
    // Read with its child and parent runs: what a waiting `uses:` step waits on, and the
    // parent a child that ended here leaves to be resumed.
    let state = journal.state.clone();
    let mut view = journal.nested(|store, _, _| ctx.view_with_children(&state, false, &*store));
    {
        // A report that paused or finished the run, and nobody drives it on: its
        // notifications delivered now, or said left due.
        let mut warnings = unsaid;
        warnings.extend(super::notify::after_change(
            ctx,
            &journal.state,
            &journal.redactor,
        ));
        warnings.extend(no_drive_note);
        let said = done.clone();
        let mut text = done;
        let mut notified = None;
        if matches!(view.status, RunStatus::Waiting | RunStatus::Running) {
            text.push_str(&crate::render::render_next(&view.next));
        } else {
            // Finished (completed, aborted by `on_failure: abort`) or failed and paused: how
            // the run ended, as a driver says it (its notifications too, and the resume that
            // delivers those left due: `drive::notes_left`), with what can be done next.
            let now = SystemTime::now();
            match super::drive::notes_left(ctx, &mut journal, &mut view) {
                Some(shown) => {
                    text.push_str(&crate::render::render_outcome_noted(
                        &view,
                        &ctx.home,
                        now,
                        &shown.output.human,
                    ));
                    notified = Some(shown);
                }
                None => text.push_str(&crate::render::render_outcome(&view, &ctx.home, now)),
            }
        }
        let code = view.status.exit_code();
        // A child run that this report paused or ended: its parent, waiting on it, goes on
        // from there, as after a drive (`finish_driving`), and answers for the whole tree.
        let state = journal.state.clone();
        let parent = journal.nested(|store, _, _| {
            super::drive::hand_over_ended_child(ctx, store, &state, &said, by, live)
        })?;
        if let Some(parent) = parent {
            return Ok(parent.warn(warnings));
        }
        let mut doc = view.to_json();
        if let Some(shown) = notified {
            shown.into_doc(&mut doc);
        }
        Ok(Output::new(doc, text, code).warn(warnings))
    }
}

/// "step `S` was already reported complete by A": a step that no longer waits because a
/// report on it was recorded (by another actor or process, perhaps at the same time as this
/// one), or None.
fn already_reported(step: &crate::decide::StepState) -> Option<String> {
    let by = step.reported_by.as_ref()?;
    let how = match step.status {
        StepStatus::Completed => "complete",
        StepStatus::Failed => "failed",
        StepStatus::Skipped => "failed (and skipped)",
        _ => return None,
    };
    Some(format!(
        "step `{}` was already reported {how} by {}",
        step.name,
        crate::execute::scrub_known(&by.actor)
    ))
}

/// A report refused because another report on its step (`done`, `already_reported`) was
/// recorded first (`when`: while this one waited or was made): a conflict, exit 2, with how
/// the run stands now.
fn reported_meanwhile(ctx: &Ctx, run_id: &str, done: &str, when: &str) -> CommandError {
    CommandError::bad_input(format!("{done}{when}; nothing was recorded"))
        .because(crate::ops::Cause::Conflict)
        .hint(format!(
            "{} shows how the run stands now (its next step, if one waits)",
            ctx.cmd(&["workflow", "status", run_id])
        ))
}

/// The run's lock for a report. Another report (or a driver it started) may hold it for a
/// moment: the report waits for it a little, reading the log meanwhile; a report recorded
/// on the same step in that time refuses this one as already made (exit 2, its status
/// hinted), rather than as a run held by a process to stop or abort (exit 4). Before, the
/// loser of two identical reports at once was told to Ctrl-C, stop or abort a healthy run.
fn report_lock(
    ctx: &Ctx,
    store: &dyn EventStore,
    run_id: &str,
    step: &str,
    by: &Operator,
) -> Result<DriverLock, CommandError> {
    let wanted = normalize_name(step);
    let waiting_before = crate::execute::load_state(store, run_id)
        .ok()
        .and_then(|s| {
            s.steps
                .iter()
                .find(|s| normalize_name(&s.name) == wanted)
                .map(|s| (s.status == StepStatus::Waiting, s.attempts))
        });
    // Long enough for the other report to be recorded on a busy machine; only while the step
    // waited when this report began, so a run held by a driver is said at once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let held = match DriverLock::acquire(&ctx.home, run_id, &holder(&by.actor)) {
            Ok(lock) => return Ok(lock),
            Err(e @ crate::execute::LockError::Held { .. }) => e,
            Err(e) => return Err(e.into()),
        };
        // A report on the step recorded by another (since this report began, on the same
        // attempt, or before it) is why, not a process to stop or abort: the other
        // reporter holds the run while it drives on. Before, a report that began just after
        // the other was recorded (so the step no longer waited) was told the run was held,
        // exit 4 — two identical reports at once, seen in CI.
        if let Ok(now) = crate::execute::load_state(store, run_id)
            && let Some(s) = now.steps.iter().find(|s| normalize_name(&s.name) == wanted)
            && s.status != StepStatus::Waiting
            && match waiting_before {
                Some((true, attempts)) => s.attempts == attempts,
                Some((false, _)) => true,
                None => false,
            }
            && let Some(done) = already_reported(s)
        {
            let when = match waiting_before {
                Some((true, _)) => " while this report waited for the run",
                _ => "",
            };
            return Err(reported_meanwhile(ctx, run_id, &done, when));
        }
        if std::time::Instant::now() >= deadline || !matches!(waiting_before, Some((true, _))) {
            return Err(held.into());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A warning for each output of unit `index` that something later reads, that its gate does
/// not require (a report without a required one is refused), and that a complete report with
/// `given` leaves out: which steps (or phases) will see it empty.
pub(crate) fn omitted_outputs(
    state: &crate::decide::RunState,
    index: usize,
    given: &[(String, String)],
) -> Vec<String> {
    let required = state.required_outputs(index);
    let unit = state.steps.get(index).map_or("", |s| s.name.as_str());
    state
        .output_readers(index)
        .into_iter()
        .filter(|(key, _)| !required.contains(key) && !given.iter().any(|(k, _)| k == key))
        .map(|(key, readers)| {
            let readers: Vec<String> = readers
                .iter()
                .map(|r| {
                    if r.starts_with("the workflow") {
                        r.clone()
                    } else {
                        format!("`{}`", crate::definition::shown(r))
                    }
                })
                .collect();
            format!(
                "`{}` was reported without output `{}`: {} will see it empty",
                crate::definition::shown(unit),
                crate::definition::shown(&key),
                readers.join(", ")
            )
        })
        .collect()
}

/// An unfinished run other than the one acted on, as a hint names it: its id, its kind, its
/// definition's name, how it stands, and the units it waits on (for a report or a start).
#[derive(Debug, Clone)]
pub(crate) struct OpenRun {
    pub run_id: String,
    pub kind: RunKind,
    pub name: String,
    pub status: RunStatus,
    /// Units waiting for a report.
    pub waiting: Vec<String>,
    /// Manual phases waiting to be started.
    pub startable: Vec<String>,
    /// Each waiting `uses:` step (listed in `waiting` too: the run waits on it) with the
    /// child run and its step that waits for the report: a report of the `uses:` step is
    /// refused ("it waits with that run"), so a hint that names one names this instead.
    pub through: Vec<Through>,
}

/// Where a report is taken: a run's id and its step's name.
type ReportAt = (String, String);

/// A `uses:` step that waits with its child run, and the step down the chain of child runs
/// that waits for a report (`child_waiting`).
#[derive(Debug, Clone)]
pub(crate) struct Through {
    pub uses: String,
    pub run_id: String,
    pub step: String,
}

/// The step that waits for a report in the child run of waiting `uses:` step `index` of
/// `state`, or further down the chain of child runs: its run's id and its name.
pub(crate) fn child_waiting(
    store: &dyn crate::store::EventStore,
    state: &crate::decide::RunState,
    index: usize,
) -> Option<(String, String)> {
    let mut child = state.steps.get(index)?.child.as_ref()?.run_id.clone();
    for _ in 0..=crate::validate::MAX_USES_DEPTH {
        let c = crate::execute::load_state(store, &child).ok()?;
        if c.outcome().is_some() {
            return None;
        }
        let i = c
            .steps
            .iter()
            .position(|s| s.status == StepStatus::Waiting)?;
        if !c.is_uses(i) {
            return Some((child, c.steps[i].name.clone()));
        }
        child = c.steps[i].child.as_ref()?.run_id.clone();
    }
    None
}

/// How the run acted on was found, for the hints that name other runs: `None` when it was
/// named by its id (nobody else was meant), `Some(None)` when no run was given (the latest of
/// its kind: any other run of the kind may be meant), `Some(Some(name))` when a definition's
/// name was given (its latest run: any other run of that name may be meant). Every lookup by
/// name shares this rule.
pub(crate) fn looked_up_by<'a>(given: Option<&'a str>, run_id: &str) -> Option<Option<&'a str>> {
    match given {
        None => Some(None),
        Some(g)
            if !g.trim().is_empty()
                && run_id
                    .to_ascii_uppercase()
                    .starts_with(&g.trim().to_ascii_uppercase()) =>
        {
            None
        }
        Some(g) => Some(Some(g)),
    }
}

/// How many unfinished runs a hint looks at (newest first): a bounded read, whatever the
/// history holds.
const OPEN_RUNS_LOOKED_AT: usize = 20;

/// The unfinished runs of `scope`'s kind other than `run_id`, newest first (at most
/// `OPEN_RUNS_LOOKED_AT` looked at), each as it stands now. A run that cannot be read is
/// left out: this only adds to an answer.
pub(crate) fn other_open_runs(
    ctx: &Ctx,
    store: &dyn crate::store::EventStore,
    scope: Scope,
    run_id: &str,
    name: Option<&str>,
) -> Vec<OpenRun> {
    let query = crate::store::RunQuery {
        kind: scope.kind,
        name: name.map(str::to_string),
        unfinished: true,
        limit: Some(OPEN_RUNS_LOOKED_AT + 1),
        ..Default::default()
    };
    let Ok(entries) = store.list_runs(&query) else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter(|e| e.run_id != run_id)
        .take(OPEN_RUNS_LOOKED_AT)
        .filter_map(|e| {
            let state = crate::execute::load_state(store, &e.run_id).ok()?;
            if state.outcome().is_some() {
                return None;
            }
            let view = ctx.view(&state, false);
            let waiting = state
                .steps
                .iter()
                .filter(|s| s.status == StepStatus::Waiting)
                .map(|s| s.name.clone())
                .collect();
            let startable = crate::plan::awaiting_manual_start(&state)
                .into_iter()
                .map(|i| state.steps[i].name.clone())
                .collect();
            let through = (0..state.steps.len())
                .filter(|&i| state.steps[i].status == StepStatus::Waiting && state.is_uses(i))
                .filter_map(|i| {
                    let (run_id, step) = child_waiting(store, &state, i)?;
                    Some(Through {
                        uses: state.steps[i].name.clone(),
                        run_id,
                        step,
                    })
                })
                .collect();
            Some(OpenRun {
                run_id: e.run_id,
                kind: e.kind,
                name: e.name,
                status: view.status,
                waiting,
                startable,
                through,
            })
        })
        .collect()
}

/// The other runs that wait or were cut short, each with what it waits on (or how it stands)
/// and the command that goes on with it: `resume` for one to resume, `status` for one waiting
/// on a report (which its status shows, with the report's command).
fn others_to_go_on_with(others: &[OpenRun]) -> Vec<(&OpenRun, String, Vec<&str>)> {
    others
        .iter()
        .filter(|o| {
            matches!(
                o.status,
                RunStatus::Waiting
                    | RunStatus::Interrupted
                    | RunStatus::Stopped
                    | RunStatus::Failed
            )
        })
        .map(|o| {
            let group = o.kind.group();
            let (what, argv) = match o.status {
                RunStatus::Waiting if !o.waiting.is_empty() => (
                    format!(
                        "waits on {}",
                        o.waiting
                            .iter()
                            .map(|w| format!("`{}`", crate::definition::shown(w)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    vec![group, "status", o.run_id.as_str()],
                ),
                status => (
                    status.as_str().to_string(),
                    vec![group, "resume", o.run_id.as_str()],
                ),
            };
            (o, what, argv)
        })
        .collect()
}

/// The lines naming the other runs that wait or were cut short, each with the command that
/// goes on with it (`others_to_go_on_with`).
pub(crate) fn others_text(ctx: &Ctx, others: &[OpenRun]) -> String {
    let shown = others_to_go_on_with(others);
    if shown.is_empty() {
        return String::new();
    }
    let mut text = String::from("\nOther runs to go on with:\n");
    for (o, what, argv) in shown {
        text.push_str(&format!(
            "   Run {} ({}) {what}: {}\n",
            o.run_id,
            crate::definition::shown(&o.name),
            ctx.cmd(&argv)
        ));
    }
    text
}

/// The same runs in a `--json` document (and an MCP result): each one's command appended to
/// its `next`, as `{argv, why}`, the why naming the run ("run ID (NAME) waits on `Review`:
/// its status shows the report's command"), as the human output lists them.
pub(crate) fn others_in_json(ctx: &Ctx, others: &[OpenRun], json: &mut serde_json::Value) {
    let Some(next) = json.get_mut("next").and_then(|n| n.as_array_mut()) else {
        return;
    };
    for (o, what, argv) in others_to_go_on_with(others) {
        let full: Vec<String> = std::iter::once("cortex".to_string())
            .chain(ctx.globals())
            .chain(argv.iter().map(|a| a.to_string()))
            .collect();
        let then = if argv[1] == "status" {
            "its status shows the report's command"
        } else {
            "resume it"
        };
        next.push(json!({
            "argv": full,
            "why": format!(
                "other run {} ({}) {what}: {then}",
                o.run_id,
                crate::definition::shown(&o.name)
            ),
        }));
    }
}

/// Whether child run `run_id` (at `depth` below the run resumed) only waits on people, as
/// `plan::idle_wait` says, its own children likewise, and nobody drives it: a plain resume
/// of its parent would change nothing.
fn child_idle(ctx: &Ctx, store: &dyn EventStore, run_id: &str, depth: usize) -> bool {
    if depth > crate::validate::MAX_USES_DEPTH {
        return false;
    }
    let Ok(child) = crate::execute::load_state(store, run_id) else {
        return false;
    };
    crate::execute::DriverLock::probe(&ctx.home, run_id).is_none()
        && crate::execute::live_recorded_driver(store, &child).is_none()
        && crate::plan::idle_wait(&child, &|id| child_idle(ctx, store, id, depth + 1)).is_some()
}

/// The answer to a plain resume of a run that only waits on people: what it waits for, its
/// next steps, nothing recorded; exit 3 (SPEC §5: a waiting run). The next steps are those
/// `status` gives, down its `uses:` steps' child runs (read from `store`): the report on the
/// child's step. Never the plain resume just made, which would find nothing again: before, a
/// parent whose child waited on a prompt was offered `status CHILD` and `resume PARENT`.
fn nothing_to_resume(
    ctx: &Ctx,
    store: &dyn EventStore,
    state: &crate::decide::RunState,
    (reports, starts): &(Vec<usize>, Vec<usize>),
    others: &[OpenRun],
) -> Output {
    let mut view = ctx.view_with_children(state, false, store);
    view.next.retain(|s| !s.is_plain_resume(&state.run_id));
    let noun = if state.is_scenario() { "phase" } else { "step" };
    let names = |v: &[usize]| {
        v.iter()
            .map(|&i| {
                let name = format!("`{}`", crate::definition::shown(&state.steps[i].name));
                match &state.steps[i].child {
                    Some(c) if state.is_uses(i) => format!("{name}'s child run {}", c.run_id),
                    _ => name,
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut waits = Vec::new();
    if !reports.is_empty() {
        waits.push(format!("a report on {noun} {}", names(reports)));
    }
    if !starts.is_empty() {
        waits.push(format!("the manual phase {} to be started", names(starts)));
    }
    let note = format!(
        "run {} waits for {}: nothing to resume, nothing was recorded",
        state.run_id,
        waits.join(" and ")
    );
    let mut text = format!(
        "⏳ Run {} waits for {}; nothing to resume, nothing was recorded.\n",
        state.run_id,
        waits.join(" and ")
    );
    text.push_str(&crate::render::render_next(&view.next));
    text.push_str(&others_text(ctx, others));
    let mut json = view.to_json();
    if let Some(doc) = json.as_object_mut() {
        doc.insert("note".into(), json!(note));
    }
    others_in_json(ctx, others, &mut json);
    Output::new(json, text, view.status.exit_code())
}

/// Where `report_elsewhere` looks: the runs of `scope` other than `run_id` (of definition
/// `name` when one was given: `looked_up_by`) whose unit `unit` waits for a report (or, with
/// `start`, a manual phase waiting to be started).
pub(crate) struct Elsewhere<'a> {
    pub scope: Scope,
    pub run_id: &'a str,
    pub name: Option<&'a str>,
    pub unit: &'a str,
    pub start: bool,
    /// The run addressed has the unit and can still take the action (once resumed, say):
    /// the error's own hints are the fix, and another run's unit of the same name is named
    /// after them, with its definition's name, as what else might have been meant. Before,
    /// a stopped run's step came after a different workflow's run's step of that name, whose
    /// report was the first hint.
    pub own: bool,
    /// The report's other arguments, which each command named repeats (its secrets left
    /// out), and the note of what it leaves out.
    pub said: &'a super::said::Said,
}

/// A report made on the latest run for want of a RUN, which that run cannot take (it
/// finished, has no such unit, or the unit is not waiting): the other unfinished runs in
/// `scope` whose unit of that name waits for a report are named in `e`, each with the
/// report's command there (`argv` of the run's id and the unit's name), before its other
/// hints. Before, the error spoke of the latest run alone ("already finished… `workflow run`
/// starts a new run") while an older run waited on that very step.
pub(crate) fn report_elsewhere(
    ctx: &Ctx,
    store: &dyn EventStore,
    at: Elsewhere<'_>,
    argv: &dyn Fn(&str, &str) -> Vec<String>,
    mut e: CommandError,
) -> CommandError {
    let Elsewhere {
        scope,
        run_id,
        name,
        unit,
        start,
        own,
        said,
    } = at;
    let wanted = normalize_name(unit);
    // Each run whose unit of that name waits, with the run and unit a report goes to: the
    // unit itself, or, for a `uses:` step (which waits with its child run, and whose report
    // is refused), the step down its chain of child runs that waits for the report.
    let hits: Vec<(OpenRun, String, Option<ReportAt>)> =
        other_open_runs(ctx, store, scope, run_id, name)
            .into_iter()
            .filter_map(|o| {
                let units = if start { &o.startable } else { &o.waiting };
                let name = units.iter().find(|w| normalize_name(w) == wanted)?.clone();
                let via = (!start)
                    .then(|| o.through.iter().find(|t| t.uses == name))
                    .flatten()
                    .map(|t| (t.run_id.clone(), t.step.clone()));
                Some((o, name, via))
            })
            .collect();
    if hits.is_empty() {
        return e;
    }
    let what = if start {
        "to be started"
    } else {
        "for a report"
    };
    // The command for one hit: the report (or start) where it is taken.
    let command = |o: &OpenRun, name: &str, via: &Option<ReportAt>| -> super::Hint {
        let args = match via {
            Some((child, step)) => argv(child, step),
            None => argv(&o.run_id, name),
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ctx.suggest(&args)
    };
    // What the command leaves out of the report (a secret) follows what it does.
    let command = |o: &OpenRun, name: &str, via: &Option<ReportAt>, does: String| {
        said.noted(command(o, name, via).then(does))
    };
    if own {
        // Not the fix: named last, with whose it is, for an agent that meant that run.
        let hints: Vec<super::Hint> = hits
            .iter()
            .map(|(o, name, via)| {
                let of = format!(
                    "run {} of {} `{}` (not this one)",
                    o.run_id,
                    o.kind.as_str(),
                    crate::definition::shown(&o.name),
                );
                let does = match via {
                    Some((child, step)) => format!(
                        " only if you meant another run: {of} has a `uses:` step of that name waiting with its child run {child}, whose step `{}` waits for a report",
                        crate::definition::shown(step)
                    ),
                    None => format!(
                        " only if you meant another run: {of} has a {} of that name waiting {what}",
                        match o.kind {
                            RunKind::Workflow => "step",
                            RunKind::Scenario => "phase",
                        },
                    ),
                };
                command(o, name, via, does)
            })
            .collect();
        e.hints.extend(hints);
        return e;
    }
    let runs: Vec<String> = hits
        .iter()
        .map(|(o, _, via)| {
            let run = format!("{} ({})", o.run_id, crate::definition::shown(&o.name));
            match via {
                Some((child, step)) => format!(
                    "{run} with its child run {child} (it is a `uses:` step), whose step `{}` waits for a report",
                    crate::definition::shown(step)
                ),
                None => run,
            }
        })
        .collect();
    let runs = runs.join(", ");
    let unit = crate::definition::shown(unit);
    let many = if hits.len() == 1 { "run" } else { "runs" };
    if hits.iter().any(|(_, _, via)| via.is_some()) {
        e.message
            .push_str(&format!("; `{unit}` waits in {many} {runs}"));
    } else {
        e.message
            .push_str(&format!("; `{unit}` waits {what} in {many} {runs}"));
    }
    let mut hints: Vec<super::Hint> = hits
        .iter()
        .map(|(o, name, via)| {
            let does = match via {
                Some((child, step)) => format!(
                    " reports `{}` in child run {child} (and drives run {} on too)",
                    crate::definition::shown(step),
                    o.run_id
                ),
                None => format!(
                    " {} it in run {}",
                    if start { "starts" } else { "reports" },
                    o.run_id
                ),
            };
            command(o, name, via, does)
        })
        .collect();
    if e.run_hint.is_none() {
        hints.append(&mut e.hints);
        e.hints = hints;
    } else {
        e.hints.append(&mut hints);
    }
    e
}
