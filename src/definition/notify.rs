//! `notify:` — who hears of a run's end: commands to run and webhooks to POST the status
//! document to, when the run fails (`on_failure`) or when it finishes (`on_finish`).

use schemars::JsonSchema;

use super::name::is_env_name;
use serde::{Deserialize, Serialize};

/// Notifications of a workflow or a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// When the run fails: it pauses on a failure, or ends failed, aborted or rolled back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_failure: Vec<Notification>,
    /// When the run ends, whatever its outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_finish: Vec<Notification>,
}

impl Notify {
    pub fn is_empty(&self) -> bool {
        self.on_failure.is_empty() && self.on_finish.is_empty()
    }
}

/// One notification: a command (`run:`, given the status document on stdin and
/// `CORTEX_RUN_ID`, `CORTEX_RUN_NAME`, `CORTEX_RUN_STATUS`, `CORTEX_HOME`; not rendered, so no `${{ }}`), or a webhook (`webhook:`, an
/// http(s) URL the status document is POSTed to as JSON). Exactly one of the two.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Notification {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// An http(s) URL; `$VAR` / `${VAR}` take a part (or all of it) from the environment of
    /// the process that delivers, `${{ inputs.NAME }}` from an input (then a secret input).
    /// Recorded and shown as `scheme://host:port/***`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(https?://|\$)"))]
    pub webhook: Option<String>,
    /// Tries after the first when one fails, 0 to 10 (default 2), with a pause that starts at
    /// 500 ms and doubles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10))]
    pub retries: Option<u32>,
    /// How long one try may take, 1 ms to 10 minutes (default: 10 s for a webhook, 60 s for a
    /// command).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<super::duration::TimeoutSchema>")]
    pub timeout: Option<super::DurationSpec>,
}

impl Notification {
    /// What it is, as said in reports: `run: CMD` or `webhook: URL`, the URL masked
    /// (`mask_url`: its userinfo and path are often the secret).
    pub fn label(&self) -> String {
        match (&self.run, &self.webhook) {
            (Some(cmd), _) => format!("run: {cmd}"),
            (None, Some(url)) => format!("webhook: {}", mask_url(url)),
            (None, None) => "nothing".into(),
        }
    }
}

/// A part of a webhook as written: text, an environment variable (`$VAR`, `${VAR}`) or an
/// input (`${{ inputs.NAME }}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookPart<'a> {
    Text(&'a str),
    Env(&'a str),
    Input(String),
}

/// The parts of a webhook as written, or why it cannot be read: a `$` that starts no
/// variable, or a template naming anything but an input.
pub fn webhook_parts(url: &str) -> Result<Vec<WebhookPart<'_>>, String> {
    let templates = super::template::scan(url);
    let mut parts = Vec::new();
    let mut text_from = 0;
    let mut i = 0;
    while let Some(off) = url[i..].find('$') {
        let at = i + off;
        if at > text_from {
            parts.push(WebhookPart::Text(&url[text_from..at]));
        }
        let rest = &url[at..];
        let end = if let Some(t) = templates.iter().find(|t| t.start == at) {
            match &t.reference {
                Ok(super::template::Reference::Input(name)) => {
                    parts.push(WebhookPart::Input(name.clone()))
                }
                Ok(_) => {
                    return Err(format!(
                        "webhook `{url}`: a webhook can use inputs only (`${{{{ inputs.NAME }}}}`), not a step's outputs or `item`"
                    ));
                }
                Err(e) => return Err(format!("webhook `{url}`: {e}")),
            }
            t.end
        } else if let Some(braced) = rest.strip_prefix("${") {
            let Some(close) = braced.find('}') else {
                return Err(format!("webhook `{url}`: `${{` is not closed by `}}`"));
            };
            let name = &braced[..close];
            if !is_env_name(name) {
                return Err(format!(
                    "webhook `{url}`: `${{{name}}}` is not an environment variable name (letters, digits and `_`, not starting with a digit)"
                ));
            }
            parts.push(WebhookPart::Env(name));
            at + 2 + close + 1
        } else {
            let name_len = rest[1..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len() - 1);
            let name = &rest[1..1 + name_len];
            if !is_env_name(name) {
                return Err(format!(
                    "webhook `{url}`: a `$` starts an environment variable (`$VAR`, `${{VAR}}`) or an input (`${{{{ inputs.NAME }}}}`); percent-encode a literal `$` as %24"
                ));
            }
            parts.push(WebhookPart::Env(name));
            at + 1 + name_len
        };
        i = end;
        text_from = end;
    }
    if text_from < url.len() {
        parts.push(WebhookPart::Text(&url[text_from..]));
    }
    Ok(parts)
}

