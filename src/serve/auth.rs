//! The door every request passes: on loopback the Host header must name loopback (a page of
//! another site rebound to 127.0.0.1 reads nothing); off loopback, and behind a proxy
//! (`--public-url`, whose requests come from anywhere), every request needs the token; every
//! change is a POST that carries the token (a header, or the form's `token` field) or, from a
//! browser, the form key of the sign-in its cookie carries (`Session`: a key no page and no
//! cookie holds — a cookie, and every page read with it, alone is never enough) and does not
//! come from another site (`Origin`, `Sec-Fetch-Site`); and every answer carries the security headers (a CSP without inline
//! scripts or styles, no framing, no sniffing, no referrer to other sites).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::error::Failure;
use super::server::Shared;
use crate::ops::{CommandError, exit};

/// Who is looking, as far as a page needs to know: signed in (the token's cookie or header),
/// so that its forms may carry the token.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub signed_in: bool,
}

/// The largest form a page posts (outputs and a message): more is refused unread.
const FORM_LIMIT: usize = 256 * 1024;

/// 32 random bytes from the kernel, as hex.
pub fn generate_token() -> Result<String, CommandError> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| {
            CommandError::new(exit::FAILED, format!("cannot make a token: {e}"))
                .hint("give one with --token (or CORTEX_SERVE_TOKEN)")
        })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compare without stopping at the first difference, so that timing tells nothing.
fn same(given: &str, token: &str) -> bool {
    given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn cookie_name(shared: &Shared) -> String {
    // Cookies do not keep ports apart: one name per port keeps two servers' sign-ins apart.
    format!("cortex_session_{}", shared.port)
}

/// The most sign-ins a server keeps: past it, the oldest is forgotten (its browser signs in
/// again).
const MAX_SESSIONS: usize = 1024;

/// A browser's sign-in: the random value its cookie carries (never the token), and the form
/// key its forms must carry to change anything. The key is handed over once, with the sign-in,
/// in the fragment of the address the browser is sent on to (`#cortex-key=`, which no browser
/// sends to any server), kept by the page's script in this origin's storage (`app.js`), and
/// never put in a page or a cookie: cookies are not kept apart by port, so every other
/// listener on the host is sent the cookie, and whoever holds it can read every page — but
/// not the key.
#[derive(Debug, Clone)]
pub struct Session {
    id: String,
    form_key: String,
}

/// A new sign-in, known to this server for its life.
fn new_session(shared: &Shared) -> Option<Session> {
    let session = Session {
        id: generate_token().ok()?,
        form_key: generate_token().ok()?,
    };
    let mut sessions = shared.sessions.lock().unwrap_or_else(|p| p.into_inner());
    if sessions.len() >= MAX_SESSIONS {
        sessions.pop_front();
    }
    sessions.push_back(session.clone());
    Some(session)
}

/// The sign-in whose cookie value is `value`, if it is one of this server's (compared with
/// each, in constant time).
fn session_of(shared: &Shared, value: &str) -> Option<Session> {
    let sessions = shared.sessions.lock().unwrap_or_else(|p| p.into_inner());
    sessions.iter().fold(None, |found, s| {
        if same(value, &s.id) {
            Some(s.clone())
        } else {
            found
        }
    })
}

/// Whether `key` is the form key of one of this server's sign-ins (another than the request
/// carries: to say why a form was refused).
fn is_form_key(shared: &Shared, key: &str) -> bool {
    let sessions = shared.sessions.lock().unwrap_or_else(|p| p.into_inner());
    sessions
        .iter()
        .fold(false, |found, s| found | same(key, &s.form_key))
}

/// The token in `Authorization: Bearer`, or `X-Cortex-Token`.
fn header_token(headers: &HeaderMap, shared: &Shared) -> bool {
    header_tokens(headers).any(|t| same(t.trim(), &shared.token))
}

/// The tokens a request's headers give (`Authorization: Bearer`, `X-Cortex-Token`). The
/// scheme is read in any case (`bearer`, `BEARER`: RFC 7235 §2.1), with any spaces after it;
/// before, only `Bearer ` was, and `bearer TOKEN` was answered 401.
fn header_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let plain = headers.get("x-cortex-token").and_then(|v| v.to_str().ok());
    [bearer, plain].into_iter().flatten()
}

