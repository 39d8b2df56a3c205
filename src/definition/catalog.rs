//! Finding definitions by forgiving name or by path: user files in `CORTEX_HOME`, then the
//! built-in templates; agents in `CORTEX_HOME/agents/`, then the project's `.claude/agents/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{
    Agent, Config, ConfigFile, DefinitionError, NameKind, Problem, ReadError,
    builtin::BUILTIN_WORKFLOWS, check_name, normalize_name, parse_agent, parse_config_file,
    read_definition, shown,
};

/// Where a definition came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntrySource {
    Builtin,
    File(PathBuf),
}

/// A definition's text and where it came from.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub source: EntrySource,
    pub text: String,
}

impl Entry {
    /// The file as the user knows it (`builtin:NAME` for templates).
    pub fn display_path(&self) -> String {
        match &self.source {
            EntrySource::Builtin => format!("builtin:{}", self.name),
            EntrySource::File(p) => p.display().to_string(),
        }
    }
}

/// Why a name or path could not be turned into a definition.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("no {kind} named `{query}`{}", .other.map(|o| format!(": it is a {o}")).unwrap_or_default())]
    NotFound {
        kind: &'static str,
        query: String,
        suggestions: Vec<String>,
        /// The other kind (`scenario` for a workflow) that has a definition of this name.
        other: Option<&'static str>,
    },
    /// `reason` names the kind and shows the query (escaped), says what is wrong and the fix.
    #[error("{reason}")]
    BadName {
        kind: &'static str,
        query: String,
        reason: String,
    },
    /// `how`: how their names differ (`names_differ`).
    #[error("`{query}` could mean any of {}: their names differ only in {how}", matches.join(", "))]
    Ambiguous {
        kind: &'static str,
        query: String,
        matches: Vec<String>,
        how: String,
    },
    #[error("cannot read {path}: {error}")]
    Unreadable { path: String, error: ReadError },
    /// No `kind` has the name, but a file of the other kind's folder that is a `kind` by its
    /// content (a workflow, with `steps:`, in `scenarios/`) does.
    #[error(
        "no {kind} named `{query}` in {folder}/: {path} is a {kind} (it has `{key}:`), but it is in the folder of the other kind; move it to {folder}/"
    )]
    Misplaced {
        kind: &'static str,
        query: String,
        path: String,
        folder: &'static str,
        key: &'static str,
    },
    /// The file that would define it does not: its errors, located.
    #[error("the {kind} `{query}` is invalid")]
    Invalid {
        kind: &'static str,
        query: String,
        error: DefinitionError,
    },
}

/// The kind a definition's text is by its content: `workflow` with `steps:` and no
/// `phases:`, `scenario` with `phases:` and no `steps:`; else none.
pub fn content_kind(text: &str) -> Option<&'static str> {
    super::workflow::precheck("", super::without_bom(text), true).ok()?;
    let value: serde_yaml::Value = serde_yaml::from_str(super::without_bom(text)).ok()?;
    let map = value.as_mapping()?;
    match (map.contains_key("steps"), map.contains_key("phases")) {
        (true, false) => Some("workflow"),
        (false, true) => Some("scenario"),
        _ => None,
    }
}

/// A name typed to find a definition must be one a definition could have.
fn check_query(kind: &'static str, query: &str) -> Result<(), LookupError> {
    let name_kind = match kind {
        "scenario" => NameKind::Scenario,
        "agent" => NameKind::Agent,
        _ => NameKind::Workflow,
    };
    check_name(name_kind, query.trim()).map_err(|bad| LookupError::BadName {
        kind,
        query: shown(query),
        reason: format!("{}; {}", bad.problem, bad.fix),
    })
}

