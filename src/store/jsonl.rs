//! The JSON Lines form of a log (`cortex log export`): a run's stored rows written one event a
//! line, and such lines read back into rows that `Verifier` checks as it checks a database's.
//!
//! An exported line carries every column the hash covers: the body as the stored bytes (sorted
//! keys, compact: what `Event::body_json` writes), so that a chain verifies from the file alone,
//! whatever version of cortex wrote its events. A reader rebuilds those bytes from the parsed
//! body (`serde_json` writes an object's keys sorted and compact), so whitespace or key order
//! changed by a tool that reformats the file does not count as tampering; any change of a value
//! does.

use serde_json::{Value, json};

use super::hash::hex;
use super::verify::{BadEvent, RawRow, Verifier, VerifyReport};

/// One exported line for a stored row: its columns in the order people read them (run, place,
/// id, time, version, links, type), then the body. The body is the stored bytes, which must be
/// one JSON object; one that is not (damaged) is written as a string under `body_text`, so the
/// chain is checked over it all the same. Only a row that is not UTF-8 is not exportable.
pub fn export_line(row: &RawRow) -> Result<String, String> {
    let text = |bytes: &[u8], what: &str| {
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| format!("its {what} is not UTF-8"))
    };
    let body = text(&row.body, "body")?;
    // A body that is no JSON object (damaged) is exported as its stored text, under
    // `body_text`, so that the file still holds the bytes the chain covers.
    let object = matches!(serde_json::from_str::<Value>(&body), Ok(Value::Object(_)));
    let head = json!({
        "run_id": text(&row.run_id, "run id")?,
        "seq": row.seq,
        "id": text(&row.id, "id")?,
        "time": text(&row.time, "time")?,
        "version": row.version,
        "prev_hash": hex(&row.prev_hash),
        "hash": hex(&row.hash),
        "type": text(&row.type_name, "type")?,
    });
    // `json!` sorts keys; the line keeps the order above, written field by field.
    let mut line = String::with_capacity(body.len() + 320);
    line.push('{');
    for key in [
        "run_id",
        "seq",
        "id",
        "time",
        "version",
        "prev_hash",
        "hash",
        "type",
    ] {
        line.push_str(&serde_json::to_string(key).expect("a key serialises"));
        line.push(':');
        line.push_str(&head[key].to_string());
        line.push(',');
    }
    if object {
        line.push_str("\"body\":");
        line.push_str(&body);
    } else {
        line.push_str("\"body_text\":");
        line.push_str(&serde_json::to_string(&body).expect("a string serialises"));
    }
    line.push('}');
    Ok(line)
}

/// What a file given as a log is, told by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFile {
    /// A SQLite database (or an empty file, which SQLite opens as one: it holds no log).
    Database,
    /// What `log export` writes: a JSON object on the first line that is not blank.
    Export,
    /// A JSON array (`--json log show`, the API's log): decoded events, not a log.
    JsonArray,
    Other,
}

impl LogFile {
    pub fn of(head: &[u8]) -> LogFile {
        if head.is_empty() || head.starts_with(b"SQLite format 3\0") {
            return LogFile::Database;
        }
        match head.iter().find(|b| !b" \t\r\n".contains(b)) {
            Some(b'{') => LogFile::Export,
            Some(b'[') => LogFile::JsonArray,
            _ => LogFile::Other,
        }
    }
}

/// No event comes near this (a definition is at most 1 MiB): a file that is one endless line
/// is refused at this length, not read into memory whole.
const MAX_LINE: u64 = 64 << 20;

/// Verify an exported file line by line (`Verifier`, as a database's rows): blank lines are
/// passed over; a line that holds no event (too long, not UTF-8, not an exported event) fails
/// the report, saying which line and why (seq -1: it has no place in a run). The rows read are
/// kept and returned when `keep` (to hold them to anchors).
pub fn verify_export(
    mut reader: impl std::io::BufRead,
    keep: bool,
) -> std::io::Result<(VerifyReport, Vec<RawRow>)> {
    use std::io::{BufRead, Read};
    let mut verifier = Verifier::default();
    let mut kept = Vec::new();
    let mut unreadable: Option<BadEvent> = None;
    let mut last_run = String::new();
    let mut line = Vec::new();
    for number in 1.. {
        line.clear();
        if (&mut reader)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut line)?
            == 0
        {
            break;
        }
        let row = if line.len() as u64 > MAX_LINE {
            Err(format!("line {number} is longer than 64 MiB: no event is"))
        } else {
            std::str::from_utf8(&line)
                .map_err(|_| format!("line {number} is not UTF-8"))
                .and_then(|text| {
                    (!text.trim().is_empty())
                        .then(|| read_line(number, text))
                        .transpose()
                })
        };
        let row = match row {
            Ok(Some(row)) => row,
            Ok(None) => continue,
            Err(reason) => {
                unreadable = Some(BadEvent {
                    run_id: last_run,
                    seq: -1,
                    reason,
                });
                break;
            }
        };
        last_run = String::from_utf8_lossy(&row.run_id).into_owned();
        verifier.check(row.as_ref());
        if keep {
            kept.push(row);
        }
    }
    let mut report = verifier.finish();
    if let Some(bad) = unreadable {
        report.fail(bad);
    }
    Ok((report, kept))
}

