//! The agents page: every agent as `agent list` shows it, and where each is active.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::{Tab, failure, layout, page};
use crate::ops;
use crate::serve::error::Failure;
use crate::serve::server::{Shared, blocking};

/// `GET /agents`.
pub async fn agents_page(State(shared): State<Arc<Shared>>) -> Response {
    let result = blocking(&shared, |shared| {
        let doc = ops::agents::list(&shared.ctx)?.json;
        let agents = doc["agents"].as_array().cloned().unwrap_or_default();
        let invalid = doc["invalid"].as_array().cloned().unwrap_or_default();
        Ok::<_, Failure>(layout(
            "Agents",
            Tab::Agents,
            html! {
                div class="page-head" { h1 { "Agents" } }
                @if agents.is_empty() && invalid.is_empty() {
                    p class="muted" { "No agents. Add Markdown files with YAML front matter (name, description, command) to "
                        code { (shared.ctx.home.join("agents").display()) } " or .claude/agents/." }
                } @else {
                    table class="agents" {
                        thead { tr { th { "Name" } th { "Status" } th { "Description" } th { "Runs" } th { "Active for" } } }
                        tbody {
                            @for a in &agents {
                                @let active = a["active"].as_bool().unwrap_or(false);
                                tr {
                                    td class="name" { (a["name"].as_str().unwrap_or_default()) }
                                    td { span class={"agent" @if active { " active" }} { (if active { "● active" } else { "○ inactive" }) } }
                                    td { (a["description"].as_str().unwrap_or_default()) }
                                    td {
                                        @match a["runner"].as_str() {
                                            Some("command") => { code { (a["command"].as_str().unwrap_or_default()) } }
                                            Some("claude") => {
                                                "Claude Code (" code { (a["claude"]["program"].as_str().unwrap_or_default()) }
                                                ", " (a["claude"]["model"].as_str().map_or_else(|| "its default model".to_string(), |m| format!("model {m}"))) ")"
                                            }
                                            _ => { span class="muted" { "waits for a report" } }
                                        }
                                    }
                                    td { @for w in a["active_for"].as_array().into_iter().flatten() { div { (w.as_str().unwrap_or_default()) } } }
                                }
                            }
                        }
                    }
                    @for p in &invalid { p class="error" { "invalid: " (p.as_str().unwrap_or_default()) } }
                }
            },
        ))
    })
    .await;
    match result {
        Ok(Ok(markup)) => page(StatusCode::OK, markup),
        Ok(Err(f)) => failure(f),
        Err(e) => failure(Failure::from(e)),
    }
}
