//! Logs and traces: `tracing` to stderr as text or JSON lines, and — when
//! `PICSHARE_OTLP_ENDPOINT` is set — every span (requests, jobs) exported over OTLP/HTTP
//! (protobuf) to a collector, from a background thread with a bounded queue: a collector that is
//! away or slow drops spans, never slows a request.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogFormat, Settings};

/// Flushes exported spans when dropped (at the end of `main`).
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(err) = provider.shutdown()
        {
            eprintln!("exporting the last spans failed: {err}");
        }
    }
}

/// Installs the process's subscriber; `role` (`serve`, `api`, `worker`, …) names the process
/// in exported traces.
pub fn init(settings: &Settings, role: &'static str) -> anyhow::Result<Telemetry> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log_level));
    let provider = match &settings.otlp_endpoint {
        Some(endpoint) => Some(tracer_provider(endpoint, role)?),
        None => None,
    };
    // Spans are exported at `info` whatever the log level: traces of requests and jobs are
    // wanted even where only warnings are logged.
    let otel = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("picshare"))
            .with_filter(LevelFilter::INFO)
    });
    let registry = tracing_subscriber::registry().with(otel);
    match settings.log_format {
        LogFormat::Json => registry
            .with(tracing_subscriber::fmt::layer().json().with_filter(filter))
            .init(),
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_filter(filter))
            .init(),
    }
    Ok(Telemetry { provider })
}

fn tracer_provider(endpoint: &str, role: &'static str) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
        .with_timeout(Duration::from_secs(5))
        .build()?;
    let resource = Resource::builder()
        .with_service_name("picshare")
        .with_attribute(KeyValue::new("picshare.role", role))
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}
