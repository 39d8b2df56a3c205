//! The catalog: workflows and scenarios as `workflow list` and `orchestrate list` show them,
//! each with its validation verdict and a preview (steps, or phases with their conditions,
//! agents, criteria and graph), and the form that runs it — built from a workflow's typed
//! inputs, or a scenario's manual phases.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

use super::{Tab, failure, layout, page, sign_in, token_field};
use crate::definition::{
    Condition, Criterion, InputSpec, InputType, Scenario, Workflow, parse_scenario, parse_workflow,
};
use crate::ops::{self, CommandError, Output};
use crate::serve::actions::{catalog_name, lookup_failure};
use crate::serve::auth::Viewer;
use crate::serve::error::Failure;
use crate::serve::graph::{Node, layered_svg};
use crate::serve::server::{Shared, blocking};

fn answer(result: Result<Result<Markup, Failure>, CommandError>) -> Response {
    match result {
        Ok(Ok(markup)) => page(StatusCode::OK, markup),
        Ok(Err(f)) => failure(f),
        Err(e) => failure(Failure::from(e)),
    }
}

fn valid_mark(valid: bool) -> Markup {
    html! {
        @if valid { span class="verify ok" { "✓ valid" } } @else { span class="verify bad" { "✗ invalid" } }
    }
}

/// The catalog's schedules as `schedule list --json` gives them: each definition's `cron`,
/// its cadence in words and its next times (after the last time already decided), and the
/// schedules that cannot fire (their definition does not validate).
struct Schedules {
    rows: Vec<serde_json::Value>,
    invalid: Vec<serde_json::Value>,
}

impl Schedules {
    fn read(shared: &Shared) -> Schedules {
        // No log to read yet, or one that cannot be read: the run pages say why; the
        // catalog shows what it can.
        let doc = ops::schedule::list(&shared.ctx, std::time::SystemTime::now())
            .map(|o| o.json)
            .unwrap_or_default();
        let list = |k: &str| doc[k].as_array().cloned().unwrap_or_default();
        Schedules {
            rows: list("schedules"),
            invalid: list("invalid"),
        }
    }

    /// The schedule of the definition of `kind` at `file` (a path), else named `name`.
    fn of(&self, kind: &str, name: &str, file: Option<&str>) -> Option<Markup> {
        let hit = |r: &&serde_json::Value| {
            r["kind"] == kind
                && match file {
                    Some(f) => r["file"] == f,
                    None => r["name"] == name,
                }
        };
        if let Some(r) = self.rows.iter().find(hit) {
            let next = r["next"][0].as_str();
            return Some(html! {
                span class="schedule" title=(r["description"].as_str().unwrap_or("")) {
                    code { (r["cron"].as_str().unwrap_or("")) }
                    @if let Some(n) = next { " · next " (super::when(Some(n))) }
                }
            });
        }
        self.invalid.iter().find(hit).map(|r| {
            html! {
                span class="schedule error" title=(r["error"].as_str().unwrap_or("")) {
                    "schedule never fires: " (r["error"].as_str().unwrap_or("the definition does not validate"))
                }
            }
        })
    }
}

/// Under a schedule, when this server runs no scheduler (`serve --no-schedule`): the times
/// shown are when it is due, and something else must fire it.
fn not_fired_here(shared: &Shared) -> Markup {
    html! {
        @if !shared.fires_schedules {
            p class="muted schedule-note" {
                "This server does not fire schedules (it was started with " code { "--no-schedule" }
                "): it fires only where " code { "cortex schedule run" } ", a " code { "cortex worker" }
                " or another " code { "cortex serve" } " runs on this log."
            }
        }
    }
}

