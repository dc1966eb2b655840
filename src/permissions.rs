//! Who may do what. Every command belongs to one permission class; the policy, from the config,
//! says per class which users and roles hold it. Pure: the chat adapter says who the user is and
//! which roles they have, this module only decides.

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;

use crate::command::Command;

/// A permission class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// `status`, `jobs`, `help`, `whoami`, and `rebuild --dry-run`, which builds nothing.
    Read,
    /// `rebuild`, `retry`, `cancel`, `confirm`: anything that changes builds on Launchpad.
    Build,
    /// A rebuild above `confirmation.mass_rebuild_above_builds` builds, on top of `build`.
    MassRebuild,
}

impl Permission {
    /// Every class, weakest first.
    pub const ALL: [Permission; 3] = [Permission::Read, Permission::Build, Permission::MassRebuild];
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Permission::Read => "read",
            Permission::Build => "build",
            Permission::MassRebuild => "mass-rebuild",
        })
    }
}

/// Who holds one permission class: everybody, or the users and roles listed. `users` and
/// `roles` are Discord's (and the sandbox's user name); Mattermost's are under `mattermost`,
/// since the two chats name people and roles differently.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Everyone holds it; the lists are then moot. Default: false.
    #[serde(default)]
    pub everyone: bool,
    /// User ids that hold it (a Discord user id, or the console's user name).
    #[serde(default)]
    pub users: BTreeSet<String>,
    /// Role ids that hold it (a Discord role id).
    #[serde(default)]
    pub roles: BTreeSet<String>,
    /// Who holds it on Mattermost.
    #[serde(default)]
    pub mattermost: Members,
}

/// Mattermost users and roles that hold a permission class (`[permissions.build.mattermost]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Members {
    /// User names (`alice`, without the `@`) or user ids (26 characters).
    #[serde(default)]
    pub users: BTreeSet<String>,
    /// Role names the user has in the team or the channel where they ask, or on the server:
    /// `team_admin`, `channel_admin`, `system_admin`, ...
    #[serde(default)]
    pub roles: BTreeSet<String>,
}

impl Rule {
    fn admits(&self, user: &User) -> bool {
        let (users, roles) = match user.service {
            Service::Mattermost => (&self.mattermost.users, &self.mattermost.roles),
            Service::Console | Service::Discord => (&self.users, &self.roles),
        };
        self.everyone
            || users.contains(&user.id)
            || user.name.as_ref().is_some_and(|name| users.contains(name))
            || user.roles.iter().any(|role| roles.contains(role))
    }
}

/// The chat a user is on, which says how the policy names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// The sandbox's console (not a chat `run` serves, so not in a config).
    #[default]
    #[serde(skip_deserializing)]
    Console,
    /// Discord.
    Discord,
    /// Mattermost.
    Mattermost,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Console => "console",
            Service::Discord => "discord",
            Service::Mattermost => "mattermost",
        })
    }
}

/// The whole policy: one rule per class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Who may read.
    pub read: Rule,
    /// Who may start, retry and cancel builds.
    pub build: Rule,
    /// Who may start mass rebuilds.
    pub mass_rebuild: Rule,
}

/// The person asking, as the chat adapter knows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    /// A stable id: a Discord or Mattermost user id, or the console's user name.
    pub id: String,
    /// The user name, where the chat has one besides the id (Mattermost).
    pub name: Option<String>,
    /// The roles they have where they asked (Discord role ids; Mattermost role names).
    pub roles: Vec<String>,
    /// The chat they are on.
    pub service: Service,
}

/// A refusal, naming the permission that is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denied {
    /// The class the user does not hold.
    pub missing: Permission,
}

/// The permission a command needs before any plan is made. A rebuild's size may add
/// [`Permission::MassRebuild`]; that is [`may`]'s to check once the plan is known.
pub fn required(command: &Command) -> Permission {
    match command {
        Command::Rebuild(request) if request.dry_run => Permission::Read,
        Command::Rebuild(_)
        | Command::Cancel { .. }
        | Command::Retry { .. }
        | Command::RetryAlert { .. }
        | Command::Confirm { .. }
        | Command::Abort { .. }
        | Command::Mute { .. }
        | Command::Unmute => Permission::Build,
        Command::Status { .. }
        | Command::Jobs { .. }
        | Command::Log { .. }
        | Command::History(_)
        | Command::Help { .. }
        | Command::Whoami => Permission::Read,
    }
}

/// Whether `user` holds `permission` under `policy`.
pub fn may(policy: &Policy, user: &User, permission: Permission) -> Result<(), Denied> {
    let rule = match permission {
        Permission::Read => &policy.read,
        Permission::Build => &policy.build,
        Permission::MassRebuild => &policy.mass_rebuild,
    };
    if rule.admits(user) {
        Ok(())
    } else {
        Err(Denied {
            missing: permission,
        })
    }
}

