//! stsgrant: short-lived AWS credentials for people without an AWS account, granted through
//! code review.
//!
//! A grant is a YAML file in a repository, approved by pull request. This library reads and
//! checks grants ([`check`]), plans what to issue, issues credentials with `sts:AssumeRole`
//! and seals them with age so that only the recipient can read them.
//!
//! Planning and issuing need the `issue` feature (on by default), which brings in the AWS SDK.

#[cfg(feature = "issue")]
pub mod aws;
pub mod check;
pub mod codeowners;
pub mod credential;
pub mod diagnostic;
pub mod duration;
pub mod git;
pub mod grant;
#[cfg(feature = "issue")]
pub mod issue;
#[cfg(feature = "issue")]
pub mod ledger;
pub mod load;
pub mod open;
#[cfg(feature = "issue")]
pub mod output;
#[cfg(feature = "issue")]
pub mod plan;
pub mod policy;
pub mod request;
#[cfg(feature = "issue")]
pub mod revoke;
pub mod seal;
pub mod secret;
pub mod venue;
pub mod yaml;
