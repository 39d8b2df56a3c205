//! Turning `--input NAME=VALUE` strings into typed input values, checked against their specs.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::definition::expr::Number;
use crate::definition::{InputSpec, InputType};

/// Check and type every input; all problems are reported at once.
/// `path_exists` answers `exists: true` checks (the only outside fact needed).
/// A required input not given is said with how the CLI gives it (`--input NAME=VALUE`).
pub fn resolve_inputs(
    specs: &BTreeMap<String, InputSpec>,
    given: &[(String, String)],
    path_exists: &dyn Fn(&str) -> bool,
) -> Result<BTreeMap<String, Value>, Vec<String>> {
    resolve_inputs_giving(specs, given, path_exists, &|name| {
        crate::render::command_line(&crate::render::pair_args("--input", name, "VALUE"))
    })
}

/// `resolve_inputs`, a required input not given said with `give` (its name → how the front
/// end that asked gives it: `ops::Surface::give`).
pub fn resolve_inputs_giving(
    specs: &BTreeMap<String, InputSpec>,
    given: &[(String, String)],
    path_exists: &dyn Fn(&str) -> bool,
    give: &dyn Fn(&str) -> String,
) -> Result<BTreeMap<String, Value>, Vec<String>> {
    let mut problems = Vec::new();
    let mut out = BTreeMap::new();
    for (name, _) in given {
        if !specs.contains_key(name) {
            problems.push(if specs.is_empty() {
                format!(
                    "unknown input `{}`: it declares no inputs",
                    crate::definition::shown(name)
                )
            } else {
                format!(
                    "unknown input `{}`; its inputs: {}",
                    crate::definition::shown(name),
                    specs.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            });
        }
    }
    for (name, spec) in specs {
        let raw = given
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone());
        let value = match (raw, &spec.default) {
            (Some(raw), _) => match typed(spec.kind, &raw) {
                Ok(v) => v,
                Err(e) => {
                    problems.push(format!("input `{name}`: {e}"));
                    continue;
                }
            },
            (None, Some(default)) => match not_scalar(spec.kind, default) {
                None => default.clone(),
                Some(problem) => {
                    problems.push(format!("input `{name}`'s default: {problem}"));
                    continue;
                }
            },
            (None, None) if spec.required => {
                problems.push(format!("input `{name}` is required: pass {}", give(name)));
                continue;
            }
            (None, None) => continue,
        };
        if let Some(problem) = unpassable(name, &value) {
            problems.push(problem);
            continue;
        }
        let mut bad = |p: String| problems.push(format!("input `{name}`: {p}"));
        if let Some(choices) = &spec.choices
            && !choices
                .iter()
                .any(|c| c == &value || scalar_text(c) == scalar_text(&value))
        {
            bad(format!(
                "{} is not one of {}",
                scalar_text(&value),
                choices
                    .iter()
                    .map(scalar_text)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        // Exactly: an integer past 2^53 is not rounded to a double to meet its bound.
        if let Some(n) = value.as_number().and_then(Number::from_json) {
            if let Some(min) = spec.minimum.as_ref().map(crate::definition::Bound::exact)
                && n < min
            {
                bad(format!("{n} is less than the minimum {min}"));
            }
            if let Some(max) = spec.maximum.as_ref().map(crate::definition::Bound::exact)
                && n > max
            {
                bad(format!("{n} is more than the maximum {max}"));
            }
        }
        if let (Some(pattern), Some(text)) = (&spec.pattern, value.as_str()) {
            match regex::Regex::new(&format!("^(?:{pattern})$")) {
                Ok(re) if !re.is_match(text) => {
                    bad(format!("`{text}` does not match the pattern `{pattern}`"))
                }
                Ok(_) => {}
                Err(e) => bad(format!("the pattern is invalid: {e}")),
            }
        }
        if spec.kind == InputType::Path
            && spec.exists == Some(true)
            && let Some(p) = value.as_str()
            && !path_exists(p)
        {
            bad(format!("path `{p}` does not exist"));
        }
        out.insert(name.clone(), value);
    }
    if problems.is_empty()
        && let Some(problem) = too_much(&out, inherited_env_bytes())
    {
        problems.push(problem);
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Why input `name`'s `value` could never reach a step, if it could not: every step is given
/// each input as the environment variable `CORTEX_INPUT_<NAME>`, which holds no NUL and at
/// most `MAX_ARGUMENT_BYTES` (`NAME=value`, as Linux counts it). Said before anything is
/// recorded (SPEC §3: inputs are checked before anything runs), never at the first step's
/// start, after the whole value was stored in `run_started`. The value is not quoted.
fn unpassable(name: &str, value: &Value) -> Option<String> {
    use crate::definition::limits::MAX_ARGUMENT_BYTES;
    let text = crate::event::input_text(value);
    let var = crate::execute::input_env_name(name);
    let hint = "write such data to a file and give its path as the input";
    if text.contains('\0') {
        return Some(format!(
            "input `{name}` holds a NUL character, which no environment variable can carry (each step is given it as `{var}`): {hint}"
        ));
    }
    (var.len() + 1 + text.len() > MAX_ARGUMENT_BYTES).then(|| {
        format!(
            "input `{name}` is {} bytes, and each step is given it as the environment variable `{var}`, which Linux passes only up to {MAX_ARGUMENT_BYTES} bytes (`{var}=value`, {} bytes for the value): {hint}",
            text.len(),
            MAX_ARGUMENT_BYTES - var.len() - 1
        )
    })
}

/// What this process's environment takes of a command's `ARG_MAX` (`env_entry_bytes`), which
/// every step inherits; its `CORTEX_INPUT_<NAME>` variables left out, as a step is given the
/// run's own inputs instead.
fn inherited_env_bytes() -> usize {
    use std::os::unix::ffi::OsStrExt;
    std::env::vars_os()
        .filter(|(name, _)| !name.as_bytes().starts_with(b"CORTEX_INPUT_"))
        .map(|(name, value)| {
            crate::definition::limits::env_entry_bytes(
                name.as_bytes().len(),
                value.as_bytes().len(),
            )
        })
        .sum()
}

/// Why `inputs` could never reach a step all together, if they could not: each step is given
/// every input as `CORTEX_INPUT_<NAME>` beside the environment it inherits (`inherited`
/// bytes), and Linux starts a program only if its arguments and environment together fit in
/// `ARG_MAX` (typically 2 MiB); `ARG_RESERVE_BYTES` of it is kept for the step's command and
/// its own variables. Each input may be under `MAX_ARGUMENT_BYTES` and the sum still too much:
/// before, such a run was recorded and every step failed to start ("Argument list too long").
/// Said before anything is recorded; no value is quoted.
pub fn too_much(inputs: &BTreeMap<String, Value>, inherited: usize) -> Option<String> {
    use crate::definition::limits::{ARG_MAX_BYTES, ARG_RESERVE_BYTES, env_entry_bytes};
    let total: usize = inputs
        .iter()
        .map(|(name, value)| {
            env_entry_bytes(
                crate::execute::input_env_name(name).len(),
                crate::event::input_text(value).len(),
            )
        })
        .sum();
    let budget = ARG_MAX_BYTES - ARG_RESERVE_BYTES;
    (total.saturating_add(inherited) > budget).then(|| {
        format!(
            "the inputs are {total} bytes together as the environment variables each step is given (`CORTEX_INPUT_<NAME>=value`, {} of them), and with the {inherited} bytes of the environment it inherits that is more than {budget} bytes: Linux passes a command at most {ARG_MAX_BYTES} bytes of arguments and environment together (ARG_MAX, typically), and {ARG_RESERVE_BYTES} are kept for the step's command and its own variables; write such data to files and give their paths as inputs",
            inputs.len()
        )
    })
}

/// Why `value`, written for an input of type `kind` (its `default:`, a choice of its `enum:`),
/// can be no value of it, if it is a sequence or a mapping: an input's value is one scalar, as
/// every other way of giving one takes it (`--input NAME=VALUE`, a schedule's `inputs:`, a
/// `uses:` step's `with:`, the API's and MCP's `inputs`, each refusing a list or a map). Before,
/// a `type: string` input's `default: [1, 2]` validated (its text `[1,2]` is a string) and the
/// run recorded the list `[1,2]` itself, not text; `type: integer` refused it.
pub fn not_scalar(kind: InputType, value: &Value) -> Option<String> {
    if !matches!(value, Value::Array(_) | Value::Object(_)) {
        return None;
    }
    let mut written = String::new();
    flow(value, &mut written);
    let shown = crate::definition::code_span(&crate::definition::shown_text(&written));
    Some(match kind {
        InputType::String | InputType::Path => format!(
            "{shown} is not a {}: quote it to mean the text (an input's value is one scalar)",
            if kind == InputType::Path {
                "path"
            } else {
                "string"
            },
        ),
        InputType::Integer => format!("{shown} is not an integer"),
        InputType::Number => format!("{shown} is not a number"),
        InputType::Boolean => format!("{shown} is not a boolean"),
    })
}

/// `value` as YAML's flow style writes it (`[1, 2]`, `{a: b}`), written no further than a
/// message shows (`shown_text` cuts at 40 characters): a list nested a hundred deep costs no
/// more than its start.
fn flow(value: &Value, out: &mut String) {
    if out.len() > 60 {
        return;
    }
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if out.len() > 60 {
                    return;
                }
                if i > 0 {
                    out.push_str(", ");
                }
                flow(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if out.len() > 60 {
                    return;
                }
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(key);
                out.push_str(": ");
                flow(item, out);
            }
            out.push('}');
        }
        Value::Null => out.push('~'),
        other => out.push_str(&scalar_text(other)),
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn typed(kind: InputType, raw: &str) -> Result<Value, String> {
    match kind {
        InputType::String | InputType::Path => Ok(Value::String(raw.to_string())),
        InputType::Integer => raw.trim().parse::<i64>().map(Value::from).map_err(|_| {
            let digits = raw.trim().strip_prefix(['-', '+']).unwrap_or(raw.trim());
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                format!(
                    "`{raw}` is out of range: an `integer` input is from {} to {}",
                    i64::MIN,
                    i64::MAX
                )
            } else {
                format!("`{raw}` is not an integer")
            }
        }),
        InputType::Number => raw
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("`{raw}` is not a number")),
        InputType::Boolean => match raw.trim().to_lowercase().as_str() {
            "true" | "yes" | "1" | "on" => Ok(Value::Bool(true)),
            "false" | "no" | "0" | "off" => Ok(Value::Bool(false)),
            _ => Err(format!(
                "`{raw}` is not a boolean (true or false; yes/no, on/off and 1/0 are read as them too)"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs() -> BTreeMap<String, InputSpec> {
        let mut m = BTreeMap::new();
        m.insert(
            "version".into(),
            InputSpec {
                required: true,
                pattern: Some(r"\d+\.\d+\.\d+".into()),
                ..Default::default()
            },
        );
        m.insert(
            "dry_run".into(),
            InputSpec {
                kind: InputType::Boolean,
                default: Some(Value::Bool(false)),
                ..Default::default()
            },
        );
        m
    }

    #[test]
    fn typed_values_and_defaults() {
        let v = resolve_inputs(&specs(), &[("version".into(), "1.2.3".into())], &|_| true).unwrap();
        assert_eq!(v["version"], Value::String("1.2.3".into()));
        assert_eq!(v["dry_run"], Value::Bool(false));
    }

    #[test]
    fn every_problem_at_once() {
        let err = resolve_inputs(
            &specs(),
            &[
                ("version".into(), "one".into()),
                ("dry_run".into(), "maybe".into()),
                ("x".into(), "1".into()),
            ],
            &|_| true,
        )
        .unwrap_err();
        assert_eq!(err.len(), 3, "{err:?}");
    }
}
