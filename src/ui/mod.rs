//! The terminal UI: views over the board, themes, the key map and the terminal guard.
//!
//! | module       | what it holds                                                              |
//! |--------------|----------------------------------------------------------------------------|
//! | [`keys`]     | actions, default keys, user overrides, read-only filtering                 |
//! | [`theme`]    | semantic roles → styles; embedded presets, user overrides, `NO_COLOR`      |

pub mod clipboard;
pub mod command;
pub mod downloads;
pub mod filter;
pub mod keys;
pub mod label_editor;
pub mod recording_actions;
pub mod relabel;
pub mod render;
pub mod scrolling_backend;
pub mod state;
pub mod table;
pub mod terminal;
pub mod theme;
pub mod update;
pub mod views;