/// Why a webhook as written cannot be used, if it cannot: it must read (`webhook_parts`),
/// and what is written literally must be an `http://` or `https://` URL with a host (a
/// webhook that starts with a variable is checked once resolved, when it is delivered).
pub fn webhook_problem(url: &str) -> Option<String> {
    let parts = match webhook_parts(url) {
        Ok(parts) => parts,
        Err(e) => return Some(e),
    };
    // Nothing at all: no variable to stand for it (read as one, it passed and failed every run).
    if parts.is_empty() {
        return Some(
            "webhook is empty: give an http(s) URL, e.g. `https://hooks.example.com/cortex`"
                .to_string(),
        );
    }
    if !matches!(parts.first(), Some(WebhookPart::Text(_))) {
        // From a variable: only its literal text is known here.
        return parts.iter().find_map(|p| match p {
            WebhookPart::Text(t) if t.chars().any(|c| c.is_control() || c.is_whitespace()) => Some(
                format!("webhook `{url}` holds spaces or control characters; percent-encode them"),
            ),
            _ => None,
        });
    }
    // Variables stand for some text: check the shape with a placeholder.
    let probe: String = parts
        .iter()
        .map(|p| match p {
            WebhookPart::Text(t) => t,
            _ => "v",
        })
        .collect();
    url_problem(&probe).map(|p| p.replace(&format!("`{probe}`"), &format!("`{url}`")))
}

/// Query parameters whose value is taken for a credential (`?token=…`, `&api_key=…`): a name
/// that is one of these or ends with `_` and one of them (case aside, `-` read as `_`).
const SECRET_PARAMS: [&str; 21] = [
    "token",
    "pass",
    "jwt",
    "bearer",
    "session",
    "secret",
    "password",
    "passwd",
    "pwd",
    "key",
    "apikey",
    "accesstoken",
    "authtoken",
    "clientsecret",
    "sig",
    "signature",
    "hmac",
    "auth",
    "credential",
    "credentials",
    "code",
];

/// Whether a query parameter named `name` carries a credential by its name (`SECRET_PARAMS`).
fn secret_param(name: &str) -> bool {
    // As the server reads it: `%74oken` is `token`.
    let key = percent_decoded(name).to_ascii_lowercase().replace('-', "_");
    SECRET_PARAMS.iter().any(|s| {
        key == *s
            || key
                .strip_suffix(s)
                .is_some_and(|before| before.ends_with('_'))
    })
}

/// `text` with its `%XX` escapes decoded (what is not valid UTF-8 afterwards is replaced).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A credential written out in a webhook as written — a password in its userinfo
/// (`http://user:PASSWORD@host`) or a token-like query parameter (`?token=…`) whose value is
/// literal text, not a variable — as (the problem, the fix). The definition is kept in the
/// run's log (`run_started`'s snapshot), so such a value would be too: it must come from the
/// environment (`$VAR`) or a secret input. Nothing of the value is repeated. Every one is
/// said (before, only the first: a password hid the `?token=` after it until it was fixed).
pub fn webhook_literal_secrets(url: &str) -> Vec<(String, String)> {
    // Variables as a character no URL holds, so that what is literal can be told apart.
    const VAR: char = '\u{1}';
    let mut found = Vec::new();
    let Ok(parts) = webhook_parts(url) else {
        return found;
    };
    let probe: String = parts
        .iter()
        .map(|p| match p {
            WebhookPart::Text(t) => t.to_string(),
            _ => VAR.to_string(),
        })
        .collect();
    let Some((_, userinfo, _, tail)) = split_url(&probe) else {
        return found;
    };
    let literal = |v: &str| !v.is_empty() && !v.contains(VAR);
    let shown = mask_url(url);
    let how = "give it through the environment of the process that delivers (`$VAR` or `${VAR}`, read when the webhook is delivered, never recorded) or a secret input (`${{ inputs.NAME }}`)";
    if let Some((user, password)) = userinfo.and_then(|u| u.split_once(':'))
        && literal(password)
    {
        let user = user.replace(VAR, "$USER");
        found.push((
            format!(
                "webhook `{shown}` has a password written out in its URL, and the definition is kept in the run's log: the password would be too"
            ),
            format!("{how}, e.g. `{user}:$WEBHOOK_PASSWORD@…`"),
        ));
    }
    let Some((_, query)) = tail.split_once('?') else {
        return found;
    };
    let query = query.split('#').next().unwrap_or_default();
    // `;` separates parameters too for many servers (`?a=1;token=…`).
    for pair in query.split(['&', ';']) {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        if literal(value) && !name.contains(VAR) && secret_param(name) {
            found.push((
                format!(
                    "webhook `{shown}` has its query parameter `{name}` written out, a credential by its name, and the definition is kept in the run's log: its value would be too"
                ),
                format!("{how}, e.g. `?{name}=$WEBHOOK_TOKEN`"),
            ));
        }
    }
    found
}