/// The request carries a sign-in of this server in its cookie.
fn cookie_token(headers: &HeaderMap, shared: &Shared) -> bool {
    cookie_session(headers, shared).is_some()
}

/// The sign-in of this server the request's cookie carries.
fn cookie_session(headers: &HeaderMap, shared: &Shared) -> Option<Session> {
    cookie_values(headers, shared).find_map(|v| session_of(shared, v))
}

/// The values of this server's sign-in cookie in a request.
fn cookie_values<'h>(headers: &'h HeaderMap, shared: &Shared) -> impl Iterator<Item = &'h str> {
    let name = cookie_name(shared);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .filter(move |(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Why a request that is not signed in was refused: the token it gave that is not this
/// server's (a header, the cookie), or none given.
fn unsigned(headers: &HeaderMap, shared: &Shared, missing: Failure) -> Failure {
    if header_tokens(headers).next().is_some() {
        return wrong_token("in the `Authorization` (or `X-Cortex-Token`) header");
    }
    if cookie_values(headers, shared).next().is_some() && !cookie_token(headers, shared) {
        return Failure::new(
            StatusCode::UNAUTHORIZED,
            CommandError::bad_input(
                "this browser's sign-in is not one of this server's (it was started again since, or the sign-in was forgotten); nothing was recorded",
            )
            .hint("sign in again with the token"),
        );
    }
    missing
}

/// The Host header names this machine's loopback (`localhost`, `127.x.x.x`, `[::1]`).
fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The Host header is the one `--public-url` names (a proxy in front that passes it on).
fn public_host(headers: &HeaderMap, shared: &Shared) -> bool {
    let Some(public) = &shared.public else {
        return false;
    };
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|h| h.eq_ignore_ascii_case(&public.host))
}

/// Why a change looks forged by another site, if it does. This server's own origin is
/// `http://` and the Host it was asked at, or the origin of `--public-url` (an HTTPS proxy
/// in front: the browser's `Origin` is `https://` and the proxy's name).
fn cross_site(headers: &HeaderMap, shared: &Shared) -> Option<String> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && site != "same-origin"
        && site != "none"
    {
        return Some(format!("Sec-Fetch-Site is `{site}`"));
    }
    let origin = headers.get(header::ORIGIN)?;
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let direct = host.map(|h| format!("http://{h}"));
    let public = shared.public.as_ref().map(|p| p.origin.as_str());
    match origin.to_str().ok() {
        Some(o)
            if direct.as_deref() == Some(o)
                || public.is_some_and(|p| p.eq_ignore_ascii_case(o)) =>
        {
            None
        }
        o => {
            let mut why = format!("Origin is `{}`", o.unwrap_or("(not text)"));
            if public.is_none() && o.is_some_and(|o| o.starts_with("https://")) {
                why.push_str(
                    "; behind an HTTPS proxy, start the server with --public-url https://NAME",
                );
            }
            Some(why)
        }
    }
}

fn refuse(api: bool, failure: Failure) -> Response {
    if api {
        super::api::failure(failure)
    } else {
        super::pages::failure(failure)
    }
}

