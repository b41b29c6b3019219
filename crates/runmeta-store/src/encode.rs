//! A run record turned into column values, ready to bind.
//!
//! [`StoreSink`](crate::StoreSink) encodes on the caller's thread (CPU only, no I/O: about the
//! cost of cloning the record) so that the writer thread spends its time in SQLite.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::sync::Arc;

use serde_json::{Map, Value};

use runmeta_core::metrics::{ModelRole, ToolStatus, Usage};
use runmeta_core::run::{RunId, RunRecord, RunStatus};
use runmeta_core::sla::SlaPolicy;

use crate::codec::{self, int, nanos, ts_nanos};
use crate::error::StoreError;
use crate::schema::MAX_CHILDREN;

/// One model call's columns.
pub(crate) struct EncodedMessage {
    pub role: Option<Cow<'static, str>>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub started_at: Option<i64>,
    pub duration: Option<i64>,
    pub ttft: Option<i64>,
    pub usage: [i64; 9],
    pub cost: Option<i64>,
    pub extra: Option<String>,
}

/// A run's label combination: canonical JSON and its hash.
pub(crate) struct Labels {
    pub hash: u64,
    pub canonical: String,
}

/// The seed of label hashes: random per process, so label values cannot steer collisions.
fn label_hasher() -> &'static foldhash::fast::RandomState {
    static STATE: std::sync::OnceLock<foldhash::fast::RandomState> = std::sync::OnceLock::new();
    STATE.get_or_init(foldhash::fast::RandomState::default)
}

/// One tool call's columns.
pub(crate) struct EncodedToolCall {
    pub name: String,
    pub started_at: i64,
    pub duration: i64,
    pub status: &'static str,
    pub error_class: Option<String>,
}

/// One run's columns, its label combination and its children rows.
pub(crate) struct EncodedRun {
    pub run_id: RunId,
    pub parent: Option<RunId>,
    pub session: Option<Arc<str>>,
    pub agent: Cow<'static, str>,
    pub team: Option<Cow<'static, str>>,
    pub release: Option<Arc<str>>,
    pub model: Option<String>,
    pub request_model: Option<Cow<'static, str>>,
    pub started_at: i64,
    pub duration: i64,
    pub model_time: i64,
    pub ttft: Option<i64>,
    pub status: &'static str,
    pub stop_reason: Cow<'static, str>,
    pub error_class: Option<Cow<'static, str>>,
    pub usage: [i64; 9],
    pub cost: Option<i64>,
    pub children_tokens: i64,
    pub children_cost: i64,
    pub child_runs: i64,
    pub unpriced_messages: i64,
    pub tool_errors: i64,
    pub sla_breached: Option<bool>,
    pub sla_at_risk: bool,
    /// `runs.flags`: see `schema::flags`.
    pub flags: i64,
    /// The label pairs as a JSON array of `[key, value]` pairs, with its hash (computed
    /// here, on the caller's thread); `None` without labels.
    pub labels: Option<Labels>,
    /// The metadata's schema name (`meta_schema`), shared with this thread's previous run of
    /// the same schema. Not the metadata value itself: shared with the writer, the value
    /// could not be reused by the agent thread's next run, which then copied it anew.
    pub meta_schema: Option<Arc<str>>,
    pub meta_version: Option<i64>,
    pub meta_valid: Option<bool>,
    pub metadata: Option<String>,
    pub extra: Option<String>,
    pub messages: Vec<EncodedMessage>,
    pub tool_calls: Vec<EncodedToolCall>,
}

/// A model role's wire name, borrowed from a static list for the usual roles (no allocation
/// per model call), copied for others.
fn role_text(role: &ModelRole) -> Cow<'static, str> {
    const KNOWN: [&str; 4] = ["model", "output_model", "reasoning_model", "parser_model"];
    let name = role.as_str();
    KNOWN
        .iter()
        .find(|k| **k == name)
        .map_or_else(|| Cow::Owned(name.to_owned()), |k| Cow::Borrowed(*k))
}

fn usage_columns(u: &Usage) -> [i64; 9] {
    codec::usage_fields(u).map(|(_, v)| int(v))
}

