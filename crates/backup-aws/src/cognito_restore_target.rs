//! The write side of a user pool, for restores: groups, users, user state and CSV import jobs.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::types::{AttributeType, MessageActionType, UserImportJobType};
use backup_domain::ports::{Created, FailedRow, ImportJob, PoolGroup, PortError, RestoreTarget};

use crate::cognito_user_pool::CognitoUserPool;

fn attribute_list(attributes: &BTreeMap<String, String>) -> Result<Vec<AttributeType>, PortError> {
    attributes
        .iter()
        .map(|(name, value)| {
            AttributeType::builder()
                .name(name)
                .value(value)
                .build()
                .map_err(|e| PortError::InvalidRequest(e.to_string()))
        })
        .collect()
}

#[async_trait]
impl RestoreTarget for CognitoUserPool {
    async fn csv_header(&self) -> Result<Vec<String>, PortError> {
        let out = self
            .client
            .get_csv_header()
            .user_pool_id(&self.pool_id)
            .send()
            .await
            .map_err(|e| self.err("GetCSVHeader", e))?;
        Ok(out.csv_header().to_vec())
    }

    async fn create_group(&self, group: &PoolGroup) -> Result<Created, PortError> {
        let result = self
            .client
            .create_group()
            .user_pool_id(&self.pool_id)
            .group_name(&group.name)
            .set_description(group.description.clone())
            .set_precedence(group.precedence)
            .set_role_arn(group.role_arn.clone())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Created::New),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_group_exists_exception()) => {
                Ok(Created::AlreadyExisted)
            }
            Err(e) => Err(self.err("CreateGroup", e)),
        }
    }

    async fn update_group(&self, group: &PoolGroup) -> Result<(), PortError> {
        self.client
            .update_group()
            .user_pool_id(&self.pool_id)
            .group_name(&group.name)
            .set_description(group.description.clone())
            .set_precedence(group.precedence)
            .set_role_arn(group.role_arn.clone())
            .send()
            .await
            .map_err(|e| self.err("UpdateGroup", e))?;
        Ok(())
    }

    async fn create_user(&self, username: &str, attributes: &BTreeMap<String, String>) -> Result<Created, PortError> {
        let result = self
            .client
            .admin_create_user()
            .user_pool_id(&self.pool_id)
            .username(username)
            .set_user_attributes(Some(attribute_list(attributes)?))
            // A restore must not mail every user an invitation (and the default sender allows 50 a day);
            // nobody learns the temporary password Cognito generates either.
            .message_action(MessageActionType::Suppress)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Created::New),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_username_exists_exception()) => {
                Ok(Created::AlreadyExisted)
            }
            Err(e) => Err(self.err("AdminCreateUser", e)),
        }
    }

    async fn update_user_attributes(
        &self,
        username: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), PortError> {
        self.client
            .admin_update_user_attributes()
            .user_pool_id(&self.pool_id)
            .username(username)
            .set_user_attributes(Some(attribute_list(attributes)?))
            .send()
            .await
            .map_err(|e| self.err("AdminUpdateUserAttributes", e))?;
        Ok(())
    }

    async fn set_enabled(&self, username: &str, enabled: bool) -> Result<(), PortError> {
        if enabled {
            self.client
                .admin_enable_user()
                .user_pool_id(&self.pool_id)
                .username(username)
                .send()
                .await
                .map_err(|e| self.err("AdminEnableUser", e))?;
        } else {
            self.client
                .admin_disable_user()
                .user_pool_id(&self.pool_id)
                .username(username)
                .send()
                .await
                .map_err(|e| self.err("AdminDisableUser", e))?;
        }
        Ok(())
    }

    async fn add_to_group(&self, username: &str, group: &str) -> Result<(), PortError> {
        self.client
            .admin_add_user_to_group()
            .user_pool_id(&self.pool_id)
            .username(username)
            .group_name(group)
            .send()
            .await
            .map_err(|e| self.err("AdminAddUserToGroup", e))?;
        Ok(())
    }

    async fn create_import_job(&self, job_name: &str) -> Result<ImportJob, PortError> {
        let support = self.import_jobs()?;
        let created = self
            .client
            .create_user_import_job()
            .user_pool_id(&self.pool_id)
            .job_name(job_name)
            .cloud_watch_logs_role_arn(&support.role_arn)
            .send()
            .await
            .map_err(|e| self.err("CreateUserImportJob", e))?;
        let job = created.user_import_job();
        let mut out = import_job(job, job_name, "");
        out.upload_url = job.and_then(|j| j.pre_signed_url()).map(str::to_owned);
        if out.job_id.is_empty() || out.upload_url.is_none() {
            return Err(PortError::Unavailable("CreateUserImportJob returned no job ID or upload URL".into()));
        }
        Ok(out)
    }

    async fn upload_import_csv(&self, job: &ImportJob, csv: Vec<u8>) -> Result<(), PortError> {
        let url = job
            .upload_url
            .as_deref()
            .ok_or_else(|| PortError::InvalidRequest(format!("job {} has no upload URL", job.job_id)))?;
        // The headers Cognito's documentation and the original solution send with the file.
        let headers = [("Content-Type", "text/csv"), ("x-amz-server-side-encryption", "aws:kms")];
        crate::https_put::put(url, &headers, csv)
            .await
            .map_err(|e| PortError::Unavailable(format!("uploading the CSV of import job {} failed: {e}", job.job_id)))
    }

    async fn start_import_job(&self, job_id: &str) -> Result<ImportJob, PortError> {
        let started = self
            .client
            .start_user_import_job()
            .user_pool_id(&self.pool_id)
            .job_id(job_id)
            .send()
            .await
            .map_err(|e| self.err("StartUserImportJob", e))?;
        Ok(import_job(started.user_import_job(), "", job_id))
    }

    async fn import_job(&self, job_id: &str) -> Result<ImportJob, PortError> {
        let out = self
            .client
            .describe_user_import_job()
            .user_pool_id(&self.pool_id)
            .job_id(job_id)
            .send()
            .await
            .map_err(|e| self.err("DescribeUserImportJob", e))?;
        Ok(import_job(out.user_import_job(), "", job_id))
    }

    async fn import_job_failures(&self, job: &ImportJob) -> Result<Vec<FailedRow>, PortError> {
        let support = self.import_jobs()?;
        let group = format!("/aws/cognito/userpools/{}/{}", self.pool_id, job.job_name);
        let mut pages = support
            .logs
            .filter_log_events()
            .log_group_name(&group)
            .log_stream_names(&job.job_id)
            .into_paginator()
            .send();
        let mut rows = Vec::new();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(p) => p,
                // No log group: the job logged no failure.
                Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => return Ok(rows),
                Err(e) => {
                    return Err(crate::errors::port_error(
                        &format!("FilterLogEvents on {group}"),
                        "The function's role needs logs:FilterLogEvents on /aws/cognito/userpools/*.",
                        e,
                    ));
                }
            };
            rows.extend(page.events().iter().filter_map(|e| e.message()).filter_map(parse_failure));
        }
        Ok(rows)
    }
}

