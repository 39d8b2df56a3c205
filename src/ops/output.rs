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
}

impl Output {
    pub fn new(json: impl Serialize, human: impl Into<String>, code: i32) -> Output {
        Output {
            json: serde_json::to_value(json).expect("documents serialise"),
            human: human.into(),
            code,
            warnings: Vec::new(),
            warnings_in_text: false,
        }
    }

    pub fn warn(mut self, warnings: Vec<String>) -> Output {
        self.warnings.extend(warnings);
        self
    }

    /// `warn`, for warnings the text already says: only the document has them on the side.
    pub fn warn_beside_document(mut self, warnings: Vec<String>) -> Output {
        self.warnings_in_text = true;
        self.warn(warnings)
    }
}
