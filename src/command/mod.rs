//! The grammar of the slash command and its help text. Pure: no I/O.
