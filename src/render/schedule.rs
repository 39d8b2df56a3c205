//! Schedules as people read them: `schedule list`'s table, and the lines `schedule run`
//! prints as it fires.

use serde_json::Value;

/// `schedule list`: each schedule, when it fires next and what its last time became; the
/// commands it suggests carry `globals` after `cortex` (`Ctx::globals`).
pub fn render_schedules(doc: &Value, globals: &[String]) -> String {
    let rows = doc["schedules"].as_array().cloned().unwrap_or_default();
    let invalid = doc["invalid"].as_array().cloned().unwrap_or_default();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut out = format!("Schedules (times in UTC; now {}):\n", text(&doc["now"]));
    if rows.is_empty() && invalid.is_empty() {
        out.push_str(
            "  none: add `schedule: \"0 3 * * *\"` to a workflow or scenario to run it by itself\n",
        );
    }
    let width = super::name_width(&rows);
    for r in &rows {
        out.push_str(&format!(
            "  {:<width$}  {:<8}  {}  ({}; overlap: {})\n",
            text(&r["name"]),
            text(&r["kind"]),
            text(&r["cron"]),
            text(&r["description"]).trim_end_matches('.'),
            text(&r["overlap"]),
        ));
        let next: Vec<String> = r["next"]
            .as_array()
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default();
        out.push_str(&format!(
            "  {:<width$}  next: {}\n",
            "",
            if next.is_empty() {
                "never".to_string()
            } else {
                next.join(", ")
            }
        ));
        for needed in r["env_inputs"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "  {:<width$}  warning: input `{}` is secret and required, and `schedule.inputs` cannot give it: each run needs {} in the scheduler's environment{}\n",
                "",
                text(&needed["input"]),
                text(&needed["variable"]),
                if needed["set_here"] == true {
                    " (this shell has it)"
                } else {
                    " (this shell does not set it)"
                },
            ));
        }
        if let Some(last) = r["last"].as_object() {
            let what = match last["outcome"].as_str() {
                Some("start") => match (&last["run_id"], &last["error"]) {
                    (Value::String(id), _) => format!("started run {id}"),
                    (_, Value::String(e)) => format!("no run started: {e}"),
                    _ => "starting".to_string(),
                },
                // Dropped from the queue (its schedule changed): said so, not "queued".
                Some("queue") if last["released"] != true && last["error"].is_string() => {
                    format!("queued, then {}", text(&last["error"]))
                }
                Some("queue") if last["released"] == true => match &last["run_id"] {
                    Value::String(id) => format!("queued, then started run {id}"),
                    _ => "queued, starting".to_string(),
                },
                Some(other) => format!(
                    "{}{}",
                    if other == "skip" { "skipped" } else { "queued" },
                    last["reason"]
                        .as_str()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ),
                None => String::new(),
            };
            let missed = last["missed"].as_u64().unwrap_or(0);
            out.push_str(&format!(
                "  {:<width$}  last: {} {what}{}\n",
                "",
                text(&last["due"]),
                if missed > 0 {
                    format!(" (caught up {missed} missed)")
                } else {
                    String::new()
                }
            ));
        }
    }
    // Each problem as validate says it: what, `--> FILE:LINE:COLUMN`, and the hint.
    for bad in &invalid {
        let errors = bad["errors"].as_array().cloned().unwrap_or_default();
        out.push_str(&format!(
            "  {}  {}  never fires until fixed ({} problem{}):\n",
            text(&bad["name"]),
            text(&bad["kind"]),
            errors.len().max(1),
            if errors.len() > 1 { "s" } else { "" },
        ));
        if errors.is_empty() {
            out.push_str(&format!(
                "    - {}\n      --> {}\n",
                text(&bad["error"]),
                text(&bad["file"])
            ));
        }
        for e in &errors {
            let file = e["file"]
                .as_str()
                .map_or_else(|| text(&bad["file"]), str::to_string);
            let at = match (e["line"].as_u64(), e["column"].as_u64()) {
                (Some(line), Some(column)) => format!("{file}:{line}:{column}"),
                _ => file,
            };
            out.push_str(&format!("    - {}\n      --> {at}\n", text(&e["message"])));
            if let Some(hint) = e["hint"].as_str() {
                out.push_str(&format!("      hint: {hint}\n"));
            }
        }
    }
    if !rows.is_empty() {
        out.push_str(&format!(
            "\nThey fire while a scheduler runs: {} (or {}).\n",
            super::suggested_command(globals, &["schedule", "run"]),
            super::suggested_command(globals, &["serve"])
        ));
    }
    out
}

/// One line of `schedule run`: what happened to a due time.
pub fn render_happened(h: &crate::ops::schedule::Happened) -> String {
    let what = match h.what {
        "started" => "starting a run".to_string(),
        "skipped" => "skipped".to_string(),
        "queued" => "queued".to_string(),
        "released" => "released from the queue, starting a run".to_string(),
        "dropped" => "dropped from the queue, never to start".to_string(),
        "run_recorded" => format!("run {}", h.run_id.as_deref().unwrap_or("?")),
        "run_failed" => "no run started".to_string(),
        "invalid" => "not scheduled: the definition does not validate".to_string(),
        "seen" => "seen".to_string(),
        other => other.to_string(),
    };
    format!(
        "{}  {} {}: {what}{}\n",
        h.due,
        h.kind,
        h.name,
        h.detail
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default()
    )
}