fn unstorable(run: &RunRecord, message: &str) -> StoreError {
    StoreError::Unstorable {
        run_id: run.run_id.to_string(),
        message: message.to_owned(),
    }
}

const RANGE: &str = "is outside the years 1677..2262";

/// Encodes a record; fails only for a timestamp the store cannot represent.
pub(crate) fn encode(run: &RunRecord) -> Result<EncodedRun, StoreError> {
    let started_at =
        ts_nanos(run.started_at).ok_or_else(|| unstorable(run, &format!("started_at {RANGE}")))?;
    if run.messages.len() > MAX_CHILDREN || run.tool_calls.len() > MAX_CHILDREN {
        return Err(unstorable(
            run,
            &format!("a run has at most {MAX_CHILDREN} model calls and {MAX_CHILDREN} tool calls"),
        ));
    }
    let mut messages = Vec::with_capacity(run.messages.len());
    for m in &run.messages {
        let started_at = match m.started_at {
            Some(t) => Some(
                ts_nanos(t)
                    .ok_or_else(|| unstorable(run, &format!("a message's started_at {RANGE}")))?,
            ),
            None => None,
        };
        let mut extra = Map::new();
        codec::put_maps(&mut extra, &m.metrics);
        messages.push(EncodedMessage {
            role: m.model.as_ref().map(|r| role_text(&r.role)),
            provider: m.model.as_ref().map(|r| r.provider.clone()),
            model: m.model.as_ref().map(|r| r.id.clone()),
            started_at,
            duration: m.metrics.duration.map(nanos),
            ttft: m.metrics.time_to_first_token.map(nanos),
            usage: usage_columns(&m.metrics.usage),
            cost: m.metrics.cost.map(codec::cost),
            extra: json_text(extra),
        });
    }
    let mut tool_calls = Vec::with_capacity(run.tool_calls.len());
    let mut tool_errors = 0;
    for t in &run.tool_calls {
        let started_at = ts_nanos(t.started_at)
            .ok_or_else(|| unstorable(run, &format!("a tool call's started_at {RANGE}")))?;
        if matches!(t.status, ToolStatus::Error | ToolStatus::Panicked) {
            tool_errors += 1;
        }
        tool_calls.push(EncodedToolCall {
            name: t.name.clone(),
            started_at,
            duration: nanos(t.duration),
            status: t.status.as_str(),
            error_class: t.error_class.clone(),
        });
    }
    // The core's verdict with the metadata's deadline and target (no per-agent policy here).
    let sla = SlaPolicy::default().evaluate(run);
    let (meta_schema, meta_version, meta_valid, metadata) = match &run.metadata {
        Some(m) => (
            Some(schema_name(m.value.schema_name())),
            Some(i64::from(m.value.schema_version())),
            Some(m.errors.is_none()),
            metadata_text(m),
        ),
        None => (None, None, None, None),
    };
    Ok(EncodedRun {
        run_id: run.run_id,
        parent: run.parent_run_id,
        session: run.session_id.clone(),
        agent: run.agent.clone(),
        team: run.team.clone(),
        release: run.release.clone(),
        model: main_model(run),
        request_model: run.request_model.clone(),
        started_at,
        duration: nanos(run.duration),
        model_time: nanos(run.model_time),
        ttft: run.time_to_first_token.map(nanos),
        status: run.status.as_str(),
        stop_reason: run.stop_reason.clone(),
        error_class: run.error_class.clone(),
        usage: usage_columns(&run.metrics.usage),
        cost: run.metrics.cost.map(codec::cost),
        children_tokens: int(run.children_usage.total_tokens),
        children_cost: codec::cost(run.children_cost),
        child_runs: i64::from(run.child_runs),
        unpriced_messages: i64::from(run.unpriced_messages),
        tool_errors,
        sla_breached: sla.has_sla.then_some(sla.breached),
        sla_at_risk: sla.at_risk,
        flags: run_flags(run, &sla),
        labels: labels(run),
        meta_schema,
        meta_version,
        meta_valid,
        metadata,
        extra: run_extra(run),
        messages,
        tool_calls,
    })
}

