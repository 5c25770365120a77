//! The credential that `sts:AssumeRole` returns, and the JSON document a recipient receives.
//!
//! Recipients already have scripts that read the output of `aws sts assume-role`, so the
//! sealed document keeps exactly that shape: same keys, same order, same 4-space indent, and
//! the same `+00:00` timestamps the AWS CLI prints. Reading the document back (for
//! `stsgrant open`) walks a small value tree of our own instead of letting serde report type
//! errors, because serde's messages quote the offending value, and that value may be a secret.

mod tree;

use jiff::Timestamp;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::secret::SecretString;
use tree::Object;

/// A short-lived AWS credential, as returned by `sts:AssumeRole`.
///
/// `Debug` prints the secret access key and the session token as `[redacted]`.
#[derive(Clone, Debug)]
pub struct Credential {
    /// The access key id (`ASIA…`); not secret on its own, it appears in CloudTrail.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: SecretString,
    /// The session token that must accompany the temporary access key.
    pub session_token: SecretString,
    /// When the credential stops working.
    pub expiration: Timestamp,
    /// `AssumedRoleUser.AssumedRoleId`: the role id and the session name.
    pub assumed_role_id: String,
    /// `AssumedRoleUser.Arn`: the ARN of the assumed-role session.
    pub arn: String,
    /// How much of the packed session-policy limit the session policy and tags used, in percent.
    pub packed_policy_size: Option<i32>,
    /// The source identity set on the session, if any.
    pub source_identity: Option<String>,
}

/// Why a credential document could not be read. No variant carries a value from the document.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    /// The document is empty.
    #[error("credential document is empty")]
    Empty,
    /// The JSON ends before it is complete.
    #[error("credential document ends early, at line {line}, column {column}")]
    Truncated {
        /// 1-based line of the end.
        line: usize,
        /// 1-based column of the end.
        column: usize,
    },
    /// The bytes are not JSON.
    #[error("credential document is not valid JSON at line {line}, column {column}")]
    Syntax {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// The document, or one of its sections, is not a JSON object.
    #[error("`{field}` must be a JSON object, found {found}")]
    NotAnObject {
        /// The section, or `(document)` for the whole document.
        field: &'static str,
        /// The JSON kind found instead.
        found: &'static str,
    },
    /// A required field is absent.
    #[error("credential document has no `{field}`")]
    MissingField {
        /// The field's path, e.g. `Credentials.SessionToken`.
        field: &'static str,
    },
    /// A field appears twice in the same object.
    #[error("`{field}` appears more than once")]
    DuplicateField {
        /// The field's path.
        field: &'static str,
    },
    /// A field holds the wrong kind of JSON value.
    #[error("`{field}` must be {expected}, found {found}")]
    WrongType {
        /// The field's path.
        field: &'static str,
        /// What the field must hold.
        expected: &'static str,
        /// The JSON kind found instead.
        found: &'static str,
    },
    /// A required text field is empty.
    #[error("`{field}` is empty")]
    EmptyField {
        /// The field's path.
        field: &'static str,
    },
    /// `Credentials.Expiration` is not a timestamp.
    #[error("`Credentials.Expiration` is not an RFC 3339 timestamp with an offset")]
    BadExpiration,
}

impl CredentialError {
    /// What the user can do about the error, when there is something.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::Empty | Self::Truncated { .. } => {
                Some("check that the whole sealed output was copied and decrypted")
            }
            Self::BadExpiration => Some("write it like `2026-12-03T14:00:00+00:00`"),
            _ => Some("the document must have the shape that `aws sts assume-role` prints"),
        }
    }
}

/// Formats a timestamp the way the AWS CLI prints `Expiration`: `2026-12-03T14:00:00+00:00`.
///
/// Fractions of a second are dropped, so a credential never appears to live longer than it
/// does.
pub fn aws_cli_timestamp(at: Timestamp) -> String {
    format!("{}+00:00", at.strftime("%Y-%m-%dT%H:%M:%S"))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Document<'a> {
    credentials: Keys<'a>,
    assumed_role_user: RoleUser<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    packed_policy_size: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_identity: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Keys<'a> {
    access_key_id: &'a str,
    secret_access_key: &'a str,
    session_token: &'a str,
    expiration: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RoleUser<'a> {
    assumed_role_id: &'a str,
    arn: &'a str,
}

impl Credential {
    /// Renders the document in the shape of `aws sts assume-role` output, indented by 4 spaces,
    /// with a final newline.
    pub fn to_json(&self) -> Zeroizing<Vec<u8>> {
        let document = Document {
            credentials: Keys {
                access_key_id: &self.access_key_id,
                secret_access_key: self.secret_access_key.expose(),
                session_token: self.session_token.expose(),
                expiration: aws_cli_timestamp(self.expiration),
            },
            assumed_role_user: RoleUser {
                assumed_role_id: &self.assumed_role_id,
                arn: &self.arn,
            },
            packed_policy_size: self.packed_policy_size,
            source_identity: self.source_identity.as_deref(),
        };

        // No value takes more than 6 bytes per input byte once escaped (`\u001f`).
        let texts: usize = [
            self.access_key_id.as_str(),
            self.secret_access_key.expose(),
            self.session_token.expose(),
            &self.assumed_role_id,
            &self.arn,
            self.source_identity.as_deref().unwrap_or_default(),
        ]
        .iter()
        .map(|text| text.len())
        .sum();
        pretty_json_zeroized(&document, 6 * texts + 512)
    }

