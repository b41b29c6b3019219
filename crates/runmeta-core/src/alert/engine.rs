//! Rule evaluation, hysteresis state and delivery.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex, PoisonError};

use super::{Alert, AlertMetric, AlertRule};
use crate::aggregate::group::{GroupIndex, KeyRef};
use crate::aggregate::{Aggregator, GroupBy, ReportRow, WindowSpan};
use crate::run::RunRecord;

/// Most groups whose state one rule keeps; further groups share one overflow state.
const MAX_STATES_PER_RULE: usize = 10_000;

type Callback = Box<dyn Fn(&Alert) + Send + Sync>;

enum Delivery {
    Callback(Callback),
    Channel(mpsc::Sender<Alert>),
}

/// Counters of an engine's deliveries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AlertStats {
    /// Alerts fired.
    pub fired: u64,
    /// Callback calls that panicked (the panic was contained).
    pub callback_panics: u64,
    /// Alerts not delivered because the channel's receiver was dropped.
    pub undelivered: u64,
}

/// Evaluates alert rules and delivers the alerts; shareable between threads (`&self`).
///
/// Run rules are evaluated by [`AlertEngine::observe_run`], grouped by the engine's
/// [`GroupBy`] (its tool dimension, if any, is left empty). Window rules are evaluated by
/// [`AlertEngine::evaluate_window`] on each group of a closed window's aggregator; the
/// [`AggregatorSink`](crate::aggregate::AggregatorSink) calls both for you.
///
/// Alerts are delivered after the engine's lock is released, on the calling thread. A
/// panicking callback is caught and counted ([`AlertStats::callback_panics`]); the panic
/// never reaches the caller (the process's panic hook still reports it).
pub struct AlertEngine {
    group_by: GroupBy,
    rules: Vec<AlertRule>,
    /// Per rule: whether each group is in breach (fired and not yet re-armed).
    state: Mutex<Vec<GroupIndex<bool>>>,
    delivery: Delivery,
    fired: AtomicU64,
    panics: AtomicU64,
    undelivered: AtomicU64,
}

