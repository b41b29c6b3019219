//! The `RunMetadata` trait that `#[derive(RunMetadata)]` implements, and its type-erased form.

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

use super::{Deadline, FieldDescriptor, FieldValue, MetadataErrors, SchemaDescriptor};

/// The text that replaces a redacted value in every output.
pub const REDACTED: &str = "[redacted]";

/// A metadata schema: a struct with `#[derive(RunMetadata)]`.
///
/// The derive generates the static [`SchemaDescriptor`], field access, validation and
/// parsing; everything else is provided here. See the crate docs of `runmeta` for the
/// attribute reference.
pub trait RunMetadata: Sized + Send + Sync + 'static {
    /// The schema's static description.
    const SCHEMA: &'static SchemaDescriptor;

    /// The value of the field at `index` in [`SchemaDescriptor::fields`].
    fn value_at(&self, index: usize) -> FieldValue<'_>;

    /// The label value of the field at `index`, or `None` if that field is not a label.
    fn label_at(&self, index: usize) -> Option<&'static str>;

    /// Checks the rules the type system does not: ranges, string length, finite floats.
    ///
    /// # Errors
    /// Every violated rule.
    fn validate(&self) -> Result<(), MetadataErrors>;

    #[doc(hidden)]
    type __Builder: super::input::Builder<Output = Self>;

    #[doc(hidden)]
    fn __index_of(key: &str) -> Option<usize>;

    /// Makes `self` equal to `source` field by field, each with its own `Clone::clone_from`
    /// (a `String` keeps its buffer): how a pooled run record takes the next run's metadata
    /// without allocating. Returns `false`, changing nothing, when a field's type is not
    /// `Clone`; the caller then clones the whole value. The derive implements it.
    #[doc(hidden)]
    fn __assign_from(&mut self, source: &Self) -> bool {
        let _ = source;
        false
    }

    /// The label pairs `(key, value)`, without allocating.
    fn labels(&self) -> Labels<'_, Self> {
        Labels {
            meta: self,
            index: 0,
        }
    }

    /// The values as JSON, redacted fields masked as [`REDACTED`], absent optional fields
    /// omitted.
    fn to_json(&self) -> Map<String, Value> {
        let mut map = Map::new();
        for (i, field) in Self::SCHEMA.fields.iter().enumerate() {
            if let Some(v) = json_of(field, self.value_at(i)) {
                map.insert(field.key.to_owned(), v);
            }
        }
        map
    }

    /// The schema as a JSON Schema (draft 2020-12) document.
    fn json_schema() -> Value {
        super::json_schema::json_schema(Self::SCHEMA)
    }

    /// Parses and validates JSON text; returns every problem at once.
    ///
    /// # Errors
    /// All problems: missing, unknown or duplicated keys, wrong types, values outside an
    /// enum or a range, bad deadlines, limits exceeded.
    fn from_json_str(json: &str) -> Result<Self, MetadataErrors> {
        super::input::from_json_str(json, super::UnknownKeys::Deny).map(|(v, _)| v)
    }

    /// Validates a `serde_json::Value`; returns every problem at once.
    ///
    /// # Errors
    /// As [`RunMetadata::from_json_str`].
    fn from_json_value(value: &Value) -> Result<Self, MetadataErrors> {
        super::input::from_json_value(value, super::UnknownKeys::Deny).map(|(v, _)| v)
    }

    /// Validates string pairs (headers, CLI flags, environment); each value is read as the
    /// field's type (`"2"` for an integer, `"true"` for a bool).
    ///
    /// # Errors
    /// As [`RunMetadata::from_json_str`].
    fn from_map<I, K, V>(pairs: I) -> Result<Self, MetadataErrors>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        super::input::from_map(pairs, super::UnknownKeys::Deny).map(|(v, _)| v)
    }
}

/// Iterator over a value's label pairs; see [`RunMetadata::labels`].
pub struct Labels<'a, M> {
    meta: &'a M,
    index: usize,
}

impl<M: RunMetadata> Iterator for Labels<'_, M> {
    type Item = (&'static str, &'static str);

    fn next(&mut self) -> Option<Self::Item> {
        let fields = M::SCHEMA.fields;
        while self.index < fields.len() {
            let i = self.index;
            self.index += 1;
            if let Some(value) = self.meta.label_at(i) {
                return Some((fields[i].key, value));
            }
        }
        None
    }
}

fn json_of(field: &FieldDescriptor, value: FieldValue<'_>) -> Option<Value> {
    if matches!(value, FieldValue::Absent) {
        return None;
    }
    if field.redact {
        return Some(Value::String(REDACTED.to_owned()));
    }
    Some(value.to_json())
}

