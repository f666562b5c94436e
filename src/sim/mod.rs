//! Local servers that speak the real services' wire formats, for `lockstep demo`
//! and the integration tests. The bot's own modules never import from here: the bot
//! cannot tell a sim from the real service.

pub mod bench;
pub mod frappe;
pub mod github;
pub mod slack;