/// The size of the last text of one kind this thread wrote: the next starts with that room,
/// so a run like the last one writes its text without growing the buffer (each growth is a
/// `realloc`; two a run took 10 % of encoding one). At least 64 bytes, at most 4 KiB.
struct SizeHint(Cell<usize>);

impl SizeHint {
    const fn new() -> Self {
        SizeHint(Cell::new(64))
    }

    fn get(&self) -> usize {
        self.0.get()
    }

    fn set(&self, len: usize) {
        self.0.set(len.clamp(64, 4096));
    }
}

thread_local! {
    /// The metadata text of [`metadata_text`].
    static METADATA_SIZE: SizeHint = const { SizeHint::new() };
    /// The label text of [`canonical_labels`].
    static LABELS_SIZE: SizeHint = const { SizeHint::new() };
}

/// `name` as an `Arc`, this thread's previous one when it is the same.
fn schema_name(name: &str) -> Arc<str> {
    thread_local! {
        static LAST: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
    }
    LAST.try_with(|last| {
        let mut last = last.try_borrow_mut().ok()?;
        match &*last {
            Some(same) if **same == *name => Some(Arc::clone(same)),
            _ => {
                let new: Arc<str> = Arc::from(name);
                *last = Some(Arc::clone(&new));
                Some(new)
            }
        }
    })
    .ok()
    .flatten()
    .unwrap_or_else(|| Arc::from(name))
}

/// The report's bits of a run: status code, unpriced, SLA verdict.
fn run_flags(run: &RunRecord, sla: &runmeta_core::sla::SlaOutcome) -> i64 {
    use crate::schema::flags;
    let status = match run.status {
        RunStatus::Success => 0,
        RunStatus::Error => 1,
        RunStatus::Panicked => 2,
        RunStatus::Cancelled => 3,
    };
    let unpriced =
        run.unpriced_messages > 0 || (run.metrics.cost.is_none() && !run.metrics.usage.is_zero());
    let bit = |on: bool, b: i64| if on { b } else { 0 };
    status
        | bit(unpriced, flags::UNPRICED)
        | bit(sla.has_sla, flags::HAS_SLA)
        | bit(sla.has_sla && sla.breached, flags::SLA_BREACHED)
        | bit(sla.at_risk, flags::SLA_AT_RISK)
}

