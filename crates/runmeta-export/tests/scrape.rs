//! The `/metrics` endpoint: content negotiation, errors, stopping, and a real Prometheus
//! scraping it (all traffic on 127.0.0.1, every wait bounded).
#![cfg(feature = "http")]

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use runmeta_core::run::{RunStatus, Sink};
use runmeta_export::prometheus::{serve, Format, PrometheusExporter};
use serde_json::Value;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        // Loopback only: never route test traffic through a proxy from the environment.
        .proxy(None)
        .build()
        .into()
}

fn get(url: &str, accept: Option<&str>) -> (u16, String, String) {
    let mut req = agent().get(url);
    if let Some(a) = accept {
        req = req.header("Accept", a);
    }
    let mut resp = req.call().expect("GET answers");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    (status, content_type, body)
}

fn exporter_with_workload() -> Arc<PrometheusExporter> {
    let exporter = Arc::new(PrometheusExporter::new());
    for run in common::workload() {
        exporter.record(&run);
    }
    exporter
}

#[test]
fn endpoint_negotiates_the_format() {
    let exporter = exporter_with_workload();
    let server = serve(Arc::clone(&exporter), "127.0.0.1:0").expect("binds");
    let url = format!("http://{}/metrics", server.local_addr());

    let prometheus_accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let (status, ct, body) = get(&url, Some(prometheus_accept));
    assert_eq!(status, 200);
    assert_eq!(ct, Format::OpenMetrics.content_type());
    assert!(body.ends_with("# EOF\n"));
    assert_eq!(body, exporter.render());

    let (status, ct, body) = get(&url, None);
    assert_eq!(status, 200);
    assert_eq!(ct, Format::PrometheusText.content_type());
    assert!(!body.contains("# EOF"));
    assert!(body.contains("# TYPE agent_run_total counter"));

    let (status, _, _) = get(&format!("{url}?debug=1"), Some("text/plain"));
    assert_eq!(status, 200, "a query string is ignored");
    server.stop();
}

#[test]
fn endpoint_rejects_other_paths_and_methods_and_stops() {
    let exporter = Arc::new(PrometheusExporter::new());
    let server = serve(exporter, "127.0.0.1:0").expect("binds");
    let base = format!("http://{}", server.local_addr());

    let (status, _, _) = get(&format!("{base}/"), None);
    assert_eq!(status, 404);
    let (status, _, _) = get(&format!("{base}/metricsx"), None);
    assert_eq!(status, 404);

    let resp = agent()
        .post(&format!("{base}/metrics"))
        .send("x")
        .expect("POST answers");
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(
        resp.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("GET, HEAD")
    );

    let resp = agent()
        .head(&format!("{base}/metrics"))
        .call()
        .expect("HEAD answers");
    assert_eq!(resp.status().as_u16(), 200);

    let addr = server.local_addr();
    let started = Instant::now();
    server.stop();
    assert!(started.elapsed() < Duration::from_secs(5), "stop is prompt");
    let after = agent().get(&format!("http://{addr}/metrics")).call();
    assert!(after.is_err(), "nothing answers after stop");

    // Dropping a server stops it too.
    let server = serve(Arc::new(PrometheusExporter::new()), "127.0.0.1:0").expect("binds");
    let addr = server.local_addr();
    drop(server);
    assert!(agent()
        .get(&format!("http://{addr}/metrics"))
        .call()
        .is_err());
}

#[test]
fn binding_a_busy_port_is_an_error() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("binds");
    let addr = taken.local_addr().expect("has an address");
    assert!(serve(Arc::new(PrometheusExporter::new()), addr).is_err());
}

// ---------------------------------------------------------------------------------------------
// A real Prometheus.

/// A Prometheus server in a temporary directory; killed and cleaned up when dropped.
struct Prometheus {
    child: Child,
    dir: PathBuf,
    base: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binds a free port");
    l.local_addr().expect("has an address").port()
}

impl Prometheus {
    fn start(binary: &Path, target: std::net::SocketAddr) -> Prometheus {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("runmeta-prometheus-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(dir.join("data")).expect("creates the temp dir");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: runmeta\n    static_configs:\n      - targets: [\"{target}\"]\n"
        );
        std::fs::write(dir.join("prometheus.yml"), config).expect("writes the config");
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("creates the log");
        let child = Command::new(binary)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        Prometheus {
            child,
            dir,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// Waits (bounded) for `/-/ready`.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("prometheus exited ({status}):\n{}", self.log());
            }
            let ready = agent()
                .get(&format!("{}/-/ready", self.base))
                .call()
                .is_ok_and(|r| r.status().as_u16() == 200);
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("prometheus not ready within 30 s:\n{}", self.log());
    }

