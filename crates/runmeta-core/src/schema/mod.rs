//! Metadata schemas: field types, enums, deadlines, the `RunMetadata` trait, validation of
//! untyped input and JSON Schema export.

mod deadline;
mod descriptor;
mod enums;
mod error;
mod field;
pub mod input;
mod json_schema;
mod metadata;

pub use deadline::{Deadline, DeadlineError};
pub use descriptor::{FieldDescriptor, FieldType, RegistryEntry, SchemaDescriptor};
pub use enums::{
    deserialize_enum, parse_enum, BusinessImpact, CustomerTier, Environment, MetadataEnum,
    Priority, UnknownVariant,
};
pub use error::{limits, FieldError, MetadataErrors, Problem};
pub use field::{
    against_range, check_range, enum_from_raw, FieldValue, LabelField, MetadataField, RawValue,
};
pub use input::UnknownKeys;
pub use json_schema::json_schema;
pub use metadata::{DynMetadata, JsonMetadata, Labels, RunMetadata, REDACTED};
pub use runmeta_rules::{check_key, KeyError, MAX_KEY_LEN, RESERVED_METRIC_NAMES};
