//! The one rule for names: what a workflow, scenario, step, phase, agent, input or output key
//! may be called, and when two names are the same name.
//!
//! Names are typed at a terminal, pasted from suggestions, matched forgivingly, passed in the
//! environment (`CORTEX_STEP`) and printed. So every kind shares one base rule — not empty, at
//! most `MAX_NAME_CHARS` characters, no control, format (bidirectional overrides, zero-width
//! characters), default-ignorable (Hangul fillers, grapheme joiner, variation selectors other
//! than an emoji's presentation selector right after it), separator or unassigned characters,
//! the braille blank, only plain spaces and none at either end,
//! no leading `-` (but in an output key, always joined to its flag) — and a kind adds only what its own syntax needs (`/` for names of files,
//! `.` for step names in templates, `,` for phase names in `after:` lists, the character sets
//! of environment variables and `key=value` lines).

use unicode_general_category::{GeneralCategory, get_general_category};

/// The longest name, in characters (Unicode scalar values, as JSON Schema's `maxLength`
/// counts). Far below the kernel's 128 KiB limit on one environment string (`CORTEX_STEP`),
/// and short enough to read in a status table.
pub const MAX_NAME_CHARS: usize = 100;

/// What is being named; the kinds differ only in the characters their syntax reserves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Workflow,
    Scenario,
    Step,
    Phase,
    Agent,
    Input,
    OutputKey,
}

impl NameKind {
    pub fn noun(self) -> &'static str {
        match self {
            NameKind::Workflow => "workflow name",
            NameKind::Scenario => "scenario name",
            NameKind::Step => "step name",
            NameKind::Phase => "phase name",
            NameKind::Agent => "agent name",
            NameKind::Input => "input name",
            NameKind::OutputKey => "output key",
        }
    }
}

/// Why a name is refused: what is wrong with it and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadName {
    pub problem: String,
    pub fix: String,
}

impl std::fmt::Display for BadName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; {}", self.problem, self.fix)
    }
}

/// Names are matched forgivingly: case, surrounding spaces, spaces and underscores do not
/// matter (`Feature Development` finds `feature-development`), nor do Unicode normalisation
/// (precomposed `é` and `e` + U+0301 are one letter: NFC) and an emoji's presentation selector
/// (`⚠️` and `⚠` are one sign).
pub fn normalize_name(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let drawn: String = name
        .chars()
        .filter(|c| !is_presentation_selector(*c))
        .collect();
    drawn
        .trim()
        .to_lowercase()
        .nfc()
        .map(|c| if c == ' ' || c == '_' { '-' } else { c })
        .collect()
}

/// U+FE0E (text presentation) and U+FE0F (emoji presentation): after a character they choose
/// how it is drawn (`⚠️`, `❤️`, the keycap `1️⃣`); anywhere else they are drawn as nothing.
fn is_presentation_selector(c: char) -> bool {
    matches!(c, '\u{FE0E}' | '\u{FE0F}')
}

/// Whether a presentation selector may follow `base`: a character drawn on its own (not a
/// space, a mark, another selector or anything no name may hold).
fn presents(base: Option<char>) -> bool {
    base.is_some_and(|b| {
        b != ' '
            && !is_presentation_selector(b)
            && forbidden(b).is_none()
            && !matches!(
                get_general_category(b),
                GeneralCategory::NonspacingMark
                    | GeneralCategory::SpacingMark
                    | GeneralCategory::EnclosingMark
            )
    })
}