fn import_job(job: Option<&UserImportJobType>, name: &str, id: &str) -> ImportJob {
    ImportJob {
        job_id: job.and_then(|j| j.job_id()).unwrap_or(id).to_owned(),
        job_name: job.and_then(|j| j.job_name()).unwrap_or(name).to_owned(),
        status: job.and_then(|j| j.status()).map(|s| s.as_str()).unwrap_or("Unknown").into(),
        imported: job.map(|j| j.imported_users()).unwrap_or_default(),
        skipped: job.map(|j| j.skipped_users()).unwrap_or_default(),
        failed: job.map(|j| j.failed_users()).unwrap_or_default(),
        message: job.and_then(|j| j.completion_message()).map(str::to_owned),
        upload_url: None,
    }
}

/// A failed row from an import job's log event: JSON `{"lineNumber": n, "message": …}` (the local cloud)
/// or Cognito's text `… Line Number n - reason`.
pub fn parse_failure(message: &str) -> Option<FailedRow> {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(message)
        && let Some(line) = v.get("lineNumber").and_then(|l| l.as_u64())
    {
        let reason = v.get("message").and_then(|m| m.as_str()).unwrap_or("rejected").to_owned();
        return Some(FailedRow { line, reason });
    }
    let rest = &message[message.find("Line Number")? + "Line Number".len()..];
    let digits: String = rest.trim_start().chars().take_while(char::is_ascii_digit).collect();
    let reason = rest.split_once('-').map(|(_, r)| r.trim().to_owned()).unwrap_or_else(|| "rejected".into());
    Some(FailedRow { line: digits.parse().ok()?, reason })
}

#[cfg(test)]
mod tests {
    #[test]
    fn failed_rows_are_read_from_both_log_formats() {
        let json = super::parse_failure(r#"{"lineNumber": 3, "message": "no verified email"}"#).unwrap();
        assert_eq!((json.line, json.reason.as_str()), (3, "no verified email"));
        let text = super::parse_failure(
            "[ERROR] Line Number 12 - The User Record does not set any of the auto verified attributes to true.",
        )
        .unwrap();
        assert_eq!(text.line, 12);
        assert!(text.reason.starts_with("The User Record"));
        assert!(super::parse_failure("unrelated").is_none());
    }
}
