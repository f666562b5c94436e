//! github: the GitHub client against the GitHub-compatible server, its OpenAPI shapes and git's object ids.

mod client;
mod content;
mod deploy;
mod git_ids;
mod openapi;
mod sim;
