//! Reading YAML with positions, and refusing the parts of YAML that grants have no use for.
//!
//! Grants are small, flat documents written by people and reviewed by people. The YAML
//! features that make a file mean something other than it seems (anchors and aliases, tags,
//! several documents, duplicate keys, YAML 1.1 booleans such as `no`) or that make a parser
//! work hard (deep nesting, alias bombs, huge files) are refused outright with a position,
//! rather than interpreted. What remains is turned into a JSON value for the JSON Schema, with
//! the line and column of every node kept beside it so that a schema error can point at the
//! exact value it is about.

use std::collections::HashMap;
use std::sync::OnceLock;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

use crate::diagnostic::{Code, Position};

/// The largest grant or catalog file read, in bytes. Real grants are under 2 KiB.
pub const MAX_FILE_BYTES: usize = 256 * 1024;
/// The deepest nesting of mappings and sequences accepted. Grants need three levels.
pub const MAX_DEPTH: usize = 16;
/// The most nodes (scalars, mappings, sequences) one file may have.
pub const MAX_NODES: usize = 100_000;

/// A YAML document as JSON, with the position of every value and every mapping key.
#[derive(Debug, Default)]
pub struct Document {
    /// The document's content.
    pub value: Value,
    /// Every node in document order; a parent always comes before its children.
    nodes: Vec<Node>,
    /// JSON pointer to node, made on the first lookup: most documents have no problem to
    /// point at, and building pointers for every node would cost more than the parse.
    index: OnceLock<HashMap<String, usize>>,
}

/// Where one value sits, and how to reach it from its parent.
#[derive(Debug)]
struct Node {
    parent: Option<usize>,
    segment: Segment,
    value: Position,
    key: Option<Position>,
}

#[derive(Debug)]
enum Segment {
    Root,
    Key(Box<str>),
    Index(usize),
}

impl Document {
    /// The position of the value at a JSON pointer (`/access/1`); the root for `""`.
    pub fn value_position(&self, pointer: &str) -> Option<Position> {
        self.node(pointer).map(|node| node.value)
    }

    /// The position of the key whose value is at a JSON pointer, falling back to the value.
    pub fn key_position(&self, pointer: &str) -> Option<Position> {
        self.node(pointer)
            .map(|node| node.key.unwrap_or(node.value))
    }

    fn node(&self, pointer: &str) -> Option<&Node> {
        let index = self.index.get_or_init(|| {
            let mut pointers: Vec<String> = Vec::with_capacity(self.nodes.len());
            for node in &self.nodes {
                let parent = node.parent.map_or("", |p| pointers[p].as_str());
                let pointer = match &node.segment {
                    Segment::Root => String::new(),
                    Segment::Key(key) => format!("{parent}/{}", escape_pointer(key)),
                    Segment::Index(i) => format!("{parent}/{i}"),
                };
                pointers.push(pointer);
            }
            pointers
                .into_iter()
                .enumerate()
                .map(|(i, p)| (p, i))
                .collect()
        });
        index.get(pointer).map(|&i| &self.nodes[i])
    }
}

/// Why a file is not a YAML document stsgrant will read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// The kind of problem.
    pub code: Code,
    /// Where it is.
    pub position: Position,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl YamlError {
    fn new(code: Code, span: Span, message: impl Into<String>) -> Self {
        YamlError {
            code,
            position: position(span),
            message: message.into(),
            hint: None,
        }
    }

    fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

fn position(span: Span) -> Position {
    let length = if span.end.line() == span.start.line() {
        span.len()
    } else {
        1
    };
    Position {
        line: span.start.line(),
        column: span.start.col() + 1,
        length: length.max(1),
    }
}

/// Parses one YAML document from `text`, refusing what grants have no use for.
pub fn parse(text: &str) -> Result<Document, YamlError> {
    let mut builder = Builder {
        doc: Document::default(),
        stack: Vec::new(),
        nodes: 0,
        documents: 0,
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| {
            let marker = e.marker();
            YamlError {
                code: Code::YamlSyntax,
                position: Position::new(marker.line(), marker.col() + 1),
                message: format!("invalid YAML: {}", e.info()),
                hint: e
                    .info()
                    .contains("tab")
                    .then(|| "indent with spaces, not tabs".to_owned()),
            }
        })?;
        if builder.event(event, span)? {
            break;
        }
    }
    if builder.documents == 0 {
        return Err(YamlError {
            code: Code::EmptyFile,
            position: Position::new(1, 1),
            message: "the file holds no YAML document".into(),
            hint: None,
        });
    }
    Ok(builder.doc)
}

