//! The dashboard's pages, server-rendered with maud: every value spliced into a page is
//! escaped by the template engine (names, outputs, prompts and messages from the log are
//! hostile input), and no page has an inline script or style (the CSP forbids both).
//! Each page shows the projections the CLI shows — the same status documents — and each
//! form posts to `actions`, with the token when the viewer is signed in.

mod agents;
mod catalog;
mod run;
mod runs;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

pub use agents::agents_page;
pub use catalog::{catalog_page, scenario_page, workflow_page};
pub use run::run_page;
pub use runs::runs_page;

use super::auth::Viewer;
use super::error::Failure;
use super::server::Shared;

/// Which tab of the navigation is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Runs,
    Catalog,
    Agents,
    None,
}

/// The frame of every page.
pub fn layout(title: &str, tab: Tab, body: Markup) -> Markup {
    let current = |t: Tab| if t == tab { Some("page") } else { None };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · cortex" }
                link rel="stylesheet" href="/assets/app.css";
                // No icon to fetch (a browser asks for /favicon.ico otherwise).
                link rel="icon" href="data:,";
                script src="/assets/app.js" defer {}
            }
            body {
                header class="top" {
                    a class="brand" href="/" { span class="logo" { "◆" } " cortex" }
                    nav {
                        a href="/" aria-current=[current(Tab::Runs)] { "Runs" }
                        a href="/catalog" aria-current=[current(Tab::Catalog)] { "Catalog" }
                        a href="/agents" aria-current=[current(Tab::Agents)] { "Agents" }
                        a href="/api/v1/openapi.json" { "API" }
                    }
                }
                main { (body) }
                footer { "cortex " (env!("CARGO_PKG_VERSION")) " · event-sourced, hash-chained · " a href="/api/v1/verify" { "verify the whole log (JSON)" } }
            }
        }
    }
}

/// A page with its status. Its text shows the control and bidi characters of what it
/// quotes from the log (`render::markup_safe`), as the CLI shows them in a terminal.
pub fn page(status: StatusCode, markup: Markup) -> Response {
    let html = markup.into_string();
    (status, Html(crate::render::markup_safe(&html).into_owned())).into_response()
}

/// An error as a page: what failed, the detail, the hints — all escaped.
pub fn failure(f: Failure) -> Response {
    failure_back(f, "/", "Back to the runs")
}

/// An error as a page, leading back to where the request came from (the run whose button
/// was pressed, the form that was sent).
/// The commands an error suggests in its document's `next` (`CommandError::suggestions`) are
/// listed under its hints, each quoted for a shell, with why and the values to put in for
/// its placeholders; a form refused for the log's write lock held by another process (the
/// operation's own command again, `ops::Retry`) says to send it again.
pub fn failure_back(f: Failure, back: &str, label: &str) -> Response {
    let status = f.status;
    let e = f.error;
    let next = e.suggestions();
    page(
        status,
        layout(
            "Error",
            Tab::None,
            html! {
                section class="error-page" {
                    h1 { (status.as_u16()) " · " (status.canonical_reason().unwrap_or("Error")) }
                    p class="message" { (e.message) }
                    @if let Some(d) = &e.detail { pre class="detail" { (d) } }
                    @if !e.hints.is_empty() {
                        ul class="hints" { @for h in &e.hints { li { "hint: " (h) } } }
                    }
                    @if e.log_locked() {
                        p class="retry" { "Another process holds the event log's write lock: send the form again once it lets go (in a few seconds, or once its backup or session ends)." }
                    }
                    @if !next.is_empty() {
                        ul class="next" {
                            @for s in &next {
                                li {
                                    "next: "
                                    code class="cli" { (crate::render::command_line(&s.argv)) }
                                    " "
                                    span class="why" { (s.why) }
                                    @if !s.fill.is_empty() {
                                        " "
                                        span class="why fill" {
                                            "(replace each VALUE: "
                                            (s.fill.iter().map(|f| format!("{} {}", f.flag, f.name)).collect::<Vec<_>>().join(", "))
                                            ")"
                                        }
                                    }
                                }
                            }
                        }
                    }
                    p { "Nothing was changed by this request. " a href=(back) { (label) } }
                }
            },
        ),
    )
}

/// A form refused for the form key it carried (a key from another sign-in, none, or one that
/// is not this sign-in's): the page has the script forget the key this browser keeps
/// (`data-forget-key`: its forms show their Token field again) and links to the sign-in form,
/// which a signed-in viewer reaches with `?again=1` (`again`).
pub fn key_refused_page(f: Failure, again: &str) -> Response {
    let status = f.status;
    let e = f.error;
    page(
        status,
        layout(
            "Error",
            Tab::None,
            html! {
                section class="error-page" data-forget-key="true" {
                    h1 { (status.as_u16()) " · " (status.canonical_reason().unwrap_or("Error")) }
                    p class="message" { (e.message) }
                    @if !e.hints.is_empty() {
                        ul class="hints" { @for h in &e.hints { li { "hint: " (h) } } }
                    }
                    p { "Nothing was changed by this request. " a class="sign-in-again" href=(again) { "Sign in again" } " (or go back and type the token into the form's Token field)." }
                }
            },
        ),
    )
}