/// The editor schemas' `pattern` for a name (JSON Schema, no look-around): no control,
/// format, invisible or non-plain space character, not starting with `-` or a space, not
/// ending with a space — what `check_name` refuses for every kind, as far as a pattern can say
/// it (the schema may accept a name `validate` refuses, never the other way round).
/// This pattern for a workflow, scenario or agent name (found as a file: no `/` or `\`).
pub const FILE_NAME_PATTERN: &str = r"^[^- \u0000-\u001F\u007F-\u00A0\u00AD\u034F\u061C\u115F\u1160\u1680\u17B4\u17B5\u180B-\u180F\u2000-\u200F\u2028-\u202F\u205F-\u206F\u2800\u3000\u3164\uFE00-\uFE0D\uFEFF\uFFA0\uFFF0-\uFFF8/\\](?:[^\u0000-\u001F\u007F-\u00A0\u00AD\u034F\u061C\u115F\u1160\u1680\u17B4\u17B5\u180B-\u180F\u2000-\u200F\u2028-\u202F\u205F-\u206F\u2800\u3000\u3164\uFE00-\uFE0D\uFEFF\uFFA0\uFFF0-\uFFF8/\\]*[^ \u0000-\u001F\u007F-\u00A0\u00AD\u034F\u061C\u115F\u1160\u1680\u17B4\u17B5\u180B-\u180F\u2000-\u200F\u2028-\u202F\u205F-\u206F\u2800\u3000\u3164\uFE00-\uFE0D\uFEFF\uFFA0\uFFF0-\uFFF8/\\])?$";
/// The pattern for a step name (templates refer to it: no `.` or `}`).
pub const STEP_NAME_PATTERN: &str = r"^[^- \u0000-\u001F\u007F-\u00A0\u00AD\u034F\u061C\u115F\u1160\u1680\u17B4\u17B5\u180B-\u180F\u2000-\u200F\u2028-\u202F\u205F-\u206F\u2800\u3000\u3164\uFE00-\uFE0D\uFEFF\uFFA0\uFFF0-\uFFF8.}](?:[^\u0000-\u001F\u007F-\u00A0\u00AD\u034F\u061C\u115F\u1160\u1680\u17B4\u17B5\u180B-\u180F\u2000-\u200F\u2028-\u202F\u205F-\u206F\u2800\u3000\u3164\uFE00-\uFE0D\uFEFF\uFFA0\uFFF0-\uFFF8.}]*[^ \u0000-\u001F\u007F-\u00A0\u00AD\u034F\u061C\u115F\u1160\u1680\u17B4\u17B5\u180B-\u180F\u2000-\u200F\u2028-\u202F\u205F-\u206F\u2800\u3000\u3164\uFE00-\uFE0D\uFEFF\uFFA0\uFFF0-\uFFF8.}])?$";
/// The pattern for a phase name (`after:a,b` lists them: no `,`).
pub const PHASE_NAME_PATTERN: &str = r"^[^- \u0000-\u001F\u007F-\u00A0\u00AD\u034F\u061C\u115F\u1160\u1680\u17B4\u17B5\u180B-\u180F\u2000-\u200F\u2028-\u202F\u205F-\u206F\u2800\u3000\u3164\uFE00-\uFE0D\uFEFF\uFFA0\uFFF0-\uFFF8,](?:[^\u0000-\u001F\u007F-\u00A0\u00AD\u034F\u061C\u115F\u1160\u1680\u17B4\u17B5\u180B-\u180F\u2000-\u200F\u2028-\u202F\u205F-\u206F\u2800\u3000\u3164\uFE00-\uFE0D\uFEFF\uFFA0\uFFF0-\uFFF8,]*[^ \u0000-\u001F\u007F-\u00A0\u00AD\u034F\u061C\u115F\u1160\u1680\u17B4\u17B5\u180B-\u180F\u2000-\u200F\u2028-\u202F\u205F-\u206F\u2800\u3000\u3164\uFE00-\uFE0D\uFEFF\uFFA0\uFFF0-\uFFF8,])?$";

/// Whether two names would be taken for each other by forgiving matching.
pub fn same_name(a: &str, b: &str) -> bool {
    normalize_name(a) == normalize_name(b)
}

/// A name as it may be shown in a message: as written, but with what no name may hold (a
/// control, format or invisible character) made visible as its code point, so nothing reaches
/// a terminal that moves its cursor or hides a letter, and cut to 40 characters. Quotes and
/// backslashes are kept as written (`say "hi"`, never `say \"hi\"`), as `preview` and
/// `status` print the name: a message shows the name a person wrote, not a Rust literal.
pub fn shown(name: &str) -> String {
    shown_limited(name, 40)
}

/// What a person typed to pick something (a run's name, id or a definition's path) as it
/// may be shown in a message: as `shown`, but cut only past 120 characters, so a path is
/// echoed whole (`examples/scenarios/incident-response.yaml` is longer than a name), and
/// still under the 200 past which an error document cuts a word again.
pub fn shown_query(query: &str) -> String {
    shown_limited(query, 120)
}

/// A text written in a definition as it may be shown between backticks: as `shown` (its
/// quotes are kept as written: `"[\"x\"]"` would misquote a quoted JSON list).
pub fn shown_text(text: &str) -> String {
    shown_limited(text, 40)
}

