//! The map is the code's: every module of `src/` uses only the modules below it in the layers
//! `ARCHITECTURE.md` declares, so no import runs up a layer, sideways within one, or closes a
//! loop between top-level modules. Read from the source as text: every `crate::NAME` path in
//! code (comments and the `#[cfg(test)]` module at a file's end are not the architecture's).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layers, top first: each line of the fenced block after `<!-- layers -->` in
/// `ARCHITECTURE.md` names the top-level modules of one layer.
fn layers(root: &Path) -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let start = text.find("<!-- layers -->").expect("the layers' marker");
    let block = text[start..]
        .split("```")
        .nth(1)
        .expect("the layers' fenced block");
    let lines: Vec<&str> = block
        .lines()
        .skip(1)
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .collect();
    let mut layer_of = BTreeMap::new();
    for (index, line) in lines.iter().enumerate() {
        // Layers are listed top first; the bottom one is 0.
        let layer = lines.len() - 1 - index;
        for module in line.split_whitespace() {
            assert!(
                layer_of.insert(module.to_string(), layer).is_none(),
                "{module} is in two layers"
            );
        }
    }
    layer_of
}

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`None` for `lib.rs` and `main.rs`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next()?.as_os_str().to_string_lossy();
    let name = first.trim_end_matches(".rs").to_string();
    (name != "lib" && name != "main").then_some(name)
}

/// Every top-level module a file's code names (`crate::NAME`, `crate::{NAME, ...}` over
/// several lines too), with the line it is on.
fn uses(text: &str) -> Vec<(String, usize)> {
    // The code, without comments, up to the test module; each char with its line.
    let mut code: Vec<(char, usize)> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let line = line.split("//").next().unwrap_or_default();
        code.extend(line.chars().map(|c| (c, number + 1)));
        code.push(('\n', number + 1));
    }
    let chars: Vec<char> = code.iter().map(|(c, _)| *c).collect();
    let ident = |from: usize| -> String {
        chars[from..]
            .iter()
            .take_while(|c| c.is_alphanumeric() || **c == '_')
            .collect()
    };
    let word_char = |c: char| c.is_alphanumeric() || c == '_';
    let mut found = Vec::new();
    let needle: Vec<char> = "crate::".chars().collect();
    let mut at = 0;
    while at + needle.len() <= chars.len() {
        let is_path =
            chars[at..at + needle.len()] == needle[..] && (at == 0 || !word_char(chars[at - 1]));
        if !is_path {
            at += 1;
            continue;
        }
        let mut next = at + needle.len();
        if chars.get(next) == Some(&'{') {
            // A group: the first name of each item at its outer level.
            let mut depth = 0;
            let mut item_start = true;
            while next < chars.len() {
                let c = chars[next];
                match c {
                    '{' => {
                        depth += 1;
                        item_start = depth == 1;
                    }
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => item_start = true,
                    c if depth == 1 && item_start && word_char(c) => {
                        found.push((ident(next), code[next].1));
                        item_start = false;
                    }
                    _ => {}
                }
                next += 1;
            }
        } else {
            let name = ident(next);
            if !name.is_empty() {
                found.push((name, code[next].1));
            }
        }
        at = next.max(at + 1);
    }
    found
}

#[test]
fn no_import_runs_up_the_layers_or_closes_a_loop() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let layer_of = layers(root);
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        seen.insert(module.clone());
        let Some(&layer) = layer_of.get(&module) else {
            wrong.push(format!(
                "{}: module `{module}` is in no layer of ARCHITECTURE.md",
                file.strip_prefix(root).unwrap().display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (used, line) in uses(&text) {
            if used == module {
                continue;
            }
            let Some(&other) = layer_of.get(&used) else {
                wrong.push(format!(
                    "{}:{line}: `crate::{used}` is in no layer of ARCHITECTURE.md",
                    file.strip_prefix(root).unwrap().display()
                ));
                continue;
            };
            if other >= layer {
                let how = if other == layer {
                    "sideways, within its layer"
                } else {
                    "up the layers"
                };
                wrong.push(format!(
                    "{}:{line}: `{module}` uses `crate::{used}`, {how}",
                    file.strip_prefix(root).unwrap().display()
                ));
            }
        }
    }
    for module in layer_of.keys() {
        if !seen.contains(module) {
            wrong.push(format!(
                "ARCHITECTURE.md names `{module}`, which src/ does not have"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} imports break the layers:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn the_layer_check_sees_an_import_that_runs_up() {
    let found = uses(
        "//! crate::doc is a comment\nuse crate::{store, chat::Chat};\nuse crate::{\n    alerts::{A, B},\n    metrics,\n};\nlet x = crate::jobs::Job::new(); // crate::nope\nlet y = my_crate::no;\n#[cfg(test)]\nuse crate::tested;\n",
    );
    let named: Vec<(&str, usize)> = found
        .iter()
        .map(|(name, line)| (name.as_str(), *line))
        .collect();
    assert_eq!(
        named,
        [
            ("store", 2),
            ("chat", 2),
            ("alerts", 4),
            ("metrics", 5),
            ("jobs", 7)
        ]
    );
}
