//! A run's metadata as its record carries it: the type-erased value and its validation errors.

use std::any::Any;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use unsize::{CoerceUnsize, Coercion};

use crate::schema::{DynMetadata, MetadataErrors};

/// The metadata attached to a run: the validated value (redacted fields masked in every
/// output) and, when the value was invalid, its errors; the run is recorded either way.
///
/// ```
/// use runmeta_core::run::{MetadataRecord, MetadataValue};
/// use runmeta_core::schema::JsonMetadata;
/// let meta = MetadataRecord::new(MetadataValue::new(JsonMetadata::default()));
/// assert!(meta.errors.is_none());
/// ```
#[derive(Clone)]
pub struct MetadataRecord {
    /// The value, type-erased.
    pub value: MetadataValue,
    /// The validation errors, if any.
    pub errors: Option<Arc<MetadataErrors>>,
}

impl MetadataRecord {
    /// A valid value's record (no errors).
    #[must_use]
    pub fn new(value: MetadataValue) -> Self {
        MetadataRecord {
            value,
            errors: None,
        }
    }
}

impl fmt::Debug for MetadataRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `DynMetadata`'s Debug masks redacted fields.
        f.debug_struct("MetadataRecord")
            .field("value", &self.value)
            .field("errors", &self.errors)
            .finish()
    }
}

/// A type-erased metadata value, shared by the records that carry it: cloning adds a
/// reference, it never copies the value. It dereferences to [`DynMetadata`].
///
/// The reference count is [`triomphe`]'s (no weak count): telling that a reused record's
/// value is held by no one else, so that the next run's value of the same type can be
/// assigned in place, is one load, where `std::sync::Arc::get_mut` is an atomic
/// read-modify-write.
///
/// ```
/// use runmeta_core::run::MetadataValue;
/// use runmeta_core::schema::JsonMetadata;
/// let value = MetadataValue::new(JsonMetadata { schema: "support".into(), ..JsonMetadata::default() });
/// let shared = value.clone();
/// assert!(MetadataValue::ptr_eq(&value, &shared));
/// assert_eq!(shared.schema_name(), "support");
/// assert!(value.downcast_ref::<JsonMetadata>().is_some());
/// ```
#[derive(Clone)]
pub struct MetadataValue(triomphe::Arc<dyn DynMetadata>);

impl MetadataValue {
    /// Shares `value`.
    #[must_use]
    pub fn new<M: DynMetadata>(value: M) -> Self {
        MetadataValue(triomphe::Arc::new(value).unsize(Coercion!(to dyn DynMetadata)))
    }

    /// True when both point to the same value.
    #[must_use]
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        triomphe::Arc::ptr_eq(&a.0, &b.0)
    }

    /// The value as an `M`, if it is one.
    #[must_use]
    pub fn downcast_ref<M: Any>(&self) -> Option<&M> {
        let value: &dyn Any = &*self.0;
        value.downcast_ref()
    }

    /// True when the value is an `M`.
    #[must_use]
    pub fn is<M: Any>(&self) -> bool {
        let value: &dyn Any = &*self.0;
        value.is::<M>()
    }

    /// The value as an `M` to change in place, if it is one and no one else holds it.
    pub(crate) fn downcast_mut<M: Any>(&mut self) -> Option<&mut M> {
        let value: &mut dyn Any = triomphe::Arc::get_mut(&mut self.0)?;
        value.downcast_mut()
    }
}

impl Deref for MetadataValue {
    type Target = dyn DynMetadata;

    fn deref(&self) -> &(dyn DynMetadata + 'static) {
        &*self.0
    }
}

impl AsRef<dyn DynMetadata> for MetadataValue {
    fn as_ref(&self) -> &(dyn DynMetadata + 'static) {
        &*self.0
    }
}

impl fmt::Debug for MetadataValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `DynMetadata`'s Debug masks redacted fields.
        fmt::Debug::fmt(&*self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::JsonMetadata;

    #[test]
    fn changes_in_place_only_a_value_of_its_type_no_one_else_holds() {
        let mut value = MetadataValue::new(JsonMetadata::default());
        assert!(value.downcast_mut::<String>().is_none(), "another type");
        value
            .downcast_mut::<JsonMetadata>()
            .expect("unique, same type")
            .schema = "changed".into();
        assert_eq!(value.schema_name(), "changed");
        let held = value.clone();
        assert!(value.downcast_mut::<JsonMetadata>().is_none(), "shared");
        drop(held);
        assert!(value.downcast_mut::<JsonMetadata>().is_some());
    }
}
