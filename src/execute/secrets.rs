//! Secret redaction: values of secret environment variables never reach the log.

/// Does this environment variable name look like it holds a secret?
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["TOKEN", "SECRET", "PASSWORD"]
        .iter()
        .any(|w| upper.contains(w))
}

/// The secret values to scrub, longest first (so a secret containing another is scrubbed whole).
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    secrets: Vec<String>,
}

/// Shorter values would scrub ordinary text ("1", "on"), and are no secret anyway.
const MIN_SECRET_LEN: usize = 4;

impl Redactor {
    /// Secrets from an environment: every variable with a secret-looking name, plus `extra`
    /// names (a step's `secret_env`).
    pub fn from_env<'a>(
        env: impl IntoIterator<Item = (&'a str, &'a str)>,
        extra: &[String],
    ) -> Self {
        let mut r = Redactor::default();
        for (name, value) in env {
            if is_secret_name(name) || extra.iter().any(|e| e == name) {
                r.add(value);
            }
        }
        r
    }

    pub fn add(&mut self, value: &str) {
        if value.len() >= MIN_SECRET_LEN && !self.secrets.iter().any(|s| s == value) {
            self.secrets.push(value.to_string());
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    pub fn merge(&mut self, other: &Redactor) {
        for s in &other.secrets {
            self.add(s);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }

    /// Redact every string inside a JSON value.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => *s = self.redact(s),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|v| self.redact_json(v)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_and_values_are_scrubbed() {
        let r = Redactor::from_env(
            [
                ("GITHUB_TOKEN", "ghp_abcdef"),
                ("HOME", "/root"),
                ("MY_KEY", "k3y-value"),
            ],
            &["MY_KEY".to_string()],
        );
        assert_eq!(
            r.redact("t=ghp_abcdef k=k3y-value h=/root"),
            "t=*** k=*** h=/root"
        );
    }
}
