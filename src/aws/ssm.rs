//! SSM Parameter Store: the venue's ExternalId, and the calls the issuance record store needs.

use aws_sdk_ssm::types::ParameterType;

use super::{Aws, AwsError};
use crate::secret::SecretString;

impl Aws {
    /// Reads a parameter, decrypting a SecureString; the value is kept secret.
    pub async fn external_id(&self, region: &str, name: &str) -> Result<SecretString, AwsError> {
        let output = self
            .ssm(region)
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ssm:GetParameter", e))?;
        let value = output
            .parameter
            .and_then(|p| p.value)
            .ok_or_else(|| AwsError {
                operation: "ssm:GetParameter",
                code: None,
                message: format!("parameter `{name}` has no value"),
            })?;
        Ok(SecretString::new(value))
    }

    /// Creates a parameter only if it does not exist yet: `Ok(false)` when it does.
    pub async fn create_parameter(
        &self,
        region: &str,
        name: &str,
        value: &str,
    ) -> Result<bool, AwsError> {
        let result = self
            .ssm(region)
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::String)
            .overwrite(false)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_already_exists()) =>
            {
                Ok(false)
            }
            Err(e) => Err(AwsError::from_sdk("ssm:PutParameter", e)),
        }
    }

    /// Writes a parameter, replacing its value.
    pub async fn overwrite_parameter(
        &self,
        region: &str,
        name: &str,
        value: &str,
    ) -> Result<(), AwsError> {
        self.ssm(region)
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ssm:PutParameter", e))?;
        Ok(())
    }

    /// Every parameter under a path, recursively, as name and value.
    pub async fn parameters_under(
        &self,
        region: &str,
        path: &str,
    ) -> Result<Vec<(String, String)>, AwsError> {
        let mut found = Vec::new();
        let mut pages = self
            .ssm(region)
            .get_parameters_by_path()
            .path(path)
            .recursive(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ssm:GetParametersByPath", e))?;
            for parameter in page.parameters.unwrap_or_default() {
                if let (Some(name), Some(value)) = (parameter.name, parameter.value) {
                    found.push((name, value));
                }
            }
        }
        Ok(found)
    }
}