/// The environment variables a webhook takes a credential from: each one that supplies
/// some of what `mask_url` hides, and so may hold the secret the mask keeps out of sight.
/// That is a variable in its userinfo (`http://$HOOK_USER:$HOOK_PW@host`, or `$CREDS@host`,
/// which may hold `user:password`); in its path (`https://hooks.slack.com/$SLACK_PATH`:
/// Slack, Teams and Discord keep their token there); one written where the path would start,
/// so that its value may run on into it (the whole URL, `$SLACK_URL`, `${BASE}/x`, or a host
/// that nothing literal ends, `https://$HOOK`); in a query parameter's name, which may bring
/// the parameter along (`?$QUERY`); and in the value of a query parameter whose name says it
/// is a credential (`?token=$HOOK_TOKEN`), by the rule `webhook_literal_secrets` refuses
/// literal ones by. A host ended by literal text (`https://$HOST/x`, `$HOST:8443`), the scheme,
/// another parameter's value (`?channel=$CH`) and the fragment are shown or not secret, and
/// are not. Their values are secrets of the run (a step that prints one is scrubbed, as one
/// printing a secret `env:` entry's value is). Before, only a userinfo password and a token
/// parameter were: `webhook: $SLACK_URL` had the URL masked where the webhook was shown, and
/// a step printing `$SLACK_URL` put its token in the log, status, results.json, checkpoints
/// and attempt logs.
pub fn webhook_credential_vars(url: &str) -> Vec<&str> {
    let Ok(parts) = webhook_parts(url) else {
        return Vec::new();
    };
    // Each variable as a character of its own that no URL holds, so that where it stands can
    // be told from the URL's shape.
    let mark = |i: usize| char::from_u32(0xE000 + i as u32).unwrap_or('\u{E000}');
    let names: Vec<&str> = parts
        .iter()
        .filter_map(|p| match p {
            WebhookPart::Env(name) => Some(*name),
            _ => None,
        })
        .collect();
    let mut n = 0;
    let probe: String = parts
        .iter()
        .map(|p| match p {
            WebhookPart::Text(t) => t.to_string(),
            WebhookPart::Env(_) => {
                n += 1;
                mark(n - 1).to_string()
            }
            WebhookPart::Input(_) => String::new(),
        })
        .collect();
    let is_mark = |c: char| ('\u{E000}'..='\u{F8FF}').contains(&c);
    let Some((_, userinfo, host, tail)) = split_url(&probe) else {
        // No `scheme://` written: the variables make up (or start) the URL, and any of them
        // may hold it all.
        return names;
    };
    let mut credential_text = String::new();
    credential_text.extend(userinfo);
    // A host that a variable ends, with no `/` written after it, may run on into the path.
    if !tail.starts_with('/')
        && let Some(last) = host.chars().next_back().filter(|&c| is_mark(c))
    {
        credential_text.push(last);
    }
    let before_fragment = tail.split('#').next().unwrap_or_default();
    let (path, query) = before_fragment
        .split_once('?')
        .unwrap_or((before_fragment, ""));
    credential_text.push_str(path);
    // `;` separates parameters too for many servers (`?a=1;token=…`).
    for pair in query.split(['&', ';']) {
        match pair.split_once('=') {
            Some((name, value)) => {
                credential_text.push_str(name);
                if secret_param(name) {
                    credential_text.push_str(value);
                }
            }
            None => credential_text.push_str(pair),
        }
    }
    names
        .iter()
        .enumerate()
        .filter(|(i, _)| credential_text.contains(mark(*i)))
        .map(|(_, name)| *name)
        .collect()
}