/// The row that line `number` (from 1) of an exported file holds, or why it holds none.
pub fn read_line(number: usize, line: &str) -> Result<RawRow, String> {
    let value: Value =
        serde_json::from_str(line).map_err(|e| format!("line {number} is not JSON: {e}"))?;
    let Value::Object(fields) = value else {
        return Err(format!("line {number} is not a JSON object"));
    };
    let missing = |key: &str, what: &str| format!("line {number}: `{key}` must be {what}");
    let text = |key: &str| -> Result<Vec<u8>, String> {
        match fields.get(key) {
            Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
            _ => Err(missing(key, "a string")),
        }
    };
    let number_of = |key: &str| -> Result<i64, String> {
        fields
            .get(key)
            .and_then(Value::as_i64)
            .ok_or_else(|| missing(key, "an integer"))
    };
    let hash = |key: &str| -> Result<Vec<u8>, String> {
        let hex_text = text(key)?;
        decode_hex(&hex_text).ok_or_else(|| missing(key, "64 hexadecimal digits"))
    };
    let body = match (fields.get("body"), fields.get("body_text")) {
        (Some(Value::Object(_)), None) => {
            canonical(line).map_err(|e| format!("line {number}: its `body` does not read: {e}"))?
        }
        // A stored body that was no JSON object, exported as its text.
        (None, Some(Value::String(body))) => body.clone(),
        _ => return Err(missing("body", "a JSON object (or `body_text` a string)")),
    };
    Ok(RawRow {
        run_id: text("run_id")?,
        seq: number_of("seq")?,
        id: text("id")?,
        time: text("time")?,
        type_name: text("type")?,
        version: number_of("version")?,
        body: body.into_bytes(),
        prev_hash: hash("prev_hash")?,
        hash: hash("hash")?,
    })
}

/// The body of an exported line as `Event::body_json` stores it: keys sorted, compact, and
/// each number as written (`exact_json`): read as a `Value`, the `1.10` of a `foreach:` item
/// became `1.1`, and the event no longer matched its hash.
fn canonical(line: &str) -> Result<String, String> {
    #[derive(serde::Deserialize)]
    struct Body<'a> {
        #[serde(borrow)]
        body: &'a serde_json::value::RawValue,
    }
    let body: Body<'_> = serde_json::from_str(line).map_err(|e| e.to_string())?;
    crate::event::exact_json::canonical(body.body.get()).map_err(|e| e.to_string())
}

/// 32 bytes from 64 hexadecimal digits (either case), or none.
fn decode_hex(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    text.chunks(2)
        .map(|pair| {
            let digit = |c: u8| (c as char).to_digit(16);
            Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EventStore, hash};
    use crate::store::{MemoryStore, verify_rows};

    fn rows() -> Vec<RawRow> {
        let mut store = MemoryStore::default();
        let events: Vec<crate::event::NewEvent> = (0..3)
            .map(|i| crate::event::NewEvent {
                id: format!("id{i}"),
                time: "2026-12-03T00:00:00.000Z".into(),
                event: crate::event::Event::OutputRecorded {
                    step: "s".into(),
                    key: format!("k{i}"),
                    value: "a \"quoted\"\n\u{1b}[31m value".into(),
                },
            })
            .collect();
        store
            .append("0000000000000000000000000R", 0, &events)
            .unwrap();
        store.raw_rows(Some("0000000000000000000000000R")).unwrap()
    }

    /// A run exported and read back gives the stored rows byte for byte, so its chain
    /// verifies from the file alone; reformatting the body (whitespace, key order) does not
    /// break it, a changed value does.
    #[test]
    fn an_exported_run_reads_back_as_its_stored_rows_and_verifies() {
        let stored = rows();
        let lines: Vec<String> = stored.iter().map(|r| export_line(r).unwrap()).collect();
        assert!(lines[0].starts_with("{\"run_id\":\"0000000000000000000000000R\",\"seq\":0,"));
        let back: Vec<RawRow> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| read_line(i + 1, l).unwrap())
            .collect();
        assert_eq!(back, stored);
        assert!(verify_rows(&back).ok);
        let value: Value = serde_json::from_str(&lines[1]).unwrap();
        let pretty = serde_json::to_string_pretty(&value)
            .unwrap()
            .replace('\n', " ");
        assert!(verify_rows(&[back[0].clone(), read_line(2, &pretty).unwrap()]).ok);
        let changed = lines[1].replace("\"k1\"", "\"k9\"");
        let report = verify_rows(&[back[0].clone(), read_line(2, &changed).unwrap()]);
        assert!(!report.ok);
        assert!(report.first_bad.unwrap().reason.contains("hash mismatch"));
    }

    #[test]
    fn a_line_that_is_not_an_exported_event_says_which_and_why() {
        let line = export_line(&rows()[0]).unwrap();
        for (bad, says) in [
            ("nope".to_string(), "line 7 is not JSON"),
            ("[1]".to_string(), "not a JSON object"),
            (
                line.replace("\"seq\":0", "\"seq\":\"0\""),
                "`seq` must be an integer",
            ),
            (
                line.replace(&hex(&[0u8; 32]), "00"),
                "`prev_hash` must be 64 hexadecimal digits",
            ),
            (
                line.replacen("\"body\":{", "\"body\":[{", 1)
                    .replacen("}}", "}]}", 1),
                "`body` must be a JSON object",
            ),
        ] {
            let err = read_line(7, &bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        assert_eq!(decode_hex(&[b'g'; 64]), None);
        assert_eq!(
            decode_hex(hex(&hash::GENESIS).as_bytes()),
            Some(hash::GENESIS.to_vec())
        );
    }

    #[test]
    fn an_export_is_told_from_a_database_by_its_first_bytes() {
        assert_eq!(LogFile::of(b"\n  {\"run_id\":"), LogFile::Export);
        assert_eq!(LogFile::of(b"SQLite format 3\0..."), LogFile::Database);
        assert_eq!(LogFile::of(b""), LogFile::Database);
        assert_eq!(LogFile::of(b" [{"), LogFile::JsonArray);
        assert_eq!(LogFile::of(b"not a log"), LogFile::Other);
    }
}
