//! The checks a JSON Schema cannot express: AWS limits, the venue's limits, dates, keys.
//!
//! Each rule looks at one grant (or one venue) that already matches its schema and reports
//! problems at the YAML node they are about. Values that may be secret, such as a grant's
//! ExternalId, are never quoted back in a message.

use std::path::Path;
use std::str::FromStr;

use jiff::civil::Date;

use crate::diagnostic::{Code, Diagnostic, Position};
use crate::grant::{Grant, GrantId};
use crate::policy::{self, MAX_POLICY_CHARS};
use crate::seal::Recipient;
use crate::venue::{Catalog, RoleArn, Venue, is_account_id};
use crate::yaml::Document;

/// The shortest session STS grants, in seconds.
pub const MIN_DURATION_SECS: u32 = 900;
/// The longest session STS grants, in seconds, when the role allows it.
pub const MAX_DURATION_SECS: u32 = 43_200;

/// One YAML file being checked, for pointing at its nodes.
pub struct Source<'a> {
    /// The file's path as shown.
    pub file: &'a Path,
    /// The file's text.
    pub text: &'a str,
    /// The parsed document.
    pub doc: &'a Document,
}

impl Source<'_> {
    /// An error at the value under `pointer`, or at the start of the file.
    pub fn error(&self, pointer: &str, code: Code, message: impl Into<String>) -> Diagnostic {
        let position = self
            .doc
            .value_position(pointer)
            .unwrap_or(Position::new(1, 1));
        Diagnostic::error_at(self.file, self.text, position, code, message)
    }
}

/// Checks one grant against AWS's limits and its venue's.
pub fn check_grant(
    source: &Source<'_>,
    id: &GrantId,
    grant: &Grant,
    venue: &Venue,
    today: Date,
) -> Vec<Diagnostic> {
    let mut found = Vec::new();

    for (field, named) in [("project", &grant.project), ("venue", &grant.venue)] {
        let folder = if field == "project" {
            &id.project
        } else {
            &id.venue
        };
        if named != folder {
            found.push(
                source
                    .error(&format!("/{field}"), Code::PathBinding, format!("the grant names {field} `{named}` but is in the folder of {field} `{folder}`"))
                    .with_hint(format!("a grant applies to the folder it is in; move it to `grants/{}/{}/` or name `{folder}` here", grant.project, grant.venue)),
            );
        }
    }

    for (i, text) in grant.recipients.iter().enumerate() {
        if let Err(error) = Recipient::from_str(text) {
            let mut d = source.error(
                &format!("/recipients/{i}"),
                Code::Recipient,
                error.to_string(),
            );
            if let Some(hint) = error.hint() {
                d = d.with_hint(hint);
            }
            found.push(d);
        }
    }

    for (i, access) in grant.access.iter().enumerate() {
        if !venue.allowed_access.contains(access) {
            let allowed: Vec<String> = venue
                .allowed_access
                .iter()
                .map(|a| format!("`{a}`"))
                .collect();
            found.push(
                source
                    .error(
                        &format!("/access/{i}"),
                        Code::Access,
                        format!(
                            "venue `{}/{}` does not offer `{access}`",
                            id.project, id.venue
                        ),
                    )
                    .with_hint(format!("this venue offers {}", allowed.join(", "))),
            );
        }
    }
    if grant.s3_prefix.is_some() && !grant.access.iter().any(|a| a.is_s3()) {
        found.push(
            source
                .error(
                    "/s3_prefix",
                    Code::Access,
                    "`s3_prefix` narrows S3 access, but the grant asks for none",
                )
                .warning(),
        );
    }
    if grant.ecr_repositories.is_some() && grant.access.iter().all(|a| a.is_s3()) {
        found.push(
            source
                .error(
                    "/ecr_repositories",
                    Code::Access,
                    "`ecr_repositories` narrows ECR access, but the grant asks for none",
                )
                .warning(),
        );
    }

    let seconds = grant.duration.as_secs();
    if seconds < MIN_DURATION_SECS {
        found.push(source.error(
            "/duration",
            Code::Duration,
            format!(
                "duration `{}` is shorter than the 15 minutes STS requires",
                grant.duration
            ),
        ));
    } else if seconds > venue.max_duration.as_secs() {
        found.push(
            source
                .error(
                    "/duration",
                    Code::Duration,
                    format!(
                        "duration `{}` is longer than venue `{}/{}` allows (`{}`)",
                        grant.duration, id.project, id.venue, venue.max_duration
                    ),
                )
                .with_hint(format!("ask for `{}` or less", venue.max_duration)),
        );
    }

    match Date::from_str(&grant.not_after) {
        Ok(not_after) if not_after < today => found.push(
            source
                .error(
                    "/not_after",
                    Code::NotAfter,
                    format!("`not_after` {not_after} is in the past (today is {today})"),
                )
                .with_hint("the grant is void; set a new date, or remove the grant"),
        ),
        Ok(not_after) => {
            let latest =
                today.saturating_add(jiff::Span::new().days(i64::from(venue.max_grant_days)));
            if not_after > latest {
                found.push(
                    source
                        .error("/not_after", Code::NotAfter, format!("`not_after` {not_after} is more than {} days ahead; venue `{}/{}` allows up to {latest}", venue.max_grant_days, id.project, id.venue))
                        .with_hint(format!("set `not_after: {latest}` or earlier")),
                );
            }
        }
        Err(_) => found.push(source.error(
            "/not_after",
            Code::NotAfter,
            format!(
                "`not_after` `{}` is not a date such as `2027-01-31`",
                grant.not_after
            ),
        )),
    }

    if let Some(external_id) = &grant.external_id {
        found.extend(check_external_id(source, external_id));
    }

    let session_name = grant.session_name(id, today);
    let login_pointer = if grant.requester.github.is_some() {
        "/requester/github"
    } else {
        "/requester/email"
    };
    if grant.requester.login().is_empty() {
        found.push(source.error(
            login_pointer,
            Code::SessionName,
            "no session name can be made: the login has no letters or digits",
        ));
    } else if session_name.len() > 64 {
        found.push(
            source
                .error(
                    login_pointer,
                    Code::SessionName,
                    format!(
                        "session name `{session_name}` is {} characters; STS allows 64",
                        session_name.len()
                    ),
                )
                .with_hint("rename the grant file to something shorter"),
        );
    }

    match policy::session_policy(grant, venue) {
        Ok(document) => {
            let length = document.compact().len();
            if length > MAX_POLICY_CHARS {
                found.push(source.error(
                    "/access",
                    Code::PolicySize,
                    format!(
                        "the session policy is {length} characters; STS accepts {MAX_POLICY_CHARS}"
                    ),
                ));
            }
        }
        Err(error) => found.push(source.error("/access", Code::Access, error.to_string())),
    }

    found
}

