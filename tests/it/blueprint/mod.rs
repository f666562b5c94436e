//! blueprint: canonical files, the seed sites, `diff --raw`.

mod cli;
mod seed;
