//! Streaming usage accumulation: cumulative snapshots are never summed.

use proptest::prelude::*;
use runmeta_core::metrics::adapters::gemini_usage;
use runmeta_core::metrics::{Usage, UsageAccumulator, UsageFormat, UsageReporting};
use serde_json::json;

/// The `usageMetadata` of chunk `i` (1-based) of a 50-chunk Gemini stream: the prompt is
/// repeated in every chunk and the candidates count grows.
fn gemini_chunk(i: u64) -> serde_json::Value {
    json!({
        "promptTokenCount": 1200,
        "candidatesTokenCount": 8 * i,
        "totalTokenCount": 1200 + 8 * i,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1200}]
    })
}

#[test]
fn a_50_chunk_gemini_stream_is_not_inflated() {
    let mut acc = UsageAccumulator::new(UsageReporting::Cumulative);
    let mut summed = Usage::default(); // what summing every chunk (Agno's bug) gives
    for i in 1..=50 {
        let chunk = gemini_usage(&gemini_chunk(i)).unwrap().usage;
        summed += chunk;
        acc.push(chunk);
    }
    assert_eq!(acc.chunks(), 50);
    let usage = acc.finish();
    assert_eq!(usage, Usage::new(1200, 400));
    assert_eq!(
        summed.input_tokens, 60_000,
        "the inflated figure, for contrast"
    );
}

#[test]
fn push_json_reads_the_chunk_format() {
    let mut acc = UsageAccumulator::new(UsageReporting::Cumulative);
    for i in 1..=50 {
        acc.push_json(UsageFormat::Gemini, &gemini_chunk(i))
            .unwrap();
    }
    let err = acc
        .push_json(UsageFormat::Gemini, &json!({"candidatesTokenCount": "9"}))
        .unwrap_err();
    assert_eq!(err.error.path(), "candidatesTokenCount");
    assert_eq!(acc.chunks(), 50, "a bad chunk is not pushed");
    assert_eq!(acc.finish(), Usage::new(1200, 400));
}

#[test]
fn an_anthropic_stream_is_not_inflated() {
    let mut acc = UsageAccumulator::new(UsageReporting::Cumulative);
    let start = json!({
        "type": "message_start",
        "message": {
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude-sonnet-4-5",
            "stop_reason": null,
            "stop_sequence": null,
            "usage": {
                "input_tokens": 25,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 4000,
                "output_tokens": 1
            }
        }
    });
    assert_eq!(acc.push_anthropic_event(&start), Ok(true));
    assert_eq!(
        acc.push_anthropic_event(&json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}})),
        Ok(false)
    );
    for i in 1..=48u64 {
        let delta = json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": format!("word{i} ")}});
        assert_eq!(acc.push_anthropic_event(&delta), Ok(false));
        // Some proxies interleave message_delta usage snapshots; each is cumulative.
        if i % 12 == 0 {
            let snapshot = json!({"type": "message_delta", "delta": {},
                "usage": {"output_tokens": 3 * i}});
            assert_eq!(acc.push_anthropic_event(&snapshot), Ok(true));
        }
    }
    let end = json!({
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": null},
        "usage": {"input_tokens": 25, "cache_read_input_tokens": 4000, "output_tokens": 150}
    });
    assert_eq!(acc.push_anthropic_event(&end), Ok(true));
    assert_eq!(
        acc.push_anthropic_event(&json!({"type": "message_stop"})),
        Ok(false)
    );
    let usage = acc.finish();
    assert_eq!(
        usage,
        Usage {
            input_tokens: 4025,
            output_tokens: 150,
            total_tokens: 4175,
            cache_read_tokens: 4000,
            ..Usage::default()
        }
    );
}

#[test]
fn anthropic_events_merge_as_snapshots_even_in_delta_mode() {
    let mut acc = UsageAccumulator::new(UsageReporting::Delta);
    for n in [10u64, 20, 30] {
        acc.push_anthropic_event(&json!({"type": "message_delta", "usage": {"output_tokens": n}}))
            .unwrap();
    }
    assert_eq!(acc.finish().output_tokens, 30);
}

#[test]
fn delta_streams_sum() {
    let mut acc = UsageAccumulator::new(UsageReporting::Delta);
    for _ in 0..50 {
        acc.push(Usage::new(0, 4));
    }
    acc.push(Usage::new(1200, 0));
    assert_eq!(acc.reporting(), UsageReporting::Delta);
    assert_eq!(acc.current(), Usage::new(1200, 200));
    assert_eq!(acc.finish(), Usage::new(1200, 200));
}

#[test]
fn openai_final_usage_chunk_works_in_either_mode() {
    let final_chunk = json!({"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
        "prompt_tokens_details": {"cached_tokens": 0}});
    for mode in [UsageReporting::Delta, UsageReporting::Cumulative] {
        let mut acc = UsageAccumulator::new(mode);
        acc.push_json(UsageFormat::OpenAiChat, &final_chunk)
            .unwrap();
        assert_eq!(acc.finish(), Usage::new(19, 10));
    }
}

prop_compose! {
    /// A monotone sequence of usage snapshots, each self-consistent (totals cover parts).
    fn monotone_snapshots()(steps in proptest::collection::vec(proptest::array::uniform8(0u64..500), 1..60)) -> Vec<Usage> {
        let mut acc = [0u64; 8];
        steps
            .into_iter()
            .map(|step| {
                for (a, s) in acc.iter_mut().zip(step) {
                    *a += s;
                }
                let [i, o, extra, r, cr, cw, ai, ao] = acc;
                Usage {
                    input_tokens: i + cr + cw,
                    output_tokens: o + r,
                    total_tokens: i + cr + cw + o + r + extra,
                    reasoning_tokens: r,
                    cache_read_tokens: cr,
                    cache_write_tokens: cw,
                    audio_input_tokens: ai,
                    audio_output_tokens: ao,
                    audio_total_tokens: ai + ao,
                }
            })
            .collect()
    }
}

proptest! {
    #[test]
    fn cumulative_accumulation_of_a_monotone_sequence_is_its_last_element(seq in monotone_snapshots()) {
        let mut acc = UsageAccumulator::new(UsageReporting::Cumulative);
        for u in &seq {
            acc.push(*u);
        }
        prop_assert_eq!(acc.finish(), *seq.last().unwrap());
    }

    #[test]
    fn delta_accumulation_is_the_sum(seq in monotone_snapshots()) {
        let mut acc = UsageAccumulator::new(UsageReporting::Delta);
        for u in &seq {
            acc.push(*u);
        }
        let sum = seq.iter().fold(Usage::default(), |a, u| a + *u);
        prop_assert_eq!(acc.finish(), sum);
    }
}