/// `text` as a code span in a message: in backticks, or, when it holds a backtick, in as many
/// more backticks as it never holds in a row, with a space each side (as Markdown reads it),
/// so a value holding backticks cannot end the span early. Nothing is escaped or cut here:
/// the caller shows `text` as it shows it elsewhere.
pub fn code_span(text: &str) -> String {
    let mut run = 0;
    let mut longest = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    if longest == 0 {
        return format!("`{text}`");
    }
    let fence = "`".repeat(longest + 1);
    format!("{fence} {text} {fence}")
}

fn shown_limited(name: &str, limit: usize) -> String {
    let mut out = String::new();
    let mut before = None;
    for c in name.chars().take(limit) {
        let base = before.replace(c);
        if is_presentation_selector(c) && presents(base) {
            // Part of the sign before it (`⚠️`).
            out.push(c);
            continue;
        }
        // What no name may hold is written as its code point, even where Rust's
        // `escape_debug` would print it (a Hangul filler is a "letter" to it).
        if c != ' ' && forbidden(c).is_some() {
            out.extend(c.escape_unicode());
        } else if matches!(c, '\'' | '"' | '\\') {
            // Shown as written: `it's my flow`, `say "hi"`, `a\b` (never `it\'s`, `say \"hi\"`).
            out.push(c);
        } else {
            // (a mark with nothing to sit on is shown as its code point)
            out.extend(c.escape_debug());
        }
    }
    if name.chars().nth(limit).is_some() {
        out.push('…');
    }
    out
}

/// Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, stable since 5.2):
/// what a renderer shows as nothing unless it can do something with it. Most are format
/// characters (`Cf`, refused as such); the rest look like letters or marks to the general
/// category — the Hangul fillers U+115F, U+1160, U+3164 and U+FFA0 (`Lo`, the classic
/// invisible identifier), the combining grapheme joiner U+034F, the Khmer inherent vowels and
/// the Mongolian and other variation selectors (`Mn`) — and the unassigned rest of the ranges.
pub fn is_default_ignorable(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F..=0x1160 | 0x17B4..=0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
        | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8 | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF)
}

/// Characters no name may contain, with what to call them in a message.
fn forbidden(c: char) -> Option<&'static str> {
    if c == ' ' {
        return None;
    }
    if c == '\u{2800}' {
        // Braille Pattern Blank: a symbol to Unicode, a blank to the eye.
        return Some("a blank other than a plain space (the empty braille pattern)");
    }
    let category = get_general_category(c);
    if is_default_ignorable(c) && category != GeneralCategory::Format {
        return Some(
            "a character shown as nothing (a Hangul filler, a combining grapheme joiner or a \
             variation selector), which makes two different names look the same",
        );
    }
    match category {
        GeneralCategory::Control => Some("a control character"),
        GeneralCategory::Format => Some(
            "an invisible format character (a bidirectional override or isolate, a zero-width \
             character or a byte-order mark), which changes how the name is displayed",
        ),
        GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => {
            Some("a line break")
        }
        GeneralCategory::SpaceSeparator => Some("a space other than a plain space"),
        GeneralCategory::Surrogate | GeneralCategory::Unassigned => {
            Some("not an assigned Unicode character")
        }
        _ => None,
    }
}