/// Why a URL cannot be POSTed to, if it cannot: only `http://` and `https://` with a host.
pub fn url_problem(url: &str) -> Option<String> {
    // A scheme is matched without regard to case (RFC 3986): `HTTPS://` is `https://`.
    let rest = ["https://", "http://"].into_iter().find_map(|scheme| {
        url.get(..scheme.len())
            .filter(|p| p.eq_ignore_ascii_case(scheme))
            .map(|_| &url[scheme.len()..])
    });
    match rest {
        None => Some(format!(
            "webhook `{url}` is not an http(s) URL; write https://host/path"
        )),
        Some(r) if r.split(['/', '?', '#']).next().is_none_or(str::is_empty) => {
            Some(format!("webhook `{url}` names no host"))
        }
        Some(r) if r.chars().any(|c| c.is_control() || c.is_whitespace()) => Some(format!(
            "webhook `{url}` holds spaces or control characters; percent-encode them"
        )),
        Some(r) => port_problem(r).map(|port| {
            format!("webhook `{url}` names the port {port}; a port is from 1 to 65535")
        }),
    }
}

/// The port written in the authority that opens `rest` (a URL after its scheme), if it is
/// all digits and no port (0, or past 65535). A port made of a variable is checked once it is
/// resolved. (`serve --public-url` asks the same of its address.)
pub fn port_problem(rest: &str) -> Option<&str> {
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let port = match host_port.strip_prefix('[') {
        Some(v6) => v6.split_once(']')?.1.strip_prefix(':')?,
        None => host_port.rsplit_once(':')?.1,
    };
    (!port.is_empty()
        && port.chars().all(|c| c.is_ascii_digit())
        && port.parse::<u16>().map_or(true, |p| p == 0))
    .then_some(port)
}

/// The URL a webhook stands for: its variables replaced by `env` (an environment variable's
/// value) and `input` (an input's value), then checked (`url_problem`). The error says what
/// is missing, never a value.
pub fn resolve_webhook(
    url: &str,
    env: &dyn Fn(&str) -> Option<String>,
    input: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::new();
    for part in webhook_parts(url)? {
        match part {
            WebhookPart::Text(t) => out.push_str(t),
            WebhookPart::Env(name) => match env(name) {
                Some(v) if !v.is_empty() => out.push_str(&v),
                _ => {
                    return Err(format!(
                        "environment variable `{name}` is not set for the process that delivers it"
                    ));
                }
            },
            WebhookPart::Input(name) => match input(&name) {
                Some(v) => out.push_str(&v),
                None => {
                    return Err(format!(
                        "input `{name}` is not known to the process that delivers it (a secret input: give it as CORTEX_INPUT_{})",
                        name.to_ascii_uppercase()
                    ));
                }
            },
        }
    }
    if let Some(problem) = url_problem(&out) {
        // Said without the value, which may be the secret.
        return Err(match problem {
            p if p.contains("names no host") => {
                format!("webhook `{url}` resolves to a URL with no host")
            }
            p if p.contains("spaces") => {
                format!("webhook `{url}` resolves to a URL with spaces or control characters")
            }
            _ => format!("webhook `{url}` does not resolve to an http(s) URL"),
        });
    }
    Ok(out)
}

/// Split a URL into scheme, userinfo, host (with port) and the rest (path, query, fragment).
fn split_url(url: &str) -> Option<(&str, Option<&str>, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    Some((scheme, userinfo, host, tail))
}

/// A URL as it may be recorded and shown: `scheme://host:port`, its userinfo and its path
/// and query (where Slack-style webhooks and basic auth keep their secret) as `***`. Text
/// that is no URL is shown as is when it is a variable (`$SLACK_URL`), else `***`.
pub fn mask_url(url: &str) -> String {
    match split_url(url) {
        Some((scheme, userinfo, host, tail)) => format!(
            "{scheme}://{}{host}{}",
            if userinfo.is_some() { "***@" } else { "" },
            if tail.is_empty() || tail == "/" {
                tail
            } else {
                "/***"
            }
        ),
        None if url.starts_with('$') && !url.contains(['/', '?', '#', '@']) => url.to_string(),
        None => "***".into(),
    }
}

