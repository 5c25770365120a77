//! JSON Schema validation of grants and the catalog, with errors pointed at YAML positions.
//!
//! The schemas are generated from the Rust types, so the schema, the editor completion and
//! the parser cannot disagree. Validation collects every error, not only the first, and each
//! error is mapped from its JSON pointer back to the line and column of the YAML node.

use std::path::Path;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use crate::diagnostic::{Code, Diagnostic, Position};
use crate::grant::Grant;
use crate::venue::Catalog;
use crate::yaml::Document;

/// The JSON Schema of a grant file.
pub fn grant_schema() -> Value {
    with_id(schemars::schema_for!(Grant).to_value(), "grant.schema.json")
}

/// The JSON Schema of the venue catalog.
pub fn catalog_schema() -> Value {
    with_id(
        schemars::schema_for!(Catalog).to_value(),
        "venues.schema.json",
    )
}

fn with_id(mut schema: Value, file: &str) -> Value {
    if let Some(object) = schema.as_object_mut() {
        object.insert(
            "$id".into(),
            Value::String(format!("https://stsgrant.invalid/schemas/{file}")),
        );
    }
    schema
}

/// The compiled validators, built once per run.
pub struct Schemas {
    grant: Validator,
    catalog: Validator,
}

impl Schemas {
    /// Compiles both schemas, with format validation on and no remote references.
    pub fn new() -> Schemas {
        let build = |schema: &Value| {
            jsonschema::options()
                .should_validate_formats(true)
                .build(schema)
                .expect("the generated schemas are valid JSON Schemas")
        };
        Schemas {
            grant: build(&grant_schema()),
            catalog: build(&catalog_schema()),
        }
    }

    /// Every schema error of a grant document, as diagnostics.
    pub fn check_grant(&self, file: &Path, source: &str, doc: &Document) -> Vec<Diagnostic> {
        collect(&self.grant, file, source, doc)
    }

    /// Every schema error of a catalog document, as diagnostics.
    pub fn check_catalog(&self, file: &Path, source: &str, doc: &Document) -> Vec<Diagnostic> {
        collect(&self.catalog, file, source, doc)
    }
}

impl Default for Schemas {
    fn default() -> Self {
        Schemas::new()
    }
}

fn collect(validator: &Validator, file: &Path, source: &str, doc: &Document) -> Vec<Diagnostic> {
    let mut diagnostics: Vec<Diagnostic> = validator
        .iter_errors(&doc.value)
        .map(|error| to_diagnostic(&error, file, source, doc))
        .collect();
    diagnostics.sort_by_key(|d| d.position);
    diagnostics
}

fn to_diagnostic(
    error: &ValidationError<'_>,
    file: &Path,
    source: &str,
    doc: &Document,
) -> Diagnostic {
    let pointer = error.instance_path().to_string();
    let field = field_name(&pointer);
    let (position, message) = match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let key = unexpected.first().map(String::as_str).unwrap_or_default();
            let child = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
            let names = unexpected
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            (
                doc.key_position(&child),
                format!("unknown field {names}{}", in_field(&field)),
            )
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            (
                doc.value_position(&pointer),
                format!("missing field `{name}`{}", in_field(&field)),
            )
        }
        ValidationErrorKind::OneOfNotValid { context } if one_of_constants(context).is_some() => {
            let allowed = one_of_constants(context).unwrap_or_default();
            let found = error.instance().to_string();
            let what = if is_access_item(&pointer) {
                "a kind of access"
            } else {
                "one of the choices"
            };
            (
                doc.value_position(&pointer),
                format!("`{field}`: {found} is not {what}; use {allowed}"),
            )
        }
        _ => {
            let detail = if pointer.ends_with("/external_id") {
                error.masked_with("the ExternalId").to_string()
            } else {
                error.to_string()
            };
            (doc.value_position(&pointer), format!("`{field}`: {detail}"))
        }
    };
    let position = position.unwrap_or(Position::new(1, 1));
    Diagnostic::error_at(file, source, position, Code::Schema, message)
}

/// The choices of a `oneOf` whose every branch is a constant (how enums with documented
/// variants are written), as `` `a`, `b` ``; `None` when a branch is something else.
fn one_of_constants(context: &[Vec<ValidationError<'static>>]) -> Option<String> {
    let mut names = Vec::new();
    for branch in context {
        let [error] = branch.as_slice() else {
            return None;
        };
        let ValidationErrorKind::Constant { expected_value } = error.kind() else {
            return None;
        };
        names.push(format!("`{}`", expected_value.as_str()?));
    }
    (!names.is_empty()).then(|| names.join(", "))
}

/// Whether a JSON pointer is an item of an access list (`/access/1`, `/venues/0/allowed_access/2`).
fn is_access_item(pointer: &str) -> bool {
    let mut parts = pointer.rsplit('/');
    let index = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    index && matches!(parts.next(), Some("access" | "allowed_access"))
}

fn in_field(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!(" in `{field}`")
    }
}

/// `requester.email` or `access[1]` for a JSON pointer.
fn field_name(pointer: &str) -> String {
    let mut name = String::new();
    for part in pointer.split('/').skip(1) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if part.bytes().all(|b| b.is_ascii_digit()) && !part.is_empty() {
            name.push_str(&format!("[{part}]"));
        } else {
            if !name.is_empty() {
                name.push('.');
            }
            name.push_str(&part);
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_read_like_paths() {
        assert_eq!(field_name("/requester/email"), "requester.email");
        assert_eq!(field_name("/access/1"), "access[1]");
        assert_eq!(field_name(""), "");
    }
}
