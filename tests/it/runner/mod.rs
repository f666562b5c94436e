//! runner: the bench runner: the stand-in, workflow dispatch, and real bench output samples.

mod bench_standin;
mod dispatch;
mod samples;