impl std::fmt::Debug for AlertEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertEngine")
            .field("group_by", &self.group_by)
            .field("rules", &self.rules)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl AlertEngine {
    /// An engine without rules that calls `callback` with each alert.
    #[must_use]
    pub fn with_callback(
        group_by: GroupBy,
        callback: impl Fn(&Alert) + Send + Sync + 'static,
    ) -> Self {
        AlertEngine::new(group_by, Delivery::Callback(Box::new(callback)))
    }

    /// An engine without rules that sends each alert on `sender`.
    #[must_use]
    pub fn with_channel(group_by: GroupBy, sender: mpsc::Sender<Alert>) -> Self {
        AlertEngine::new(group_by, Delivery::Channel(sender))
    }

    fn new(group_by: GroupBy, delivery: Delivery) -> Self {
        AlertEngine {
            group_by,
            rules: Vec::new(),
            state: Mutex::new(Vec::new()),
            delivery,
            fired: AtomicU64::new(0),
            panics: AtomicU64::new(0),
            undelivered: AtomicU64::new(0),
        }
    }

    /// Adds a rule.
    #[must_use]
    pub fn rule(mut self, rule: AlertRule) -> Self {
        self.rules.push(rule);
        self.state
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .push(GroupIndex::default());
        self
    }

    /// The rules.
    #[must_use]
    pub fn rules(&self) -> &[AlertRule] {
        &self.rules
    }

    /// True when some rule watches runs.
    #[must_use]
    pub fn has_run_rules(&self) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r.metric, AlertMetric::Run(_)))
    }

    /// Delivery counters.
    #[must_use]
    pub fn stats(&self) -> AlertStats {
        AlertStats {
            fired: self.fired.load(Ordering::Relaxed),
            callback_panics: self.panics.load(Ordering::Relaxed),
            undelivered: self.undelivered.load(Ordering::Relaxed),
        }
    }

    /// Evaluates the run rules on one finished run.
    pub fn observe_run(&self, run: &RunRecord) {
        if !self.has_run_rules() {
            return;
        }
        let key = KeyRef::of_record(&self.group_by, run, None);
        let mut fired = Vec::new();
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            for (rule, st) in self.rules.iter().zip(state.iter_mut()) {
                let AlertMetric::Run(v) = rule.metric else {
                    continue;
                };
                let Some(value) = v.of(run) else { continue };
                if transition(rule, st, &key, value) {
                    fired.push((rule, value));
                }
            }
        }
        if fired.is_empty() {
            return;
        }
        let group = key.labels(&self.group_by);
        for (rule, value) in fired {
            self.deliver(Alert {
                rule: rule.name.to_string(),
                metric: rule.metric,
                group: group.clone(),
                value,
                threshold: rule.threshold,
                window: None,
                run_id: Some(run.run_id),
            });
        }
    }

    /// Evaluates the window rules on each group of `current` (a closed window), comparing
    /// with the same group in `previous` for the comparing statistics.
    pub fn evaluate_window(
        &self,
        current: &Aggregator,
        previous: Option<&Aggregator>,
        window: Option<WindowSpan>,
    ) {
        let window_rules = self
            .rules
            .iter()
            .any(|r| matches!(r.metric, AlertMetric::Window(_)));
        if !window_rules {
            return;
        }
        let by = current.group_by();
        let mut fired = Vec::new();
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            for e in current.entries() {
                let row = ReportRow::from_stats(Vec::new(), &e.value);
                let prev = previous
                    .and_then(|p| p.find_stats(&e.key))
                    .map(|s| ReportRow::from_stats(Vec::new(), s));
                let key = e.key_ref();
                for (rule, st) in self.rules.iter().zip(state.iter_mut()) {
                    let AlertMetric::Window(stat) = rule.metric else {
                        continue;
                    };
                    if row.run_count < rule.min_runs {
                        continue;
                    }
                    let Some(value) = stat.of(&row, prev.as_ref()) else {
                        continue;
                    };
                    if transition(rule, st, &key, value) {
                        fired.push((rule, e.labels(by), value));
                    }
                }
            }
        }
        for (rule, group, value) in fired {
            self.deliver(Alert {
                rule: rule.name.to_string(),
                metric: rule.metric,
                group,
                value,
                threshold: rule.threshold,
                window,
                run_id: None,
            });
        }
    }

    fn deliver(&self, alert: Alert) {
        self.fired.fetch_add(1, Ordering::Relaxed);
        match &self.delivery {
            Delivery::Callback(f) => {
                if catch_unwind(AssertUnwindSafe(|| f(&alert))).is_err() {
                    self.panics.fetch_add(1, Ordering::Relaxed);
                }
            }
            Delivery::Channel(tx) => {
                if tx.send(alert).is_err() {
                    self.undelivered.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Applies one value to a group's state; true when the rule fires.
fn transition(rule: &AlertRule, st: &mut GroupIndex<bool>, key: &KeyRef<'_>, value: f64) -> bool {
    let index = match st.find(key) {
        Some(i) => i,
        None if st.len() < MAX_STATES_PER_RULE => st.insert(key, false),
        None => {
            let o = KeyRef::overflow(key.values().len());
            match st.find(&o) {
                Some(i) => i,
                None => st.insert(&o, false),
            }
        }
    };
    let Some(in_breach) = st.get_mut(index) else {
        return false;
    };
    if *in_breach {
        if value <= rule.clear_threshold {
            *in_breach = false;
        }
        false
    } else if value > rule.threshold {
        *in_breach = true;
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn panicking_callback_is_contained_and_counted() {
        let engine = AlertEngine::with_callback(GroupBy::none(), |_| panic!("boom")).rule(
            crate::alert::AlertRule::run("tokens", crate::alert::RunValue::TotalTokens, 10.0),
        );
        let mut run = RunRecord::new("a", jiff::Timestamp::UNIX_EPOCH);
        run.metrics.usage = crate::metrics::Usage::new(100, 0);
        engine.observe_run(&run);
        assert_eq!(engine.stats().callback_panics, 1);
        assert_eq!(engine.stats().fired, 1);
    }

    #[test]
    fn closed_channel_counts_undelivered() {
        let (tx, rx) = mpsc::channel();
        drop(rx);
        let engine = AlertEngine::with_channel(GroupBy::none(), tx).rule(
            crate::alert::AlertRule::run("slow", crate::alert::RunValue::DurationSeconds, 1.0),
        );
        let mut run = RunRecord::new("a", jiff::Timestamp::UNIX_EPOCH);
        run.duration = Duration::from_secs(2);
        engine.observe_run(&run);
        assert_eq!(engine.stats().undelivered, 1);
        let _ = Arc::new(engine);
    }
}
