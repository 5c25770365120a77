//! Durations as people write them in grants and the venue catalog: `1h`, `90m`, `2h30m`.
//!
//! STS counts in seconds, reviewers read hours and minutes; this type keeps the seconds and
//! shows the short form back, so a plan says `1h30m` where the grant said `90m`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The JSON Schema pattern for a duration; the parser below accepts exactly this language.
pub const PATTERN: &str = r"^(?:[0-9]{1,5}h)?(?:[0-9]{1,6}m)?(?:[0-9]{1,8}s)?$";

/// A length of time in whole seconds, written as `<h>h<m>m<s>s` with any part left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GrantDuration {
    seconds: u32,
}

impl GrantDuration {
    /// A duration of `seconds` seconds.
    pub const fn from_secs(seconds: u32) -> Self {
        GrantDuration { seconds }
    }

    /// The duration in seconds, as STS wants it.
    pub fn as_secs(self) -> u32 {
        self.seconds
    }
}

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a duration such as `1h`, `90m` or `2h30m`")]
pub struct ParseDurationError {
    text: String,
}

impl FromStr for GrantDuration {
    type Err = ParseDurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || ParseDurationError {
            text: text.to_owned(),
        };
        let mut seconds: u64 = 0;
        let mut digits = String::new();
        let mut last_unit = 0;
        for c in text.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let (rank, factor) = match c {
                'h' => (1, 3600),
                'm' => (2, 60),
                's' => (3, 1),
                _ => return Err(error()),
            };
            if digits.is_empty() || digits.len() > 8 || rank <= last_unit {
                return Err(error());
            }
            let value: u64 = digits.parse().map_err(|_| error())?;
            seconds += value * factor;
            digits.clear();
            last_unit = rank;
        }
        if !digits.is_empty() || last_unit == 0 {
            return Err(error());
        }
        let seconds = u32::try_from(seconds).map_err(|_| error())?;
        Ok(GrantDuration { seconds })
    }
}

impl fmt::Display for GrantDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s) = (
            self.seconds / 3600,
            self.seconds / 60 % 60,
            self.seconds % 60,
        );
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 || self.seconds == 0 {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

impl Serialize for GrantDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GrantDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for GrantDuration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "minLength": 2,
            "pattern": PATTERN,
            "description": "Hours, minutes and seconds, such as `1h`, `90m` or `2h30m`.",
            "examples": ["1h", "90m", "12h"],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_short_forms() {
        let cases = [
            ("1h", 3600),
            ("90m", 5400),
            ("2h30m", 9000),
            ("900s", 900),
            ("1h1s", 3601),
        ];
        for (text, seconds) in cases {
            assert_eq!(
                text.parse::<GrantDuration>().map(GrantDuration::as_secs),
                Ok(seconds)
            );
        }
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for text in [
            "",
            "h",
            "1",
            "1d",
            "30m1h",
            "1h1h",
            "-1h",
            "1.5h",
            "999999999h",
            " 1h",
        ] {
            let error = text.parse::<GrantDuration>().expect_err(text);
            assert_eq!(
                error.to_string(),
                format!("`{text}` is not a duration such as `1h`, `90m` or `2h30m`")
            );
        }
    }

    #[test]
    fn shows_the_canonical_form() {
        assert_eq!(GrantDuration::from_secs(5400).to_string(), "1h30m");
        assert_eq!(GrantDuration::from_secs(43200).to_string(), "12h");
        assert_eq!(GrantDuration::from_secs(61).to_string(), "1m1s");
    }
}
