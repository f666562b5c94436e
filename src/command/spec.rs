//! The one table of subcommands: name, summary, usage, arguments, flags, examples.
//! Help is rendered from it and the parser reads flags from it, so they cannot
//! disagree. `Subcommand::spec` is an exhaustive `match`: a subcommand without a
//! spec does not compile. This file holds data only; no parsing, no rendering.

/// Every subcommand of the slash command, without arguments.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Subcommand {
    Help,
    Status,
    Diff,
    Pull,
    Push,
    Review,
    Promote,
    Ship,
    Stats,
    Rollback,
    Unlock,
    Audit,
}

/// What a subcommand is and how to call it.
#[derive(Debug)]
pub struct SubcommandSpec {
    pub name: &'static str,
    /// One line for the overview.
    pub summary: &'static str,
    /// Usage after the command name, e.g. `ship <version> [--notes-from=<pr>]`.
    pub usage: &'static str,
    /// A few sentences for `help <subcommand>`; wrapped when rendered.
    pub description: &'static str,
    /// Positional arguments in order.
    pub args: &'static [ArgSpec],
    pub flags: &'static [FlagSpec],
    /// Text after the command name; every example must parse (tested).
    pub examples: &'static [&'static str],
}

#[derive(Debug)]
pub struct ArgSpec {
    /// As shown in usage, e.g. `<version>`.
    pub name: &'static str,
    pub required: bool,
    pub description: &'static str,
}

#[derive(Debug)]
pub struct FlagSpec {
    /// With its dashes, e.g. `--dry-run`.
    pub name: &'static str,
    /// Placeholder for the value if the flag takes one, e.g. `<slug>`; `None` for a switch.
    pub value: Option<&'static str>,
    pub description: &'static str,
}

impl FlagSpec {
    pub fn takes_value(&self) -> bool {
        self.value.is_some()
    }

    /// `--only=<family>,…` or `--dry-run`.
    pub fn display(&self) -> String {
        match self.value {
            Some(value) => format!("{}={value}", self.name),
            None => self.name.to_string(),
        }
    }
}

/// Flags every subcommand accepts.
pub const GLOBAL_FLAGS: &[FlagSpec] = &[FlagSpec {
    name: "--help",
    value: None,
    description: "Show how to use this subcommand",
}];

impl Subcommand {
    pub const ALL: [Subcommand; 12] = [
        Subcommand::Help,
        Subcommand::Status,
        Subcommand::Diff,
        Subcommand::Pull,
        Subcommand::Push,
        Subcommand::Review,
        Subcommand::Promote,
        Subcommand::Ship,
        Subcommand::Stats,
        Subcommand::Rollback,
        Subcommand::Unlock,
        Subcommand::Audit,
    ];

    pub fn spec(self) -> &'static SubcommandSpec {
        match self {
            Subcommand::Help => &HELP,
            Subcommand::Status => &STATUS,
            Subcommand::Diff => &DIFF,
            Subcommand::Pull => &PULL,
            Subcommand::Push => &PUSH,
            Subcommand::Review => &REVIEW,
            Subcommand::Promote => &PROMOTE,
            Subcommand::Ship => &SHIP,
            Subcommand::Stats => &STATS,
            Subcommand::Rollback => &ROLLBACK,
            Subcommand::Unlock => &UNLOCK,
            Subcommand::Audit => &AUDIT,
        }
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Look a subcommand up by name, ignoring case (phones capitalise the first word).
    pub fn from_name(name: &str) -> Option<Subcommand> {
        Subcommand::ALL
            .into_iter()
            .find(|sub| sub.name().eq_ignore_ascii_case(name))
    }

    /// A flag this subcommand accepts, including the global ones.
    pub fn flag(self, name: &str) -> Option<&'static FlagSpec> {
        self.flags().find(|flag| flag.name == name)
    }

    pub fn flags(self) -> impl Iterator<Item = &'static FlagSpec> {
        self.spec().flags.iter().chain(GLOBAL_FLAGS)
    }

    pub fn names() -> impl Iterator<Item = &'static str> {
        Subcommand::ALL.into_iter().map(Subcommand::name)
    }
}

impl std::fmt::Display for Subcommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

const DRY_RUN_PLAN: &str = "Show what would change, change nothing";

static HELP: SubcommandSpec = SubcommandSpec {
    name: "help",
    summary: "List the subcommands, or show how to use one",
    usage: "help [<subcommand>]",
    description: "Without a subcommand, lists them all. With one, shows its usage, \
                  options and examples. Adding --help to any subcommand does the same.",
    args: &[ArgSpec {
        name: "<subcommand>",
        required: false,
        description: "The subcommand to explain, e.g. promote",
    }],
    flags: &[],
    examples: &["help", "help promote"],
};

static STATUS: SubcommandSpec = SubcommandSpec {
    name: "status",
    summary: "Runs in flight, environment locks, last promote and release",
    usage: "status",
    description: "Shows the runs in flight, which environments are locked and by which \
                  run, the last promotion and the last release. Read-only.",
    args: &[],
    flags: &[],
    examples: &["status"],
};

