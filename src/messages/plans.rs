//! What a rebuild would do: the dry run, the request to confirm, the hourly limit.

use std::fmt::{self, Display, Write};

use super::{count, plain_list};
use crate::command::ConfirmCode;
use crate::plan::{Approval, Plan};

/// A large plan dropped with its Abort button.
pub fn aborted(code: &ConfirmCode) -> String {
    format!("Aborted: the plan under `{code}` is dropped and nothing was requested.")
}

/// A plan: each recipe with its architectures, and the counts.
pub struct PlanText<'a>(pub &'a Plan);

impl Display for PlanText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plan = self.0;
        write!(
            f,
            "{}, {}",
            count(plan.targets.len(), "recipe", "recipes"),
            count(plan.builds(), "build", "builds")
        )?;
        if plan.skipped > 0 {
            write!(
                f,
                " (skipped {} that the catalogue lacks)",
                count(
                    plan.skipped,
                    "image × series",
                    "image × series combinations"
                )
            )?;
        }
        f.write_str(":")?;
        for target in &plan.targets {
            write!(f, "\n  {}  {}", target.recipe, plain_list(&target.arches))?;
        }
        Ok(())
    }
}

/// What a dry run prints: the plan, and what a real run would need first.
pub fn dry_run(plan: &Plan, approval: Approval, limits: &crate::config::Confirmation) -> String {
    let mut text = format!("Dry run, nothing is built. {}", PlanText(plan));
    match approval {
        Approval::Proceed => {}
        Approval::Confirm => {
            let _ = write!(
                text,
                "\nIt is more than {} builds, so in chat it would wait for `confirm`.",
                limits.above_builds
            );
        }
        Approval::ConfirmMassRebuild => {
            let _ = write!(
                text,
                "\nIt is more than {} builds, so in chat it would wait for `confirm` and need the `mass-rebuild` permission.",
                limits.mass_rebuild_above_builds
            );
        }
    }
    text
}

/// Asks for confirmation of a large plan; `running`: the asker's builds going already, which
/// the thresholds count.
pub fn needs_confirmation(
    plan: &Plan,
    approval: Approval,
    code: &ConfirmCode,
    minutes: u64,
    running: usize,
) -> String {
    let mass = if approval == Approval::ConfirmMassRebuild {
        " It is a mass rebuild, so it needs the `mass-rebuild` permission too."
    } else {
        ""
    };
    let counted = if running > 0 {
        format!(
            " With the {} you have running, it makes {}.",
            count(running, "build", "builds"),
            count(running + plan.builds(), "build", "builds")
        )
    } else {
        String::new()
    };
    format!(
        "To start this rebuild, say `confirm {code}` within {minutes} minutes.{counted}{mass}\n{}",
        PlanText(plan)
    )
}

/// A rebuild over the asker's hourly limit of builds.
pub fn over_hourly_limit(builds: usize, over: &crate::quota::OverLimit) -> String {
    let start = format!(
        "You have started {} in the last hour, and the limit is {} an hour (`confirmation.builds_per_user_per_hour`).",
        count(over.started, "build", "builds"),
        over.limit
    );
    match over.from {
        Some(from) => format!(
            "{start} This rebuild fits from {} UTC; nothing was requested.",
            from.format("%H:%M")
        ),
        None => format!(
            "{start} {} never fit in one hour: split the rebuild. Nothing was requested.",
            count(builds, "build", "builds")
        ),
    }
}
