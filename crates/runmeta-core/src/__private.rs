//! Items used by macro-generated code. Not public API: no stability guarantee.

pub use crate::__impl_enum_field;
pub use crate::schema::input::Builder;
pub use crate::schema::RegistryEntry;
pub use crate::schema::{
    against_range, check_range, deserialize_enum, enum_from_raw, parse_enum, Deadline,
    FieldDescriptor, FieldError, FieldType, FieldValue, LabelField, MetadataEnum, MetadataErrors,
    MetadataField, Problem, RawValue, RunMetadata, SchemaDescriptor, UnknownVariant, REDACTED,
};
pub use serde;
pub use std;

/// Takes a parsed field out of its slot; a missing required field is recorded (unless its
/// key already has an error: it was present, with a bad value).
#[inline]
pub fn take<T>(
    slot: Option<T>,
    absent: fn() -> Option<T>,
    key: &'static str,
    errors: &mut std::vec::Vec<FieldError>,
) -> Option<T> {
    match slot {
        Some(v) => Some(v),
        None => {
            let absent = absent();
            if absent.is_none() && !errors.iter().any(|e| e.key == key) {
                errors.push(FieldError {
                    key: key.into(),
                    problem: Problem::Missing,
                });
            }
            absent
        }
    }
}

/// The problems a generated `validate()` finds, held without a `Vec` (nothing to allocate or
/// drop) until there is one: a valid value costs its checks alone.
#[derive(Debug, Default)]
pub struct Problems(Option<std::vec::Vec<FieldError>>);

impl Problems {
    /// No problems yet.
    #[inline]
    #[must_use]
    pub const fn new() -> Self {
        Problems(None)
    }

    /// Records `result`'s problem for `key`, if it has one.
    #[inline]
    pub fn check(&mut self, key: &'static str, result: Result<(), Problem>) {
        if let Err(problem) = result {
            self.push(key, problem);
        }
    }

    #[cold]
    #[inline(never)]
    fn push(&mut self, key: &'static str, problem: Problem) {
        self.0
            .get_or_insert_with(std::vec::Vec::new)
            .push(FieldError {
                key: key.into(),
                problem,
            });
    }

    /// `Ok` with no problems, else the schema's errors in the order they were checked.
    ///
    /// # Errors
    /// The problems found, as [`MetadataErrors`] of `schema`.
    #[inline]
    pub fn finish(self, schema: &'static str) -> Result<(), MetadataErrors> {
        match self.0 {
            None => Ok(()),
            Some(errors) => Err(MetadataErrors::new(schema, errors)),
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

/// A deadline from a literal checked by `deadline!` at compile time.
#[must_use]
pub const fn deadline_const(seconds: i64, nanos: i32) -> Deadline {
    Deadline::from_timestamp(jiff::Timestamp::constant(seconds, nanos))
}

/// Debug-prints a field value without requiring `Debug` of the field's type.
pub struct DebugValue<'a>(pub FieldValue<'a>);

impl std::fmt::Debug for DebugValue<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            FieldValue::Absent => f.write_str("None"),
            FieldValue::Str(s) => std::fmt::Debug::fmt(s, f),
            FieldValue::Bool(b) => std::fmt::Debug::fmt(&b, f),
            FieldValue::Int(i) => std::fmt::Debug::fmt(&i, f),
            FieldValue::Float(x) => std::fmt::Debug::fmt(&x, f),
            FieldValue::Deadline(d) => std::fmt::Display::fmt(&d, f),
            FieldValue::Enum(e) => f.write_str(e),
        }
    }
}

/// A key of a `metadata_keys!` registry.
pub trait RegistryKey {
    /// The key's type.
    type Type;
    /// The key.
    const NAME: &'static str;
    /// The key's doc comment.
    const DOC: &'static str;
}

pub use crate::run::{
    begin, enabled, run_sync, run_sync_began, ClassProbe, Outcome, RunArgs, RunSpec, RunStatus,
    Tracked, ViaErrorClass, ViaTypeName,
};

/// The class of an error whose type the macro cannot name (`Result<T, impl Debug>`): the
/// short name of the type behind it, as [`ViaTypeName`] gives.
#[must_use]
pub fn opaque_error_class<E>(_: &E) -> ::std::borrow::Cow<'static, str> {
    ::std::borrow::Cow::Borrowed(crate::run::short_type_name::<E>())
}

