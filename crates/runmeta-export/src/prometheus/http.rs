//! A `/metrics` HTTP endpoint (feature `http`).
//!
//! Built on `tiny_http`: synchronous, no async runtime, four small dependencies, so the
//! feature adds seconds to a build rather than a runtime. One background thread answers the
//! scrapes one at a time, which suits a scraper that calls every few seconds.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::thread::JoinHandle;

use tiny_http::{Header, Method, Request, Response, Server};

use super::{Format, PrometheusExporter};

/// A running `/metrics` endpoint; see [`serve`]. Stops when dropped.
pub struct MetricsServer {
    server: Arc<Server>,
    thread: Option<JoinHandle<()>>,
    addr: SocketAddr,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl MetricsServer {
    /// The address the endpoint listens on (with the port the system chose for port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting requests, lets the request in progress finish, and waits for the
    /// server thread to end.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            // The thread only answers requests; a panic there has nothing left to clean up.
            let _ = thread.join();
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Serves `exporter`'s metrics at `http://<addr>/metrics` on a background thread.
///
/// `GET` and `HEAD` of `/metrics` answer OpenMetrics when the `Accept` header asks for it
/// (as Prometheus does) and the Prometheus text format otherwise, with the matching
/// `Content-Type`; other paths answer 404 and other methods 405.
///
/// # Errors
/// The address could not be resolved or bound.
///
/// ```
/// use std::sync::Arc;
/// use runmeta_export::prometheus::{serve, PrometheusExporter};
///
/// let exporter = Arc::new(PrometheusExporter::new());
/// let server = serve(Arc::clone(&exporter), "127.0.0.1:0")?;
/// println!("scrape http://{}/metrics", server.local_addr());
/// server.stop();
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn serve(
    exporter: Arc<PrometheusExporter>,
    addr: impl ToSocketAddrs,
) -> io::Result<MetricsServer> {
    let server = Server::http(addr).map_err(io::Error::other)?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| io::Error::other("the metrics server is not listening on an IP address"))?;
    let server = Arc::new(server);
    let thread = std::thread::Builder::new()
        .name("runmeta-metrics".to_owned())
        .spawn({
            let server = Arc::clone(&server);
            move || {
                for request in server.incoming_requests() {
                    answer(&exporter, request);
                }
            }
        })?;
    Ok(MetricsServer {
        server,
        thread: Some(thread),
        addr,
    })
}

fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn answer(exporter: &PrometheusExporter, request: Request) {
    let path = request.url().split('?').next().unwrap_or("");
    let response = if path != "/metrics" {
        Response::from_string("not found; metrics are at /metrics\n").with_status_code(404)
    } else if !matches!(request.method(), Method::Get | Method::Head) {
        let mut r = Response::from_string("method not allowed\n").with_status_code(405);
        if let Some(h) = header("Allow", "GET, HEAD") {
            r.add_header(h);
        }
        r
    } else {
        let accept = request
            .headers()
            .iter()
            .find(|h| h.field.equiv("Accept"))
            .map(|h| h.value.as_str());
        let format = Format::negotiate(accept);
        let mut r = Response::from_string(exporter.render_as(format));
        if let Some(h) = header("Content-Type", format.content_type()) {
            r.add_header(h);
        }
        r
    };
    // A client that went away needs no answer.
    let _ = request.respond(response);
}