    /// Parses a document in the shape of `aws sts assume-role` output. `Expiration` may end in
    /// `+00:00` or `Z`; fields other than the known ones are ignored.
    pub fn from_json(bytes: &[u8]) -> Result<Credential, CredentialError> {
        let mut root = Object::parse(bytes)?;
        let mut keys = root.object("Credentials")?;
        let mut user = root.object("AssumedRoleUser")?;
        Ok(Credential {
            access_key_id: plain(keys.text("Credentials.AccessKeyId")?),
            secret_access_key: keys.text("Credentials.SecretAccessKey")?,
            session_token: keys.text("Credentials.SessionToken")?,
            expiration: keys
                .text("Credentials.Expiration")?
                .expose()
                .parse()
                .map_err(|_| CredentialError::BadExpiration)?,
            assumed_role_id: plain(user.text("AssumedRoleUser.AssumedRoleId")?),
            arn: plain(user.text("AssumedRoleUser.Arn")?),
            packed_policy_size: root.optional_i32("PackedPolicySize")?,
            source_identity: root.optional_text("SourceIdentity")?.map(plain),
        })
    }
}

/// Unwraps a text that turned out not to be secret (an id or an ARN).
fn plain(text: SecretString) -> String {
    text.expose().clone()
}

/// Serializes `document` as four-space indented JSON, with a newline, into a buffer reserved
/// once with `capacity` bytes: a `Vec` that grows leaves its old allocation unzeroized, so
/// callers that put secrets in the document reserve enough for its escaped text.
pub(crate) fn pretty_json_zeroized<T: serde::Serialize>(
    document: &T,
    capacity: usize,
) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(capacity));
    let reserved = out.capacity();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut *out, formatter);
    document
        .serialize(&mut serializer)
        .expect("serializing strings into memory cannot fail");
    out.push(b'\n');
    debug_assert_eq!(
        out.capacity(),
        reserved,
        "the buffer was reserved large enough"
    );
    out
}

