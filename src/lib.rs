//! runmeta