/// Whether something is at `path`, whatever it is (a file, a FIFO, a device, a link to
/// nothing): a definition named by a file there is read from it, and told what it is when it
/// cannot be read (`z.yaml` a link to /dev/zero was "no workflow named `z.yaml`", where
/// `./z.yaml` said what it is).
fn is_there(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// The text of the `kind` definition at `path`: a file whose content no definition can have
/// (too large, not UTF-8) is an invalid definition, its problem located; one that cannot be
/// read at all (not there, not a regular file) is unreadable.
fn read(kind: &'static str, path: &Path) -> Result<String, LookupError> {
    read_definition(path).map_err(|error| match error.is_content() {
        true => LookupError::Invalid {
            kind,
            query: path.display().to_string(),
            error: error.definition_error(&path.display().to_string()),
        },
        false => LookupError::Unreadable {
            path: path.display().to_string(),
            error,
        },
    })
}

/// A file that could not be read, as a definition error (`ReadError::definition_error`).
fn unreadable(path: &Path, error: ReadError) -> DefinitionError {
    error.definition_error(&path.display().to_string())
}

/// How names that match each other (`normalize_name`) differ, in words, and whether they
/// differ in Unicode normalisation: then they can look alike to the letter (`café` with `é`
/// as one character, and as `e` and a combining accent), and are shown with every character
/// beyond ASCII as its code point (`shown_path`), so that they look as different as they are.
fn names_differ(names: &[&str]) -> (String, bool) {
    use unicode_normalization::UnicodeNormalization;
    // As `normalize_name` matches them, but for normalisation: where these differ, only
    // normalisation made the names match.
    let loose = |n: &str| -> String {
        n.trim()
            .to_lowercase()
            .chars()
            .map(|c| if c == ' ' || c == '_' { '-' } else { c })
            .collect()
    };
    let loosely: Vec<String> = names.iter().map(|n| loose(n)).collect();
    let form = loosely.iter().any(|l| *l != loosely[0]);
    let composed: Vec<String> = names.iter().map(|n| n.nfc().collect()).collect();
    let rest = composed.iter().any(|c| *c != composed[0]);
    let how = match (form, rest) {
        (true, false) => {
            "Unicode normalisation (an accented letter written as one character, or as a letter and a combining mark)"
        }
        (true, true) => {
            "Unicode normalisation (an accented letter written as one character, or as a letter and a combining mark), case, spaces, `_` or `-`"
        }
        _ => "case, spaces, `_` or `-`",
    };
    (how.to_string(), form)
}

/// A path as a message shows it; `apart`: with every character beyond ASCII as its code point
/// (`caf\u{e9}.yaml`, `cafe\u{301}.yaml`), for names that would look alike otherwise.
fn shown_path(path: &str, apart: bool) -> String {
    match apart {
        true => path
            .chars()
            .map(|c| match c.is_ascii() {
                true => c.to_string(),
                false => c.escape_unicode().to_string(),
            })
            .collect(),
        false => path.to_string(),
    }
}

/// A definition as a listing shows it: its text, read through the bounded reader
/// (`read_definition`, so an oversized file is refused by its size, unread), or why it cannot
/// be read; and the other definitions a lookup of its name would also match (`Deploy.yaml`
/// and `deploy.yaml`), which make the name ambiguous.
#[derive(Debug)]
pub struct Listed {
    pub name: String,
    pub source: EntrySource,
    pub text: Result<String, ReadError>,
    pub namesakes: Vec<String>,
}

impl Listed {
    /// The file as the user knows it (`builtin:NAME` for templates).
    pub fn path(&self) -> String {
        match &self.source {
            EntrySource::File(p) => p.display().to_string(),
            EntrySource::Builtin => format!("builtin:{}", self.name),
        }
    }

    /// Why the name cannot be used as it stands, if it cannot.
    pub fn ambiguity(&self) -> Option<String> {
        (!self.namesakes.is_empty()).then(|| {
            format!(
                "ambiguous: `{}` also matches {}; rename one of them",
                self.name,
                self.namesakes.join(", ")
            )
        })
    }
}

/// The definitions visible from one `CORTEX_HOME` and project directory.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub home: PathBuf,
    pub project_dir: PathBuf,
}

impl Catalog {
    pub fn new(home: PathBuf, project_dir: PathBuf) -> Self {
        Catalog { home, project_dir }
    }

    pub fn workflows_dir(&self) -> PathBuf {
        self.home.join("workflows")
    }

    fn yaml_files(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            // Not only regular files: a FIFO, a device or a broken link named `x.yaml` is
            // listed, and reading it says what it is (`read_definition`), never hangs.
            .filter(|p| !p.is_dir() && is_yaml(p))
            .collect();
        files.sort();
        files
    }

    pub fn scenarios_dir(&self) -> PathBuf {
        self.home.join("scenarios")
    }

