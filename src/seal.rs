//! Placeholder recipient parsing until the sealing module lands.

use std::str::FromStr;

/// An age recipient.
pub struct Recipient;

/// Why a recipient is not one.
#[derive(Debug, thiserror::Error)]
#[error("not a recipient")]
pub struct RecipientError;

impl RecipientError {
    /// What to do.
    pub fn hint(&self) -> Option<String> {
        None
    }
}

impl FromStr for Recipient {
    type Err = RecipientError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.starts_with("age1") || text.starts_with("ssh-") {
            Ok(Recipient)
        } else {
            Err(RecipientError)
        }
    }
}
