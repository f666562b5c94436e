//! The promotion's transitions as a table: (state, input) → (state, effects), with
//! every refusal. Written against the pure `step`; no I/O.