    /// Every definition in `dir`, then the built-ins no file overrides; sorted by name.
    fn listed(dir: &Path, builtins: &[(&str, &str)]) -> Vec<(String, EntrySource)> {
        let mut out: Vec<(String, EntrySource)> = Self::yaml_files(dir)
            .into_iter()
            .filter_map(|p| {
                let stem = p.file_stem()?.to_str()?.to_string();
                Some((stem, EntrySource::File(p)))
            })
            .collect();
        for (name, _) in builtins {
            if !out.iter().any(|(n, _)| normalize_name(n) == *name) {
                out.push((name.to_string(), EntrySource::Builtin));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Every workflow: user files, then built-ins no user file overrides; sorted by name.
    pub fn workflows(&self) -> Vec<(String, EntrySource)> {
        Self::listed(&self.workflows_dir(), BUILTIN_WORKFLOWS)
    }

    /// Every scenario file (the user schema `schema.yaml` is not a scenario).
    pub fn scenarios(&self) -> Vec<(String, EntrySource)> {
        Self::listed(&self.scenarios_dir(), &[])
            .into_iter()
            .filter(|(n, _)| n != "schema")
            .collect()
    }

    /// Every workflow, read for a listing: see `Listed`.
    pub fn list_workflows(&self) -> Vec<Listed> {
        Self::read_listed(self.workflows())
    }

    /// Every scenario file, read for a listing: see `Listed`.
    pub fn list_scenarios(&self) -> Vec<Listed> {
        Self::read_listed(self.scenarios())
    }

    fn read_listed(all: Vec<(String, EntrySource)>) -> Vec<Listed> {
        let shown_source = |name: &str, source: &EntrySource| match source {
            EntrySource::File(p) => p.display().to_string(),
            EntrySource::Builtin => format!("builtin:{name}"),
        };
        all.iter()
            .map(|(name, source)| Listed {
                name: name.clone(),
                source: source.clone(),
                text: match source {
                    EntrySource::Builtin => Ok(super::builtin_workflow(name)
                        .expect("listed built-ins exist")
                        .to_string()),
                    EntrySource::File(p) => read_definition(p),
                },
                namesakes: {
                    let others: Vec<&(String, EntrySource)> = all
                        .iter()
                        .filter(|(other, other_source)| {
                            other_source != source && normalize_name(other) == normalize_name(name)
                        })
                        .collect();
                    let names: Vec<&str> = std::iter::once(name.as_str())
                        .chain(others.iter().map(|(n, _)| n.as_str()))
                        .collect();
                    let apart = names_differ(&names).1;
                    others
                        .iter()
                        .map(|(other, source)| shown_path(&shown_source(other, source), apart))
                        .collect()
                },
            })
            .collect()
    }

    /// The user schema `scenarios/schema.yaml`, if there is one.
    pub fn user_schema(&self) -> Result<Option<super::UserSchema>, DefinitionError> {
        let path = self.scenarios_dir().join("schema.yaml");
        match read_definition(&path) {
            Ok(text) => super::parse_user_schema(&path.display().to_string(), &text).map(Some),
            Err(ReadError::NotFound) => Ok(None),
            Err(e) => Err(unreadable(&path, e)),
        }
    }

    /// The other workflows of the home (and built-ins) whose `name:` matches `name`
    /// (forgivingly), shown as files: the workflows whose runs would share a name with
    /// `entry`'s. A file outside the home's `workflows/` (run by its path) has none.
    pub fn workflow_namesakes(&self, entry: &Entry, name: &str) -> Vec<String> {
        Self::namesakes(
            &self.workflows_dir(),
            self.workflows(),
            entry,
            name,
            "scenario",
        )
    }

    /// `workflow_namesakes`, for scenarios.
    pub fn scenario_namesakes(&self, entry: &Entry, name: &str) -> Vec<String> {
        Self::namesakes(
            &self.scenarios_dir(),
            self.scenarios(),
            entry,
            name,
            "workflow",
        )
    }

    fn namesakes(
        dir: &Path,
        all: Vec<(String, EntrySource)>,
        entry: &Entry,
        name: &str,
        other_kind: &str,
    ) -> Vec<String> {
        let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let own = match &entry.source {
            EntrySource::File(p) => {
                let p = canonical(p);
                if p.parent() != Some(canonical(dir).as_path()) {
                    return Vec::new();
                }
                EntrySource::File(p)
            }
            EntrySource::Builtin => EntrySource::Builtin,
        };
        let wanted = normalize_name(name);
        let found: Vec<(String, EntrySource)> = all
            .into_iter()
            .filter(|(other, source)| match (source, &own) {
                (EntrySource::File(p), EntrySource::File(own)) => canonical(p) != *own,
                (EntrySource::Builtin, EntrySource::Builtin) => other != &entry.name,
                _ => true,
            })
            .filter(|(other, source)| {
                Self::declared_name(other, source).is_some_and(|n| normalize_name(&n) == wanted)
            })
            // A file of the other kind by its content (a scenario in `workflows/`) is no
            // namesake: it is said to be misplaced by itself.
            .filter(|(_, source)| match source {
                EntrySource::File(p) => read_definition(p)
                    .map(|t| content_kind(&t) != Some(other_kind))
                    .unwrap_or(true),
                EntrySource::Builtin => true,
            })
            .collect();
        // Names alike but for their Unicode normalisation are shown apart (`shown_path`).
        let names: Vec<&str> = std::iter::once(name)
            .chain(std::iter::once(entry.name.as_str()))
            .chain(found.iter().map(|(other, _)| other.as_str()))
            .collect();
        let apart = names_differ(&names).1;
        found
            .into_iter()
            .map(|(other, source)| match source {
                EntrySource::File(p) => shown_path(&p.display().to_string(), apart),
                EntrySource::Builtin => format!("builtin:{other}"),
            })
            .collect()
    }

    /// The `name:` a definition declares, read lightly (none where it cannot be read).
    fn declared_name(listed: &str, source: &EntrySource) -> Option<String> {
        let text = match source {
            EntrySource::Builtin => super::builtin_workflow(listed)?.to_string(),
            EntrySource::File(p) => read_definition(p).ok()?,
        };
        declared_name_of(&text)
    }

    /// Find a workflow by forgiving name, or read it from a path ending in `.yaml`/`.yml`.
    pub fn find_workflow(&self, query: &str) -> Result<Entry, LookupError> {
        self.find("workflow", self.workflows(), query)
            .map_err(|e| self.other_kind(e, "scenario", self.scenarios()))
    }

    /// Find a scenario by forgiving name, or read it from a path ending in `.yaml`/`.yml`.
    pub fn find_scenario(&self, query: &str) -> Result<Entry, LookupError> {
        self.find("scenario", self.scenarios(), query)
            .map_err(|e| self.other_kind(e, "workflow", self.workflows()))
    }

    /// A name no definition of its kind has, but one of the `other` kind has: said so
    /// (`workflow run SCENARIO`), so the error can point at the other command.
    fn other_kind(
        &self,
        e: LookupError,
        other: &'static str,
        all: Vec<(String, EntrySource)>,
    ) -> LookupError {
        match e {
            LookupError::NotFound {
                kind,
                query,
                suggestions,
                other: None,
            } => {
                let found = self.find(other, all, &query);
                // Judged by its content, not its folder: a workflow written in `scenarios/`
                // is a misplaced workflow, not a scenario.
                if let Ok(entry) = &found
                    && let Some(key) = content_kind(&entry.text).filter(|k| *k == kind)
                {
                    return LookupError::Misplaced {
                        kind,
                        query,
                        path: entry.display_path(),
                        folder: if kind == "workflow" {
                            "workflows"
                        } else {
                            "scenarios"
                        },
                        key: if key == "workflow" { "steps" } else { "phases" },
                    };
                }
                let found = found.is_ok();
                LookupError::NotFound {
                    kind,
                    query,
                    suggestions,
                    other: found.then_some(other),
                }
            }
            e => e,
        }
    }

    fn find(
        &self,
        kind: &'static str,
        all: Vec<(String, EntrySource)>,
        query: &str,
    ) -> Result<Entry, LookupError> {
        let as_path = Path::new(query);
        if is_yaml(as_path) && (query.contains('/') || is_there(as_path)) {
            let path = if as_path.is_absolute() {
                as_path.to_path_buf()
            } else {
                self.project_dir.join(as_path)
            };
            let text = read(kind, &path)?;
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or(query)
                .to_string();
            return Ok(Entry {
                name,
                source: EntrySource::File(path),
                text,
            });
        }
        check_query(kind, query)?;
        let wanted = normalize_name(query.strip_suffix(".yaml").unwrap_or(query));
        let matching: Vec<&(String, EntrySource)> = all
            .iter()
            .filter(|(n, _)| normalize_name(n) == wanted)
            .collect();
        if matching.len() > 1 {
            let names: Vec<&str> = matching.iter().map(|(n, _)| n.as_str()).collect();
            let (how, apart) = names_differ(&names);
            return Err(LookupError::Ambiguous {
                kind,
                query: shown(query),
                matches: matching
                    .iter()
                    .map(|(n, source)| match source {
                        EntrySource::File(p) => shown_path(&p.display().to_string(), apart),
                        EntrySource::Builtin => format!("builtin:{n}"),
                    })
                    .collect(),
                how,
            });
        }
        if let Some((name, source)) = matching.first() {
            let text = match source {
                EntrySource::Builtin => super::builtin_workflow(name)
                    .expect("listed built-ins exist")
                    .to_string(),
                EntrySource::File(p) => read(kind, p)?,
            };
            return Ok(Entry {
                name: name.clone(),
                source: source.clone(),
                text,
            });
        }
        // Found by its file name; else by the `name:` it declares, where one file of the
        // folder declares it (a name is unique: where two do, the first is loaded, and its
        // validation refuses it, naming both).
        let declaring: Vec<&(String, EntrySource)> = all
            .iter()
            .filter(|(n, source)| {
                matches!(source, EntrySource::File(_))
                    && Self::declared_name(n, source).is_some_and(|d| normalize_name(&d) == wanted)
            })
            .collect();
        if let Some((name, source @ EntrySource::File(p))) = declaring.first() {
            return Ok(Entry {
                name: name.clone(),
                source: source.clone(),
                text: read(kind, p)?,
            });
        }
        Err(LookupError::NotFound {
            kind,
            query: query.to_string(),
            suggestions: suggest(&wanted, all.iter().map(|(n, _)| n.as_str())),
            other: None,
        })
    }

    /// The engine configuration: `cortex.config.json` if present, else the defaults.
    pub fn config(&self) -> Result<Config, DefinitionError> {
        self.config_file().map(|file| file.workflow)
    }

    /// The configuration's file (`cortex.config.json` of the home), there or not.
    pub fn config_path(&self) -> PathBuf {
        self.home.join("cortex.config.json")
    }

    /// The whole configuration: engine settings and how agents are run.
    pub fn config_file(&self) -> Result<ConfigFile, DefinitionError> {
        let path = self.config_path();
        match read_definition(&path) {
            Ok(text) => parse_config_file(&path.display().to_string(), &text),
            Err(ReadError::NotFound) => Ok(ConfigFile::default()),
            Err(e) => Err(unreadable(&path, e)),
        }
    }

    /// Agent files, home first then project. An agent of the home hides a project agent of the
    /// same name (matched forgivingly); two agents of one folder whose names match each other
    /// are ambiguous, and the second is an error naming both.
    pub fn agents(&self) -> Vec<Result<(Agent, PathBuf), DefinitionError>> {
        let dirs = [
            self.home.join("agents"),
            self.project_dir.join(".claude").join("agents"),
        ];
        let mut out: Vec<Result<(Agent, PathBuf), DefinitionError>> = Vec::new();
        // Each agent name as forgiving matching sees it, and the file that defined it first.
        let mut first: BTreeMap<String, PathBuf> = BTreeMap::new();
        // The names of files that define no agent (by their stem): one named for a built-in
        // was meant to replace it, so the built-in is not used in its place.
        let mut broken: BTreeSet<String> = BTreeSet::new();
        for dir in dirs {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("md"))
                .collect();
            files.sort();
            for path in files {
                let shown_path = path.display().to_string();
                let parsed = read_definition(&path)
                    .map_err(|e| unreadable(&path, e))
                    .and_then(|text| {
                        parse_agent(&shown_path, &text).map(|(agent, _)| (agent, text))
                    });
                let (agent, text) = match parsed {
                    Ok(found) => found,
                    Err(e) => {
                        if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                            broken.insert(normalize_name(stem));
                        }
                        out.push(Err(e));
                        continue;
                    }
                };
                match first.get(&normalize_name(&agent.name)) {
                    None => {
                        first.insert(normalize_name(&agent.name), path.clone());
                        out.push(Ok((agent, path)));
                    }
                    Some(earlier) if earlier.parent() == path.parent() => {
                        out.push(Err(collision(&shown_path, &text, &agent.name, earlier)))
                    }
                    // The home's agent of this name hides the project's.
                    Some(_) => {}
                }
            }
        }
        // Then the built-in agents nobody overrides (shown as `builtin:NAME`), nor tried to:
        // a broken file of a built-in's name is an error where the agent is used, never the
        // built-in silently in its place.
        for (name, text) in super::builtin::BUILTIN_AGENTS {
            if first.contains_key(&normalize_name(name)) || broken.contains(&normalize_name(name)) {
                continue;
            }
            let shown_path = format!("builtin:{name}");
            match parse_agent(&shown_path, text) {
                Ok((agent, _)) => out.push(Ok((agent, PathBuf::from(shown_path)))),
                Err(e) => out.push(Err(e)),
            }
        }
        out
    }

    /// A valid agent by forgiving name.
    pub fn find_agent(&self, query: &str) -> Result<Agent, LookupError> {
        // A path is accepted wherever a name is (SPEC §2): an agent's, to a Markdown file.
        let as_path = Path::new(query);
        if as_path.extension().and_then(|e| e.to_str()) == Some("md")
            && (query.contains('/') || is_there(as_path))
        {
            let path = if as_path.is_absolute() {
                as_path.to_path_buf()
            } else {
                self.project_dir.join(as_path)
            };
            let text = read("agent", &path)?;
            return parse_agent(&path.display().to_string(), &text)
                .map(|(agent, _)| agent)
                .map_err(|error| LookupError::Invalid {
                    kind: "agent",
                    query: shown(query),
                    error,
                });
        }
        check_query("agent", query)?;
        let wanted = normalize_name(query);
        let agents: Vec<Agent> = self
            .agents()
            .into_iter()
            .filter_map(Result::ok)
            .map(|(a, _)| a)
            .collect();
        if let Some(agent) = agents.iter().find(|a| normalize_name(&a.name) == wanted) {
            return Ok(agent.clone());
        }
        // A file named for it that does not define an agent: say what is wrong with it.
        let invalid = self.agents().into_iter().filter_map(Result::err).find(|e| {
            Path::new(&e.path)
                .file_stem()
                .and_then(|s| s.to_str())
                .is_some_and(|stem| normalize_name(stem) == wanted)
        });
        if let Some(error) = invalid {
            return Err(LookupError::Invalid {
                kind: "agent",
                query: shown(query),
                error,
            });
        }
        Err(LookupError::NotFound {
            kind: "agent",
            query: query.to_string(),
            suggestions: suggest(&wanted, agents.iter().map(|a| a.name.as_str())),
            other: None,
        })
    }
}

impl Catalog {
    /// The agent files that define no agent (they do not parse, or what they hold is
    /// invalid), by the names a definition would give them: the file's name, and the
    /// `name:` its front matter writes (read line by line, as the file does not parse). For
    /// each, what is wrong with it, located: a definition naming one is told that, not
    /// "agent not found" for a file that is there.
    pub fn broken_agents(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for e in self.agents().into_iter().filter_map(Result::err) {
            let summary = e.summary();
            let stem = Path::new(&e.path)
                .file_stem()
                .and_then(|s| s.to_str())
                .map(normalize_name);
            let named = super::agent::peeked_name(&e.text).map(|n| normalize_name(&n));
            for name in [stem, named].into_iter().flatten() {
                out.entry(name).or_insert_with(|| summary.clone());
            }
        }
        out
    }
}

/// The error of an agent file whose name matches an earlier agent's in the same folder.
fn collision(path: &str, text: &str, name: &str, first: &Path) -> DefinitionError {
    let at = super::agent::name_location(text);
    DefinitionError {
        path: path.to_string(),
        text: text.to_string(),
        problems: vec![
            Problem::new(
                format!(
                    "agent name `{}` collides with the agent of {}: names are matched ignoring case, spaces, `_` and `-`",
                    shown(name),
                    first.display()
                ),
                at,
            )
            .with_hint("rename one of them"),
        ],
    }
}

/// Up to three known names close to `wanted`, best first: the fewest edits (insertions,
/// deletions, substitutions, swaps of two neighbours) from it first, then the most alike
/// (Jaro-Winkler). Edits rank first: Jaro-Winkler alone favours a long name sharing the
/// typo's first letters (`rn` was taken for `runs_on` rather than `run`). A name is close
/// when it is that alike (above 0.75) or one edit away (from a typo of two characters or more). Both are compared as names are
/// matched (case, spaces, `_` and `-` aside).
pub fn suggest<'a>(wanted: &str, known: impl Iterator<Item = &'a str>) -> Vec<String> {
    let wanted = normalize_name(wanted);
    let mut scored: Vec<(usize, f64, &str)> = known
        .map(|k| {
            let name = normalize_name(k);
            (
                strsim::osa_distance(&wanted, &name),
                strsim::jaro_winkler(&wanted, &name),
                k,
            )
        })
        .filter(|(edits, alike, _)| *alike > 0.75 || (*edits <= 1 && wanted.chars().count() > 1))
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
    scored
        .into_iter()
        .take(3)
        .map(|(_, _, k)| k.to_string())
        .collect()
}

