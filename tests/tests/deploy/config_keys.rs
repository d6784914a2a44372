//! Every configuration key that `deploy/` names, as a `LATCHKEY__...`
//! environment variable (systemd units and environment files, the
//! Dockerfile, compose, the Kubernetes manifests, the local stack's
//! scripts) or in a TOML file, is one that Latchkey reads, with a value of
//! its type where the file gives one literally.

use crate::support;
use latchkey_core::config::Settings;
use std::collections::HashMap;
use std::path::Path;

/// A setting named in a file, and its value there if it is a literal.
#[derive(Debug)]
struct Named {
    place: String,
    variable: String,
    value: Option<String>,
}

/// Placeholders in comments that stand for any key.
const PLACEHOLDERS: [&str; 1] = ["LATCHKEY__SECTION__KEY"];

/// Values of every type a setting has: an unknown key takes any value, and
/// a known one takes at least one of these.
const ANY_TYPE: [&str; 4] = ["1", "true", "127.0.0.1:1", "SHA1"];

/// The `LATCHKEY__...` variables in `text`, with the value that follows
/// `=` or `: ` on the same line when there is one.
fn variables(place: &Path, text: &str) -> Vec<Named> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find("LATCHKEY__") {
            let tail = &rest[start..];
            let end = tail
                .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(tail.len());
            let variable = tail[..end].trim_end_matches('_').to_owned();
            let after = &tail[end..];
            rest = after;
            if variable == "LATCHKEY" || PLACEHOLDERS.contains(&variable.as_str()) {
                continue;
            }
            found.push(Named {
                place: format!("{}:{}", place.display(), number + 1),
                variable,
                value: literal_value(after),
            });
        }
    }
    found
}

/// The value after `=` or `:` up to white space or a closing quote, unless
/// it is filled in elsewhere (`$var`, `${var}`, systemd's `%d`) or absent.
fn literal_value(after: &str) -> Option<String> {
    let value = after
        .strip_prefix('=')
        .or_else(|| after.strip_prefix(':'))?
        .trim_start()
        .trim_start_matches(['"', '\'']);
    let value = value
        .split(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .next()
        .unwrap_or("");
    let filled_elsewhere = value.is_empty() || value.contains(['$', '%', '{', '<', '\\']);
    (!filled_elsewhere).then(|| value.to_owned())
}

/// Why `variable` (with `value`, or any value of its type) is refused.
fn refusal(variable: &str, value: Option<&str>) -> Option<String> {
    let candidates: Vec<&str> = value.map_or(ANY_TYPE.to_vec(), |value| vec![value]);
    let mut last_error = None;
    for candidate in candidates {
        let env = HashMap::from([(variable.to_owned(), candidate.to_owned())]);
        match Settings::unknown_keys(None, Some(env)) {
            Ok(unknown) if unknown.is_empty() => return None,
            Ok(unknown) => return Some(format!("no setting reads {}", unknown.join(", "))),
            Err(error) => last_error = Some(format!("{candidate:?} is refused: {error}")),
        }
    }
    last_error
}

fn named_in_deploy() -> Vec<Named> {
    let root = support::root();
    support::files_below(&support::deploy(""))
        .into_iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            let relative = path.strip_prefix(&root).unwrap().to_path_buf();
            Some(variables(&relative, &text))
        })
        .flatten()
        .collect()
}

#[test]
fn every_latchkey_variable_in_deploy_is_a_setting_with_a_value_of_its_type() {
    let named = named_in_deploy();
    assert!(
        named.len() > 50,
        "only {} names found: is the scan broken?",
        named.len()
    );
    let refused: Vec<String> = named
        .iter()
        .filter_map(|name| {
            refusal(&name.variable, name.value.as_deref())
                .map(|why| format!("{}: {} ({why})", name.place, name.variable))
        })
        .collect();
    assert!(
        refused.is_empty(),
        "unknown or mistyped settings:\n{}",
        refused.join("\n")
    );
    for place in ["systemd", "docker", "compose", "kubernetes"] {
        let prefix = format!("deploy/{place}/");
        assert!(
            named.iter().any(|name| name.place.starts_with(&prefix)),
            "no setting found in {prefix}"
        );
    }
}

#[test]
fn every_toml_file_in_deploy_holds_only_settings() {
    let files: Vec<_> = support::files_below(&support::deploy(""))
        .into_iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    assert!(files.len() >= 3, "{files:?}");
    for file in files {
        let unknown = Settings::unknown_keys(Some(&file), None)
            .unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        assert!(
            unknown.is_empty(),
            "{}: unknown keys {unknown:?}",
            file.display()
        );
    }
}

#[test]
fn the_check_refuses_a_key_no_setting_reads_and_a_value_of_the_wrong_type() {
    let named = variables(
        Path::new("example"),
        "Environment=LATCHKEY__GATEWAY__OPS_PORT=9464\n  LATCHKEY__GATEWAY__OPS_LISTEN: 9464\n\
         - name: LATCHKEY__WORKER__QUEUES\n",
    );
    let found: Vec<_> = named
        .iter()
        .map(|name| (name.variable.as_str(), name.value.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            ("LATCHKEY__GATEWAY__OPS_PORT", Some("9464")),
            ("LATCHKEY__GATEWAY__OPS_LISTEN", Some("9464")),
            ("LATCHKEY__WORKER__QUEUES", None),
        ]
    );
    let port = refusal("LATCHKEY__GATEWAY__OPS_PORT", Some("9464")).unwrap();
    assert!(port.contains("gateway.ops_port"), "{port}");
    assert!(refusal("LATCHKEY__GATEWAY__OPS_LISTEN", Some("9464")).is_some());
    assert_eq!(refusal("LATCHKEY__WORKER__QUEUES", None), None);
    assert_eq!(
        refusal("LATCHKEY__SECRETS__SESSION_KEY_FILE", Some("%d/x")),
        None
    );
}
