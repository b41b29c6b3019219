//! Items used by macro-generated code. Not public API: no stability guarantee.

pub use crate::schema::input::Builder;
pub use crate::schema::{
    check_range, deserialize_enum, parse_enum, Deadline, FieldDescriptor, FieldError, FieldType,
    FieldValue, LabelField, MetadataEnum, MetadataErrors, MetadataField, Problem, RawValue,
    RunMetadata, SchemaDescriptor, UnknownVariant,
};
pub use serde;
pub use std;

/// Takes a parsed field out of its slot; a missing required field is recorded.
#[inline]
pub fn take<T: MetadataField>(
    slot: Option<T>,
    key: &'static str,
    errors: &mut std::vec::Vec<FieldError>,
) -> Option<T> {
    match slot {
        Some(v) => Some(v),
        None => {
            let absent = T::absent();
            if absent.is_none() {
                errors.push(FieldError {
                    key: key.into(),
                    problem: Problem::Missing,
                });
            }
            absent
        }
    }
}

/// Asserts at compile time that a field's type is the registry's type for its key.
#[diagnostic::on_unimplemented(
    message = "the field's type `{T}` differs from the registry's type `{Self}` for this key",
    label = "the registry declares this key as `{Self}`",
    note = "every schema must use a key with the type its `metadata_keys!` registry gives it"
)]
pub trait SameTypeAs<T> {}
impl<T> SameTypeAs<T> for T {}

/// Asserts that a registry key's type is `F` (see [`SameTypeAs`]).
#[inline]
pub const fn assert_registry_type<R: SameTypeAs<F>, F>() {}

/// Asserts that `T` is a metadata field type.
#[inline]
pub const fn assert_field<T: MetadataField>() {}

/// Asserts that `T` can be a label.
#[inline]
pub const fn assert_label<T: LabelField>() {}

/// A key of a `metadata_keys!` registry.
pub trait RegistryKey {
    /// The key's type.
    type Type;
    /// The key.
    const NAME: &'static str;
    /// The key's doc comment.
    const DOC: &'static str;
}
