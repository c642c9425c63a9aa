//! Secrets at rest: passphrase-sealed files (`sealed`, SPEC.md §9.6) and private files
//! written with owner-only permissions (`private_file`).

pub(crate) mod private_file;
pub mod sealed;
