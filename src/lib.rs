//! stsgrant: short-lived AWS credentials for people without an AWS account, granted through
//! code review.
//!
//! A grant is a YAML file in a repository, approved by pull request. This library reads and
//! checks grants ([`check`]), plans what to issue, issues credentials with `sts:AssumeRole`
//! and seals them with age so that only the recipient can read them.

pub mod check;
pub mod diagnostic;
pub mod duration;
pub mod grant;
pub mod load;
pub mod policy;
pub mod seal;
pub mod venue;
pub mod yaml;
