//! `help [subcommand]`: usage, generated from the grammar's own table.

use super::{Arrival, Context};
use crate::command::{self, Subcommand};
use crate::workflow::effect::Message;
use crate::workflow::event::CommandEvent;

pub fn on_command(ctx: &Context, event: &CommandEvent, topic: Option<Subcommand>) -> Arrival {
    let name = ctx.config.command_name();
    let headline = match topic {
        Some(topic) => format!("*{name} {}*", topic.name()),
        None => format!(
            "*{name}*: promote Frappe configuration from staging to production through GitHub"
        ),
    };
    Arrival::reply(
        event,
        Message::with_code(headline, command::help(topic, name)),
    )
}
