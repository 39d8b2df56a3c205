//! What an operation produced, for every front end: its JSON document (`--json`, the MCP
//! server, the HTTP API), the same for people, and the exit code of SPEC §5.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub json: serde_json::Value,
    pub human: String,
    pub code: i32,
    /// Said on the side (stderr): a definition changed since its run started, a derived file
    /// not written.
    pub warnings: Vec<String>,
    /// The text says the warnings itself (where it shows what they concern, as `log show` says
    /// a changed chain under its events): said on the side only beside the document.
    pub warnings_in_text: bool,
    /// Warnings said already, as they came (the CLI's observer writes a drive's on stderr
    /// live): the document carries them too, and they are not said a second time. Before, a
    /// warning a drive said (the run needing its secret inputs again) reached the stderr of
    /// `--json workflow step complete` but not its document, while the MCP tool's had it.
    pub said: Vec<String>,
}

impl Output {
    pub fn new(json: impl Serialize, human: impl Into<String>, code: i32) -> Output {
        Output {
            json: serde_json::to_value(json).expect("documents serialise"),
            human: human.into(),
            code,
            warnings: Vec::new(),
            warnings_in_text: false,
            said: Vec::new(),
        }
    }

    pub fn warn(mut self, warnings: Vec<String>) -> Output {
        self.warnings.extend(warnings);
        self
    }

    /// The document as `--json` prints it and every tool returns it: an object document
    /// carries the warnings in its `warnings` array (those it has already kept, then the
    /// others, each once), so a reader of the document alone — an MCP client has no stderr —
    /// has them. A document that is an array (rows) is left as it is.
    pub fn document(&self) -> serde_json::Value {
        let mut doc = self.json.clone();
        if self.warnings.is_empty() && self.said.is_empty() {
            return doc;
        }
        if let serde_json::Value::Object(map) = &mut doc {
            let kept = map
                .entry("warnings")
                .or_insert_with(|| serde_json::Value::Array(Vec::new()));
            if let serde_json::Value::Array(kept) = kept {
                for w in self.warnings.iter().chain(&self.said) {
                    if !kept.iter().any(|k| k.as_str() == Some(w)) {
                        kept.push(serde_json::Value::String(w.clone()));
                    }
                }
            }
        }
        doc
    }

    /// The output with `said`, warnings said already as they came (`Output::said`).
    pub fn said_live(mut self, said: Vec<String>) -> Output {
        for w in said {
            if !self.said.contains(&w) {
                self.said.push(w);
            }
        }
        self
    }

    /// `warn`, for warnings the text already says: only the document has them on the side.
    pub fn warn_beside_document(mut self, warnings: Vec<String>) -> Output {
        self.warnings_in_text = true;
        self.warn(warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_document_carries_its_warnings_once_and_rows_stay_rows() {
        let out = Output::new(serde_json::json!({"a": 1, "warnings": ["w1"]}), "", 0)
            .warn(vec!["w1".into(), "w2".into()]);
        assert_eq!(
            out.document(),
            serde_json::json!({"a": 1, "warnings": ["w1", "w2"]})
        );
        let quiet = Output::new(serde_json::json!({"a": 1}), "", 0);
        assert_eq!(quiet.document(), serde_json::json!({"a": 1}));
        let rows = Output::new(serde_json::json!([1]), "", 0).warn(vec!["w".into()]);
        let said = Output::new(serde_json::json!({"a": 1}), "", 0)
            .warn(vec!["w1".into()])
            .said_live(vec!["w1".into(), "w2".into()]);
        assert_eq!(
            said.document(),
            serde_json::json!({"a": 1, "warnings": ["w1", "w2"]})
        );
        assert_eq!(rows.document(), serde_json::json!([1]));
    }
}
