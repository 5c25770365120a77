//! What moto's recorder saw. With `MOTO_ENABLE_RECORDING=True`, moto appends one JSON object per
//! request to its recording file; `GET /moto-api/recorder/download-recording` returns that file.
//! moto checks neither ExternalIds nor session policies, so the tests assert on what stsgrant
//! *sent*, and this module turns the recording into something they can assert on.
//!
//! Each line has exactly these fields (moto 5.x, `moto/moto_api/_internal/recorder/models.py`):
//! `headers` (object, names as the server saw them, e.g. `X-Amz-Target`), `method`, `url` (full
//! URL, e.g. `http://127.0.0.1:PORT/`), `body` (string) and `body_encoded` (bool: `true` when
//! `body` is the base64 of the raw bytes, which is the case for every request with a
//! `Content-Length` in server mode). There is no service field: the service is read from the
//! SigV4 credential scope in `Authorization`.

use std::collections::BTreeMap;

use serde_json::Value;

/// One request as moto recorded it, body already decoded from base64.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// Parses one line of the recording; panics with the line when moto changed its format,
    /// because every assertion built on it would then be wrong.
    pub fn parse(line: &str) -> RecordedRequest {
        let entry: Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("moto recording line is not JSON ({error}): {line}"));
        let text = |field: &str| {
            entry[field]
                .as_str()
                .unwrap_or_else(|| panic!("moto recording line has no `{field}` string: {line}"))
                .to_owned()
        };
        let headers = entry["headers"]
            .as_object()
            .unwrap_or_else(|| panic!("moto recording line has no `headers` object: {line}"))
            .iter()
            .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_owned()))
            .collect();
        let body = entry["body"].as_str().unwrap_or_default();
        let body = if entry["body_encoded"].as_bool().unwrap_or(false) {
            base64_decode(body)
                .unwrap_or_else(|| panic!("moto recording body is not base64: {line}"))
        } else {
            body.as_bytes().to_vec()
        };

        RecordedRequest {
            method: text("method"),
            url: text("url"),
            headers,
            body,
        }
    }

    /// The first header of that name, compared without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The signing name from the SigV4 credential scope (`…/<region>/<service>/aws4_request`),
    /// e.g. `sts`, `ssm`, `s3`, `iam`; this is also how moto's single-port server routes.
    pub fn service(&self) -> Option<&str> {
        self.credential_scope().map(|(_, service)| service)
    }

    /// The region from the SigV4 credential scope.
    pub fn region(&self) -> Option<&str> {
        self.credential_scope().map(|(region, _)| region)
    }

    fn credential_scope(&self) -> Option<(&str, &str)> {
        let authorization = self.header("Authorization")?;
        let credential = authorization
            .split("Credential=")
            .nth(1)?
            .split(',')
            .next()?;
        let mut parts = credential.split('/').skip(2);
        Some((parts.next()?, parts.next()?))
    }

    /// The `X-Amz-Target` header of a JSON-protocol call, e.g. `AmazonSSM.GetParameter`.
    pub fn target(&self) -> Option<&str> {
        self.header("X-Amz-Target")
    }

    /// The body as text, for messages.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The form parameters of a query-protocol call (STS, IAM): `Action`, `RoleArn`, … A
    /// repeated key keeps its last value; query-protocol lists use numbered keys anyway.
    pub fn form(&self) -> BTreeMap<String, String> {
        form_decode(&self.body_text()).into_iter().collect()
    }

    /// The `Action` of a query-protocol call, e.g. `AssumeRole`.
    pub fn action(&self) -> Option<String> {
        self.form().remove("Action")
    }

    /// The body of a JSON-protocol call (SSM); `None` when it is not JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Parses a whole downloaded recording, skipping blank lines.
pub fn parse_recording(text: &str) -> Vec<RecordedRequest> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(RecordedRequest::parse)
        .collect()
}

/// Whether `target` (`AmazonSSM.GetParameter`) names the operation `wanted`, given either whole
/// or as the bare operation name (`GetParameter`).
pub fn target_matches(target: &str, wanted: &str) -> bool {
    target == wanted
        || target
            .rsplit_once('.')
            .is_some_and(|(_, operation)| operation == wanted)
}
/// Decodes an `application/x-www-form-urlencoded` body; `+` is a space, `%XX` a byte. Pairs
/// without `=` get an empty value, as in the query protocol's `Action=…&Flag`.
pub fn form_decode(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text
                    .get(index + 1..index + 3)
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        index += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes standard base64 (with or without padding), as moto's recorder writes request bodies.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut buffer = 0u32;
    let mut bits = 0u32;
    for byte in text.bytes().filter(|byte| !byte.is_ascii_whitespace()) {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}