/// The `name:` a definition's text declares (none where it cannot be read), remembered per
/// process by the text's blake3 hash: a pure function of the text, so what is remembered is
/// what a parse would give. Every load of a definition asks it of each other file of its
/// folder (namesakes), so `workflow list` parsed every file once per file listed: quadratic in
/// the catalog, 44% of listing a home with one long workflow.
fn declared_name_of(text: &str) -> Option<String> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static SEEN: OnceLock<Mutex<HashMap<[u8; 32], Option<String>>>> = OnceLock::new();
    let key = *blake3::hash(text.as_bytes()).as_bytes();
    let seen = SEEN.get_or_init(Default::default);
    if let Some(name) = seen.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return name.clone();
    }
    let name = (|| {
        super::workflow::precheck("", text, true).ok()?;
        let value: serde_yaml::Value = serde_yaml::from_str(text).ok()?;
        value.get("name")?.as_str().map(str::to_string)
    })();
    seen.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, name.clone());
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::new(PathBuf::from("/nonexistent-home"), PathBuf::from("/"))
    }

    #[test]
    fn forgiving_names_find_builtins() {
        let entry = catalog().find_workflow("Feature Development").unwrap();
        assert_eq!(entry.name, "feature-development");
        assert_eq!(entry.source, EntrySource::Builtin);
    }

    #[test]
    fn unknown_names_get_suggestions() {
        match catalog().find_workflow("migraton") {
            Err(LookupError::NotFound { suggestions, .. }) => {
                assert_eq!(suggestions.first().map(String::as_str), Some("migration"))
            }
            other => panic!("expected not found, got {other:?}"),
        }
    }

    #[test]
    fn the_fewest_edits_rank_first() {
        let keys = [
            "name", "run", "runs_on", "prompt", "timeout", "retry", "rollback", "agent", "uses",
            "with", "if", "foreach", "validate", "env",
        ];
        for (typo, meant) in [
            ("rn", "run"),
            ("rum", "run"),
            ("rnu", "run"),
            ("promt", "prompt"),
            ("timout", "timeout"),
            ("retyr", "retry"),
            ("runs_no", "runs_on"),
            ("runson", "runs_on"),
            ("ues", "uses"),
            ("agnet", "agent"),
        ] {
            let got = suggest(typo, keys.iter().copied());
            assert_eq!(
                got.first().map(String::as_str),
                Some(meant),
                "{typo}: {got:?}"
            );
        }
    }

    #[test]
    fn names_cannot_escape_their_folder() {
        assert!(matches!(
            catalog().find_workflow("../etc/passwd"),
            Err(LookupError::BadName { .. })
        ));
        assert!(matches!(
            catalog().find_workflow("a\u{1b}b"),
            Err(LookupError::BadName { .. })
        ));
    }

    #[test]
    fn names_alike_but_for_their_normalisation_are_said_to_differ_so_and_shown_apart() {
        let (how, apart) = names_differ(&["caf\u{e9}", "cafe\u{301}"]);
        assert!(how.starts_with("Unicode normalisation"), "{how}");
        assert!(apart);
        assert_eq!(
            shown_path("w/cafe\u{301}.yaml", apart),
            "w/cafe\\u{301}.yaml"
        );
        assert_eq!(shown_path("w/caf\u{e9}.yaml", apart), "w/caf\\u{e9}.yaml");
        let (how, apart) = names_differ(&["Deploy", "deploy"]);
        assert_eq!(how, "case, spaces, `_` or `-`");
        assert!(!apart);
        let (how, _) = names_differ(&["Caf\u{e9}", "cafe\u{301}"]);
        assert!(
            how.contains("normalisation") && how.contains("case"),
            "{how}"
        );
        // Both decomposed: they differ in case alone.
        let (how, apart) = names_differ(&["Cafe\u{301}", "cafe\u{301}"]);
        assert_eq!((how.as_str(), apart), ("case, spaces, `_` or `-`", false));
    }
}
