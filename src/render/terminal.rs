//! Text bound for a terminal: control characters in it are shown, never obeyed.
//!
//! Names, outputs, errors and prompts come from the log, and the log holds whatever a step
//! printed or a person typed. An escape sequence in it (OSC 52 writes the clipboard, CSI moves
//! the cursor and can hide text), a carriage return (overwrites a line) or a bidirectional
//! override (reorders what is read) would act on the reader's terminal. Every human rendering
//! passes through `terminal_safe` on its way out (the CLI's `out` and `err` apply it), and JSON
//! through `json_safe`, which escapes the same characters losslessly.

use std::borrow::Cow;

/// Characters a terminal (or a bidi-aware renderer) would act on rather than show. Newlines
/// and tabs are layout, and stay.
fn is_active(c: char) -> bool {
    match c {
        '\n' | '\t' => false,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        // Bidirectional embeddings, overrides, isolates and marks (Trojan Source).
        '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
            true
        }
        _ => false,
    }
}

/// `text` ending its last line: a newline added where it has none (an empty text stays
/// empty). What cortex prints on a terminal is whole lines, so that the next output — or
/// the shell's prompt — starts on a line of its own.
pub fn whole_lines(text: &str) -> Cow<'_, str> {
    if text.is_empty() || text.ends_with('\n') {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(format!("{text}\n"))
    }
}

