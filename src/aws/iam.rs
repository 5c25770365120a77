//! IAM: the venue role's inline policy that denies revoked sessions.

use super::{Aws, AwsError};

impl Aws {
    /// The IAM client. IAM is global; the region only picks the partition's endpoint.
    fn iam(&self, region: &str) -> aws_sdk_iam::Client {
        let config = aws_sdk_iam::config::Builder::from(&self.config)
            .region(aws_config::Region::new(region.to_owned()))
            .build();
        aws_sdk_iam::Client::from_conf(config)
    }

    /// The document of a role's inline policy, or `None` when the role has no such policy.
    pub async fn role_policy(
        &self,
        region: &str,
        role: &str,
        name: &str,
    ) -> Result<Option<String>, AwsError> {
        let result = self
            .iam(region)
            .get_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(decode_policy(&output.policy_document))),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(AwsError::from_sdk("iam:GetRolePolicy", e)),
        }
    }

    /// Writes a role's inline policy, replacing the document it had.
    pub async fn put_role_policy(
        &self,
        region: &str,
        role: &str,
        name: &str,
        document: &str,
    ) -> Result<(), AwsError> {
        self.iam(region)
            .put_role_policy()
            .role_name(role)
            .policy_name(name)
            .policy_document(document)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("iam:PutRolePolicy", e))?;
        Ok(())
    }
}

/// IAM returns policy documents URL-encoded; a document that is already JSON is kept.
fn decode_policy(document: &str) -> String {
    if document.trim_start().starts_with('{') {
        return document.to_owned();
    }
    let bytes = document.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_url_decoded() {
        assert_eq!(
            decode_policy("%7B%22Version%22%3A%222012-10-17%22%7D"),
            r#"{"Version":"2012-10-17"}"#
        );
        assert_eq!(decode_policy(r#"{"a": "b+c%"}"#), r#"{"a": "b+c%"}"#);
    }
}