/// A refusal for want of the token, as a page that signs the viewer in: what was refused,
/// the hints, and the sign-in form (`POST /login`) that goes on to `next`. Off loopback and
/// behind `--public-url` every page needs the token: before, a browser given none (the token
/// came from CORTEX_SERVE_TOKEN, so no sign-in address was printed) had no way in.
pub fn sign_in_page(f: Failure, next: &str) -> Response {
    let status = f.status;
    let e = f.error;
    page(
        status,
        layout(
            "Sign in",
            Tab::None,
            html! {
                section class="error-page" {
                    @if status.is_success() {
                        h1 { "Sign in" }
                    } @else {
                        h1 { (status.as_u16()) " · " (status.canonical_reason().unwrap_or("Error")) }
                    }
                    p class="message" { (e.message) }
                    @if !e.hints.is_empty() {
                        ul class="hints" { @for h in &e.hints { li { "hint: " (h) } } }
                    }
                }
                (sign_in(Viewer { signed_in: false }, next))
            },
        ),
    )
}

/// An action that was done, with warnings (what the CLI prints as `warning:`): said on a page
/// of its own before going on to the run, since a redirect would lose them.
pub fn done_with_warnings(run_id: Option<&str>, warnings: &[String]) -> Response {
    let back = run_id.map_or_else(|| "/".to_string(), run_href);
    page(
        StatusCode::OK,
        layout(
            "Done, with a warning",
            Tab::None,
            html! {
                section class="error-page" {
                    h1 { "Done, with a warning" }
                    ul class="hints" { @for w in warnings { li { "warning: " (w) } } }
                    p { a href=(back) { "Go on to the run" } }
                }
            },
        ),
    )
}

pub fn not_found_page() -> Response {
    failure(Failure::not_found(crate::ops::CommandError::bad_input(
        "there is no such page",
    )))
}

/// No page at this address: an HTML error page — or, for an address under `/api/` the API's
/// routes do not answer (`/api/v1/`, with its trailing slash; `/api/v2/...`), the API's JSON
/// error, as every other unknown API address is answered (before, an HTML page).
pub async fn not_found(uri: axum::http::Uri) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        return crate::serve::api::not_found().await;
    }
    not_found_page()
}

/// The token field of a form, for a signed-in viewer: a password field for the token, which
/// the page's script fills with the sign-in's form key and hides (`app.js`). The key is never
/// in a page: a page is read with the cookie alone, which other listeners on this host are
/// sent too (`auth::Session`).
pub fn token_field(_shared: &Shared, viewer: Viewer) -> Markup {
    html! {
        @if viewer.signed_in {
            label class="form-key" { "Token " input type="password" name="token" autocomplete="off" required; }
        }
    }
}

/// Where a viewer who is not signed in learns how to act.
pub fn sign_in(viewer: Viewer, next: &str) -> Markup {
    html! {
        @if !viewer.signed_in {
            form class="sign-in" method="post" action="/login" {
                p { "Actions need the server's token (the one " code { "cortex serve" } " printed, or was given with --token or CORTEX_SERVE_TOKEN)." }
                input type="hidden" name="next" value=(next);
                label { "Token " input type="password" name="token" autocomplete="off" required; }
                button type="submit" { "Sign in" }
            }
        }
    }
}

/// `s` percent-encoded for a path segment or a query value (a space as `%20`).
/// The address of run `run_id`'s page, its id percent-encoded as every part of an address
/// made of something a log holds (a step's name, a run's id): an id read from a log may be
/// anything (`../../x` would lead elsewhere on this origin).
pub fn run_href(run_id: &str) -> String {
    format!("/runs/{}", urlencode(run_id))
}

pub fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// A status badge.
pub fn badge(status: &str) -> Markup {
    html! { span class={"badge st-" (status)} { (status.replace('_', " ")) } }
}

/// An RFC 3339 time as `YYYY-MM-DD HH:MM:SS` (UTC), in a `<time>`.
pub fn when(t: Option<&str>) -> Markup {
    match t {
        Some(t) => {
            let shown: String = t.replace('T', " ").chars().take(19).collect();
            html! { time datetime=(t) { (shown) } }
        }
        None => html! { span class="muted" { "—" } },
    }
}

/// The time between two RFC 3339 times, for people.
pub fn duration(from: Option<&str>, to: Option<&str>) -> Option<String> {
    let a = humantime::parse_rfc3339(from?).ok()?;
    let b = humantime::parse_rfc3339(to?).ok()?;
    let d = b.duration_since(a).ok()?;
    Some(crate::render::format_duration(d))
}

#[cfg(test)]
mod tests {
    /// A run's id in an address is percent-encoded like any other part made of what a log
    /// holds: an id `../../x` leads nowhere else on the origin.
    #[test]
    fn a_run_id_in_an_address_is_percent_encoded() {
        assert_eq!(
            super::run_href("01M95MGMFPG7PRPMB8QHM79X3E"),
            "/runs/01M95MGMFPG7PRPMB8QHM79X3E"
        );
        assert_eq!(super::run_href("../../tmp/x"), "/runs/..%2F..%2Ftmp%2Fx");
        assert_eq!(super::run_href("/abs ?#"), "/runs/%2Fabs%20%3F%23");
    }
}
