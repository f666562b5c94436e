//! Runs `bench` operations on the bench host through a command template.
