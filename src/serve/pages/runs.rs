//! The runs page: the newest runs first, a page at a time from the run index (status,
//! progress, who and when), live through `/api/v1/runs/changes`.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::{Tab, badge, failure, layout, page, run_href, when};
use crate::event::RunKind;
use crate::ops::{self, CommandError, History};
use crate::serve::api::kind_param;
use crate::serve::auth::Viewer;
use crate::serve::error::Failure;
use crate::serve::server::{Shared, blocking};
use crate::serve::sse::runs_signature;

/// Runs on one page.
pub const PAGE: usize = 50;

/// The page's data: a page of history and the signature of the newest runs.
pub fn load(
    shared: &Shared,
    kind: Option<RunKind>,
    before: Option<&str>,
) -> Result<(History, String), Failure> {
    let ctx = &shared.ctx;
    let history = match ctx.reading_store()? {
        Some(store) => ops::history_page_before(&store, &ctx.home, kind, before, PAGE)
            .map_err(CommandError::from)?,
        None => History {
            kind,
            ..Default::default()
        },
    };
    Ok((history, runs_signature(shared)?))
}

/// The runs page's HTML.
/// `start` is the command that starts a run on this server's log, as a terminal would paste it
/// (`--home` and `--db` named when the server was given them).
pub fn render(
    history: &History,
    signature: &str,
    before: Option<&str>,
    start: &str,
) -> maud::Markup {
    let kind = history.kind;
    let tab = |k: Option<RunKind>| if k == kind { Some("page") } else { None };
    let filter = kind.map_or(String::new(), |k| format!("kind={}&", k.as_str()));
    let next = history
        .more
        .then(|| {
            history
                .runs
                .last()
                .map(|r| format!("/?{filter}before={}", r.run_id))
        })
        .flatten();
    layout(
        "Runs",
        Tab::Runs,
        html! {
            div class="page-head" {
                h1 { "Runs" }
                nav class="filters" {
                    a href="/" aria-current=[tab(None)] { "All" }
                    a href="/?kind=workflow" aria-current=[tab(Some(RunKind::Workflow))] { "Workflows" }
                    a href="/?kind=scenario" aria-current=[tab(Some(RunKind::Scenario))] { "Scenarios" }
                }
                span class="live-dot off" title="not live: updates arrive only while the page's script follows the run's event stream" { "not live" }
            }
            section id="live" data-live="runs" data-signature=(signature) data-paged=(before.is_some()) {
                @if history.runs.is_empty() {
                    div class="empty" {
                        p { "No runs yet." }
                        p { "Start one from the " a href="/catalog" { "catalog" } ", or with " code { (start) } "." }
                    }
                } @else {
                    table class="runs" {
                        thead { tr {
                            th { "Run" } th { "Name" } th { "Status" } th { "Progress" }
                            th { "Who" } th { "Started" } th { "Ended" } th class="num" { "Events" }
                        } }
                        tbody {
                            @for r in &history.runs {
                                tr data-run=(r.run_id) {
                                    td class="mono" {
                                        a href=(run_href(&r.run_id)) title=(r.run_id) { (r.run_id.get(..10).unwrap_or(&r.run_id)) "…" }
                                        " " span class={"kind kind-" (r.kind.as_str())} { (r.kind.as_str()) }
                                    }
                                    td class="name" {
                                        a href=(run_href(&r.run_id)) { (r.name) }
                                        // A child run runs with its parent: say whose.
                                        @if let Some(p) = &r.parent {
                                            div class="child-of muted" {
                                                "child of " a class="mono" href=(run_href(&p.run_id)) title=(p.run_id) { (p.run_id.get(..10).unwrap_or(&p.run_id)) "…" }
                                                " · step " (p.step)
                                            }
                                        }
                                    }
                                    td { (badge(r.shown_status)) }
                                    td class="progress" {
                                        progress value=(r.done) max=(r.total.max(1)) {}
                                        " " span class="muted" { (r.done) "/" (r.total) }
                                    }
                                    td { (r.actor) }
                                    td { (when(r.started_at.as_deref())) }
                                    td { (when(r.ended_at.as_deref())) }
                                    td class="num" { (r.events) }
                                }
                            }
                        }
                    }
                }
                nav class="pager" {
                    @if before.is_some() { a href={"/?" (filter.trim_end_matches('&'))} { "← Newest" } }
                    @if let Some(n) = &next { a href=(n) { "Older →" } }
                }
            }
        },
    )
}

/// `GET /?kind=&before=`.
pub async fn runs_page(
    State(shared): State<Arc<Shared>>,
    Extension(_viewer): Extension<Viewer>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = crate::serve::api::query(raw);
    let result = blocking(&shared, move |shared| {
        let kind = kind_param(&q)?;
        // Said to a person, who has no `Link` header to follow: the way to the first page.
        let before = crate::serve::api::before_param(&q).map_err(|mut f| {
            let given = q.iter().find(|(k, _)| k == "before").map_or("", |(_, v)| v);
            f.error.message = format!(
                "`before` is a run id (26 letters and digits, as this page's link to older runs gives it), not {}",
                crate::serve::api::shown_value(given)
            );
            f.error.hints = vec![
                "the link below opens the newest runs; the page's own link to older runs goes on from there"
                    .into(),
            ];
            f
        })?;
        let (history, signature) = load(shared, kind, before.as_deref())?;
        let start = shared.ctx.cmd(&["workflow", "run", "NAME"]);
        Ok::<_, Failure>(render(
            &history,
            &signature,
            before.as_deref(),
            start.trim_matches('`'),
        ))
    })
    .await;
    match result {
        Ok(Ok(markup)) => page(StatusCode::OK, markup),
        Ok(Err(f)) => failure(f),
        Err(e) => failure(Failure::from(e)),
    }
}
