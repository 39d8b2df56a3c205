//! YAML tags in definitions are refused, never dropped (`run: !include /etc/passwd` used to run
//! `/etc/passwd`). The check reads YAML's tokens without a second parser, so its two ways of
//! being wrong are both properties here: taking text for a tag, and missing a tag.

use std::collections::BTreeMap;

use cortex::definition::parse_workflow;
use proptest::prelude::*;

/// Text heavy in the characters YAML gives meaning to.
fn yamlish() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::string::string_regex("[!a-z \\n'\"#:|>\\-\\[\\]{},&*%@`?\t\r]{0,24}").unwrap(),
        prop::string::string_regex("\\PC{0,12}").unwrap(),
    ]
}

fn complaint(text: &str) -> Option<String> {
    parse_workflow("t.yaml", text).err().map(|e| e.to_string())
}

proptest! {
    /// Property: serde_yaml's rendering of plain data (strings in maps and lists, at any
    /// nesting it produces) is never refused as a tag or as too deeply nested.
    #[test]
    fn plain_data_is_never_taken_for_a_tag(
        map in prop::collection::btree_map(yamlish(), prop::collection::vec(yamlish(), 0..4), 0..6),
        top in yamlish(),
    ) {
        let doc = serde_json::json!({"name": top, "data": map, "list": [map.clone()]});
        let text = serde_yaml::to_string(&doc).unwrap();
        if let Some(e) = complaint(&text) {
            prop_assert!(!e.contains("YAML tag"), "{e}\n--- text ---\n{text}");
            prop_assert!(!e.contains("nested more than"), "{e}\n--- text ---\n{text}");
        }
    }

    /// Property: a tag (`!t`, `!!str`, `!<tag:...>`) written where any value of a rendered
    /// mapping starts is refused, at the line and column where it was written.
    #[test]
    fn a_tag_before_any_value_is_refused_at_its_place(
        values in prop::collection::vec(yamlish(), 1..8),
        pick in any::<prop::sample::Index>(),
        tag in prop_oneof![Just("!t"), Just("!!str"), Just("!<tag:yaml.org,2002:str>"), Just("!!binary")],
    ) {
        let map: BTreeMap<String, &String> =
            values.iter().enumerate().map(|(i, v)| (format!("k{i:02}"), v)).collect();
        let text = serde_yaml::to_string(&map).unwrap();
        let key = format!("k{:02}:", pick.index(values.len()));
        let (line, found) = text
            .lines()
            .enumerate()
            .find(|(_, l)| l.starts_with(&key))
            .expect("every key starts a line");
        let column = key.len() + 2;
        let tagged_line = if found.len() > key.len() {
            format!("{key} {tag} {}", &found[key.len() + 1..])
        } else {
            // An empty value.
            format!("{key} {tag}")
        };
        let tagged: String = text
            .lines()
            .enumerate()
            .map(|(i, l)| if i == line { tagged_line.clone() } else { l.to_string() })
            .collect::<Vec<_>>()
            .join("\n");
        let e = complaint(&tagged).expect("a tag is refused");
        // Lines as the YAML parser counts them: NEL, LS and PS break lines too.
        let offset = tagged.find(&tagged_line).expect("the tagged line is there");
        let yaml_line = 1 + tagged[..offset]
            .chars()
            .filter(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
            .count();
        let place = format!("t.yaml:{yaml_line}:{column}");
        prop_assert!(
            e.contains("YAML tag") && e.contains(&place),
            "not refused at {place}: {e}\n--- text ---\n{tagged}"
        );
    }
}