/// A mapping or sequence being filled, with its node.
enum Open {
    Mapping {
        node: usize,
        map: Map<String, Value>,
        key: Option<(String, Position)>,
    },
    Sequence {
        node: usize,
        items: Vec<Value>,
    },
}

struct Builder {
    doc: Document,
    stack: Vec<Open>,
    nodes: usize,
    documents: usize,
}

impl Builder {
    /// Takes one event; returns `true` when the stream has ended.
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<bool, YamlError> {
        match event {
            Event::StreamEnd => return Ok(true),
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(YamlError::new(
                        Code::YamlMultipleDocuments,
                        span,
                        "the file holds more than one YAML document",
                    )
                    .with_hint("keep one grant per file and remove the `---` separator"));
                }
            }
            Event::Alias(_) => {
                return Err(alias_error(span));
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.refuse_anchor_and_tag(anchor, tag.is_some(), span)?;
                self.scalar(&text, style, span)?;
            }
            Event::MappingStart(anchor, ref tag) | Event::SequenceStart(anchor, ref tag) => {
                self.refuse_anchor_and_tag(anchor, tag.is_some(), span)?;
                let node = self.add_node(span)?;
                if self.stack.len() >= MAX_DEPTH {
                    return Err(YamlError::new(
                        Code::YamlTooDeep,
                        span,
                        format!("the document is nested more than {MAX_DEPTH} levels deep"),
                    ));
                }
                self.stack
                    .push(if matches!(event, Event::MappingStart(..)) {
                        Open::Mapping {
                            node,
                            map: Map::new(),
                            key: None,
                        }
                    } else {
                        Open::Sequence {
                            node,
                            items: Vec::new(),
                        }
                    });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let value = match self.stack.pop() {
                    Some(Open::Mapping { map, .. }) => Value::Object(map),
                    Some(Open::Sequence { items, .. }) => Value::Array(items),
                    None => return Ok(false),
                };
                self.place(value);
            }
        }
        Ok(false)
    }

    fn refuse_anchor_and_tag(
        &self,
        anchor: usize,
        tagged: bool,
        span: Span,
    ) -> Result<(), YamlError> {
        if anchor != 0 {
            return Err(alias_error(span));
        }
        if tagged {
            return Err(YamlError::new(
                Code::YamlTag,
                span,
                "YAML tags (`!…`) are not used in grants",
            )
            .with_hint("remove the tag; write the value as plain text"));
        }
        Ok(())
    }

    fn count(&mut self, span: Span) -> Result<(), YamlError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(YamlError::new(
                Code::FileTooLarge,
                span,
                format!("the document has more than {MAX_NODES} values"),
            ));
        }
        Ok(())
    }

    fn scalar(&mut self, text: &str, style: ScalarStyle, span: Span) -> Result<(), YamlError> {
        if let Some(Open::Mapping { map, key, .. }) = self.stack.last_mut()
            && key.is_none()
        {
            let plain = style == ScalarStyle::Plain;
            if plain && !matches!(resolve_plain(text), Value::String(_)) {
                return Err(YamlError::new(
                    Code::YamlNonStringKey,
                    span,
                    format!("mapping key `{text}` is not a string"),
                )
                .with_hint(format!("quote the key if you meant it: `\"{text}\"`")));
            }
            if map.contains_key(text) {
                return Err(YamlError::new(
                    Code::YamlDuplicateKey,
                    span,
                    format!("key `{text}` appears twice in this mapping"),
                ));
            }
            *key = Some((text.to_owned(), position(span)));
            return Ok(());
        }
        let value = if style == ScalarStyle::Plain {
            if is_ambiguous_boolean(text) {
                return Err(YamlError::new(
                    Code::YamlAmbiguousBoolean,
                    span,
                    format!("`{text}` is a boolean in YAML 1.1 but a string in YAML 1.2"),
                )
                .with_hint(format!(
                    "quote it (`\"{text}\"`) for text, or write `true` or `false`"
                )));
            }
            resolve_plain(text)
        } else {
            Value::String(text.to_owned())
        };
        self.add_node(span)?;
        self.place(value);
        Ok(())
    }

    /// Records the node that starts now, under the open mapping or sequence; returns its index.
    fn add_node(&mut self, span: Span) -> Result<usize, YamlError> {
        self.count(span)?;
        let (parent, segment, key) = match self.stack.last() {
            None => (None, Segment::Root, None),
            Some(Open::Sequence { node, items }) => {
                (Some(*node), Segment::Index(items.len()), None)
            }
            Some(Open::Mapping {
                node,
                key: Some((key, at)),
                ..
            }) => (Some(*node), Segment::Key(key.as_str().into()), Some(*at)),
            Some(Open::Mapping { key: None, .. }) => {
                return Err(YamlError::new(
                    Code::YamlNonStringKey,
                    span,
                    "mapping keys must be plain strings, not mappings or sequences",
                ));
            }
        };
        self.doc.nodes.push(Node {
            parent,
            segment,
            value: position(span),
            key,
        });
        Ok(self.doc.nodes.len() - 1)
    }

    fn place(&mut self, value: Value) {
        match self.stack.last_mut() {
            None => self.doc.value = value,
            Some(Open::Sequence { items, .. }) => items.push(value),
            Some(Open::Mapping { map, key, .. }) => {
                if let Some((key, _)) = key.take() {
                    map.insert(key, value);
                }
            }
        }
    }
}