static DIFF: SubcommandSpec = SubcommandSpec {
    name: "diff",
    summary: "Drift between a site and the branch it tracks",
    usage: "diff [--site=staging|prod]",
    description: "Compares a site with the git branch it tracks: the staging site with \
                  the staging branch, the production site with the production branch. \
                  Read-only.",
    args: &[],
    flags: &[FlagSpec {
        name: "--site",
        value: Some("staging|prod"),
        description: "Which site to compare (default: staging)",
    }],
    examples: &["diff", "diff --site=prod"],
};

static PULL: SubcommandSpec = SubcommandSpec {
    name: "pull",
    summary: "Capture the staging site into the staging branch",
    usage: "pull [--site=staging]",
    description: "Exports the staging site's blueprints into the staging branch as one \
                  commit and lists the changed files. Only staging can be pulled: \
                  production changes only through bench migrate of the production \
                  branch (see promote).",
    args: &[],
    flags: &[FlagSpec {
        name: "--site",
        value: Some("staging"),
        description: "The site to capture; only staging is allowed",
    }],
    examples: &["pull"],
};

static PUSH: SubcommandSpec = SubcommandSpec {
    name: "push",
    summary: "Apply the staging branch to the staging site",
    usage: "push [--site=staging] [--dry-run]",
    description: "Applies the blueprints on the staging branch to the staging site; \
                  where they differ, git wins. Never touches production.",
    args: &[],
    flags: &[
        FlagSpec {
            name: "--site",
            value: Some("staging"),
            description: "The site to write; only staging is allowed",
        },
        FlagSpec {
            name: "--dry-run",
            value: None,
            description: DRY_RUN_PLAN,
        },
    ],
    examples: &["push --dry-run", "push"],
};

static REVIEW: SubcommandSpec = SubcommandSpec {
    name: "review",
    summary: "Reviewer and tester on blueprints changed since a ref",
    usage: "review [--since=<ref>] [--blueprint=<name>]",
    description: "Runs the reviewer rules and the tester on the blueprints changed \
                  since <ref>, or on one blueprint. Read-only.",
    args: &[],
    flags: &[
        FlagSpec {
            name: "--since",
            value: Some("<ref>"),
            description: "Branch, tag or commit to compare with (default: the \
                          production branch)",
        },
        FlagSpec {
            name: "--blueprint",
            value: Some("<name>"),
            description: "Review only this blueprint",
        },
    ],
    examples: &[
        "review",
        "review --since=v0.3.0",
        "review --blueprint=\"Beneficiary Approval\"",
    ],
};

static PROMOTE: SubcommandSpec = SubcommandSpec {
    name: "promote",
    summary: "Take staging to production through a reviewed PR",
    usage: "promote [--emergency --reason=\"…\"] [--only=<family>,…] \
            [--feature=<slug>] [--dry-run]",
    description: "Runs the checklist: diff, blueprints, reviewer, tester, backup, role \
                  coverage, freeze guard and bundle. If every box passes, opens a pull \
                  request against the production branch and asks the on-call approver \
                  to review it; an approved merge deploys through CI.",
    args: &[],
    flags: &[
        FlagSpec {
            name: "--emergency",
            value: None,
            description: "Promote during a freeze; needs --reason and a second \
                          person's approval",
        },
        FlagSpec {
            name: "--reason",
            value: Some("\"…\""),
            description: "Why the emergency cannot wait (required with --emergency)",
        },
        FlagSpec {
            name: "--only",
            value: Some("<family>,…"),
            description: "Promote only these families, comma-separated",
        },
        FlagSpec {
            name: "--feature",
            value: Some("<slug>"),
            description: "Feature name for the promote branch (default: the \
                          largest family)",
        },
        FlagSpec {
            name: "--dry-run",
            value: None,
            description: "Run the checklist only; open no branch or PR",
        },
    ],
    examples: &[
        "promote --dry-run",
        "promote",
        "promote --only=beneficiary,grant --feature=intake",
        "promote --emergency --reason=\"payroll fix due today\"",
    ],
};

static SHIP: SubcommandSpec = SubcommandSpec {
    name: "ship",
    summary: "Tag a release with changelog and release notes",
    usage: "ship <version> [--notes-from=<pr>] [--dry-run]",
    description: "Once the last promotion has succeeded, drafts the CHANGELOG.md entry \
                  and offers it with Edit, Ship and Cancel. Ship commits the entry to \
                  the production branch (through a reviewed PR unless ship.changelog \
                  is \"direct\"), tags that commit, makes the GitHub release and posts \
                  the notes. The version must be greater than the newest tag.",
    args: &[ArgSpec {
        name: "<version>",
        required: true,
        description: "Semantic version, e.g. 1.4.0 (a leading v is fine)",
    }],
    flags: &[
        FlagSpec {
            name: "--notes-from",
            value: Some("<pr>"),
            description: "Take the notes from this PR's body (its ## Summary), e.g. 42 or #42",
        },
        FlagSpec {
            name: "--dry-run",
            value: None,
            description: "Show the draft and the checks; write nothing",
        },
    ],
    examples: &[
        "ship 1.4.0 --dry-run",
        "ship 1.4.0",
        "ship v1.4.0 --notes-from=#42",
    ],
};