    /// The result vector of an instant query.
    fn query(&self, promql: &str) -> Vec<Value> {
        let mut resp = agent()
            .get(&format!("{}/api/v1/query", self.base))
            .query("query", promql)
            .call()
            .expect("query answers");
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        assert_eq!(json["status"], "success", "{promql}: {body}");
        json["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The first sample of a query as a number (`None` when empty or NaN).
    fn scalar(&self, promql: &str) -> Option<f64> {
        let result = self.query(promql);
        let v: f64 = result.first()?["value"][1].as_str()?.parse().ok()?;
        (!v.is_nan()).then_some(v)
    }

    /// Polls `promql` (bounded) until `accept` holds for its value.
    fn wait_for(&self, promql: &str, accept: impl Fn(f64) -> bool) -> f64 {
        let deadline = Instant::now() + Duration::from_secs(40);
        let mut last = None;
        while Instant::now() < deadline {
            last = self.scalar(promql);
            if let Some(v) = last.filter(|v| accept(*v)) {
                return v;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let targets = agent()
            .get(&format!("{}/api/v1/targets", self.base))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .unwrap_or_default();
        panic!(
            "{promql}: last value {last:?} never acceptable within 40 s\ntargets: {targets}\nlog:\n{}",
            self.log()
        );
    }
}

#[test]
fn a_real_prometheus_scrapes_the_endpoint() {
    let Some(binary) = common::require_program("prometheus") else {
        return;
    };
    let exporter = exporter_with_workload();
    // 100 runs of 0.5 s: all in the (0.32, 0.64] bucket.
    for _ in 0..100 {
        exporter.record(&common::run("scrape", RunStatus::Success, 500, vec![]));
    }
    let server = serve(Arc::clone(&exporter), "127.0.0.1:0").expect("binds");
    let mut prometheus = Prometheus::start(&binary, server.local_addr());
    prometheus.wait_ready();

    // Runs of 2 s keep arriving while Prometheus scrapes, so `rate` sees them.
    let stop = Arc::new(AtomicBool::new(false));
    let live = std::thread::spawn({
        let exporter = Arc::clone(&exporter);
        let stop = Arc::clone(&stop);
        move || {
            for _ in 0..3_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                exporter.record(&common::run("live", RunStatus::Success, 2_000, vec![]));
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    });

    prometheus.wait_for(r#"up{job="runmeta"}"#, |v| v == 1.0);
    let p50 = prometheus.wait_for(
        r#"histogram_quantile(0.5, sum by (le) (agent_run_duration_seconds_bucket{agent="scrape"}))"#,
        |_| true,
    );
    assert!((0.32..=0.64).contains(&p50), "p50 of 0.5 s runs: {p50}");
    let p95 = prometheus.wait_for(
        "histogram_quantile(0.95, sum by (le) (rate(agent_run_duration_seconds_bucket[1m])))",
        |v| v > 0.0,
    );
    assert!(
        (1.28..=2.56).contains(&p95),
        "p95 of the 2 s runs arriving: {p95}"
    );

    // Label values with quotes, backslashes, newlines and unicode arrive intact.
    let agents: Vec<String> = prometheus
        .query("count by (agent) (agent_run_total)")
        .iter()
        .filter_map(|s| s["metric"]["agent"].as_str().map(str::to_owned))
        .collect();
    for odd in common::ODD_AGENTS {
        assert!(agents.iter().any(|a| a == odd), "{odd:?} not in {agents:?}");
    }
    let releases = prometheus.query(r#"agent_run_total{release="rel\"ease\\1\n"}"#);
    assert_eq!(releases.len(), common::ODD_AGENTS.len());
    // Counters and the cost counter scraped with their values.
    let runs = prometheus.wait_for(r#"sum(agent_run_total{agent="scrape"})"#, |v| v > 0.0);
    assert_eq!(runs, 100.0);
    let cost = prometheus
        .scalar(r#"sum(agent_cost_total{model="gpt-4o-mini"})"#)
        .expect("cost scraped");
    assert!((cost - 40.0 * 0.0023).abs() < 1e-9, "{cost}");
    let overflow = prometheus
        .scalar("sum(runmeta_series_overflow_total)")
        .expect("overflow counters scraped");
    assert_eq!(overflow, 0.0);

    stop.store(true, Ordering::Relaxed);
    live.join().expect("live recorder");
    drop(prometheus);
    server.stop();
}