/// How to give the token, in the words of what `cortex serve` printed: a sign-in address
/// carrying `?token=` only when it made the token (a given one is never printed). A page
/// carries the sign-in form (`pages::sign_in_page`); the API's client sends a header. The
/// token is added to an address that has a query (`query`) with `&`: it said "with
/// ?token=TOKEN added" under `/runs/R?events=all`, which makes `?events=all?token=…`.
fn sign_in_hint(shared: &Shared, api: bool, query: bool) -> String {
    let printed = if shared.token_generated {
        "open the sign-in address `cortex serve` printed (it carries ?token=...)"
    } else {
        "sign in with the token the server was given (--token or CORTEX_SERVE_TOKEN)"
    };
    if api {
        format!("send `Authorization: Bearer TOKEN` ({printed})")
    } else {
        let added = if query {
            "&token=TOKEN"
        } else {
            "?token=TOKEN"
        };
        format!(
            "{printed}: in the form below, or by opening this address with {added} added; a client sends `Authorization: Bearer TOKEN`"
        )
    }
}

/// A refusal for want of the token: on a page, with the sign-in form that goes on to `next`.
fn refuse_unsigned(api: bool, failure: Failure, next: &str) -> Response {
    if api {
        super::api::failure(failure)
    } else {
        super::pages::sign_in_page(failure, &local_path(next))
    }
}

/// Every request passes here first. Its body is held to `--body-timeout` before anything
/// reads it (`bodies::deadline`): one that does not arrive in time is answered 408, whatever
/// the reader made of its failure, and its connection closed.
pub async fn guard(State(shared): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let method = req.method().clone();
    let late = super::bodies::deadline(&mut req, shared.body_timeout);
    let mut response = match admit(&shared, &mut req).await {
        Some(refused) => refused,
        None => explained(api, &method, next.run(req).await).await,
    };
    if late.passed() {
        response = too_slow(api, shared.body_timeout);
    }
    // Whatever it holds (a step's output that printed the token), it leaves without it.
    if method == Method::HEAD {
        // No body: its length is the GET's.
        return harden(response);
    }
    super::redact::scrub(shared.served.clone(), harden(response)).await
}

