//! runmeta facade (temporary)
#[doc(hidden)]
pub mod __private {
    pub use runmeta_core::__private::*;
}
pub use runmeta_core::{metrics, run, schema};
pub use runmeta_macros::{deadline, metadata_keys, track_run, MetadataEnum, RunMetadata};
/// prelude
pub mod prelude {
    pub use runmeta_core::schema::{BusinessImpact, CustomerTier, Deadline, Environment, MetadataEnum, Priority, RunMetadata};
    pub use runmeta_macros::{track_run, MetadataEnum, RunMetadata};
}
