//! Read runs: `diff`, `review`, `promote --dry-run`. One message in the channel
//! saying what is being read, one read-only operation, and the report as the final
//! edit of that message. The read is repeatable, so a restart simply reads again.

use crate::workflow::effect::Message;
use crate::workflow::op::{Failure, Op, Outcome};
use crate::workflow::run::{Input, RunHeader, StepContext, Transition};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadRun {
    pub header: RunHeader,
    pub op: Op,
    /// What the channel sees while the read runs.
    pub announce: Message,
    #[serde(default)]
    pub finished: bool,
}

impl ReadRun {
    pub fn new(header: RunHeader, op: Op, announce: Message) -> Self {
        ReadRun {
            header,
            op,
            announce,
            finished: false,
        }
    }

    pub fn step(&mut self, input: &Input, ctx: &StepContext) -> Transition {
        let mut t = Transition::default();
        match input {
            Input::Start => {
                t.post_root(&self.header, self.announce.clone());
                let op = self.op.clone();
                t.work(&mut self.header, "read", op);
            }
            Input::Done { result, .. } if !self.finished => {
                self.finished = true;
                let user = self.header.requester.user.clone();
                match result {
                    Ok(Outcome::Report { message, audit }) => {
                        t.update_root(&self.header, message.clone());
                        for line in audit {
                            t.audit(&self.header, ctx.now, &user, line.clone());
                        }
                    }
                    Ok(other) => {
                        let text = format!(
                            "lockstep received an answer it did not expect ({other:?}); nothing was changed."
                        );
                        t.update_root(&self.header, Message::text(format!(":x: {text}")));
                        t.audit(&self.header, ctx.now, &user, format!("failed: {text}"));
                    }
                    Err(failure) => {
                        let text = failure_text(failure);
                        t.update_root(&self.header, Message::text(format!(":x: {text}")));
                        t.audit(&self.header, ctx.now, &user, format!("failed: {text}"));
                    }
                }
            }
            Input::Done { .. } | Input::Press(_) | Input::Submit(_) | Input::Again { .. } => {}
        }
        t
    }
}

fn failure_text(failure: &Failure) -> String {
    match failure {
        // A read changes nothing: say so when the failure text does not.
        Failure::Refused(text) if !text.contains("changed") => {
            format!("{text} Nothing was changed.")
        }
        other => other.text(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Command, SiteSel};
    use crate::config::Config;
    use crate::ids::RunId;
    use crate::workflow::effect::{Effect, Requester};
    use chrono::Utc;

    fn config() -> Config {
        Config::for_tests("")
    }

    fn run() -> ReadRun {
        let requester = Requester {
            response_url: "http://r".into(),
            channel: "C1".into(),
            user: "U1".into(),
        };
        let command = Command::Diff {
            site: SiteSel::Staging,
        };
        ReadRun::new(
            RunHeader::new(RunId("run-1".into()), command, requester, Utc::now()),
            Op::Diff {
                site: SiteSel::Staging,
            },
            Message::text(":hourglass: reading"),
        )
    }

    #[test]
    fn start_posts_and_reads_then_the_report_edits_and_audits_once() {
        let config = config();
        let ctx = StepContext {
            now: Utc::now(),
            config: &config,
        };
        let mut run = run();
        let start = run.step(&Input::Start, &ctx);
        assert!(matches!(start.effects[0], Effect::Post(_)));
        let Effect::Work(work) = &start.effects[1] else {
            panic!("a read")
        };
        let done = Input::Done {
            key: work.key.clone(),
            result: Ok(Outcome::Report {
                message: Message::text("clean"),
                audit: vec!["staging: clean".into()],
            }),
        };
        let end = run.step(&done, &ctx);
        assert!(run.finished);
        assert_eq!(end.audit.len(), 1);
        assert!(matches!(end.effects[0], Effect::Update(_)));
        assert_eq!(run.step(&done, &ctx), Transition::default(), "once");
    }

    #[test]
    fn a_failed_read_says_nothing_was_changed() {
        let config = config();
        let ctx = StepContext {
            now: Utc::now(),
            config: &config,
        };
        let mut run = run();
        run.step(&Input::Start, &ctx);
        let end = run.step(
            &Input::Done {
                key: "run-1/read/1".into(),
                result: Err(Failure::Refused(
                    "The staging site answered 503 Service Unavailable; try again in a minute."
                        .into(),
                )),
            },
            &ctx,
        );
        let Effect::Update(update) = &end.effects[0] else {
            panic!()
        };
        assert!(update.message.text.contains("503"), "{:?}", update.message);
        assert!(update.message.text.contains("Nothing was changed."));
        assert!(end.audit[0].detail.starts_with("failed: "));
    }
}
