//! The `tracing` feature: each run is an `invoke_agent {agent}` span with OpenTelemetry GenAI
//! attributes, each tool call an `execute_tool {name}` child span. Checked with a capturing
//! subscriber layer.
#![cfg(feature = "tracing")]
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use runmeta::metrics::{ModelRef, Usage};
use runmeta::prelude::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

#[derive(Clone, Debug, Default)]
struct CapturedSpan {
    name: String,
    parent: Option<String>,
    fields: BTreeMap<String, String>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<BTreeMap<u64, CapturedSpan>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_owned(),
            format!("{value:?}").trim_matches('"').to_owned(),
        );
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut span = CapturedSpan {
            name: attrs.metadata().name().to_owned(),
            ..CapturedSpan::default()
        };
        attrs.record(&mut Fields(&mut span.fields));
        span.parent = ctx
            .span(id)
            .and_then(|s| s.parent())
            .map(|p| p.name().to_owned());
        self.0.lock().unwrap().insert(id.into_u64(), span);
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        if let Some(span) = self.0.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Fields(&mut span.fields));
        }
    }
}

#[derive(Clone, RunMetadata)]
struct Meta {
    #[run_metadata(label)]
    tier: CustomerTier,
    #[run_metadata(redact)]
    customer_id: String,
}

#[derive(Debug)]
struct LookupFailed;

#[track_run(agent = "spanned", metadata = meta, session = "sess-9", model = "gpt-4o-mini")]
fn spanned(meta: &Meta) -> Result<(), LookupFailed> {
    let call = runmeta::ModelCall::start(ModelRef::new("openai", "gpt-4o-mini"));
    call.finish(Usage {
        cache_read_tokens: 40,
        reasoning_tokens: 7,
        ..Usage::new(120, 30)
    });
    let _: Result<u8, LookupFailed> = runmeta::tool("lookup", || Err(LookupFailed));
    Err(LookupFailed)
}

/// Declares no model: the span has no requested one, only the one that answered.
#[track_run(agent = "unrequested")]
fn unrequested() {
    runmeta::ModelCall::start(ModelRef::new("anthropic", "claude-sonnet-4-5"))
        .finish(Usage::new(5, 1));
}

#[test]
fn runs_and_tools_become_genai_spans() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    tracing::subscriber::set_global_default(subscriber)
        .expect("one subscriber in this test binary");
    Collector::builder()
        .sink(InMemorySink::new(10))
        .build()
        .install()
        .expect("one collector");

    let meta = Meta {
        tier: CustomerTier::Enterprise,
        customer_id: "SECRET-cust".into(),
    };
    assert!(spanned(&meta).is_err());

    let spans = capture.0.lock().unwrap().clone();
    let run = spans
        .values()
        .find(|s| s.name == "invoke_agent")
        .expect("a run span");
    let f = &run.fields;
    assert_eq!(f["otel.name"], "invoke_agent spanned");
    assert_eq!(f["gen_ai.operation.name"], "invoke_agent");
    assert_eq!(f["gen_ai.agent.name"], "spanned");
    assert_eq!(f["gen_ai.request.model"], "gpt-4o-mini");
    assert_eq!(f["gen_ai.response.model"], "gpt-4o-mini");
    assert_eq!(f["gen_ai.provider.name"], "openai");
    assert_eq!(f["gen_ai.conversation.id"], "sess-9");
    assert_eq!(f["gen_ai.usage.input_tokens"], "120");
    assert_eq!(f["gen_ai.usage.output_tokens"], "30");
    assert_eq!(f["gen_ai.usage.cache_read.input_tokens"], "40");
    assert_eq!(f["gen_ai.usage.reasoning.output_tokens"], "7");
    assert_eq!(f["error.type"], "LookupFailed");
    assert_eq!(f["runmeta.labels"], "tier=enterprise");
    assert_eq!(f["runmeta.status"], "error");

    let tool = spans
        .values()
        .find(|s| s.name == "execute_tool")
        .expect("a tool span");
    assert_eq!(
        tool.parent.as_deref(),
        Some("invoke_agent"),
        "tool spans are children of the run span"
    );
    assert_eq!(tool.fields["otel.name"], "execute_tool lookup");
    assert_eq!(tool.fields["gen_ai.tool.name"], "lookup");
    assert_eq!(tool.fields["error.type"], "LookupFailed");

    let everything = format!("{spans:?}");
    assert!(
        !everything.contains("SECRET-cust"),
        "redacted values never reach spans"
    );

    unrequested();
    let spans = capture.0.lock().unwrap().clone();
    let run = spans
        .values()
        .find(|s| s.fields.get("gen_ai.agent.name").map(String::as_str) == Some("unrequested"))
        .expect("the second run's span");
    assert!(!run.fields.contains_key("gen_ai.request.model"), "{run:?}");
    assert_eq!(run.fields["gen_ai.response.model"], "claude-sonnet-4-5");
    assert_eq!(run.fields["gen_ai.provider.name"], "anthropic");
}