/// The answer to a request whose body did not arrive within `timeout` of its head: 408, and
/// the connection closed (what is left of the body is never read).
fn too_slow(api: bool, timeout: std::time::Duration) -> Response {
    let mut response = refuse(
        api,
        Failure::new(
            StatusCode::REQUEST_TIMEOUT,
            CommandError::new(
                exit::FAILED,
                format!(
                    "the request's body did not arrive within {} s of its headers (--body-timeout); nothing was recorded",
                    timeout.as_secs()
                ),
            )
            .hint("send the whole body at once, as long as its Content-Length says, then ask again"),
        ),
    );
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The most a request body may hold: axum's default limit, which the routes keep.
const LONGEST_BODY: usize = 2 << 20;

/// The refusals axum makes itself — a method a route does not take (405, no body), a body
/// past `LONGEST_BODY` (413, a line of plain text), a path segment that is not UTF-8 once
/// decoded (400, plain text) and a form it cannot read (422, plain text) — answered as every
/// other refusal is: the `--json` error document (or an error page), saying what was wrong
/// and how to fix it. A path that cannot be text names nothing here: 404, as an impossible
/// name does.
async fn explained(api: bool, method: &Method, response: Response) -> Response {
    let ours = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json") || t.starts_with("text/html"));
    if ours {
        return response;
    }
    match response.status() {
        // axum adds the `Allow` header (what the address takes) to the answer afterwards.
        StatusCode::METHOD_NOT_ALLOWED => refuse(
            api,
            Failure::new(
                StatusCode::METHOD_NOT_ALLOWED,
                CommandError::bad_input(format!("{method} is not answered here"))
                    .hint("reads are GET, changes are POST; the `Allow` header names what this address takes"),
            ),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => refuse(
            api,
            Failure::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                CommandError::bad_input(format!(
                    "the request body is longer than {} MiB, the most this server reads; nothing was recorded",
                    LONGEST_BODY >> 20
                ))
                .hint("an output or a message this long belongs in a file the step writes, not in the request"),
            ),
        ),
        status if status.is_client_error() => {
            // axum's own words: one short line of text.
            let said = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .map(|b| String::from_utf8_lossy(&b).trim().to_string())
                .unwrap_or_default();
            let said = crate::render::one_line(&said).into_owned();
            let failure = if status == StatusCode::BAD_REQUEST && said.starts_with("Invalid URL") {
                Failure::not_found(
                    CommandError::bad_input(format!(
                        "nothing here is named by this address ({said}); nothing was recorded"
                    ))
                    .hint("names in an address are UTF-8, percent-encoded; GET /api/v1/runs lists the runs, GET /api/v1/openapi.json every address"),
                )
            } else {
                Failure::new(
                    StatusCode::BAD_REQUEST,
                    CommandError::bad_input(format!(
                        "the request is not what this address takes ({said}); nothing was recorded"
                    ))
                    .hint("send the page's own form again, or see GET /api/v1/openapi.json"),
                )
            };
            refuse(api, failure)
        }
        _ => response,
    }
}

/// `Some(answer)` if the request is refused (or answered here), `None` to let it through.
async fn admit(shared: &Arc<Shared>, req: &mut Request) -> Option<Response> {
    let api = req.uri().path().starts_with("/api/");
    let headers = req.headers().clone();
    if shared.loopback && !loopback_host(&headers) && !public_host(&headers, shared) {
        return Some(refuse(
            api,
            Failure::new(
                StatusCode::MISDIRECTED_REQUEST,
                CommandError::bad_input(
                    "this server answers only to a loopback Host (127.0.0.1, localhost, [::1])",
                )
                .hint("use the address `cortex serve` printed (a proxy in front that passes its own Host: start the server with --public-url)"),
            ),
        ));
    }
    let signed_in = header_token(&headers, shared) || cookie_token(&headers, shared);
    req.extensions_mut().insert(Viewer { signed_in });
    let reading = matches!(*req.method(), Method::GET | Method::HEAD);
    if reading {
        // `?token=` signs a browser in: the token moves into a cookie and out of the address.
        if !api && let Some(given) = query_token(req.uri().query()) {
            if !same(&given, &shared.token) {
                return Some(refuse_unsigned(
                    api,
                    wrong_token("in the address (`?token=`)"),
                    req.uri().path(),
                ));
            }
            return Some(sign_in(
                shared,
                &headers,
                &without_token(req.uri().path(), req.uri().query()),
            ));
        }
        // The sign-in page itself, and what it needs, are open to all.
        let path = req.uri().path();
        if shared.open_reads || signed_in || path == "/login" || path.starts_with("/assets/") {
            return None;
        }
        let missing =
            Failure::new(
                StatusCode::UNAUTHORIZED,
                CommandError::bad_input("this server needs its token to be read")
                    .hint(sign_in_hint(shared, api, req.uri().query().is_some())),
            );
        return Some(refuse_unsigned(
            api,
            unsigned(&headers, shared, missing),
            req.uri().path_and_query().map_or("/", |p| p.as_str()),
        ));
    }
    // A method the address does not take is wrong whatever the token: a 405 naming what it
    // takes (`Allow`), before the token is asked for — and where no route is, the 404 every
    // method gets (JSON under /api). Before, PUT, DELETE, OPTIONS or PATCH of an unknown
    // address was a 405 without `Allow`, and a POST of a read without the token a 401.
    let path = req.uri().path();
    let api = api || path == "/api";
    let Some(allow) = super::server::allowed(path) else {
        return Some(if api {
            super::api::not_found().await
        } else {
            super::pages::not_found(req.uri().clone()).await
        });
    };
    if !allow.split(',').any(|m| m == req.method().as_str()) {
        let mut refused = refuse(
            api,
            Failure::new(
                StatusCode::METHOD_NOT_ALLOWED,
                CommandError::bad_input(format!("{} is not answered here", req.method()))
                    .hint("reads are GET, changes are POST; the `Allow` header names what this address takes"),
            ),
        );
        refused
            .headers_mut()
            .insert(header::ALLOW, axum::http::HeaderValue::from_static(allow));
        return Some(refused);
    }
    if let Some(why) = cross_site(&headers, shared) {
        return Some(refuse(
            api,
            Failure::new(
                StatusCode::FORBIDDEN,
                CommandError::bad_input(format!(
                    "a change from another site is refused ({why}); nothing was recorded"
                ))
                .hint("act from this server's own pages, or from a client that sends the token"),
            ),
        ));
    }
    if header_token(&headers, shared) {
        return None;
    }
    // What the request gave as its token, to say why it was refused.
    let mut refusal = unsigned(
        &headers,
        shared,
        missing_token(shared, api, req.uri().query().is_some()),
    );
    // A page's form carries the token in its `token` field.
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if form {
        let body = std::mem::replace(req.body_mut(), Body::empty());
        let bytes = match axum::body::to_bytes(body, FORM_LIMIT).await {
            Ok(b) => b,
            Err(_) => {
                return Some(refuse(
                    api,
                    Failure::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        CommandError::bad_input(format!(
                            "the form is larger than {} KiB; nothing was recorded",
                            FORM_LIMIT / 1024
                        )),
                    ),
                ));
            }
        };
        // The token typed into a form, or the form key of the sign-in the request's cookie
        // carries — never the cookie alone, nor a key the cookie's holder could read in a page
        // (no page holds it: `Session`).
        let session = cookie_session(&headers, shared);
        let mut ok = false;
        // Refused for the form key of the browser's sign-in (not for want of a sign-in): the
        // page says so, has the page's script forget the key it keeps, and offers signing in
        // again.
        let mut key_refused = false;
        for v in form_urlencoded::parse(&bytes)
            .filter(|(k, _)| k == "token")
            .map(|(_, v)| v)
        {
            if same(&v, &shared.token) || session.as_ref().is_some_and(|s| same(&v, &s.form_key)) {
                ok = true;
            } else if is_form_key(shared, &v) {
                // A page's form sent without the sign-in it was signed for.
                key_refused = true;
                refusal = Failure::new(
                    StatusCode::UNAUTHORIZED,
                    CommandError::bad_input(
                        "this form was signed for a sign-in the request does not carry (signed out, or another browser); nothing was recorded",
                    )
                    .hint("sign in again, then press the button on the page again"),
                );
            } else if v.is_empty() && session.is_some() {
                // Signed in, and the form carries no key: the page's script did not fill it.
                key_refused = true;
                refusal = Failure::new(
                    StatusCode::UNAUTHORIZED,
                    CommandError::bad_input(
                        "a change needs the server's token or this sign-in's form key, and the form carried neither (the sign-in cookie alone is never enough); nothing was recorded",
                    )
                    .hint("type the token into the form's Token field, or sign in again in this browser (with JavaScript on, the page fills the field itself)"),
                );
            } else if session.is_some() {
                key_refused = true;
                refusal = Failure::new(
                    StatusCode::UNAUTHORIZED,
                    CommandError::bad_input(
                        "the form's `token` field holds neither the server's token nor this sign-in's form key (a form key is given only to the browser that signed in, never in a page); nothing was recorded",
                    )
                    .hint("sign in again in this browser (the page then fills the field itself), or type the token into the form's Token field"),
                );
            } else {
                refusal = wrong_token("in the form's `token` field");
            }
        }
        let next = form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "next")
            .map(|(_, v)| v.into_owned());
        *req.body_mut() = Body::from(bytes);
        if ok {
            return None;
        }
        if key_refused && !api {
            return Some(super::pages::key_refused_page(
                refusal,
                &sign_in_again(&referer_path(&headers)),
            ));
        }
        // A sign-in that failed is asked again, on its way to the same page.
        if req.uri().path() == "/login" {
            return Some(refuse_unsigned(
                api,
                refusal,
                next.as_deref().unwrap_or("/"),
            ));
        }
    }
    Some(refuse(api, refusal))
}

