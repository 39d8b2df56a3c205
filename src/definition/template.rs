//! `${{ inputs.NAME }}`, `${{ steps.STEP.outputs.KEY }}` and `${{ item }}` templates.
//!
//! In shell commands a template is never spliced into the command text: it becomes a variable
//! reference `${CORTEX_TPL_n}` and the value travels in the environment, where a shell never
//! re-reads it as code. In prompts and env values (plain data) the value is substituted.

use std::sync::LazyLock;

use regex::Regex;

/// What a template refers to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reference {
    Input(String),
    /// An output of a step or phase; `step` may name one item of a `foreach:` step
    /// (`deploy[0]`).
    StepOutput {
        step: String,
        key: String,
    },
    /// The item of a `foreach:` step or phase.
    Item,
}

/// One `${{ ... }}` in a text, by byte range, with what it refers to or why it is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub start: usize,
    pub end: usize,
    pub reference: Result<Reference, String>,
}

/// `(?s)`: a template may span lines (`${{ inputs.a\n}}` is one template).
static TEMPLATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)\$\{\{(.*?)\}\}").expect("static regex"));

fn parse_reference(expr: &str) -> Result<Reference, String> {
    let expr = expr.trim();
    if expr == "item" {
        return Ok(Reference::Item);
    }
    if let Some(name) = expr.strip_prefix("inputs.") {
        if !name.is_empty() && !name.contains(char::is_whitespace) {
            return Ok(Reference::Input(name.to_string()));
        }
    } else if let Some(rest) = expr
        .strip_prefix("steps.")
        .or_else(|| expr.strip_prefix("phases."))
        && let Some((step, key)) = rest.split_once(".outputs.")
        && !step.is_empty()
        && !key.is_empty()
        && !key.contains(char::is_whitespace)
    {
        return Ok(Reference::StepOutput {
            step: step.to_string(),
            key: key.to_string(),
        });
    }
    Err(format!(
        "`${{{{ {expr} }}}}` is not a template cortex knows; use `${{{{ inputs.NAME }}}}`, `${{{{ steps.STEP.outputs.KEY }}}}`, in a scenario `${{{{ phases.PHASE.outputs.KEY }}}}`, or in a `foreach:` step `${{{{ item }}}}`"
    ))
}

/// Every template in `text`; an unclosed `${{` is reported as an invalid occurrence.
pub fn scan(text: &str) -> Vec<Occurrence> {
    let mut out: Vec<Occurrence> = TEMPLATE
        .captures_iter(text)
        .map(|c| {
            let whole = c.get(0).expect("group 0 always matches");
            Occurrence {
                start: whole.start(),
                end: whole.end(),
                reference: parse_reference(&c[1]),
            }
        })
        .collect();
    // Every `${{` outside a matched template is unclosed (it can only come after the last
    // closed one, since the match is lazy from the first opening).
    let unclosed = text
        .match_indices("${{")
        .map(|(i, _)| i)
        .find(|&i| !out.iter().any(|o| o.start <= i && i < o.end));
    if let Some(start) = unclosed {
        out.push(Occurrence {
            start,
            end: text.len(),
            reference: Err("`${{` is never closed with `}}`".to_string()),
        });
    }
    out
}

/// Substitute values into plain text (prompts, env values). Unknown references stay as written.
pub fn render_text(text: &str, resolve: &dyn Fn(&Reference) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for occ in scan(text) {
        out.push_str(&text[last..occ.start]);
        match occ.reference.as_ref().ok().and_then(resolve) {
            Some(value) => out.push_str(&value),
            None => out.push_str(&text[occ.start..occ.end]),
        }
        last = occ.end;
    }
    out.push_str(&text[last..]);
    out
}

/// Rewrite a shell command so that every template becomes `${CORTEX_TPL_n}`, returning the
/// command and the variables to put in its environment. A value is never part of the text.
pub fn render_shell(
    command: &str,
    resolve: &dyn Fn(&Reference) -> Option<String>,
) -> (String, Vec<(String, String)>) {
    let mut out = String::with_capacity(command.len());
    let mut env = Vec::new();
    let mut last = 0;
    for occ in scan(command) {
        out.push_str(&command[last..occ.start]);
        let value = occ.reference.as_ref().ok().and_then(resolve);
        let var = format!("CORTEX_TPL_{}", env.len());
        out.push_str(&format!("${{{var}}}"));
        env.push((var, value.unwrap_or_default()));
        last = occ.end;
    }
    out.push_str(&command[last..]);
    (out, env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(r: &Reference) -> Option<String> {
        match r {
            Reference::Input(n) if n == "version" => Some("1.2.3".into()),
            Reference::StepOutput { step, key } if step == "Build" && key == "bin" => {
                Some("$(touch x); touch y".into())
            }
            _ => None,
        }
    }

    #[test]
    fn shell_templates_become_variable_references() {
        let (cmd, env) = render_shell(
            "echo ${{ inputs.version }} \"${{steps.Build.outputs.bin}}\"",
            &resolve,
        );
        assert_eq!(cmd, "echo ${CORTEX_TPL_0} \"${CORTEX_TPL_1}\"");
        assert_eq!(env[1].1, "$(touch x); touch y");
    }

    #[test]
    fn text_templates_are_substituted() {
        assert_eq!(
            render_text("v${{ inputs.version }}", &resolve),
            "v1.2.3".to_string()
        );
    }

    #[test]
    fn templates_may_span_lines() {
        let (cmd, env) = render_shell(
            "echo ${{ inputs.version\n}} ${{ inputs.version }}",
            &resolve,
        );
        assert_eq!(cmd, "echo ${CORTEX_TPL_0} ${CORTEX_TPL_1}");
        assert_eq!(env.len(), 2);
    }

    #[test]
    fn bad_and_unclosed_templates_are_reported() {
        let occ = scan("a ${{ env.HOME }} b ${{ inputs.x");
        assert_eq!(occ.len(), 2);
        assert!(occ.iter().all(|o| o.reference.is_err()));
    }
}
