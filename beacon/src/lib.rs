//! `beacon`: see the crate description. Modules are added by the issues that build this crate.