/// The parts of a resolved URL that `mask_url` hides, to be scrubbed from anything said
/// about its delivery: the whole URL, its userinfo and its path and query.
pub fn url_secrets(url: &str) -> Vec<String> {
    let mut out = vec![url.to_string()];
    if let Some((_, userinfo, _, tail)) = split_url(url) {
        out.extend(userinfo.map(str::to_string));
        if tail.len() > 1 {
            out.push(tail.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_credential_written_out_in_one_webhook_is_found_at_once() {
        let found =
            webhook_literal_secrets("http://user:pw@127.0.0.1:9/fail?token=abc123&a=1&api_key=k");
        let problems: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(found.len(), 3, "{problems:?}");
        assert!(problems[0].contains("password"), "{problems:?}");
        assert!(problems[1].contains("`token`"), "{problems:?}");
        assert!(problems[2].contains("`api_key`"), "{problems:?}");
        assert!(
            found.iter().all(|(p, f)| !p.contains("abc123")
                && !f.contains("abc123")
                && !p.contains(":pw@")),
            "{found:?}"
        );
    }

    #[test]
    fn a_password_or_a_token_written_out_in_a_webhook_is_found_and_not_repeated() {
        for url in [
            "http://user:hunter2pass@127.0.0.1:18299/x",
            "https://$USER:hunter2pass@hooks.example.com",
            "https://hooks.example.com/x?a=1&token=hunter2pass",
            "https://hooks.example.com/x?API-Key=hunter2pass#f",
            "https://hooks.example.com/x?sig=hunter2pass",
            "https://hooks.example.com/x?pass=hunter2pass",
            "https://hooks.example.com/x?jwt=hunter2pass",
            "https://hooks.example.com/x?bearer=hunter2pass",
            "https://hooks.example.com/x?%74oken=hunter2pass",
            "https://hooks.example.com/x?a=1;token=hunter2pass",
        ] {
            let found = webhook_literal_secrets(url);
            assert_eq!(found.len(), 1, "{url}: {found:?}");
            let (problem, fix) = found.into_iter().next().unwrap();
            assert!(
                !problem.contains("hunter2") && !fix.contains("hunter2"),
                "{problem} {fix}"
            );
            assert!(fix.contains("$VAR"), "{fix}");
        }
        for fine in [
            "http://127.0.0.1:8080/cortex",
            "https://user@hooks.example.com/x",
            "https://user:@hooks.example.com/x",
            "https://user:$HOOK_PASSWORD@hooks.example.com/x",
            "https://user:${{ inputs.pw }}@hooks.example.com/x",
            "https://hooks.example.com/x?token=$TOKEN",
            "https://hooks.example.com/x?token=",
            "https://hooks.example.com/x?channel=alerts&monkey=1",
            "$SLACK_URL",
            "https://hooks.slack.com/services/T0/B0/XXXX",
        ] {
            assert_eq!(webhook_literal_secrets(fine), vec![], "{fine}");
        }
    }

    #[test]
    fn a_webhook_port_past_65535_or_0_was_taken_as_valid_and_failed_only_at_delivery() {
        for (url, port) in [
            ("http://[::1]:99999/", "99999"),
            ("https://hooks.example.com:0/x", "0"),
            ("http://u:p@127.0.0.1:65536", "65536"),
        ] {
            let problem = url_problem(url).unwrap_or_else(|| panic!("{url} taken as valid"));
            assert!(
                problem.contains(&format!("names the port {port}; a port is from 1 to 65535")),
                "{problem}"
            );
        }
        for fine in [
            "http://[::1]:8080/x",
            "https://hooks.example.com/a:b",
            "http://127.0.0.1:65535?x=1:0",
            "http://user:99999@example.com/",
            "https://example.com:/",
        ] {
            assert_eq!(url_problem(fine), None, "{fine}");
        }
        // A scheme in capitals is the same scheme.
        assert_eq!(url_problem("HTTPS://hooks.example.com/x"), None);
        assert_eq!(url_problem("Http://127.0.0.1:8080/"), None);
        assert!(url_problem("HTTPX://example.com/").is_some());
        // A port from a variable is checked once resolved, not as written.
        assert_eq!(webhook_problem("http://example.com:${PORT}/x"), None);
    }

    #[test]
    fn the_variables_a_webhook_takes_a_credential_from_are_those_that_supply_what_its_mask_hides() {
        let vars = webhook_credential_vars;
        assert_eq!(vars("http://deploy:$HOOK_PW@127.0.0.1:9/hk"), ["HOOK_PW"]);
        assert_eq!(
            vars("https://$HOST/x?channel=$CH&api_token=${TOK}"),
            ["TOK"]
        );
        assert_eq!(vars("https://$CREDS@h/x"), ["CREDS"]);
        // A signature by any of its names (a review found `?hmac=$K` stored in clear).
        assert_eq!(vars("https://$HOST/x?hmac=$K&sig=$S"), ["K", "S"]);
        // The whole userinfo, the user too: the mask hides both.
        assert_eq!(vars("https://$HOOK_USER:x@$HOST/y"), ["HOOK_USER"]);
        // The whole URL, or its start, from a variable: it may hold the path.
        assert_eq!(vars("$SLACK_URL"), ["SLACK_URL"]);
        assert_eq!(vars("${SLACK_URL}"), ["SLACK_URL"]);
        assert_eq!(vars("${BASE}/services/x"), ["BASE"]);
        // Any part of the path (Slack, Teams and Discord keep their token there).
        assert_eq!(vars("https://hooks.slack.com/$SLACK_PATH"), ["SLACK_PATH"]);
        assert_eq!(vars("https://h/services/${T}/x/$B?channel=$CH"), ["T", "B"]);
        // A host nothing literal ends may run on into the path; one ended by `/` or a port
        // may not, and is shown anyway.
        assert_eq!(vars("https://$HOOK"), ["HOOK"]);
        assert_eq!(vars("https://$HOOK?x=1"), ["HOOK"]);
        assert!(vars("https://$HOST/x").is_empty());
        assert!(vars("https://$HOST:8443/x").is_empty());
        // A query parameter's name may bring the parameter (`token=…`) along.
        assert_eq!(vars("https://h/x?$QUERY"), ["QUERY"]);
        assert_eq!(vars("https://h/x?$NAME=v"), ["NAME"]);
        // Not the fragment, never sent.
        assert!(vars("https://h/x#$FRAG").is_empty());
    }

    #[test]
    fn a_masked_url_keeps_scheme_host_and_port_only() {
        assert_eq!(
            mask_url("http://bob:pa55word@127.0.0.1:8080/services/T0/B0/XyZ?x=1"),
            "http://***@127.0.0.1:8080/***"
        );
        assert_eq!(mask_url("https://example.com/"), "https://example.com/");
        assert_eq!(mask_url("https://example.com"), "https://example.com");
        assert_eq!(mask_url("$SLACK_URL"), "$SLACK_URL");
        assert_eq!(mask_url("not a url/secret"), "***");
    }

    #[test]
    fn webhooks_read_variables_and_inputs_and_refuse_a_stray_dollar() {
        assert_eq!(
            webhook_parts("https://h/$A/${B}/${{ inputs.c }}x").unwrap(),
            vec![
                WebhookPart::Text("https://h/"),
                WebhookPart::Env("A"),
                WebhookPart::Text("/"),
                WebhookPart::Env("B"),
                WebhookPart::Text("/"),
                WebhookPart::Input("c".into()),
                WebhookPart::Text("x"),
            ]
        );
        assert!(webhook_problem("$SLACK_URL").is_none());
        assert!(webhook_problem("${{ inputs.hook }}").is_none());
        assert!(webhook_problem("https://$HOST/x").is_none());
        assert!(
            webhook_problem("ftp://$HOST/x")
                .unwrap()
                .contains("not an http(s) URL")
        );
        assert!(webhook_problem("https://h/$1").is_some());
        assert!(webhook_problem("https://h/${A").is_some());
        assert!(
            webhook_problem("${{ steps.a.outputs.u }}")
                .unwrap()
                .contains("inputs only")
        );
    }

    #[test]
    fn resolving_says_what_is_missing_and_never_the_value() {
        let env = |n: &str| (n == "HOOK").then(|| "https://u:secretpw@h:1/p/q".to_string());
        let none = |_: &str| None;
        assert_eq!(
            resolve_webhook("$HOOK", &env, &none).unwrap(),
            "https://u:secretpw@h:1/p/q"
        );
        assert!(
            resolve_webhook("$NOPE", &env, &none)
                .unwrap_err()
                .contains("`NOPE`")
        );
        let bad = |_: &str| Some("ftp://secretpw".to_string());
        let e = resolve_webhook("$X", &bad, &none).unwrap_err();
        assert!(!e.contains("secretpw"), "{e}");
        assert_eq!(
            url_secrets("https://u:pw12@h:1/p/q"),
            vec!["https://u:pw12@h:1/p/q", "u:pw12", "/p/q"]
        );
    }
}
