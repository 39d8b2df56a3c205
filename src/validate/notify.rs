//! Checks of `notify:` (workflows and scenarios alike): each notification is exactly one of
//! `run:` or `webhook:`, and a webhook is an http(s) URL with a host, or made of environment
//! variables and declared inputs that stand for one.

use std::collections::BTreeMap;

use super::workflow::Checker;
use crate::definition::{
    InputSpec, Notify, Seg, WebhookPart, webhook_literal_secrets, webhook_parts, webhook_problem,
};

pub(super) fn check_notify(
    c: &mut Checker<'_>,
    notify: &Notify,
    inputs: &BTreeMap<String, InputSpec>,
) {
    for (when, list) in [
        ("on_failure", &notify.on_failure),
        ("on_finish", &notify.on_finish),
    ] {
        for (i, n) in list.iter().enumerate() {
            let path = vec![
                Seg::Key("notify".into()),
                Seg::Key(when.into()),
                Seg::Index(i),
            ];
            if n.retries.is_some_and(|r| r > 10) {
                c.problem(
                    &[path.as_slice(), &["retries".into()]].concat(),
                    "`retries` is at most 10",
                );
            }
            if let Some(t) = &n.timeout {
                match t.to_duration() {
                    Ok(d) if d.is_zero() || d > std::time::Duration::from_secs(600) => c.problem(
                        &[path.as_slice(), &["timeout".into()]].concat(),
                        "`timeout` is from 1 ms to 10 minutes",
                    ),
                    Ok(_) => {}
                    Err(e) => c.problem(&[path.as_slice(), &["timeout".into()]].concat(), e),
                }
            }
            match (&n.run, &n.webhook) {
                (Some(cmd), None) if cmd.trim().is_empty() => {
                    c.problem(&[path.as_slice(), &["run".into()]].concat(), "`run:` is empty")
                }
                // A notification's command is not rendered: it reads the run from its stdin
                // (the status document) and the environment. A template left in it reached the
                // shell as written (`Bad substitution`) after `validate` said OK.
                (Some(cmd), None) if cmd.contains("${{") => c
                    .hinted(
                        &[path.as_slice(), &["run".into()]].concat(),
                        "a notification's `run:` is not rendered: `${{ … }}` would reach the shell as written",
                        "read the run from the command's stdin (the status document: e.g. `jq -r '.steps[0].outputs.KEY'`) or from CORTEX_RUN_ID, CORTEX_RUN_NAME and CORTEX_RUN_STATUS",
                    ),
                // As in a step's `run:` (`Checker::shell_secrets`): the definition is kept in
                // the run's log, a secret assigned in the command with it.
                (Some(cmd), None) => {
                    c.shell_secrets(&[path.as_slice(), &["run".into()]].concat(), cmd, false)
                }
                (None, Some(url)) => {
                    let at = [path.as_slice(), &["webhook".into()]].concat();
                    if let Some(problem) = webhook_problem(url) {
                        c.problem(&at, problem);
                    } else {
                        // As a secret `env:` value written out (`validate::literal_secret`),
                        // each of them.
                        for (problem, fix) in webhook_literal_secrets(url) {
                            c.hinted(&at, problem, fix);
                        }
                    }
                    for part in webhook_parts(url).unwrap_or_default() {
                        if let WebhookPart::Input(name) = part
                            && !inputs.contains_key(&name)
                        {
                            c.hinted(
                                &at,
                                format!("webhook refers to unknown input `{name}`"),
                                "declare it under `inputs:` (it is then a secret input: `***` in the log, given to later processes as CORTEX_INPUT_<NAME>)",
                            );
                        }
                    }
                }
                _ => c.hinted(
                    &path,
                    "a notification needs exactly one of `run:` or `webhook:`",
                    "e.g. `- run: ./page-oncall.sh` or `- webhook: https://hooks.example.com/cortex`",
                ),
            }
        }
    }
}
