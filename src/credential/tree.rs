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
pub(super) enum Node {
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

    pub(super) fn into_object(
        self,
        field: &'static str,
    ) -> Result<Vec<(String, Node)>, CredentialError> {
        match self {
            Self::Object(fields) => Ok(fields),
            other => Err(CredentialError::NotAnObject {
                field,
                found: other.kind(),
            }),
        }
    }

    pub(super) fn into_text(self, field: &'static str) -> Result<SecretString, CredentialError> {
        match self {
            Self::Text(text) if text.expose().is_empty() => {
                Err(CredentialError::EmptyField { field })
            }
            Self::Text(text) => Ok(text),
            other => Err(CredentialError::WrongType {
                field,
                expected: "a string",
                found: other.kind(),
            }),
        }
    }
}

/// Removes `key` from an object; `null` counts as absent.
pub(super) fn optional(
    fields: &mut Vec<(String, Node)>,
    key: &str,
    field: &'static str,
) -> Result<Option<Node>, CredentialError> {
    let mut found = None;
    while let Some(index) = fields.iter().position(|(name, _)| name == key) {
        if found.is_some() {
            return Err(CredentialError::DuplicateField { field });
        }
        found = Some(fields.swap_remove(index).1);
    }
    Ok(found.filter(|node| !matches!(node, Node::Other("null"))))
}

pub(super) fn take(
    fields: &mut Vec<(String, Node)>,
    key: &str,
    field: &'static str,
) -> Result<Node, CredentialError> {
    optional(fields, key, field)?.ok_or(CredentialError::MissingField { field })
}

pub(super) fn text(
    fields: &mut Vec<(String, Node)>,
    key: &str,
    field: &'static str,
) -> Result<SecretString, CredentialError> {
    take(fields, key, field)?.into_text(field)
}

pub(super) fn packed_policy_size(
    root: &mut Vec<(String, Node)>,
) -> Result<Option<i32>, CredentialError> {
    const FIELD: &str = "PackedPolicySize";
    let wrong = |found| CredentialError::WrongType {
        field: FIELD,
        expected: "an integer",
        found,
    };
    match optional(root, FIELD, FIELD)? {
        None => Ok(None),
        Some(Node::Integer(size)) => i32::try_from(size).map(Some).map_err(|_| wrong("a number")),
        Some(other) => Err(wrong(other.kind())),
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
