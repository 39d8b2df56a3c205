//! The catalog: workflows and scenarios as `workflow list` and `orchestrate list` show them,
//! each with its validation verdict and a preview (steps, or phases with their conditions,
//! agents, criteria and graph), and the form that runs it — built from a workflow's typed
//! inputs, or a scenario's manual phases.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
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
            Ok(o) => { div class="verdict ok" { (valid_mark(o.code == 0)) pre { (o.human) } } }
            Err(e) => {
                div class="verdict bad" {
                    (valid_mark(false))
                    p class="error" { (e.message) }
                    @if let Some(d) = &e.detail { pre { (d) } }
                    @for h in &e.hints { p class="muted" { "hint: " (h) } }
                }
            }
        }
    }
}

/// One control of the run form, from an input's type.
fn input_control(name: &str, spec: &InputSpec, secret: bool) -> Markup {
    let field = format!("input.{name}");
    // A secret input's default is never shown (`validate` refuses one worth hiding; a short or
    // common one is still a secret's value).
    let default = spec.default.as_ref().map(|v| match v {
        _ if secret => crate::event::REDACTED.to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    html! {
        label class="input" {
            span class="name" { (name) @if spec.required { " *" } }
            @if let Some(choices) = &spec.choices {
                select name=(field) required[spec.required] {
                    @if !spec.required { option value="" { "(default" @if let Some(d) = &default { ": " (d) } ")" } }
                    @for c in choices {
                        @let v = c.as_str().map_or_else(|| c.to_string(), str::to_string);
                        option value=(v) { (v) }
                    }
                }
            } @else {
                @match spec.kind {
                    InputType::Boolean => {
                        select name=(field) required[spec.required] {
                            option value="" { "(default" @if let Some(d) = &default { ": " (d) } ")" }
                            option value="true" { "true" }
                            option value="false" { "false" }
                        }
                    }
                    InputType::Integer | InputType::Number => {
                        input type="number" name=(field) required[spec.required]
                            step=(if spec.kind == InputType::Integer { "1" } else { "any" })
                            min=[spec.minimum.as_ref().map(ToString::to_string)] max=[spec.maximum.as_ref().map(ToString::to_string)] placeholder=[default.as_deref()];
                    }
                    _ => {
                        input type=(if secret { "password" } else { "text" }) name=(field) required[spec.required]
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
                            @for (n, spec) in &w.inputs { (input_control(n, spec, secret.contains(n))) }
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

fn scenario_body(shared: &Shared, viewer: Viewer, name: &str) -> Result<Markup, Failure> {
    catalog_name("scenario", name)?;
    let ctx = &shared.ctx;
    let entry = ctx.catalog().find_scenario(name).map_err(lookup_failure)?;
    let result = ops::scenario::validate(ctx, Some(name), false);
    let valid = result.as_ref().is_ok_and(|o| o.code == 0);
    let preview = ops::scenario::preview(ctx, name, &[]);
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
                @if let Ok(p) = &preview { section { h2 { "Preview" } pre class="preview" { (p.human) } } }
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
                            @for (n, spec) in &s.inputs { (input_control(n, spec, secret.contains(n))) }
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

/// `GET /catalog/scenarios/{name}`.
pub async fn scenario_page(
    State(shared): State<Arc<Shared>>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
) -> Response {
    answer(blocking(&shared, move |shared| scenario_body(shared, viewer, &name)).await)
}