fn alias_error(span: Span) -> YamlError {
    YamlError::new(
        Code::YamlAlias,
        span,
        "YAML anchors and aliases (`&name`, `*name`) are not used in grants",
    )
    .with_hint("write each value out in full")
}

/// Words that YAML 1.1 reads as booleans and YAML 1.2 reads as strings.
fn is_ambiguous_boolean(text: &str) -> bool {
    matches!(
        text,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// Resolves a plain scalar by the YAML 1.2 core schema.
fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(n) = text.parse::<i64>()
    {
        return Value::Number(n.into());
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(n) = i64::from_str_radix(hex, 16)
    {
        return Value::Number(n.into());
    }
    if let Some(octal) = text.strip_prefix("0o")
        && let Ok(n) = i64::from_str_radix(octal, 8)
    {
        return Value::Number(n.into());
    }
    let looks_like_float = digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if looks_like_float && let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
        return Value::Number(n);
    }
    Value::String(text.to_owned())
}

/// Escapes a key for a JSON pointer (RFC 6901).
fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> (Code, usize, usize) {
        let e = parse(text).expect_err("should be refused");
        (e.code, e.position.line, e.position.column)
    }

    #[test]
    fn keeps_positions_of_values_and_keys() {
        let doc = parse("a: 1\nlist:\n  - x\n  - \"y\"\n").expect("valid");
        assert_eq!(doc.value, serde_json::json!({"a": 1, "list": ["x", "y"]}));
        assert_eq!(
            doc.value_position("/list/1").map(|p| (p.line, p.column)),
            Some((4, 5))
        );
        assert_eq!(
            doc.key_position("/list").map(|p| (p.line, p.column)),
            Some((2, 1))
        );
    }

    #[test]
    fn core_schema_scalars() {
        let doc = parse("a: 2027-01-31\nb: 012\nc: 1.5\nd: ~\ne: 'no'\nf: True\n").expect("valid");
        assert_eq!(
            doc.value,
            serde_json::json!({"a": "2027-01-31", "b": 12, "c": 1.5, "d": null, "e": "no", "f": true})
        );
    }

    #[test]
    fn refuses_what_grants_do_not_use() {
        assert_eq!(error("a: &x 1\nb: *x\n"), (Code::YamlAlias, 1, 4));
        assert_eq!(error("a: !!str 1\n"), (Code::YamlTag, 1, 4));
        assert_eq!(
            error("a: 1\n---\nb: 2\n"),
            (Code::YamlMultipleDocuments, 2, 1)
        );
        assert_eq!(error("a: 1\nb: 2\na: 3\n"), (Code::YamlDuplicateKey, 3, 1));
        assert_eq!(error("1: x\n"), (Code::YamlNonStringKey, 1, 1));
        assert_eq!(error("? [a]\n: x\n"), (Code::YamlNonStringKey, 1, 3));
        assert_eq!(error("a: no\n"), (Code::YamlAmbiguousBoolean, 1, 4));
        assert_eq!(error(""), (Code::EmptyFile, 1, 1));
        assert_eq!(error("a: [1, 2\n"), (Code::YamlSyntax, 2, 1));
        assert_eq!(error("a:\n\tb: 1\n"), (Code::YamlSyntax, 2, 2));
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let deep = format!("a: {}{}", "[".repeat(40), "]".repeat(40));
        assert_eq!(error(&deep), (Code::YamlTooDeep, 1, 3 + MAX_DEPTH));
        // The parser's own limit on flow nesting stops a bracket bomb before any tree is built.
        let bomb = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(error(&bomb), (Code::YamlSyntax, 1, 256));
    }

    #[test]
    fn quoted_keys_may_look_like_numbers() {
        let doc = parse("\"1\": x\n").expect("valid");
        assert_eq!(doc.value, serde_json::json!({"1": "x"}));
    }
}