#[cfg(test)]
impl Credential {
    /// A credential with made-up values, for tests across the crate.
    pub(crate) fn example() -> Self {
        Credential {
            access_key_id: "ASIAEXAMPLE123456789".to_owned(),
            secret_access_key: SecretString::from("wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"),
            session_token: SecretString::from("FwoGZXIvYXdzEJr//////////wEaDEXAMPLETOKEN+/="),
            expiration: "2026-12-03T14:00:00Z".parse().expect("valid timestamp"),
            assumed_role_id: "AROAEXAMPLEID:alice-20261203".to_owned(),
            arn: "arn:aws:sts::123456789012:assumed-role/unity-proj-dev-sts/alice-20261203"
                .to_owned(),
            packed_policy_size: Some(6),
            source_identity: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPECTED: &str = r#"{
    "Credentials": {
        "AccessKeyId": "ASIAEXAMPLE123456789",
        "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
        "SessionToken": "FwoGZXIvYXdzEJr//////////wEaDEXAMPLETOKEN+/=",
        "Expiration": "2026-12-03T14:00:00+00:00"
    },
    "AssumedRoleUser": {
        "AssumedRoleId": "AROAEXAMPLEID:alice-20261203",
        "Arn": "arn:aws:sts::123456789012:assumed-role/unity-proj-dev-sts/alice-20261203"
    },
    "PackedPolicySize": 6
}
"#;

    #[test]
    fn to_json_has_the_aws_cli_shape() {
        let json = Credential::example().to_json();
        assert_eq!(std::str::from_utf8(&json).expect("utf-8"), EXPECTED);
    }

    #[test]
    fn to_json_omits_absent_optionals_and_adds_source_identity() {
        let mut credential = Credential::example();
        credential.packed_policy_size = None;
        assert!(!String::from_utf8_lossy(&credential.to_json()).contains("PackedPolicySize"));
        credential.source_identity = Some("alice".to_owned());
        let json = credential.to_json();
        let text = String::from_utf8_lossy(&json);
        assert!(
            text.ends_with("    },\n    \"SourceIdentity\": \"alice\"\n}\n"),
            "{text}"
        );
    }

    #[test]
    fn expiration_drops_fractions_and_uses_plus_zero() {
        let at: Timestamp = "2026-12-03T14:00:00.999Z".parse().expect("valid timestamp");
        assert_eq!(aws_cli_timestamp(at), "2026-12-03T14:00:00+00:00");
        let at: Timestamp = "2026-12-03T16:00:00+02:00"
            .parse()
            .expect("valid timestamp");
        assert_eq!(aws_cli_timestamp(at), "2026-12-03T14:00:00+00:00");
    }

    #[test]
    fn debug_redacts_secrets() {
        let shown = format!("{:?}", Credential::example());
        assert!(shown.contains("ASIAEXAMPLE123456789"));
        assert!(!shown.contains("wJalrXUtnFEMI"));
        assert!(!shown.contains("FwoGZXIvYXdzEJr"));
    }

    #[test]
    fn from_json_round_trips() {
        let mut original = Credential::example();
        original.source_identity = Some("alice".to_owned());
        let parsed = Credential::from_json(&original.to_json()).expect("parses");
        assert_eq!(parsed.access_key_id, original.access_key_id);
        assert_eq!(
            parsed.secret_access_key.expose(),
            original.secret_access_key.expose()
        );
        assert_eq!(
            parsed.session_token.expose(),
            original.session_token.expose()
        );
        assert_eq!(parsed.expiration, original.expiration);
        assert_eq!(parsed.assumed_role_id, original.assumed_role_id);
        assert_eq!(parsed.arn, original.arn);
        assert_eq!(parsed.packed_policy_size, Some(6));
        assert_eq!(parsed.source_identity.as_deref(), Some("alice"));
    }

    #[test]
    fn from_json_accepts_z_and_unknown_fields() {
        let json = EXPECTED.replace("+00:00", "Z").replace(
            "\"PackedPolicySize\": 6",
            "\"PackedPolicySize\": null, \"Extra\": [1, {}]",
        );
        let parsed = Credential::from_json(json.as_bytes()).expect("parses");
        assert_eq!(parsed.expiration.to_string(), "2026-12-03T14:00:00Z");
        assert_eq!(parsed.packed_policy_size, None);
    }

    fn error_for(json: &str) -> CredentialError {
        let error = Credential::from_json(json.as_bytes()).expect_err("must be refused");
        let message = format!("{error} {error:?} {:?}", error.hint());
        assert!(
            !message.contains("wJalr") && !message.contains("FwoG"),
            "{message}"
        );
        error
    }

    #[test]
    fn from_json_refuses_bad_documents_with_the_exact_error() {
        use CredentialError::*;
        assert_eq!(error_for(" \n"), Empty);
        assert_eq!(
            error_for(&EXPECTED[..120]),
            Truncated {
                line: 4,
                column: 50
            }
        );
        assert_eq!(
            error_for("{\"Token\": wJalr}"),
            Syntax {
                line: 1,
                column: 11
            }
        );
        let array = NotAnObject {
            field: "(document)",
            found: "an array",
        };
        assert_eq!(error_for("[\"wJalr\"]"), array);
    }

    #[test]
    #[rustfmt::skip]
    fn from_json_names_the_bad_field_without_quoting_secrets() {
        use CredentialError::*;
        let missing = |field| MissingField { field };
        let wrong = |field, expected, found| WrongType { field, expected, found };
        let cases = [
            (r#""Credentials""#, r#""Credential""#, missing("Credentials")),
            (r#""SessionToken""#, r#""Sessiontoken""#, missing("Credentials.SessionToken")),
            (r#""Credentials": {"#, r#""Credentials": "wJalr", "x": {"#,
                NotAnObject { field: "Credentials", found: "a string" }),
            (r#""AccessKeyId": "ASIA"#, r#""AccessKeyId": 5, "x": ""#,
                wrong("Credentials.AccessKeyId", "a string", "a number")),
            (r#""Arn": "arn"#, r#""Arn": "", "x": "arn"#, EmptyField { field: "AssumedRoleUser.Arn" }),
            (r#""SessionToken": "#, r#""SessionToken": "wJalr", "SessionToken": "#,
                DuplicateField { field: "Credentials.SessionToken" }),
            (r#""PackedPolicySize": 6"#, r#""PackedPolicySize": "wJalr""#,
                wrong("PackedPolicySize", "an integer", "a string")),
            (r#""PackedPolicySize": 6"#, r#""PackedPolicySize": 1e99"#,
                wrong("PackedPolicySize", "an integer", "a number")),
            (r#""PackedPolicySize": 6"#, r#""PackedPolicySize": 9999999999"#,
                wrong("PackedPolicySize", "an integer", "a number")),
            (r#""PackedPolicySize": 6"#, r#""SourceIdentity": true"#,
                wrong("SourceIdentity", "a string", "a boolean")),
            ("2026-12-03T14:00:00+00:00", "2026-12-03T14:00:00", BadExpiration),
        ];
        for (from, to, expected) in cases {
            let json = EXPECTED.replacen(from, to, 1);
            assert_ne!(json, EXPECTED, "{from} must occur in the sample");
            assert_eq!(error_for(&json), expected, "{from} -> {to}");
        }
    }
}