/// `GET /catalog`.
pub async fn catalog_page(State(shared): State<Arc<Shared>>) -> Response {
    answer(
        blocking(&shared, |shared| {
            let workflows = ops::workflow::list(&shared.ctx)?.json;
            let scenarios = ops::scenario::list(&shared.ctx)?.json;
            let rows = |v: &serde_json::Value| v.as_array().cloned().unwrap_or_default();
            let schedules = Schedules::read(shared);
            let file = |v: &serde_json::Value| -> Option<String> {
                v["source"]
                    .as_str()
                    .or(v["file"].as_str())
                    .filter(|s| *s != "built-in")
                    .map(str::to_string)
            };
            Ok(layout(
                "Catalog",
                Tab::Catalog,
                html! {
                    div class="page-head" { h1 { "Catalog" } }
                    @if !schedules.rows.is_empty() { (not_fired_here(shared)) }
                    section {
                        h2 { "Workflows" }
                        table class="catalog" {
                            thead { tr { th { "Name" } th { "Steps" } th { "Valid" } th { "Schedule" } th { "Description" } th { "Source" } } }
                            tbody {
                                @for w in rows(&workflows) {
                                    @let name = w["name"].as_str().unwrap_or_default();
                                    tr {
                                        td class="name" { a href={"/catalog/workflows/" (url(name))} { (name) } }
                                        td class="num" { (w["steps"].as_u64().map_or("—".to_string(), |n| n.to_string())) }
                                        td { (valid_mark(w["valid"].as_bool().unwrap_or(false))) }
                                        td { @if let Some(m) = schedules.of("workflow", name, file(&w).as_deref()) { (m) } }
                                        td { (w["description"].as_str().unwrap_or("")) }
                                        td class="muted" { (w["source"].as_str().unwrap_or("")) }
                                    }
                                }
                            }
                        }
                    }
                    section {
                        h2 { "Scenarios" }
                        @if rows(&scenarios).is_empty() {
                            p class="muted" { "No scenarios in " code { (shared.ctx.catalog().scenarios_dir().display()) } "." }
                        } @else {
                            table class="catalog" {
                                thead { tr { th { "Name" } th { "Phases" } th { "Valid" } th { "Schedule" } th { "Priority" } th { "Type" } th { "Description" } } }
                                tbody {
                                    @for s in rows(&scenarios) {
                                        @let name = s["name"].as_str().unwrap_or_default();
                                        tr {
                                            td class="name" { a href={"/catalog/scenarios/" (url(name))} { (name) } }
                                            td class="num" { (s["phases"].as_u64().map_or("—".to_string(), |n| n.to_string())) }
                                            td { (valid_mark(s["valid"].as_bool().unwrap_or(false))) }
                                            td { @if let Some(m) = schedules.of("scenario", name, file(&s).as_deref()) { (m) } }
                                            td { (s["priority"].as_str().unwrap_or("—")) }
                                            td { (s["type"].as_str().unwrap_or("—")) }
                                            td { (s["description"].as_str().unwrap_or("")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                },
            ))
        })
        .await,
    )
}

fn url(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// A verdict: the operation's text when valid, its error (message, detail, hints) if not.
fn verdict(result: &Result<Output, CommandError>) -> Markup {
    html! {
        @match result {
            // A definition `validate` finds wrong answers `Ok` with a non-zero code: shown as
            // a bad verdict (its colour too), not only by its mark.
            Ok(o) => {
                div class=(if o.code == 0 { "verdict ok" } else { "verdict bad" }) {
                    (valid_mark(o.code == 0)) pre { (o.human) }
                }
            }
            Err(e) => { div class="verdict bad" { (valid_mark(false)) (error_lines(e)) } }
        }
    }
}

/// An error as the CLI says it: its message, its detail, its hints.
fn error_lines(e: &CommandError) -> Markup {
    html! {
        p class="error" { (e.message) }
        @if let Some(d) = &e.detail { pre { (d) } }
        @for h in &e.hints { p class="muted" { "hint: " (h) } }
    }
}

/// Which form an input's control is in: the run form (a required input is required), or the
/// preview's (nothing is required: a preview shows the phases before every value is known),
/// holding the value the preview shown was made with — never a secret's, which is not
/// written back into the page.
#[derive(Clone, Copy)]
enum InputForm<'a> {
    Run,
    Preview(Option<&'a str>),
}

/// One control of the run form or the preview's, from an input's type.
fn input_control(name: &str, spec: &InputSpec, secret: bool, form: InputForm<'_>) -> Markup {
    let field = format!("input.{name}");
    let (required, given) = match form {
        InputForm::Run => (spec.required, None),
        InputForm::Preview(given) => (false, given.filter(|_| !secret)),
    };
    // A secret input's default is never shown (`validate` refuses one worth hiding; a short or
    // common one is still a secret's value).
    let default = spec.default.as_ref().map(|v| match v {
        _ if secret => crate::event::REDACTED.to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    html! {
        label class="input" {
            span class="name" { (name) @if required { " *" } }
            @if let Some(choices) = &spec.choices {
                select name=(field) required[required] {
                    @if !required { option value="" { "(default" @if let Some(d) = &default { ": " (d) } ")" } }
                    @for c in choices {
                        @let v = c.as_str().map_or_else(|| c.to_string(), str::to_string);
                        option value=(v) selected[given == Some(v.as_str())] { (v) }
                    }
                }
            } @else {
                @match spec.kind {
                    InputType::Boolean => {
                        select name=(field) required[required] {
                            option value="" { "(default" @if let Some(d) = &default { ": " (d) } ")" }
                            option value="true" selected[given == Some("true")] { "true" }
                            option value="false" selected[given == Some("false")] { "false" }
                        }
                    }
                    InputType::Integer | InputType::Number => {
                        input type="number" name=(field) required[required] value=[given]
                            step=(if spec.kind == InputType::Integer { "1" } else { "any" })
                            min=[spec.minimum.as_ref().map(ToString::to_string)] max=[spec.maximum.as_ref().map(ToString::to_string)] placeholder=[default.as_deref()];
                    }
                    _ => {
                        input type=(if secret { "password" } else { "text" }) name=(field) required[required] value=[given]
                            placeholder=[default.as_deref()] autocomplete="off";
                    }
                }
            }
            span class="muted" {
                (format!("{:?}", spec.kind).to_lowercase())
                @if let Some(p) = &spec.pattern { " · pattern " code { (p) } }
                @if secret { " · secret: passed to the run by its environment, recorded as ***" }
                @if let Some(d) = &spec.description { " · " (d) }
            }
        }
    }
}

fn workflow_body(shared: &Shared, viewer: Viewer, name: &str) -> Result<Markup, Failure> {
    catalog_name("workflow", name)?;
    let ctx = &shared.ctx;
    let entry = ctx.catalog().find_workflow(name).map_err(lookup_failure)?;
    let result = ops::workflow::validate(ctx, name);
    let workflow: Option<Workflow> = parse_workflow(&entry.display_path(), &entry.text).ok();
    let shown = workflow
        .as_ref()
        .map_or(entry.name.clone(), |w| w.name.clone());
    let path = format!("/catalog/workflows/{}", url(name));
    Ok(layout(
        &shown,
        Tab::Catalog,
        html! {
            div class="page-head" { h1 { (shown) } span class="kind kind-workflow" { "workflow" } }
            p class="muted" { (entry.display_path()) }
            @if let Some(m) = Schedules::read(shared).of("workflow", &shown, Some(&entry.display_path())) { p { "Runs by itself on its schedule: " (m) } (not_fired_here(shared)) }
            (verdict(&result))
            @if let Some(w) = &workflow {
                @if let Some(d) = &w.description { p class="description" { (d) } }
                section class="graph" {
                    h2 { "Steps" }
                    div class="scroll" {
                        (layered_svg(
                            &w.steps.iter().map(|s| Node { name: s.name.clone(), status: "pending".into(), note: s.foreach.as_ref().map(|_| "foreach".to_string()) }).collect::<Vec<_>>(),
                            &(0..w.steps.len()).map(|i| if i == 0 { vec![] } else { vec![i - 1] }).collect::<Vec<_>>(),
                        ))
                    }
                    ol class="plan" {
                        @for (i, s) in w.steps.iter().enumerate() {
                            li id={"step-" (i)} {
                                strong { (s.name) }
                                @if let Some(r) = &s.run { " — runs " code { (r) } }
                                @if let Some(a) = &s.agent { " — agent " (a) }
                                @if s.run.is_none() && s.agent.is_none() { " — waits for a report" }
                                @if let Some(p) = &s.prompt { details { summary { "prompt" } pre { (p) } } }
                            }
                        }
                    }
                }
                @if result.is_ok() {
                    section class="run-form" {
                        h2 { "Run" }
                        form method="post" action={(path) "/run"} {
                            (token_field(shared, viewer))
                            @let secret = crate::execute::secret_inputs(w);
                            @for (n, spec) in &w.inputs { (input_control(n, spec, secret.contains(n), InputForm::Run)) }
                            label class="input" { span class="name" { "message" } input type="text" name="message" placeholder="why (recorded)" maxlength="2000"; }
                            button type="submit" class="primary" disabled[!viewer.signed_in] { "Run " (w.name) }
                        }
                        (sign_in(viewer, &path))
                    }
                }
            }
        },
    ))
}

/// `GET /catalog/workflows/{name}`.
pub async fn workflow_page(
    State(shared): State<Arc<Shared>>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
) -> Response {
    answer(blocking(&shared, move |shared| workflow_body(shared, viewer, &name)).await)
}

fn scenario_graph(s: &Scenario) -> Markup {
    let nodes: Vec<Node> = s
        .phases
        .iter()
        .map(|p| Node {
            note: p.foreach.as_ref().map(|_| "foreach".to_string()),
            name: p.name.clone(),
            status: match p.parsed_condition() {
                Ok(Condition::Manual) => "manual".into(),
                _ => "pending".into(),
            },
        })
        .collect();
    layered_svg(&nodes, &crate::plan::dependencies(s))
}

/// The preview of a scenario with the inputs its form gave, and the form: a control for each
/// declared input (a secret one a password field, never filled back in), sent to the page
/// itself (`GET`, `input.NAME` fields; an empty one leaves its default). A value refused (an
/// unknown name, a wrong type, not among its choices) is said where the preview stands, as
/// `orchestrate preview --input` says it; without inputs given, a preview that cannot be made
/// is left out (the verdict above says why).
fn preview_section(
    shared: &Shared,
    s: &Scenario,
    path: &str,
    name: &str,
    given: &[(String, String)],
) -> Markup {
    let preview = ops::scenario::preview(&shared.ctx, name, given);
    let secret = crate::execute::secret_inputs(&s.as_workflow());
    let value = |n: &str| given.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    html! {
        @if preview.is_ok() || !given.is_empty() {
            section class="preview" {
                h2 { "Preview" }
                @if !s.inputs.is_empty() {
                    form class="preview-inputs" method="get" action=(path) {
                        @for (n, spec) in &s.inputs { (input_control(n, spec, secret.contains(n), InputForm::Preview(value(n)))) }
                        button type="submit" { "Preview with these inputs" }
                    }
                }
                @match &preview {
                    Ok(p) => { pre class="preview" { (p.human) } }
                    Err(e) => { div class="verdict bad" { (error_lines(e)) } }
                }
            }
        }
    }
}

fn scenario_body(
    shared: &Shared,
    viewer: Viewer,
    name: &str,
    given: &[(String, String)],
) -> Result<Markup, Failure> {
    catalog_name("scenario", name)?;
    let ctx = &shared.ctx;
    let entry = ctx.catalog().find_scenario(name).map_err(lookup_failure)?;
    let result = ops::scenario::validate(ctx, Some(name), false);
    let valid = result.as_ref().is_ok_and(|o| o.code == 0);
    let scenario: Option<Scenario> = parse_scenario(&entry.display_path(), &entry.text).ok();
    let shown = scenario
        .as_ref()
        .map_or(entry.name.clone(), |s| s.name.clone());
    let path = format!("/catalog/scenarios/{}", url(name));
    Ok(layout(
        &shown,
        Tab::Catalog,
        html! {
            div class="page-head" { h1 { (shown) } span class="kind kind-scenario" { "scenario" } }
            p class="muted" { (entry.display_path()) }
            @if let Some(m) = Schedules::read(shared).of("scenario", &shown, Some(&entry.display_path())) { p { "Runs by itself on its schedule: " (m) } (not_fired_here(shared)) }
            (verdict(&result))
            @if let Some(s) = &scenario {
                @if let Some(d) = &s.description { p class="description" { (d) } }
                section class="graph" {
                    h2 { "Graph" }
                    div class="scroll" { (scenario_graph(s)) }
                }
                (preview_section(shared, s, &path, name, given))
                section class="phases" {
                    h2 { "Phases" }
                    @for (i, p) in s.phases.iter().enumerate() {
                        article class="step" id={"step-" (i)} {
                            header {
                                h3 { (p.name) }
                                span class="tag" { "condition: " (p.condition.as_deref().unwrap_or("auto")) }
                                @if p.parallel { span class="tag" { "parallel" } }
                            }
                            @if let Some(d) = &p.description { p { (d) } }
                            @if !p.agents.is_empty() { div class="agents" { "agents: " @for a in &p.agents { span class="agent" { (a) } } } }
                            @if !p.success_criteria.is_empty() {
                                ul class="criteria" {
                                    @for c in &p.success_criteria {
                                        li { @match c { Criterion::Item(t) => { "○ " (t) } Criterion::Check { check } => { "⚙ check " code { (check) } } } }
                                    }
                                }
                            }
                            @if let Some(r) = &p.run { details { summary { "runs" } pre { @for c in r.list() { (c) "\n" } } } }
                        }
                    }
                }
                @if valid {
                    section class="run-form" {
                        h2 { "Run" }
                        form method="post" action={(path) "/run"} {
                            (token_field(shared, viewer))
                            @let manual: Vec<&str> = s.phases.iter().filter(|p| matches!(p.parsed_condition(), Ok(Condition::Manual))).map(|p| p.name.as_str()).collect();
                            @if !manual.is_empty() {
                                fieldset {
                                    legend { "Manual phases to start at once" }
                                    @for m in manual { label class="check" { input type="checkbox" name="start" value=(m); " " (m) } }
                                }
                            }
                            @let secret = crate::execute::secret_inputs(&s.as_workflow());
                            @for (n, spec) in &s.inputs { (input_control(n, spec, secret.contains(n), InputForm::Run)) }
                            label class="input" { span class="name" { "message" } input type="text" name="message" placeholder="why (recorded)" maxlength="2000"; }
                            button type="submit" class="primary" disabled[!viewer.signed_in] { "Run " (s.name) }
                        }
                        (sign_in(viewer, &path))
                    }
                }
            }
        },
    ))
}

/// `GET /catalog/scenarios/{name}?input.NAME=VALUE...`: with inputs, the preview is made with
/// them (the preview form's fields).
pub async fn scenario_page(
    State(shared): State<Arc<Shared>>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let given = crate::serve::actions::input_fields(&crate::serve::api::query(raw));
    answer(
        blocking(&shared, move |shared| {
            scenario_body(shared, viewer, &name, &given)
        })
        .await,
    )
}
