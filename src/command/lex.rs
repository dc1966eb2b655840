//! From chat text to words. Chat messages carry more than the command: pasted logs in code
//! blocks and quoted lines from earlier messages. Those are dropped here, so that a build log
//! pasted under `rebuild redis` is never read as more images.
//!
//! The rules, in one pass over the text:
//! - a fenced code block (```` ``` ```` to the next ```` ``` ````, or to the end) is skipped;
//! - a line whose first non-blank character is `>` is a quote and is skipped; `>>>` quotes the
//!   rest of the message, as Discord renders it;
//! - words are split on white space; `"…"` (or `“…”`, which phones and Macs type) groups words
//!   into one, with a backslash escaping a quote character or a backslash inside; quotes may
//!   start mid-word (`reason="a b"`).

/// A word of the command, after quoting is undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The text, without its quotes.
    pub text: String,
}

/// A quote opened and never closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnclosedQuote;

fn is_open_quote(c: char) -> bool {
    c == '"' || c == '\u{201c}'
}

fn is_close_quote(c: char) -> bool {
    c == '"' || c == '\u{201d}'
}

/// What a backslash escapes inside quotes: any quote character, and the backslash itself.
fn is_escapable(c: char) -> bool {
    is_open_quote(c) || is_close_quote(c) || c == '\\'
}

/// Splits `text` into words, skipping code blocks and quoted lines.
pub fn words(text: &str) -> Result<Vec<Word>, UnclosedQuote> {
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut current: Option<String> = None;
    let mut at_line_start = true;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if starts_fence(&chars, i) {
            finish(&mut words, &mut current);
            i = skip_fence(&chars, i + 3);
            at_line_start = false;
            continue;
        }
        if at_line_start && c == '>' {
            finish(&mut words, &mut current);
            if chars[i..].starts_with(&['>', '>', '>']) {
                break;
            }
            i = skip_line(&chars, i);
            continue;
        }
        if c == '\n' {
            finish(&mut words, &mut current);
            at_line_start = true;
            i += 1;
            continue;
        }
        if c.is_whitespace() {
            finish(&mut words, &mut current);
            i += 1;
            continue;
        }
        at_line_start = false;
        let word = current.get_or_insert_with(String::new);
        if is_open_quote(c) {
            i = read_quoted(&chars, i + 1, word)?;
        } else {
            word.push(c);
            i += 1;
        }
    }
    finish(&mut words, &mut current);
    Ok(words)
}

fn finish(words: &mut Vec<Word>, current: &mut Option<String>) {
    if let Some(text) = current.take() {
        words.push(Word { text });
    }
}

fn starts_fence(chars: &[char], i: usize) -> bool {
    chars[i..].starts_with(&['`', '`', '`'])
}

/// The index after the closing fence, or the end when there is none.
fn skip_fence(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() {
        if starts_fence(chars, i) {
            return i + 3;
        }
        i += 1;
    }
    chars.len()
}

/// The index of the newline ending the line at `i` (kept, so the next line starts fresh).
fn skip_line(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && chars[i] != '\n' {
        i += 1;
    }
    i
}

/// Reads a quoted run into `word`; returns the index after the closing quote.
fn read_quoted(chars: &[char], mut i: usize, word: &mut String) -> Result<usize, UnclosedQuote> {
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() && is_escapable(chars[i + 1]) => {
                word.push(chars[i + 1]);
                i += 2;
            }
            c if is_close_quote(c) => return Ok(i + 1),
            c => {
                word.push(c);
                i += 1;
            }
        }
    }
    Err(UnclosedQuote)
}

/// Writes `text` as one word that [`words`] reads back unchanged: bare when it can be, quoted
/// with escapes otherwise.
pub fn quote(text: &str) -> String {
    let plain = !text.is_empty()
        && !text.starts_with('>')
        && !text.contains("```")
        && !text
            .chars()
            .any(|c| c.is_whitespace() || is_open_quote(c) || is_close_quote(c) || c == '\\');
    if plain {
        return text.to_string();
    }
    let mut quoted = String::from("\"");
    for c in text.chars() {
        if is_escapable(c) {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<String> {
        words(text).unwrap().into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn splits_on_any_white_space() {
        assert_eq!(
            texts(" rebuild\t20.04\n redis "),
            ["rebuild", "20.04", "redis"]
        );
    }

    #[test]
    fn quotes_group_words_and_may_start_mid_word() {
        assert_eq!(
            texts(r#"rebuild redis reason="CVE fix \"now\"""#),
            ["rebuild", "redis", r#"reason=CVE fix "now""#]
        );
        assert_eq!(
            texts("reason=\u{201c}smart quotes\u{201d}"),
            ["reason=smart quotes"]
        );
    }

    #[test]
    fn unclosed_quote_is_an_error() {
        assert_eq!(words(r#"rebuild reason="oops"#), Err(UnclosedQuote));
    }

    #[test]
    fn code_blocks_and_quoted_lines_are_ignored() {
        let text = "rebuild redis\n```\nnginx squid\n```\n> rebuild all\npostgres";
        assert_eq!(texts(text), ["rebuild", "redis", "postgres"]);
        assert_eq!(texts("status #4\n>>> everything\nafter"), ["status", "#4"]);
        assert_eq!(texts("help ```never closed"), ["help"]);
    }

    #[test]
    fn a_greater_than_inside_a_line_is_text() {
        assert_eq!(texts("a >b"), ["a", ">b"]);
    }

    #[test]
    fn quote_round_trips_awkward_text() {
        for text in [
            "plain",
            "two words",
            "",
            r#"a"b\c"#,
            ">x",
            "a```b",
            "\u{201c}\u{201d}",
            "\n",
        ] {
            let line = format!("x {}", quote(text));
            assert_eq!(texts(&line), ["x", text], "for {text:?}");
        }
    }
}
