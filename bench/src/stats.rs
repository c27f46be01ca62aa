//! What is measured, how runs are summarised (medians), and how the two brokers
//! are compared (ratios oriented so that above 1 always means wren is better).

use serde::Serialize;

/// One figure of a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Messages received by subscribers per second (first send to last receipt).
    Throughput,
    /// Messages published.
    Sent,
    /// Messages received by all subscribers together.
    Received,
    /// Percentage of expected deliveries that never arrived.
    LossPct,
    /// Publish-to-receive latency percentiles, in microseconds.
    LatencyP50Us,
    LatencyP99Us,
    LatencyP999Us,
    /// New connections (TCP + CONNECT/CONNACK) per second.
    ConnectRate,
    /// Broker RSS growth per idle connection, in bytes.
    RssPerConn,
    /// Broker RSS with no client connected, in bytes.
    IdleRss,
    /// Broker CPU seconds (user + system) during the measurement.
    BrokerCpuS,
    /// Load generator CPU seconds during the measurement.
    GenCpuS,
    /// Broker CPU microseconds per message received (or per connection when idle).
    BrokerCpuUsPerMsg,
    /// Wall-clock seconds of the measurement.
    WallS,
    /// TCP retransmission timeouts on the whole machine during the measurement:
    /// above 0, loopback packets were lost and the figures are suspect.
    TcpTimeouts,
}

impl Metric {
    /// Whether a larger value is better.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Self::Throughput | Self::ConnectRate | Self::Received)
    }

    /// Short label with unit, for the table.
    pub fn label(self) -> &'static str {
        match self {
            Self::Throughput => "msg/s",
            Self::Sent => "sent",
            Self::Received => "received",
            Self::LossPct => "loss %",
            Self::LatencyP50Us => "p50 µs",
            Self::LatencyP99Us => "p99 µs",
            Self::LatencyP999Us => "p99.9 µs",
            Self::ConnectRate => "connects/s",
            Self::RssPerConn => "RSS B/conn",
            Self::IdleRss => "idle RSS KiB",
            Self::BrokerCpuS => "broker CPU s",
            Self::GenCpuS => "loadgen CPU s",
            Self::BrokerCpuUsPerMsg => "broker CPU µs/msg",
            Self::WallS => "wall s",
            Self::TcpTimeouts => "TCP timeouts",
        }
    }

    /// The value as the table shows it (idle RSS in KiB, the rest as measured).
    pub fn display(self, value: f64) -> String {
        match self {
            Self::IdleRss => format!("{:.0}", value / 1024.0),
            Self::LossPct
            | Self::BrokerCpuS
            | Self::GenCpuS
            | Self::WallS
            | Self::BrokerCpuUsPerMsg => {
                format!("{value:.2}")
            }
            Self::LatencyP50Us | Self::LatencyP99Us | Self::LatencyP999Us => format!("{value:.0}"),
            _ => format!("{value:.0}"),
        }
    }
}

/// A goal of issue 5 for one figure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The oriented ratio (see [`ratio`]) is at least this.
    RatioAtLeast(f64),
    /// wren's median is at most this.
    WrenAtMost(f64),
}

impl Target {
    /// Whether wren's and Mosquitto's medians meet the target.
    pub fn met(self, metric: Metric, wren: f64, mosquitto: f64) -> bool {
        match self {
            Self::RatioAtLeast(min) => ratio(metric, wren, mosquitto).is_some_and(|r| r >= min),
            Self::WrenAtMost(max) => wren <= max,
        }
    }

    /// How the target reads in the table.
    pub fn describe(self, metric: Metric) -> String {
        match self {
            Self::RatioAtLeast(min) if min == 1.0 && !metric.higher_is_better() => {
                "≤ mosquitto".to_owned()
            }
            Self::RatioAtLeast(min) => format!("≥ {min}×"),
            Self::WrenAtMost(max) => format!("≤ {}", metric.display(max)),
        }
    }
}

/// wren against Mosquitto, oriented so that above 1 means wren is better:
/// wren/mosquitto for higher-is-better figures, mosquitto/wren for the rest
/// (latency, memory, CPU). `None` when the divisor is not positive.
pub fn ratio(metric: Metric, wren: f64, mosquitto: f64) -> Option<f64> {
    let (num, den) = if metric.higher_is_better() {
        (wren, mosquitto)
    } else {
        (mosquitto, wren)
    };
    (den > 0.0 && num.is_finite() && den.is_finite()).then(|| num / den)
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[f64::NAN, 5.0]), Some(5.0));
    }

    #[test]
    fn ratios_are_oriented_so_above_one_favours_wren() {
        assert_eq!(ratio(Metric::Throughput, 300.0, 100.0), Some(3.0));
        assert_eq!(ratio(Metric::LatencyP99Us, 50.0, 100.0), Some(2.0));
        assert_eq!(ratio(Metric::RssPerConn, 1400.0, 700.0), Some(0.5));
        assert_eq!(ratio(Metric::Throughput, 1.0, 0.0), None);
    }

    #[test]
    fn targets() {
        assert!(Target::RatioAtLeast(1.5).met(Metric::Throughput, 150.0, 100.0));
        assert!(!Target::RatioAtLeast(3.0).met(Metric::Throughput, 290.0, 100.0));
        assert!(Target::RatioAtLeast(1.0).met(Metric::LatencyP99Us, 90.0, 90.0));
        assert!(!Target::RatioAtLeast(1.0).met(Metric::LatencyP99Us, 91.0, 90.0));
        assert!(Target::WrenAtMost(4096.0).met(Metric::RssPerConn, 4000.0, 700.0));
        assert_eq!(
            Target::RatioAtLeast(1.0).describe(Metric::LatencyP99Us),
            "≤ mosquitto"
        );
        assert_eq!(
            Target::WrenAtMost(4096.0).describe(Metric::RssPerConn),
            "≤ 4096"
        );
    }
}