static ROLLBACK: SubcommandSpec = SubcommandSpec {
    name: "rollback",
    summary: "Rewind the staging site to the blueprints at a ref",
    usage: "rollback <git-ref> [--dry-run]",
    description: "Plans how to bring the staging site back to the blueprints at \
                  <git-ref> and posts the plan; it is applied only when someone presses \
                  Apply. Production is never changed by rollback.",
    args: &[ArgSpec {
        name: "<git-ref>",
        required: true,
        description: "Branch, tag or commit (7 to 40 hex digits)",
    }],
    flags: &[FlagSpec {
        name: "--dry-run",
        value: None,
        description: "Show the plan only, without an Apply button",
    }],
    examples: &["rollback v1.3.0 --dry-run", "rollback 3f2a9c1"],
};

static UNLOCK: SubcommandSpec = SubcommandSpec {
    name: "unlock",
    summary: "Release a stuck environment lock (admins only)",
    usage: "unlock <env> --reason=\"…\"",
    description: "Releases the lock a crashed, abandoned or rolled-back run left on an \
                  environment. Admins only; the reason is recorded in the audit log.",
    args: &[ArgSpec {
        name: "<env>",
        required: true,
        description: "staging or prod",
    }],
    flags: &[FlagSpec {
        name: "--reason",
        value: Some("\"…\""),
        description: "Why the lock can go (required; audited)",
    }],
    examples: &["unlock prod --reason=\"restore checked by hand\""],
};

static STATS: SubcommandSpec = SubcommandSpec {
    name: "stats",
    summary: "Delivery figures (DORA) from the promotion history",
    usage: "stats [--days=<n>]",
    description: "Deployment frequency, lead time for changes, change failure rate and \
                  time to restore, computed from the promotions that ended in the last \
                  <n> days, each with its definition. Read-only.",
    args: &[],
    flags: &[FlagSpec {
        name: "--days",
        value: Some("<n>"),
        description: "How many days back to look, 1 to 365 (default 30)",
    }],
    examples: &["stats", "stats --days=90"],
};

static AUDIT: SubcommandSpec = SubcommandSpec {
    name: "audit",
    summary: "The last N audit entries",
    usage: "audit [<n>]",
    description: "Shows the most recent audit entries: who did what, when, and in \
                  which run. Read-only.",
    args: &[ArgSpec {
        name: "<n>",
        required: false,
        description: "How many entries, 1 to 200 (default 20)",
    }],
    flags: &[],
    examples: &["audit", "audit 50"],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_subcommand_once_in_order() {
        // `position` is an exhaustive match: a new variant must be placed here too.
        fn position(sub: Subcommand) -> usize {
            match sub {
                Subcommand::Help => 0,
                Subcommand::Status => 1,
                Subcommand::Diff => 2,
                Subcommand::Pull => 3,
                Subcommand::Push => 4,
                Subcommand::Review => 5,
                Subcommand::Promote => 6,
                Subcommand::Ship => 7,
                Subcommand::Stats => 8,
                Subcommand::Rollback => 9,
                Subcommand::Unlock => 10,
                Subcommand::Audit => 11,
            }
        }
        for (i, sub) in Subcommand::ALL.into_iter().enumerate() {
            assert_eq!(position(sub), i, "{sub:?}");
        }
    }

    #[test]
    fn names_are_unique_lowercase_and_found() {
        let mut names: Vec<_> = Subcommand::names().collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Subcommand::ALL.len());
        for sub in Subcommand::ALL {
            assert_eq!(sub.name(), sub.name().to_lowercase());
            assert_eq!(Subcommand::from_name(sub.name()), Some(sub));
            assert_eq!(Subcommand::from_name(&sub.name().to_uppercase()), Some(sub));
        }
        assert_eq!(Subcommand::from_name("nope"), None);
    }

    #[test]
    fn usage_names_every_argument_and_flag() {
        for sub in Subcommand::ALL {
            let spec = sub.spec();
            assert!(spec.usage.starts_with(spec.name), "{}", spec.usage);
            for arg in spec.args {
                assert!(
                    spec.usage.contains(arg.name),
                    "{} lacks {}",
                    spec.usage,
                    arg.name
                );
            }
            for flag in spec.flags {
                assert!(
                    spec.usage.contains(flag.name),
                    "{} lacks {}",
                    spec.usage,
                    flag.name
                );
                assert!(flag.name.starts_with("--") && flag.name == flag.name.to_lowercase());
            }
            assert!(!spec.summary.is_empty() && !spec.examples.is_empty());
        }
    }

    #[test]
    fn flags_are_unique_per_subcommand() {
        for sub in Subcommand::ALL {
            let mut names: Vec<_> = sub.flags().map(|f| f.name).collect();
            let count = names.len();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), count, "{sub}");
        }
    }
}
