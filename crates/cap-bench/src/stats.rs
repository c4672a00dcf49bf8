//! Median and p90 of a set of samples, and how they are printed.

use std::time::Duration;

/// The summary a table row shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub n: usize,
    pub median: Duration,
    pub p90: Duration,
}

/// Summarises samples; `None` when there are none. The median of an even count is the mean of
/// the two middle samples; p90 is the nearest-rank percentile (a sample that was observed).
pub fn summarize(samples: &[Duration]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut s = samples.to_vec();
    s.sort_unstable();
    let n = s.len();
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2
    };
    let rank = (n * 9).div_ceil(10).max(1);
    Some(Summary {
        n,
        median,
        p90: s[rank - 1],
    })
}

/// The nearest-rank percentile `p` (1..=100) of `samples` (zero when there are none).
pub fn percentile(samples: &[Duration], p: usize) -> Duration {
    let mut s = samples.to_vec();
    s.sort_unstable();
    let rank = (s.len() * p).div_ceil(100).max(1);
    s.get(rank - 1).copied().unwrap_or_default()
}

/// A duration for humans: milliseconds with precision that suits the size, seconds past one.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

/// Bytes as MiB with one decimal.
pub fn fmt_mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn median_and_p90() {
        let s = summarize(&ms(&[5, 1, 3, 2, 4, 6, 7, 8, 9, 10])).expect("samples");
        assert_eq!(s.n, 10);
        assert_eq!(s.median, Duration::from_micros(5500));
        assert_eq!(s.p90, Duration::from_millis(9));
        let one = summarize(&ms(&[7])).expect("one sample");
        assert_eq!((one.median, one.p90), (ms(&[7])[0], ms(&[7])[0]));
        assert!(summarize(&[]).is_none());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&ms, 99), Duration::from_millis(99));
        assert_eq!(percentile(&ms, 50), Duration::from_millis(50));
        assert_eq!(percentile(&[], 99), Duration::ZERO);
    }

    #[test]
    fn durations_print_with_sensible_precision() {
        assert_eq!(fmt_duration(Duration::from_micros(1234)), "1.23 ms");
        assert_eq!(fmt_duration(Duration::from_micros(12345)), "12.3 ms");
        assert_eq!(fmt_duration(Duration::from_millis(250)), "250 ms");
        assert_eq!(fmt_duration(Duration::from_millis(1254)), "1.25 s");
    }
}
