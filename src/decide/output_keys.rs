//! Which output keys the definition names for a unit of a run: those its gate requires, and
//! those anything else in the definition reads — facts of the definition the run holds, asked
//! by the projections (`status`: what a report must and may give) and by the executor (a key
//! the definition names is definition text, not a secret to refuse).

use super::RunState;
use crate::definition::template::{Reference, scan};

impl RunState {
    /// The outputs a report on unit `index` must give, each once: the keys of its
    /// `validate:` gate's `output:` checks (a report without one is refused, SPEC §7), then
    /// those of its own outputs that its gate's `run:` checks (a phase's `check:` criteria)
    /// read (`gate_read_outputs`): its gate runs on them, so a report without one fails it.
    pub fn required_outputs(&self, index: usize) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(d) = self.definition(index) {
            for key in d.validate.iter().filter_map(|c| c.output.as_deref()) {
                if !out.iter().any(|k| k == key) {
                    out.push(key.to_string());
                }
            }
        }
        for key in self.gate_read_outputs(index) {
            if !out.contains(&key) {
                out.push(key);
            }
        }
        out
    }

    /// The outputs of unit `index` itself that its `validate:` gate's `run:` checks (a
    /// phase's `check:` criteria) read, each once, in the order read.
    pub fn gate_read_outputs(&self, index: usize) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let (Some(d), Some(unit)) = (self.definition(index), self.steps.get(index)) else {
            return out;
        };
        // An item of a `foreach:` step may name its step's outputs by the step's name.
        let parent = self.parent_of(index).map(|p| self.steps[p].name.as_str());
        for text in d.validate.iter().filter_map(|c| c.run.as_deref()) {
            for occurrence in scan(text) {
                if let Ok(Reference::StepOutput { step, key }) = occurrence.reference
                    && (step == unit.name || Some(step.as_str()) == parent)
                    && !out.contains(&key)
                {
                    out.push(key);
                }
            }
        }
        out
    }

    /// The outputs of unit `index` that anything else in the definition reads, each with its
    /// readers (step or phase names, "the workflow's `outputs:`" for the rest of the
    /// definition), in the order first read: every template anywhere, and every `if:`
    /// expression.
    pub fn output_readers(&self, index: usize) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        let (Some(workflow), Some(unit)) = (self.workflow.as_ref(), self.steps.get(index)) else {
            return out;
        };
        let name = unit.name.as_str();
        let mut read = |r: &Reference, by: &str| {
            if let Reference::StepOutput { step, key } = r
                && step == name
            {
                match out.iter_mut().find(|(k, _)| k == key) {
                    Some((_, readers)) => {
                        if !readers.iter().any(|b| b == by) {
                            readers.push(by.to_string());
                        }
                    }
                    None => out.push((key.clone(), vec![by.to_string()])),
                }
            }
        };
        fn strings<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
            match v {
                serde_json::Value::String(s) => out.push(s),
                serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
                serde_json::Value::Object(m) => m.values().for_each(|v| strings(v, out)),
                _ => {}
            }
        }
        let mut scan_value = |value: &serde_json::Value, by: &str| {
            let mut texts = Vec::new();
            strings(value, &mut texts);
            for text in texts {
                for occ in scan(text) {
                    if let Ok(r) = &occ.reference {
                        read(r, by);
                    }
                }
            }
        };
        for step in &workflow.steps {
            scan_value(&serde_json::to_value(step).unwrap_or_default(), &step.name);
        }
        let mut rest = serde_json::to_value(&**workflow).unwrap_or_default();
        if let Some(m) = rest.as_object_mut() {
            m.remove("steps");
        }
        scan_value(&rest, "the workflow's `outputs:`");
        for step in &workflow.steps {
            if let Some(crate::definition::IfCondition::Expression(text)) = &step.if_
                && let Ok(expr) = crate::definition::expr::parse(text)
            {
                for (r, _) in crate::definition::expr::references(&expr) {
                    read(r, &step.name);
                }
            }
        }
        out
    }

    /// Every output key the definition names for unit `index`: those its gate requires
    /// (`required_outputs`), then those anything else reads (`output_readers`), each once.
    /// Definition text, as a written `foreach:` item is: such a key is kept as written.
    pub fn named_outputs(&self, index: usize) -> Vec<String> {
        let mut out = self.required_outputs(index);
        for (key, _) in self.output_readers(index) {
            if !out.contains(&key) {
                out.push(key);
            }
        }
        out
    }
}
