//! Who may do what: `access.promoters`, `access.approvers` and `access.admins` name
//! Slack users (`U…`) or user groups (`S…`); a group is resolved through Slack at the
//! moment of the decision, so membership changes apply at once.

use crate::ids::Principal;
use crate::slack::api::SlackApi;

/// Whether `user` is one of `principals`, directly or through a user group.
pub async fn is_allowed(
    slack: &SlackApi,
    principals: &[Principal],
    user: &str,
) -> anyhow::Result<bool> {
    for principal in principals {
        match principal {
            Principal::User(id) if id.as_str() == user => return Ok(true),
            Principal::User(_) => {}
            Principal::Group(group) => {
                let members = slack
                    .usergroup_members(group.as_str())
                    .await
                    .map_err(|err| {
                        anyhow::anyhow!("cannot read the members of user group {group}: {err}")
                    })?;
                if members.iter().any(|member| member == user) {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}