/// The address of the sign-in form for a viewer signed in already, going on to `next`.
pub fn sign_in_again(next: &str) -> String {
    format!("/login?again=1&next={}", super::pages::urlencode(next))
}

/// The path of the page a form was sent from (its `Referer`, sent only from this server's own
/// pages: `Referrer-Policy: same-origin`), or `/`.
fn referer_path(headers: &HeaderMap) -> String {
    let Some(referer) = headers.get(header::REFERER).and_then(|v| v.to_str().ok()) else {
        return "/".to_string();
    };
    let rest = referer.split_once("://").map_or(referer, |(_, rest)| rest);
    let path = rest.find('/').map_or("/", |at| &rest[at..]);
    local_path(path.split('#').next().unwrap_or("/"))
}

fn missing_token(shared: &Shared, api: bool, query: bool) -> Failure {
    Failure::new(
        StatusCode::UNAUTHORIZED,
        CommandError::bad_input("a change needs the server's token; nothing was recorded")
            .hint(sign_in_hint(shared, api, query)),
    )
}

/// A token was given, and it is not this server's (`given` says where it was): not "missing",
/// to a client that sends one.
fn wrong_token(given: &str) -> Failure {
    Failure::new(
        StatusCode::UNAUTHORIZED,
        CommandError::bad_input(format!(
            "the token given {given} is not this server's; nothing was recorded"
        ))
        .hint("use the token `cortex serve` printed, or the one it was given (--token or CORTEX_SERVE_TOKEN): a server started again makes a new one unless given one"),
    )
}

