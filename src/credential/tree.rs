//! A JSON value tree that never quotes a value in an error.
//!
//! serde's own type errors name the value they did not expect (`invalid type: string "…"`),
//! and in a credential document that value may be the secret access key. This tree accepts
//! every JSON value, keeps strings as [`SecretString`] until a field is known to be public, and
//! leaves it to the caller to say which field was wrong.

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::CredentialError;
use crate::secret::SecretString;

/// A JSON value as far as the credential document needs it. Strings stay secret until a field
/// is known to be public; other kinds keep only their name, for error messages.
enum Node {
    Text(SecretString),
    Integer(i64),
    Object(Vec<(String, Node)>),
    Other(&'static str),
}

impl Node {
    fn kind(&self) -> &'static str {
        match self {
            Self::Text(_) => "a string",
            Self::Integer(_) => "a number",
            Self::Object(_) => "an object",
            Self::Other(kind) => kind,
        }
    }
}

/// A JSON object whose fields are taken out one by one, each named by its path in the
/// document, such as `Credentials.SessionToken`.
pub(super) struct Object(Vec<(String, Node)>);

impl Object {
    /// Parses a document whose top level must be an object.
    pub(super) fn parse(bytes: &[u8]) -> Result<Object, CredentialError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(CredentialError::Empty);
        }
        // The tree accepts every value, so serde_json fails only on syntax, whose messages
        // quote no input; they are still reduced to a position.
        let root = serde_json::from_slice::<Node>(bytes).map_err(|error| {
            let (line, column) = (error.line(), error.column());
            match error.classify() {
                serde_json::error::Category::Eof => CredentialError::Truncated { line, column },
                _ => CredentialError::Syntax { line, column },
            }
        })?;
        match root {
            Node::Object(fields) => Ok(Object(fields)),
            other => Err(CredentialError::NotAnObject {
                field: "(document)",
                found: other.kind(),
            }),
        }
    }

    /// Takes out a field; absent and `null` are the same.
    fn optional(&mut self, field: &'static str) -> Result<Option<Node>, CredentialError> {
        let key = field.rsplit_once('.').map_or(field, |(_, key)| key);
        let mut found = None;
        while let Some(index) = self.0.iter().position(|(name, _)| name == key) {
            if found.is_some() {
                return Err(CredentialError::DuplicateField { field });
            }
            found = Some(self.0.swap_remove(index).1);
        }
        Ok(found.filter(|node| !matches!(node, Node::Other("null"))))
    }

    /// Takes out a field that must be an object.
    pub(super) fn object(&mut self, field: &'static str) -> Result<Object, CredentialError> {
        match self.optional(field)? {
            Some(Node::Object(fields)) => Ok(Object(fields)),
            Some(other) => Err(CredentialError::NotAnObject {
                field,
                found: other.kind(),
            }),
            None => Err(CredentialError::MissingField { field }),
        }
    }

    /// Takes out a field that must be a non-empty string.
    pub(super) fn text(&mut self, field: &'static str) -> Result<SecretString, CredentialError> {
        self.optional_text(field)?
            .ok_or(CredentialError::MissingField { field })
    }

    /// Takes out a field that, when present, must be a non-empty string.
    pub(super) fn optional_text(
        &mut self,
        field: &'static str,
    ) -> Result<Option<SecretString>, CredentialError> {
        match self.optional(field)? {
            None => Ok(None),
            Some(Node::Text(text)) if text.expose().is_empty() => {
                Err(CredentialError::EmptyField { field })
            }
            Some(Node::Text(text)) => Ok(Some(text)),
            Some(other) => Err(CredentialError::WrongType {
                field,
                expected: "a string",
                found: other.kind(),
            }),
        }
    }

    /// Takes out a field that, when present, must be an integer that fits in an `i32`.
    pub(super) fn optional_i32(
        &mut self,
        field: &'static str,
    ) -> Result<Option<i32>, CredentialError> {
        let wrong = |found| CredentialError::WrongType {
            field,
            expected: "an integer",
            found,
        };
        match self.optional(field)? {
            None => Ok(None),
            Some(Node::Integer(n)) => i32::try_from(n).map(Some).map_err(|_| wrong("a number")),
            Some(other) => Err(wrong(other.kind())),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

/// Accepts every JSON value, so that serde never builds an error that quotes one.
struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Node, E> {
        Ok(Node::Text(SecretString::from(value)))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Node, E> {
        Ok(Node::Text(SecretString::from(value)))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Node, E> {
        Ok(Node::Integer(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Node, E> {
        Ok(i64::try_from(value).map_or(Node::Other("a number"), Node::Integer))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Other("a number"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Other("a boolean"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Other("null"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Node::Other("an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut fields = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<Node>()?;
            fields.push((key, value));
        }
        Ok(Node::Object(fields))
    }
}