/// A metadata value with its type erased, as run records hold it. Implemented by every
/// [`RunMetadata`] type and by [`JsonMetadata`] (metadata read back from storage).
/// Every method masks redacted fields.
pub trait DynMetadata: std::any::Any + Send + Sync + fmt::Debug {
    /// The schema's name.
    fn schema_name(&self) -> &str;
    /// The schema's version.
    fn schema_version(&self) -> u32;
    /// Calls `f` with each label pair.
    fn for_each_label(&self, f: &mut dyn FnMut(&str, &str));
    /// The value of one label.
    fn label(&self, key: &str) -> Option<&str>;
    /// The values as JSON, redacted fields masked.
    fn to_json(&self) -> Map<String, Value>;
    /// Writes the values as a JSON object — the same value as [`DynMetadata::to_json`], keys
    /// in schema order — without building the map (what a store writes per run).
    ///
    /// # Errors
    /// Only what `serde_json` reports writing to `out` (a `Vec` never fails).
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(out, &self.to_json())
    }
    /// The deadline field marked `sla_deadline`, if set.
    fn sla_deadline(&self) -> Option<Deadline>;
    /// The duration field marked `sla_target_seconds`, if set.
    fn sla_target(&self) -> Option<Duration>;
    /// The key of the field [`DynMetadata::sla_deadline`] reads, when it is set and shown
    /// (a redacted field's value is masked in any output, so no reader could use it). A
    /// record's JSON and the store name it, so that the deadline is read back from its
    /// values.
    fn sla_deadline_key(&self) -> Option<&str>;
    /// The key of the field [`DynMetadata::sla_target`] reads, when it is set and shown.
    fn sla_target_key(&self) -> Option<&str>;
}

impl<M: RunMetadata + fmt::Debug> DynMetadata for M {
    fn schema_name(&self) -> &str {
        M::SCHEMA.name
    }
    fn schema_version(&self) -> u32 {
        M::SCHEMA.version
    }
    fn for_each_label(&self, f: &mut dyn FnMut(&str, &str)) {
        for (k, v) in self.labels() {
            f(k, v);
        }
    }
    fn label(&self, key: &str) -> Option<&str> {
        let index = M::__index_of(key)?;
        self.label_at(index)
    }
    fn to_json(&self) -> Map<String, Value> {
        RunMetadata::to_json(self)
    }
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.push(b'{');
        let mut first = true;
        for (i, field) in M::SCHEMA.fields.iter().enumerate() {
            let value = self.value_at(i);
            if matches!(value, FieldValue::Absent) {
                continue;
            }
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            serde_json::to_writer(&mut *out, field.key)?;
            out.push(b':');
            match value {
                _ if field.redact => serde_json::to_writer(&mut *out, REDACTED)?,
                FieldValue::Str(s) | FieldValue::Enum(s) => serde_json::to_writer(&mut *out, s)?,
                other => serde_json::to_writer(&mut *out, &other.to_json())?,
            }
        }
        out.push(b'}');
        Ok(())
    }
    fn sla_deadline(&self) -> Option<Deadline> {
        let index = M::SCHEMA.fields.iter().position(|f| f.sla_deadline)?;
        match self.value_at(index) {
            FieldValue::Deadline(d) => Some(d),
            _ => None,
        }
    }
    fn sla_target(&self) -> Option<Duration> {
        let index = M::SCHEMA.fields.iter().position(|f| f.sla_target_seconds)?;
        self.value_at(index).as_seconds()
    }
    fn sla_deadline_key(&self) -> Option<&str> {
        let field = M::SCHEMA.fields.iter().find(|f| f.sla_deadline)?;
        (!field.redact && self.sla_deadline().is_some()).then_some(field.key)
    }
    fn sla_target_key(&self) -> Option<&str> {
        let field = M::SCHEMA.fields.iter().find(|f| f.sla_target_seconds)?;
        (!field.redact && self.sla_target().is_some()).then_some(field.key)
    }
}

/// Metadata held as JSON: read back from a store or an import, or attached without a schema.
/// Values are kept as given (masked values stay masked).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct JsonMetadata {
    /// The schema's name.
    pub schema: String,
    /// The schema's version.
    pub version: u32,
    /// The values.
    pub values: Map<String, Value>,
    /// The label keys, in schema order.
    pub label_keys: Vec<String>,
    /// The key of the SLA deadline field, if any.
    pub sla_deadline_key: Option<String>,
    /// The key of the SLA target field, if any.
    pub sla_target_key: Option<String>,
}

impl JsonMetadata {
    /// The value of label key `key` as text (`""` when it is not a string or a boolean).
    fn label_value(&self, key: &str) -> &str {
        match self.values.get(key) {
            Some(Value::String(s)) => s,
            Some(Value::Bool(true)) => "true",
            Some(Value::Bool(false)) => "false",
            _ => "",
        }
    }
}

impl DynMetadata for JsonMetadata {
    fn schema_name(&self) -> &str {
        &self.schema
    }
    fn schema_version(&self) -> u32 {
        self.version
    }
    fn for_each_label(&self, f: &mut dyn FnMut(&str, &str)) {
        // Linear in the label keys (no `label` lookup per key).
        for key in &self.label_keys {
            f(key, self.label_value(key));
        }
    }
    fn label(&self, key: &str) -> Option<&str> {
        if !self.label_keys.iter().any(|k| k == key) {
            return None;
        }
        Some(self.label_value(key))
    }
    fn to_json(&self) -> Map<String, Value> {
        self.values.clone()
    }
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(out, &self.values)
    }
    fn sla_deadline(&self) -> Option<Deadline> {
        let key = self.sla_deadline_key.as_deref()?;
        self.values.get(key)?.as_str()?.parse().ok()
    }
    fn sla_target(&self) -> Option<Duration> {
        let key = self.sla_target_key.as_deref()?;
        let secs = self.values.get(key)?.as_f64()?;
        Duration::try_from_secs_f64(secs).ok()
    }
    fn sla_deadline_key(&self) -> Option<&str> {
        self.sla_deadline().and(self.sla_deadline_key.as_deref())
    }
    fn sla_target_key(&self) -> Option<&str> {
        self.sla_target().and(self.sla_target_key.as_deref())
    }
}
