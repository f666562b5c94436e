//! The bot's durable work. A run ([`run`]) is a value in the store moved only by its
//! kind's pure `step` ([`read`], [`sync`], [`rollback`], [`promotion`], [`ship`]); a step
//! returns effects ([`effect`]): Slack messages, and work in the world ([`op`]) whose
//! outcome comes back to the step. The consumer commits a run's new state with its
//! effects, audit entries, lock changes and the event's dedup key in one store
//! transaction; only then does the [`executor`] perform the effects, at least once
//! and idempotently. [`event`] is what the consumer's queue carries.

pub mod effect;
pub mod event;
pub mod executor;
pub mod op;
pub mod promotion;
pub mod read;
pub mod rollback;
pub mod run;
pub mod ship;
pub mod sync;
