//! `notify:` — who hears of a run's end: commands to run and webhooks to POST the status
//! document to, when the run fails (`on_failure`) or when it finishes (`on_finish`).

use schemars::JsonSchema;
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
/// `CORTEX_RUN_ID`, `CORTEX_RUN_NAME`, `CORTEX_RUN_STATUS`), or a webhook (`webhook:`, an
/// http(s) URL the status document is POSTed to as JSON). Exactly one of the two.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Notification {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://"))]
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
    /// What it is, as said in reports: `run: CMD` or `webhook: URL`.
    pub fn label(&self) -> String {
        match (&self.run, &self.webhook) {
            (Some(cmd), _) => format!("run: {cmd}"),
            (None, Some(url)) => format!("webhook: {url}"),
            (None, None) => "nothing".into(),
        }
    }
}

/// Why a webhook URL cannot be used, if it cannot: only `http://` and `https://` with a host.
pub fn webhook_problem(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
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
        Some(_) => None,
    }
}