fn check_external_id(source: &Source<'_>, external_id: &str) -> Vec<Diagnostic> {
    if let Some(hex) = external_id.strip_prefix("sha256:") {
        let valid = hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if valid {
            return Vec::new();
        }
        return vec![
            source
                .error(
                    "/external_id",
                    Code::ExternalId,
                    "an ExternalId fingerprint is `sha256:` and 64 lowercase hex digits",
                )
                .with_hint("compute it with `printf %s \"$EXTERNAL_ID\" | sha256sum`"),
        ];
    }
    let charset = external_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c));
    if !charset || !(2..=1224).contains(&external_id.len()) {
        return vec![source.error(
            "/external_id",
            Code::ExternalId,
            "the ExternalId must be 2 to 1224 characters of letters, digits and `_+=,.@:/-`",
        )];
    }
    vec![
        source
            .error("/external_id", Code::ExternalId, "the ExternalId is written in the clear; anyone who reads the repository can read it")
            .with_hint("write its fingerprint instead: `sha256:` and the SHA-256 of the value in hex")
            .warning(),
    ]
}

/// Checks one venue of the catalog; `index` is its place in `venues`.
pub fn check_venue(source: &Source<'_>, catalog: &Catalog, index: usize) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let venue = &catalog.venues[index];
    let at = |field: &str| format!("/venues/{index}/{field}");

    if catalog.venues[..index]
        .iter()
        .any(|v| v.project == venue.project && v.venue == venue.venue)
    {
        found.push(source.error(
            &at("venue"),
            Code::Venue,
            format!("venue `{}/{}` is listed twice", venue.project, venue.venue),
        ));
    }
    if !is_account_id(&venue.account_id) {
        found.push(
            source
                .error(
                    &at("account_id"),
                    Code::AccountId,
                    format!("account id `{}` is not 12 digits", venue.account_id),
                )
                .with_hint("quote it so YAML keeps leading zeros: `\"012345678901\"`"),
        );
    }
    match RoleArn::from_str(&catalog.role_arn(venue)) {
        Err(error) => {
            let mut d = source.error(
                &at(if venue.role_arn.is_some() {
                    "role_arn"
                } else {
                    "venue"
                }),
                Code::RoleArn,
                error.to_string(),
            );
            if let Some(hint) = error.hint() {
                d = d.with_hint(hint);
            }
            found.push(d);
        }
        Ok(arn) if arn.account_id != venue.account_id || arn.partition != venue.partition => found
            .push(source.error(
                &at("role_arn"),
                Code::RoleArn,
                format!(
                    "role ARN is in `{}` account `{}`, but the venue is in `{}` account `{}`",
                    arn.partition, arn.account_id, venue.partition, venue.account_id
                ),
            )),
        Ok(_) => {}
    }
    let seconds = venue.max_duration.as_secs();
    if !(MIN_DURATION_SECS..=MAX_DURATION_SECS).contains(&seconds) {
        found.push(source.error(
            &at("max_duration"),
            Code::Duration,
            format!(
                "`max_duration` `{}` is outside what STS allows (`15m` to `12h`)",
                venue.max_duration
            ),
        ));
    }
    if venue.bucket.is_none() && venue.allowed_access.iter().any(|a| a.is_s3()) {
        found.push(source.error(
            &at("allowed_access"),
            Code::Venue,
            "the venue offers S3 access but names no `bucket`",
        ));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_id_fingerprint_must_be_full_lowercase_hex() {
        let doc = Document::default();
        let source = Source {
            file: Path::new("g.yaml"),
            text: "",
            doc: &doc,
        };
        assert!(check_external_id(&source, &format!("sha256:{}", "a".repeat(64))).is_empty());
        let short = check_external_id(&source, "sha256:abc");
        assert_eq!(short[0].code, Code::ExternalId);
        assert!(short[0].is_error());
        let clear = check_external_id(&source, "my-external-id");
        assert!(!clear[0].is_error());
        assert!(!clear[0].message.contains("my-external-id"));
        let bad = check_external_id(&source, "has space");
        assert!(bad[0].is_error());
        assert!(!bad[0].message.contains("has space"));
    }
}