/// The address a `?token=` sign-in goes on to: `path` with its `query` but the fields that
/// gave the token (each whose name, decoded, is `token`: `query_token` reads them so), the
/// others as they were written. Before, the whole query was dropped: the sign-in link to
/// `/runs/R?events=all&token=T` landed on `/runs/R`.
fn without_token(path: &str, query: Option<&str>) -> String {
    let kept: Vec<&str> = query
        .unwrap_or_default()
        .split('&')
        .filter(|field| !field.is_empty())
        .filter(|field| {
            let key = field.split_once('=').map_or(*field, |(k, _)| k);
            form_urlencoded::parse(key.as_bytes()).all(|(k, _)| k != "token")
        })
        .collect();
    match kept.as_slice() {
        [] => path.to_string(),
        _ => format!("{path}?{}", kept.join("&")),
    }
}

fn query_token(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// Set the sign-in's cookie — a random value of its own that this server knows for its life,
/// never the token (HttpOnly, SameSite=Strict; Secure when the browser came through the HTTPS
/// proxy `--public-url` names, so that it is never sent over plain HTTP to that name) — and
/// send the browser on to `path`.
fn sign_in(shared: &Shared, headers: &HeaderMap, path: &str) -> Response {
    let to = local_path(path);
    let secure = public_host(headers, shared)
        && shared
            .public
            .as_ref()
            .is_some_and(|p| p.origin.starts_with("https://"));
    let Some(session) = new_session(shared) else {
        return refuse(
            false,
            Failure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                CommandError::new(
                    exit::FAILED,
                    "cannot make a sign-in: /dev/urandom cannot be read",
                )
                .hint("send the token as `Authorization: Bearer TOKEN` instead"),
            ),
        );
    };
    // The form key goes in the fragment, which the browser keeps to itself: the page's script
    // moves it into this origin's storage and out of the address.
    let base = to.split('#').next().unwrap_or("/");
    let mut response =
        Redirect::to(&format!("{base}#cortex-key={}", session.form_key)).into_response();
    let cookie = format!(
        "{}={}; Path=/; HttpOnly; SameSite=Strict{}",
        cookie_name(shared),
        session.id,
        if secure { "; Secure" } else { "" }
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// A path on this server (never `//host` or a scheme: no open redirect), fit for a
/// `Location` header: a control character (a header split) sends to `/`, and text beyond
/// visible ASCII is percent-encoded (a header holds no more; before, a sign-in form's `next`
/// holding a line break was answered with a bare 500).
pub fn local_path(path: &str) -> String {
    if !path.starts_with('/')
        || path.starts_with("//")
        || path.contains('\\')
        || path.chars().any(char::is_control)
    {
        return "/".to_string();
    }
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c.is_ascii_graphic() {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// The sign-in form's field.
#[derive(Debug, serde::Deserialize)]
pub struct SignIn {
    #[serde(default)]
    pub next: String,
}

/// `GET /login?next=PATH`: the sign-in form (open to all); a viewer signed in already goes on.
pub async fn login_page(
    State(shared): State<Arc<Shared>>,
    axum::Extension(viewer): axum::Extension<Viewer>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Response {
    let next = raw
        .as_deref()
        .and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "next")
                .map(|(_, v)| local_path(&v))
        })
        .unwrap_or_else(|| "/".to_string());
    let again = raw.as_deref().is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "again" && v != "0")
    });
    // Signed in already: on to the page, unless asked to sign in again (`?again=1`: the form
    // key this browser keeps was refused, or lost).
    if viewer.signed_in && !again {
        return Redirect::to(&next).into_response();
    }
    let message = if viewer.signed_in {
        "sign in again with this server's token: this browser gets a new sign-in, and its forms a new form key"
    } else {
        "sign in with this server's token"
    };
    super::pages::sign_in_page(
        Failure::new(
            StatusCode::OK,
            CommandError::bad_input(message).hint(sign_in_hint(&shared, false, raw.is_some())),
        ),
        &next,
    )
}