/// Check `name` against the rule for its kind.
pub fn check_name(kind: NameKind, name: &str) -> Result<(), BadName> {
    let noun = kind.noun();
    let bad = |problem: String, fix: &str| {
        Err(BadName {
            problem,
            fix: fix.to_string(),
        })
    };
    if name.trim().is_empty() {
        return bad(format!("the {noun} is empty"), "give it a name");
    }
    let length = name.chars().count();
    if length > MAX_NAME_CHARS {
        return bad(
            format!(
                "the {noun} `{}` is {length} characters long; names are at most {MAX_NAME_CHARS}",
                shown(name)
            ),
            "shorten it (a description belongs in `description:`)",
        );
    }
    let chars: Vec<char> = name.chars().collect();
    if let Some((i, c, what)) = chars.iter().enumerate().find_map(|(i, &c)| {
        if is_presentation_selector(c) {
            // Right after what it presents it is part of that sign; anywhere else (first,
            // after a space, a mark or another selector) it is drawn as nothing.
            let base = i.checked_sub(1).map(|j| chars[j]);
            return (!presents(base)).then_some((
                i,
                c,
                "a presentation selector that does not follow a visible character, so it \
                 shows as nothing (it belongs right after the emoji or symbol it presents)",
            ));
        }
        forbidden(c).map(|what| (i, c, what))
    }) {
        return bad(
            format!(
                "the {noun} `{}` contains U+{:04X} at character {}, {what}",
                shown(name),
                c as u32,
                i + 1
            ),
            "use only visible characters and plain spaces",
        );
    }
    if name.starts_with(' ') || name.ends_with(' ') {
        return bad(
            format!("the {noun} `{}` starts or ends with a space", shown(name)),
            "remove the space (names are matched without it anyway)",
        );
    }
    // An output key is never a word of its own on a command line: a suggestion gives it
    // joined to its flag (`--output=-x=VALUE`, `render::pair_args`), and a `$CORTEX_OUTPUT`
    // line may write it, so a step that writes `-x` can be reported as well.
    if name.starts_with('-') && kind != NameKind::OutputKey {
        return bad(
            format!("the {noun} `{}` starts with `-`", shown(name)),
            "start it with another character: on the command line it would be read as an option",
        );
    }
    if matches!(kind, NameKind::Step | NameKind::Phase) && item_suffix(name).is_some() {
        return bad(
            format!("the {noun} `{}` ends in `[N]`", shown(name)),
            "rename it: the items of a `foreach:` are named `NAME[0]`, `NAME[1]`, ...",
        );
    }
    match kind {
        NameKind::Workflow | NameKind::Scenario | NameKind::Agent
            if name.contains('/') || name.contains('\\') || name.contains("..") =>
        {
            // An agent is a Markdown file; a workflow or scenario a YAML one.
            let fix = match kind {
                NameKind::Agent => {
                    "a name cannot lead out of its folder; rename it (to use a file elsewhere, give its path ending in .md)"
                }
                _ => {
                    "a name cannot lead out of its folder; rename it (to use a file elsewhere, give its path ending in .yaml)"
                }
            };
            bad(
                format!("the {noun} `{}` contains `/`, `\\` or `..`", shown(name)),
                fix,
            )
        }
        NameKind::Step if name.contains('.') || name.contains('}') => bad(
            format!("the {noun} `{}` contains `.` or `}}`", shown(name)),
            "rename it: templates refer to steps as `${{ steps.NAME.outputs.KEY }}`",
        ),
        NameKind::Phase if name.contains(',') => bad(
            format!("the {noun} `{}` contains `,`", shown(name)),
            "rename it: `condition: after:a,b` separates phase names with commas",
        ),
        NameKind::Input if !is_env_name(name) => bad(
            format!(
                "the {noun} `{}` is not letters, digits and `_` (not starting with a digit)",
                shown(name)
            ),
            "rename it: inputs are passed as environment variables `CORTEX_INPUT_NAME`",
        ),
        NameKind::OutputKey
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            bad(
                format!(
                    "the {noun} `{}` is not letters, digits, `_` and `-`",
                    shown(name)
                ),
                "rename it: an output is set by a `KEY=VALUE` line in $CORTEX_OUTPUT or a report's `--output KEY=VALUE`, and its key ends at the first `=`",
            )
        }
        _ => Ok(()),
    }
}