/// A control character of any kind (newlines and tabs included) or a bidirectional
/// control: what one line of text (a name, a field of a log line) must not hold.
pub fn breaks_line(c: char) -> bool {
    // The line and paragraph separators end a line in JSON viewers, editors and browsers.
    c.is_control() || is_active(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// `text` as one line: every control character, newlines and tabs included, and every
/// bidirectional control written as a visible escape (`\u{a}`). For a field inside a line
/// (`log show`, an actor), where a newline would start a line that looks like another.
pub fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(breaks_line) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if breaks_line(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// At most `max` characters of `text`: cut, it ends in `…` (counted in `max`), so a reader
/// never takes a shortened value for the whole of it. For one-line views of values that can
/// be long (an output, an item, a name in a drawing, an excerpt in an error).
/// (`max` is at least 1.)
pub fn clip(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some(_) => {
            let keep = max.saturating_sub(1);
            let end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
            Cow::Owned(format!("{}…", &text[..end]))
        }
    }
}

/// `text` as the value of a labelled line: each line after its first indented by `indent`
/// spaces, so that it stays under its label. A value of several lines (what Claude Code
/// answered, an error it reported, a person's message) never starts a line of its own that
/// reads as the screen's (`✅ Step 3/3: Deploy`). The line and paragraph separators end a line
/// too; the other controls (a carriage return) are shown as escapes by `terminal_safe`, which
/// stays applied on the way out.
pub fn hanging(text: &str, indent: usize) -> Cow<'_, str> {
    let ends_line = |c: char| matches!(c, '\n' | '\u{2028}' | '\u{2029}');
    if !text.chars().any(ends_line) {
        return Cow::Borrowed(text);
    }
    let pad = " ".repeat(indent);
    let mut out = String::with_capacity(text.len() + 16);
    // Padded when the line has something on it: a blank line stays blank.
    let mut at_start = false;
    for c in text.chars() {
        if ends_line(c) {
            out.push('\n');
            at_start = true;
        } else {
            if at_start {
                out.push_str(&pad);
                at_start = false;
            }
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// How many columns `c` takes as `terminal_safe` shows it: an active character its escape's
/// (`\u{1b}`: 6), any other its display width (2 for a wide one, 0 for a combining mark). A
/// tab is layout, which only the terminal places: it counts 0 here, and a caret under text
/// holding tabs repeats them (`render_definition_error`).
pub fn shown_width(c: char) -> usize {
    if is_active(c) {
        format!("\\u{{{:x}}}", c as u32).len()
    } else if c == '\t' {
        0
    } else {
        unicode_width::UnicodeWidthChar::width(c).unwrap_or(0)
    }
}

/// `text` with every active character written as a visible escape (`\u{1b}`).
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_active) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_active(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// HTML (as a template engine writes it: every `<` and `>` in text or an attribute value
/// escaped, so a raw `<` opens a tag and a raw `>` closes it) with every active character
/// of its text written as a visible escape (`\u{202e}`), as `terminal_safe` does for a
/// terminal: a step's colours, a carriage return or a bidi override in an output, a message
/// or a prompt is shown on a page, never obeyed. Inside tags (attribute values: a form's
/// value posts back as it was given) nothing changes.
pub fn markup_safe(html: &str) -> Cow<'_, str> {
    if !html.chars().any(is_active) {
        return Cow::Borrowed(html);
    }
    let mut out = String::with_capacity(html.len() + 8);
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ => {}
        }
        if !in_tag && is_active(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Serialised JSON with the active characters that serde_json leaves raw (DEL, C1 controls,
/// bidi controls) written as `\uXXXX` escapes. In JSON text such characters can only stand
/// inside strings, where the escape means the same character: the document is unchanged.
pub fn json_safe(json: &str) -> Cow<'_, str> {
    if !json.chars().any(is_active) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if is_active(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The longest word of an error shown whole: an error quotes what it was given (a path, a
/// name, a value; clap's usage errors the argument), and one of megabytes would bury it.
const LONGEST_QUOTED: usize = 200;

/// `text` with every word longer than `LONGEST_QUOTED` characters cut to its first 60 and
/// how long it was (`'xxxx…[100000 bytes]'`); quotes around the word stay and are not counted.
pub fn cut_long_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(64 * 1024));
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        if word.chars().count() > LONGEST_QUOTED {
            let quotes: &[char] = &['\'', '"', '`'];
            let core = word.trim_start_matches(quotes);
            let opened = &word[..word.len() - core.len()];
            let core = core.trim_end_matches(quotes);
            let closed = &word[opened.len() + core.len()..];
            let head: String = core.chars().take(60).collect();
            out.push_str(&format!("{opened}{head}…[{} bytes]{closed}", core.len()));
        } else {
            out.push_str(word);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Every string in `doc` with its overlong words cut (`cut_long_words`).
pub fn cut_long_words_in(doc: &mut serde_json::Value) {
    match doc {
        serde_json::Value::String(s) if s.len() > LONGEST_QUOTED => *s = cut_long_words(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(cut_long_words_in),
        serde_json::Value::Object(map) => map.values_mut().for_each(cut_long_words_in),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_lines_ends_the_last_line_and_leaves_empty_text_empty() {
        assert_eq!(whole_lines("Review it"), "Review it\n");
        assert_eq!(whole_lines("a\nb\n"), "a\nb\n");
        assert_eq!(whole_lines(""), "");
    }

    /// A clipped value says it was clipped: its last character is `…`, it is exactly `max`
    /// characters long (multi-byte characters counted as one), and text that fits is left
    /// alone.
    #[test]
    fn a_clipped_value_ends_in_an_ellipsis_and_fits() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcd", 3), "ab…");
        assert_eq!(clip("ééééé", 4), "ééé…");
        assert_eq!(clip("ééééé", 4).chars().count(), 4);
        assert_eq!(clip("", 0), "");
    }

    /// A word over 200 characters is cut to 60 and its size, its quotes kept; the rest of the
    /// text, its spacing and its line ends stay as they were.
    #[test]
    fn only_overlong_words_are_cut_and_their_quotes_stay() {
        let long = "y".repeat(300);
        let text = format!("error: no file '{long}'\n  hint:  keep   this\n");
        let cut = cut_long_words(&text);
        assert_eq!(
            cut,
            format!(
                "error: no file '{}…[300 bytes]'\n  hint:  keep   this\n",
                "y".repeat(60)
            )
        );
        assert_eq!(cut_long_words("short words\tstay"), "short words\tstay");
        let mut doc = serde_json::json!({"error": text, "hints": [long.clone()], "code": 2});
        cut_long_words_in(&mut doc);
        assert!(doc["error"].as_str().unwrap().contains("…[300 bytes]'"));
        assert_eq!(doc["hints"][0], format!("{}…[300 bytes]", "y".repeat(60)));
        assert_eq!(doc["code"], 2);
    }

    #[test]
    fn markup_text_shows_active_characters_and_attributes_keep_them() {
        assert_eq!(
            markup_safe("<pre title=\"a\u{202e}b\">x\u{1b}[31m\u{202e}y\r\n\tz</pre>"),
            "<pre title=\"a\u{202e}b\">x\\u{1b}[31m\\u{202e}y\\u{d}\n\tz</pre>"
        );
        assert!(matches!(markup_safe("<p>plain</p>"), Cow::Borrowed(_)));
    }

    #[test]
    fn escape_sequences_are_shown_not_obeyed() {
        assert_eq!(
            terminal_safe("a\u{1b}]52;c;ZXZpbA==\u{7}b\rc\u{202e}d\n\te"),
            "a\\u{1b}]52;c;ZXZpbA==\\u{7}b\\u{d}c\\u{202e}d\n\te"
        );
        assert!(matches!(terminal_safe("plain ✅ text\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_value_of_several_lines_stays_under_its_label() {
        assert_eq!(
            hanging("API Error: 500\n✅ Step 2/2: Use\u{2028}x\n\ny", 10),
            "API Error: 500\n          ✅ Step 2/2: Use\n          x\n\n          y"
        );
        assert!(matches!(hanging("one line\r", 4), Cow::Borrowed(_)));
    }

    #[test]
    fn one_line_escapes_newlines_tabs_and_bidi_too() {
        assert_eq!(
            one_line("bob\n    1  forged\r\t\u{202e}x"),
            "bob\\u{a}    1  forged\\u{d}\\u{9}\\u{202e}x"
        );
        assert!(matches!(one_line("plain ✅ name"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_stays_the_same_document() {
        let value = serde_json::json!({"tail": "x\u{9b}31m\u{202e}y\u{7f}", "n": 1});
        let text = serde_json::to_string_pretty(&value).unwrap();
        let safe = json_safe(&text);
        assert!(!safe.chars().any(|c| is_active(c) && c != '\n'));
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
    }
}
