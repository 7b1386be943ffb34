//! [`AtomicHistogram`]: a classic histogram whose `observe` is three atomic
//! adds. `prometheus-client`'s `Histogram` takes a mutex per observation;
//! this one is observed once per authentication and per store call by every
//! worker at once, so it stays lock-free like the counters. The sum is kept
//! in nanoseconds (durations only). A scrape reads the buckets one by one:
//! `_count` is their total, so it always equals the `+Inf` bucket.

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::exemplar::Exemplar;
use prometheus_client::metrics::{MetricType, TypedMetric};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug)]
struct Inner {
    /// Upper bounds in seconds, ascending; the `+Inf` bucket follows them.
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative), `bounds.len() + 1` of them.
    counts: Box<[AtomicU64]>,
    sum_nanos: AtomicU64,
}

/// A duration histogram with fixed buckets; clones share the data.
#[derive(Clone, Debug)]
pub struct AtomicHistogram(Arc<Inner>);

impl AtomicHistogram {
    /// Buckets with the upper bounds `bounds` (seconds, ascending) and `+Inf`.
    pub fn new(bounds: &'static [f64]) -> Self {
        AtomicHistogram(Arc::new(Inner {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
        }))
    }

    /// Records one duration.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = self
            .0
            .bounds
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(self.0.bounds.len());
        self.0.counts[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.0.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// (per-bucket counts with their upper bounds, total count, sum in seconds).
    fn snapshot(&self) -> (Vec<(f64, u64)>, u64, f64) {
        let buckets: Vec<(f64, u64)> = self
            .0
            .bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.0.counts.iter().map(|c| c.load(Ordering::Relaxed)))
            .collect();
        let count = buckets.iter().map(|b| b.1).sum();
        let sum = self.0.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        (buckets, count, sum)
    }
}

impl TypedMetric for AtomicHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for AtomicHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let (buckets, count, sum) = self.snapshot();
        encoder.encode_histogram::<NoLabelSet>(
            sum,
            count,
            &buckets,
            None::<&HashMap<usize, Exemplar<NoLabelSet, f64>>>,
        )
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_count_and_sum() {
        static B: [f64; 2] = [0.01, 0.1];
        let h = AtomicHistogram::new(&B);
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_millis(10));
        h.observe(Duration::from_millis(50));
        h.observe(Duration::from_secs(3));
        let (buckets, count, sum) = h.clone().snapshot();
        assert_eq!(buckets, vec![(0.01, 2), (0.1, 1), (f64::INFINITY, 1)]);
        assert_eq!(count, 4);
        assert!((sum - 3.065).abs() < 1e-9);
    }
}