/// `POST /login/key`: whether the form key in the `token` field is this browser's sign-in's
/// (the guard has checked it: 204 if it is, 401 if not). The page's script asks before it keeps
/// a key handed over in an address's fragment (`#cortex-key=`), which any site can link to:
/// only the key of the sign-in the browser's own cookie carries is kept.
pub async fn check_key() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /login`: the guard has checked the form's token; the browser is given a sign-in.
pub async fn login(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<SignIn>,
) -> Response {
    sign_in(&shared, &headers, &form.next)
}

/// The headers every answer carries.
fn harden(mut response: Response) -> Response {
    let h = response.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    // Not `no-referrer`: with it a browser sends `Origin: null` on the page's own form posts,
    // which the cross-site check must refuse. `same-origin` tells other sites nothing.
    set(h, "referrer-policy", "same-origin");
    set(h, "cross-origin-opener-policy", "same-origin");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_recognised_and_others_are_not() {
        let host = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, HeaderValue::from_str(v).unwrap());
            loopback_host(&h)
        };
        for ok in [
            "127.0.0.1:7420",
            "localhost:1",
            "LOCALHOST",
            "[::1]:80",
            "127.3.2.1",
        ] {
            assert!(host(ok), "{ok}");
        }
        for bad in [
            "evil.example:7420",
            "127.0.0.1.evil.example",
            "[::2]:1",
            "0.0.0.0:1",
        ] {
            assert!(!host(bad), "{bad}");
        }
    }

    #[test]
    fn only_local_paths_are_redirected_to() {
        assert_eq!(local_path("/runs/X"), "/runs/X");
        assert_eq!(local_path("//evil.example"), "/");
        assert_eq!(local_path("https://evil.example"), "/");
        assert_eq!(local_path("/\\evil.example"), "/");
        assert_eq!(local_path("/runs/X\r\nSet-Cookie: a=b"), "/");
        assert_eq!(local_path("/r\u{e9}sum\u{e9} x"), "/r%C3%A9sum%C3%A9%20x");
    }
}