/// `NAME[N]` (an item of a `foreach:` step or phase): the name and the item's position.
pub fn item_suffix(name: &str) -> Option<(&str, usize)> {
    let open = name.strip_suffix(']')?.rfind('[')?;
    let digits = &name[open + 1..name.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || open == 0 {
        return None;
    }
    Some((&name[..open], digits.parse().ok()?))
}

/// Is `name` usable as an environment variable name?
pub(crate) fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [NameKind; 7] = [
        NameKind::Workflow,
        NameKind::Scenario,
        NameKind::Step,
        NameKind::Phase,
        NameKind::Agent,
        NameKind::Input,
        NameKind::OutputKey,
    ];

    #[test]
    fn every_kind_refuses_invisible_and_control_characters() {
        for c in [
            '\u{202E}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{200E}',
            '\u{200F}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{1B}',
            '\n',
            '\t',
            '\u{7F}',
            '\u{85}',
            '\u{2028}',
            '\u{2029}',
            '\u{A0}',
            '\u{3000}',
            '\u{E0001}',
            // Default_Ignorable_Code_Point outside the format category.
            '\u{3164}',
            '\u{FFA0}',
            '\u{115F}',
            '\u{1160}',
            '\u{034F}',
            '\u{FE00}',
            '\u{2800}',
            '\u{180B}',
            '\u{17B4}',
            '\u{E0100}',
        ] {
            for kind in ALL {
                let name = format!("ab{c}cd");
                let err = check_name(kind, &name).unwrap_err();
                assert!(
                    err.problem.contains(&format!("U+{:04X}", c as u32)),
                    "{kind:?} {c:?}: {err}"
                );
                assert!(
                    !err.to_string().contains(c),
                    "the message shows the character escaped: {err}"
                );
            }
        }
    }

    #[test]
    fn every_kind_bounds_length_and_refuses_empty_padded_and_dash_names() {
        for kind in ALL {
            assert!(check_name(kind, &"a".repeat(MAX_NAME_CHARS)).is_ok());
            let long = check_name(kind, &"a".repeat(200_000)).unwrap_err();
            assert!(long.problem.contains("200000 characters"), "{long}");
            assert!(long.to_string().len() < 300, "the name is cut: {long}");
            for bad in ["", "  ", " a", "a ", "-a"] {
                if kind == NameKind::OutputKey && bad == "-a" {
                    continue;
                }
                assert!(check_name(kind, bad).is_err(), "{kind:?} {bad:?}");
            }
        }
    }

    #[test]
    fn each_kind_reserves_what_its_syntax_needs() {
        use NameKind::*;
        let ok = |k, n| check_name(k, n).is_ok();
        assert!(ok(Workflow, "Feature Development ✓"));
        assert!(!ok(Workflow, "a/b") && !ok(Scenario, "../../evil") && !ok(Agent, "a\\b"));
        assert!(ok(Step, "a/b") && !ok(Step, "v1.2") && !ok(Step, "a}b"));
        assert!(ok(Phase, "v1.2") && !ok(Phase, "a,b"));
        assert!(!ok(Step, "deploy[0]") && !ok(Phase, "deploy[12]") && ok(Step, "[0]x"));
        assert!(ok(Step, "deploy[x]") && ok(Workflow, "w[0]"));
        assert!(ok(Input, "dry_run") && !ok(Input, "dry-run") && !ok(Input, "1x"));
        assert!(ok(OutputKey, "build-id") && !ok(OutputKey, "a b") && !ok(OutputKey, "a=b"));
        assert!(ok(OutputKey, "-x"), "given as --output=-x=VALUE");
    }

    #[test]
    fn a_presentation_selector_is_allowed_only_right_after_a_visible_character() {
        for name in [
            "⚠\u{FE0F} Check",
            "❤\u{FE0F}",
            "1\u{FE0F}\u{20E3} first",
            "✔\u{FE0E} ok",
        ] {
            for kind in [NameKind::Workflow, NameKind::Step, NameKind::Phase] {
                assert!(check_name(kind, name).is_ok(), "{kind:?} {name:?}");
            }
        }
        for name in [
            "\u{FE0F}",
            "\u{FE0F}deploy",
            "deploy \u{FE0F}x",
            "⚠\u{FE0F}\u{FE0F} Check",
            "⚠\u{FE0E}\u{FE0F}",
            "e\u{301}\u{FE0F}",
        ] {
            let err = check_name(NameKind::Step, name).unwrap_err();
            assert!(err.problem.contains("U+FE0"), "{name:?}: {err}");
            assert!(err.problem.contains("presentation selector"), "{err}");
        }
    }

    #[test]
    fn forgiving_matching_folds_normalisation_and_presentation_selectors() {
        assert!(same_name("Caf\u{e9}", "Cafe\u{301}"));
        assert!(same_name("CAF\u{c9}", "cafe\u{301}"));
        assert!(same_name("⚠\u{FE0F} Check", "⚠ check"));
        assert!(!same_name("Cafe", "Caf\u{e9}"));
    }

    #[test]
    fn forgiving_matching_ignores_case_spaces_and_underscores() {
        assert!(same_name("Review", "review"));
        assert!(same_name("build docs", "Build_Docs"));
        assert!(same_name("build-docs", "build docs"));
        assert!(!same_name("build", "builds"));
    }

    #[test]
    fn names_are_shown_as_written_with_only_invisible_characters_made_visible() {
        assert_eq!(shown(r#"say "hi""#), r#"say "hi""#);
        assert_eq!(shown("it's"), "it's");
        assert_eq!(shown(r"a\b"), r"a\b");
        assert_eq!(shown("a\u{1b}[2Jb\nc"), "a\\u{1b}[2Jb\\u{a}c");
        assert_eq!(shown("x\u{202E}y"), "x\\u{202e}y");
    }
}