/// Every class `user` holds, weakest first (for `whoami`).
pub fn held(policy: &Policy, user: &User) -> Vec<Permission> {
    Permission::ALL
        .into_iter()
        .filter(|&permission| may(policy, user, permission).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, roles: &[&str]) -> User {
        User {
            id: id.into(),
            roles: roles.iter().map(|role| role.to_string()).collect(),
            ..User::default()
        }
    }

    fn policy() -> Policy {
        Policy {
            read: Rule {
                everyone: true,
                ..Rule::default()
            },
            build: Rule {
                users: ["alice".to_string()].into(),
                roles: ["builders".to_string()].into(),
                ..Rule::default()
            },
            mass_rebuild: Rule {
                users: ["alice".to_string()].into(),
                ..Rule::default()
            },
        }
    }

    /// What each command needs: reading, or changing something on Launchpad or in the bot.
    /// Every command has an example here (the match over [`CommandName`] is exhaustive, so a
    /// new command cannot go without one).
    #[test]
    fn every_command_needs_the_permission_of_what_it_does() {
        use crate::command::CommandName;
        let vocabulary = crate::config::Config::built_in().unwrap().vocabulary();
        for name in CommandName::ALL {
            let examples: &[(&str, Permission)] = match name {
                CommandName::Rebuild => &[
                    ("rebuild 20.04 arm64 redis", Permission::Build),
                    ("rebuild redis --dry-run", Permission::Read),
                ],
                CommandName::Status => &[
                    ("status", Permission::Read),
                    ("status #1", Permission::Read),
                ],
                CommandName::Jobs => &[("jobs", Permission::Read)],
                CommandName::History => &[("history redis", Permission::Read)],
                CommandName::Log => &[("log #1", Permission::Read)],
                CommandName::Cancel => &[("cancel #1", Permission::Build)],
                CommandName::Retry => &[
                    ("retry uploads #1", Permission::Build),
                    ("retry builds #1", Permission::Build),
                    ("retry alert 3", Permission::Build),
                ],
                CommandName::Confirm => &[("confirm ABCDEF", Permission::Build)],
                CommandName::Abort => &[("abort ABCDEF", Permission::Build)],
                CommandName::Help => &[
                    ("help", Permission::Read),
                    ("help cancel", Permission::Read),
                ],
                CommandName::Whoami => &[("whoami", Permission::Read)],
                CommandName::Mute => &[("mute uploads redis 2h", Permission::Build)],
                CommandName::Unmute => &[("unmute", Permission::Build)],
            };
            for (text, needed) in examples {
                let command = crate::command::parse(text, &vocabulary)
                    .unwrap_or_else(|error| panic!("{text}: {error:?}"));
                assert_eq!(required(&command), *needed, "{text}");
            }
        }
    }

    #[test]
    fn build_is_held_by_listed_users_and_roles_only() {
        let policy = policy();
        assert!(may(&policy, &user("alice", &[]), Permission::Build).is_ok());
        assert!(may(&policy, &user("bob", &["builders"]), Permission::Build).is_ok());
        assert_eq!(
            may(&policy, &user("carol", &["readers"]), Permission::Build),
            Err(Denied {
                missing: Permission::Build
            })
        );
    }

    #[test]
    fn everyone_reads_and_whoami_lists_what_is_held() {
        let policy = policy();
        assert_eq!(held(&policy, &user("carol", &[])), vec![Permission::Read]);
        assert_eq!(held(&policy, &user("alice", &[])), Permission::ALL.to_vec());
    }

    #[test]
    fn a_mattermost_user_is_admitted_by_the_mattermost_lists_only() {
        let policy = Policy {
            build: Rule {
                users: ["alice".to_string()].into(),
                roles: ["team_admin".to_string()].into(),
                mattermost: Members {
                    users: ["bob".to_string(), "carolid".to_string()].into(),
                    roles: ["channel_admin".to_string()].into(),
                },
                ..Rule::default()
            },
            ..Policy::default()
        };
        let on_mattermost = |id: &str, name: &str, roles: &[&str]| User {
            name: Some(name.into()),
            service: Service::Mattermost,
            ..user(id, roles)
        };
        let may_build = |user: &User| may(&policy, user, Permission::Build).is_ok();
        assert!(may_build(&on_mattermost("bobid", "bob", &[])), "by name");
        assert!(may_build(&on_mattermost("carolid", "carol", &[])), "by id");
        assert!(may_build(&on_mattermost("d", "dave", &["channel_admin"])));
        // Discord's entries name Discord's users and roles, not Mattermost's.
        assert!(!may_build(&on_mattermost(
            "alice",
            "alice",
            &["team_admin"]
        )));
        assert!(may_build(&user("alice", &[])));
        assert!(!may_build(&user("bob", &["channel_admin"])));
    }

    #[test]
    fn an_empty_rule_admits_nobody() {
        let policy = Policy::default();
        assert!(may(&policy, &user("alice", &["builders"]), Permission::Read).is_err());
    }
}