/// The metadata's JSON without what other columns hold: the schema name and version
/// (`meta_schema`, `meta_version`) and the label keys (the label set). Read back by
/// `read::metadata_from_row`.
///
/// The same text as `MetadataRecord::to_json` less those keys (`errors`, `sla_deadline_key`,
/// `sla_target_key`, `values`, in that order), written directly: building the whole object
/// and removing keys again cost a third of `encode`.
fn metadata_text(m: &runmeta_core::run::MetadataRecord) -> Option<String> {
    let meta = &*m.value;
    let mut head = Map::new();
    if let Some(errors) = &m.errors {
        head.insert("errors".into(), errors.to_json());
    }
    if let Some(key) = meta.sla_deadline_key() {
        head.insert("sla_deadline_key".into(), Value::String(key.to_owned()));
    }
    if let Some(key) = meta.sla_target_key() {
        head.insert("sla_target_key".into(), Value::String(key.to_owned()));
    }
    let mut out: Vec<u8> = Vec::with_capacity(METADATA_SIZE.try_with(SizeHint::get).unwrap_or(64));
    out.push(b'{');
    for (k, v) in &head {
        serde_json::to_writer(&mut out, k).ok()?;
        out.push(b':');
        serde_json::to_writer(&mut out, v).ok()?;
        out.push(b',');
    }
    out.extend_from_slice(br#""values":"#);
    meta.write_json(&mut out).ok()?;
    out.push(b'}');
    let _ = METADATA_SIZE.try_with(|hint| hint.set(out.len()));
    String::from_utf8(out).ok()
}

fn json_text(map: Map<String, Value>) -> Option<String> {
    if map.is_empty() {
        None
    } else {
        serde_json::to_string(&map).ok()
    }
}

/// The label pairs as canonical JSON (`[["priority","high"],...]`), in the schema's order.
fn labels(run: &RunRecord) -> Option<Labels> {
    let canonical = canonical_labels(run)?;
    Some(Labels {
        hash: std::hash::BuildHasher::hash_one(label_hasher(), canonical.as_str()),
        canonical,
    })
}

fn canonical_labels(run: &RunRecord) -> Option<String> {
    let meta = run.metadata.as_ref()?;
    let mut out: Vec<u8> = Vec::with_capacity(LABELS_SIZE.try_with(SizeHint::get).unwrap_or(64));
    out.push(b'[');
    meta.value.for_each_label(&mut |k, v| {
        if out.len() > 1 {
            out.push(b',');
        }
        out.push(b'[');
        // Writing a &str to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, k);
        out.push(b',');
        let _ = serde_json::to_writer(&mut out, v);
        out.push(b']');
    });
    if out.len() == 1 {
        return None;
    }
    out.push(b']');
    let _ = LABELS_SIZE.try_with(|hint| hint.set(out.len()));
    String::from_utf8(out).ok()
}

/// The run's main model as `provider/model_id`: the first model in the role `model`, else
/// the first model seen (per-model breakdown first, then the messages).
pub(crate) fn main_model(run: &RunRecord) -> Option<String> {
    let models = run
        .per_model
        .iter()
        .map(|b| &b.model)
        .chain(run.messages.iter().filter_map(|m| m.model.as_ref()));
    let mut first = None;
    for m in models {
        if m.role == ModelRole::Model {
            return Some(format!("{}/{}", m.provider, m.id));
        }
        first.get_or_insert(m);
    }
    first.map(|m| format!("{}/{}", m.provider, m.id))
}

/// The parts of a record without a column of their own, as JSON (`None` when empty).
fn run_extra(run: &RunRecord) -> Option<String> {
    let mut extra = Map::new();
    if run.metrics.duration != Some(run.duration) {
        extra.insert(
            "metrics_duration_ns".into(),
            run.metrics
                .duration
                .map_or(Value::Null, |d| nanos(d).into()),
        );
    }
    if run.metrics.time_to_first_token != run.time_to_first_token {
        extra.insert(
            "metrics_ttft_ns".into(),
            run.metrics
                .time_to_first_token
                .map_or(Value::Null, |d| nanos(d).into()),
        );
    }
    codec::put_maps(&mut extra, &run.metrics);
    if !run.per_model.is_empty() {
        extra.insert("per_model".into(), codec::per_model_json(&run.per_model));
    }
    if !run.children_usage.is_zero() {
        extra.insert(
            "children_usage".into(),
            Value::Object(codec::usage_json(&run.children_usage)),
        );
    }
    json_text(extra)
}

#[cfg(test)]
mod tests {
    use super::*;
    use runmeta_core::metrics::{MessageMetrics, ModelRef};
    use runmeta_core::run::ModelBreakdown;

    #[test]
    fn a_schema_name_is_shared_with_the_previous_run_of_its_schema() {
        let a = schema_name("SupportRun");
        let b = schema_name("SupportRun");
        assert!(Arc::ptr_eq(&a, &b));
        let c = schema_name("BillingRun");
        assert_eq!(&*c, "BillingRun");
        assert!(
            !Arc::ptr_eq(&a, &schema_name("SupportRun")),
            "only the last is kept"
        );
    }

    #[test]
    fn size_hints_stay_between_64_bytes_and_4_kib() {
        let hint = SizeHint::new();
        assert_eq!(hint.get(), 64);
        hint.set(300);
        assert_eq!(hint.get(), 300);
        hint.set(1);
        assert_eq!(hint.get(), 64);
        hint.set(1 << 20);
        assert_eq!(hint.get(), 4096);
    }

    fn model(role: ModelRole, id: &str) -> ModelRef {
        ModelRef {
            role,
            provider: "p".into(),
            id: id.into(),
        }
    }

    #[test]
    fn the_main_model_prefers_the_model_role() {
        let mut r = RunRecord::new("a", jiff::Timestamp::UNIX_EPOCH);
        assert_eq!(main_model(&r), None);
        r.messages.push(MessageMetrics {
            model: Some(model(ModelRole::ReasoningModel, "think")),
            ..MessageMetrics::default()
        });
        assert_eq!(main_model(&r).as_deref(), Some("p/think"));
        r.per_model.push(ModelBreakdown {
            model: model(ModelRole::Model, "main"),
            ..ModelBreakdown::default()
        });
        assert_eq!(main_model(&r).as_deref(), Some("p/main"));
    }

    /// The JSON `metadata_text` writes is `MetadataRecord::to_json` less the keys other
    /// columns hold (compared as JSON: with serde_json's `preserve_order`, which `rig-core`
    /// turns on in `--all-features` builds, `to_json`'s key order differs).
    fn reference_text(m: &runmeta_core::run::MetadataRecord) -> Value {
        let Value::Object(mut map) = m.to_json() else {
            unreachable!()
        };
        for key in ["schema", "version", "labels"] {
            map.remove(key);
        }
        Value::Object(map)
    }

    fn parsed(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn metadata_text_is_to_json_less_the_columns() {
        use runmeta_core::run::{MetadataRecord, MetadataValue};
        use runmeta_core::schema::JsonMetadata;
        let mut values = Map::new();
        values.insert("priority".into(), "high".into());
        values.insert("due".into(), "2024-01-15T12:00:00Z".into());
        values.insert("target_s".into(), 2.5.into());
        values.insert("note".into(), "quote \" and \u{1F600}".into());
        let mut json = JsonMetadata {
            schema: "S".into(),
            version: 2,
            values,
            label_keys: vec!["priority".into()],
            sla_deadline_key: Some("due".into()),
            sla_target_key: Some("target_s".into()),
        };
        let record = |json: &JsonMetadata| MetadataRecord {
            value: MetadataValue::new(json.clone()),
            errors: None,
        };
        let text = metadata_text(&record(&json)).unwrap();
        assert!(text.contains("sla_deadline_key") && text.contains("sla_target_key"));
        assert_eq!(parsed(&text), reference_text(&record(&json)));
        json.sla_deadline_key = None;
        json.sla_target_key = None;
        // Without an SLA the values are written straight from the metadata.
        let r = record(&json);
        assert_eq!(parsed(&metadata_text(&r).unwrap()), reference_text(&r));
        json.values.clear();
        assert_eq!(metadata_text(&record(&json)).unwrap(), r#"{"values":{}}"#);
        let r = record(&json);
        assert_eq!(parsed(&metadata_text(&r).unwrap()), reference_text(&r));
    }

    #[test]
    fn built_in_roles_are_borrowed_and_others_copied() {
        for role in [
            ModelRole::Model,
            ModelRole::OutputModel,
            ModelRole::ReasoningModel,
            ModelRole::ParserModel,
        ] {
            let text = role_text(&role);
            assert!(matches!(text, Cow::Borrowed(_)), "{role:?}");
            assert_eq!(text, role.as_str());
        }
        let other = role_text(&ModelRole::Other("memory_model".into()));
        assert!(matches!(other, Cow::Owned(_)));
        assert_eq!(other, "memory_model");
    }

    #[test]
    fn runs_outside_the_storable_years_are_rejected() {
        let r = RunRecord::new("a", jiff::Timestamp::MAX);
        assert!(matches!(encode(&r), Err(StoreError::Unstorable { .. })));
        let ok = RunRecord::new("a", jiff::Timestamp::UNIX_EPOCH);
        let e = encode(&ok).unwrap();
        assert_eq!(e.started_at, 0);
        assert!(e.labels.is_none() && e.metadata.is_none());
    }

    #[test]
    fn runs_with_more_children_than_the_keys_hold_are_rejected() {
        let mut r = RunRecord::new("a", jiff::Timestamp::UNIX_EPOCH);
        r.messages = vec![MessageMetrics::default(); MAX_CHILDREN];
        assert_eq!(encode(&r).unwrap().messages.len(), MAX_CHILDREN);
        r.messages.push(MessageMetrics::default());
        let err = encode(&r).err().unwrap();
        assert!(err.to_string().contains("model calls"), "{err}");
    }
}