/// Turns the value of `metadata = expr` into the run's metadata: validated, and copied into
/// the record the run will fill.
pub trait MetadataArg {
    /// The prepared metadata; validation errors are attached, the run is recorded either way.
    fn prepare_metadata(&self) -> crate::run::PreparedMetadata;
}

impl<M: RunMetadata + Clone + std::fmt::Debug> MetadataArg for M {
    #[inline]
    fn prepare_metadata(&self) -> crate::run::PreparedMetadata {
        crate::run::prepare_metadata(self)
    }
}

/// Picks how the derived `RunMetadata::__assign_from` copies one field ("autoref
/// specialization", as [`ClassProbe`]): `(&AssignProbe::<T>::NEW).assign(..)` with both
/// traits in scope resolves to [`AssignClone`] when `T: Clone`, else to [`AssignNone`].
pub struct AssignProbe<T>(std::marker::PhantomData<fn() -> T>);

impl<T> AssignProbe<T> {
    /// The probe.
    pub const NEW: Self = AssignProbe(std::marker::PhantomData);
}

/// The `Clone` arm of [`AssignProbe`]: the field is assigned with `clone_from`.
pub trait AssignClone<T> {
    /// True: this field can be assigned.
    fn can_assign(&self) -> bool;
    /// `*dst = src.clone()`, reusing `dst`'s allocation where `T` can.
    fn assign(&self, dst: &mut T, src: &T);
}

impl<T: Clone> AssignClone<T> for AssignProbe<T> {
    #[inline]
    fn can_assign(&self) -> bool {
        true
    }
    #[inline]
    fn assign(&self, dst: &mut T, src: &T) {
        dst.clone_from(src);
    }
}

/// The fallback arm of [`AssignProbe`]: `T` is not `Clone`, the value is cloned whole.
pub trait AssignNone<T> {
    /// False: this field cannot be assigned alone.
    fn can_assign(&self) -> bool;
    /// Does nothing (never called once `can_assign` said false).
    fn assign(&self, dst: &mut T, src: &T);
}

impl<T> AssignNone<T> for &AssignProbe<T> {
    #[inline]
    fn can_assign(&self) -> bool {
        false
    }
    #[inline]
    fn assign(&self, _dst: &mut T, _src: &T) {}
}

/// The session id of `session = expr` and the model of `model = expr` (a literal model is
/// borrowed without it): `(&TextProbe(&expr)).session_id()` or `.model_name()`, with
/// [`TextViaStr`] and [`TextViaDisplay`] in scope, takes a string as it is and formats
/// anything else ("autoref specialization", as [`ClassProbe`] does).
pub struct TextProbe<'a, T: ?Sized>(pub &'a T);

/// The string arm of [`TextProbe`].
pub trait TextViaStr {
    /// The session id.
    fn session_id(&self) -> std::sync::Arc<str>;
    /// The model, interned.
    fn model_name(&self) -> Option<std::borrow::Cow<'static, str>>;
}

impl<T: AsRef<str> + ?Sized> TextViaStr for TextProbe<'_, T> {
    #[inline]
    fn session_id(&self) -> std::sync::Arc<str> {
        crate::run::session_id_str(self.0.as_ref())
    }
    #[inline]
    fn model_name(&self) -> Option<std::borrow::Cow<'static, str>> {
        crate::run::model_name_str(self.0.as_ref())
    }
}

/// The `Display` arm of [`TextProbe`].
pub trait TextViaDisplay {
    /// The session id.
    fn session_id(&self) -> std::sync::Arc<str>;
    /// The model, interned.
    fn model_name(&self) -> Option<std::borrow::Cow<'static, str>>;
}

impl<T: std::fmt::Display + ?Sized> TextViaDisplay for &TextProbe<'_, T> {
    #[inline]
    fn session_id(&self) -> std::sync::Arc<str> {
        crate::run::session_id(self.0)
    }
    #[inline]
    fn model_name(&self) -> Option<std::borrow::Cow<'static, str>> {
        crate::run::model_name(self.0)
    }
}

/// Records the usage read off a return value by `usage = path`.
pub fn record_usage<U: Into<crate::metrics::Usage>>(usage: U) {
    crate::run::record_usage(usage);
}
