//! An attempt's output as a person reads it, decoded piece by piece: bytes that are not UTF-8
//! as U+FFFD, a `\r\n` line end as `\n`, and a last line without its line end given one —
//! the same text whether the bytes come whole or in chunks cut anywhere (inside a character,
//! between `\r` and `\n`), so that a log of any size is shown in bounded memory.

/// The decoder: feed it the bytes in order (`push`), then `finish`.
#[derive(Debug, Default)]
pub struct AttemptText {
    /// The start of a character cut by the end of the last chunk (at most 3 bytes).
    cut: Vec<u8>,
    /// The last chunk's text ended with `\r`, held back until the next shows whether a `\n`
    /// follows.
    cr: bool,
    /// Some text was given out, and whether its last character was `\n`.
    last_newline: Option<bool>,
}

impl AttemptText {
    pub fn new() -> AttemptText {
        AttemptText::default()
    }

    /// The text of `bytes`, following those pushed before; what a chunk leaves unfinished
    /// (a cut character, a `\r`) is given with the next one or by `finish`.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        let mut joined;
        let bytes = if self.cut.is_empty() {
            bytes
        } else {
            joined = std::mem::take(&mut self.cut);
            joined.extend_from_slice(bytes);
            &joined[..]
        };
        let keep = cut_character(bytes);
        let (whole, rest) = bytes.split_at(bytes.len() - keep);
        self.cut = rest.to_vec();
        let mut text = String::with_capacity(whole.len() + 1);
        if std::mem::take(&mut self.cr) {
            text.push('\r');
        }
        text.push_str(&String::from_utf8_lossy(whole));
        if text.ends_with('\r') {
            text.pop();
            self.cr = true;
        }
        self.give(text.replace("\r\n", "\n"))
    }

    /// What is left: a cut character (as U+FFFD), a held `\r`, and, when `whole` (nothing more
    /// comes), a line end after a last line without one.
    pub fn finish(mut self, whole: bool) -> String {
        let mut text = String::from_utf8_lossy(&std::mem::take(&mut self.cut)).into_owned();
        if std::mem::take(&mut self.cr) {
            text.insert(0, '\r');
        }
        let mut text = self.give(text);
        if whole && self.last_newline == Some(false) {
            text.push('\n');
        }
        text
    }

    fn give(&mut self, text: String) -> String {
        if let Some(last) = text.chars().next_back() {
            self.last_newline = Some(last == '\n');
        }
        text
    }
}

/// `raw` whole, as a person reads it (`AttemptText` in one piece).
pub fn attempt_text(raw: &[u8], whole: bool) -> String {
    let mut decoder = AttemptText::new();
    let mut text = decoder.push(raw);
    text.push_str(&decoder.finish(whole));
    text
}

/// How many bytes at the end of `bytes` begin a character that more bytes could complete.
pub fn cut_character(bytes: &[u8]) -> usize {
    // A character is at most 4 bytes: its start is within the last 3 if it is cut.
    for back in 1..=bytes.len().min(3) {
        let start = bytes.len() - back;
        let lead = bytes[start];
        if lead & 0xC0 == 0x80 {
            continue; // a continuation byte: the start is further back
        }
        return match std::str::from_utf8(&bytes[start..]) {
            // Incomplete, and nothing wrong so far: the next chunk may complete it.
            Err(e) if e.error_len().is_none() && e.valid_up_to() == 0 => back,
            _ => 0,
        };
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lossy(raw: &[u8], whole: bool) -> String {
        let mut text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
        if whole && !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text
    }

    #[test]
    fn any_cut_of_the_bytes_gives_the_text_of_the_whole() {
        let samples: [&[u8]; 6] = [
            b"a\r\nb\r\r\nc\r",
            "é€😀 mixed\r\n".as_bytes(),
            b"\xff\xfe\xe2\x82 bad \xf0\x9f\x98 cut\xe2",
            b"\xed\xa0\x80 surrogate \xf4\x90\x80\x80 too high \xc0\xaf overlong",
            b"",
            b"no newline at the end",
        ];
        for raw in samples {
            for whole in [true, false] {
                let want = lossy(raw, whole);
                assert_eq!(attempt_text(raw, whole), want);
                // Cut at every pair of places.
                for i in 0..=raw.len() {
                    for j in i..=raw.len() {
                        let mut d = AttemptText::new();
                        let mut got = d.push(&raw[..i]);
                        got.push_str(&d.push(&raw[i..j]));
                        got.push_str(&d.push(&raw[j..]));
                        got.push_str(&d.finish(whole));
                        assert_eq!(got, want, "{raw:?} cut at {i} and {j}");
                    }
                }
                // One byte at a time.
                let mut d = AttemptText::new();
                let mut got: String = raw.iter().map(|b| d.push(&[*b])).collect();
                got.push_str(&d.finish(whole));
                assert_eq!(got, want, "{raw:?} byte by byte");
            }
        }
    }
}
