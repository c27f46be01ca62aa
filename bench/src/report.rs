//! Summarising runs into medians and printing them: a Markdown table for people,
//! JSON for tracking over time.

use std::io::Write;

use serde::Serialize;

use crate::broker::{BrokerKind, Limits};
use crate::scenario::{Compare, Figures, Load, Scenario};
use crate::stats::{self, Metric};

/// One measurement: a scenario, against one broker, in one run.
#[derive(Serialize)]
pub struct Sample {
    pub scenario: &'static str,
    pub broker: BrokerKind,
    pub run: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub figures: Option<Figures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The medians of one figure of one scenario, and their comparison.
#[derive(Serialize)]
pub struct Row {
    pub scenario: &'static str,
    pub metric: Metric,
    pub wren: Option<f64>,
    pub mosquitto: Option<f64>,
    /// What `ratio` compares wren with: "mosquitto", or the scenario whose wren
    /// figure it is divided by (wren-only scenarios).
    pub compared_with: &'static str,
    /// Above 1 means wren is better (see `stats::ratio`); for a wren-only
    /// scenario, its throughput over that of `compared_with`.
    pub ratio: Option<f64>,
    pub target: Option<String>,
    pub met: Option<bool>,
    /// Successful runs behind each median.
    pub wren_runs: usize,
    pub mosquitto_runs: usize,
}

/// Everything written to `--json`.
#[derive(Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub unix_time: u64,
    pub wren: String,
    pub mosquitto: String,
    pub runs: usize,
    pub load: Load,
    pub limits: Limits,
    pub summary: Vec<Row>,
    pub samples: Vec<Sample>,
}

/// Most message loss (median %) with which wren can still meet a throughput target.
pub const MAX_LOSS_PCT: f64 = 1.0;

/// Medians per broker of `metric` in `scenario`, over the runs that succeeded.
fn medians(samples: &[Sample], scenario: &str, metric: Metric) -> [(Option<f64>, usize); 2] {
    [BrokerKind::Wren, BrokerKind::Mosquitto].map(|broker| {
        let values: Vec<f64> = samples
            .iter()
            .filter(|s| s.scenario == scenario && s.broker == broker)
            .filter_map(|s| s.figures.as_ref()?.get(&metric).copied())
            .collect();
        (stats::median(&values), values.len())
    })
}

/// One row per figure of every scenario that ran: headline figures first, then the CPU split.
pub fn summarise(scenarios: &[&Scenario], samples: &[Sample]) -> Vec<Row> {
    let mut rows = Vec::new();
    for scenario in scenarios {
        let extra = [
            Metric::BrokerCpuS,
            Metric::GenCpuS,
            Metric::BrokerCpuUsPerMsg,
            Metric::WallS,
            Metric::Sent,
            Metric::Received,
            Metric::TcpTimeouts,
            Metric::Resent,
            Metric::Congested,
            Metric::UdpDrops,
        ];
        for &metric in scenario.headline.iter().chain(extra.iter()) {
            let [(wren, wren_runs), (mosquitto, mosquitto_runs)] =
                medians(samples, scenario.name, metric);
            if wren.is_none() && mosquitto.is_none() {
                continue;
            }
            let target = scenario
                .targets
                .iter()
                .find(|(m, _)| *m == metric)
                .map(|(_, t)| *t);
            // What wren is compared with: Mosquitto's median, or (wren-only scenarios,
            // throughput only) wren's own median in the baseline scenario.
            let (other, compared_with) = match scenario.compare {
                Compare::Mosquitto => (mosquitto, "mosquitto"),
                Compare::Wren(baseline) if metric == Metric::Throughput => {
                    (medians(samples, baseline, metric)[0].0, baseline)
                }
                Compare::Wren(baseline) => (None, baseline),
            };
            let met = match (target, wren, other) {
                (Some(t @ stats::Target::WrenAtMost(_)), Some(w), m) => {
                    Some(t.met(metric, w, m.unwrap_or(f64::NAN)))
                }
                (Some(t), Some(w), Some(m)) => Some(t.met(metric, w, m)),
                _ => None,
            };
            // Throughput bought by losing messages does not meet a throughput target.
            let lossy = metric == Metric::Throughput
                && medians(samples, scenario.name, Metric::LossPct)[0]
                    .0
                    .is_some_and(|loss| loss > MAX_LOSS_PCT);
            let met = if lossy { met.map(|_| false) } else { met };
            rows.push(Row {
                scenario: scenario.name,
                metric,
                wren,
                mosquitto,
                compared_with,
                ratio: wren
                    .zip(other)
                    .and_then(|(w, m)| stats::ratio(metric, w, m)),
                target: target.map(|t| match scenario.compare {
                    Compare::Mosquitto => t.describe(metric),
                    Compare::Wren(baseline) => format!("{} {baseline}", t.describe(metric)),
                }),
                met,
                wren_runs,
                mosquitto_runs,
            });
        }
    }
    rows
}

fn lossy(rows: &[Row], scenario: &str) -> bool {
    rows.iter()
        .find(|r| r.scenario == scenario && r.metric == Metric::LossPct)
        .and_then(|r| r.wren)
        .is_some_and(|loss| loss > MAX_LOSS_PCT)
}

fn cell(metric: Metric, value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_owned(), |v| metric.display(v))
}

/// Prints the headline table and the CPU table as Markdown.
pub fn print_tables(
    out: &mut impl Write,
    scenarios: &[&Scenario],
    rows: &[Row],
    runs: usize,
) -> std::io::Result<()> {
    writeln!(
        out,
        "\nMedians of {runs} run(s) per broker. ratio > 1 means wren is better:"
    )?;
    writeln!(
        out,
        "wren/mosquitto for msg/s and connects/s; mosquitto/wren for latency, memory and CPU."
    )?;
    writeln!(
        out,
        "A throughput target is not met when wren loses more than {MAX_LOSS_PCT}% of the messages."
    )?;
    if scenarios.iter().any(|s| s.wren_only()) {
        writeln!(
            out,
            "Scenarios marked \"wren only\" (MQTT-SN: Mosquitto has no gateway) are compared with \
             wren's own throughput in the scenario named in the ratio, from the same run."
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "| scenario | figure | wren | mosquitto | ratio | target | met |"
    )?;
    writeln!(out, "|---|---|--:|--:|--:|---|---|")?;
    for scenario in scenarios {
        for row in rows
            .iter()
            .filter(|r| r.scenario == scenario.name && scenario.headline.contains(&r.metric))
        {
            let ratio = match (row.ratio, scenario.compare) {
                (Some(r), Compare::Mosquitto) => format!("{r:.2}×"),
                (Some(r), Compare::Wren(baseline)) => format!("{r:.2}× {baseline}"),
                (None, Compare::Wren(_)) if row.metric != Metric::Throughput => String::new(),
                (None, _) => "n/a".to_owned(),
            };
            let mosquitto = if scenario.wren_only() {
                "— (wren only)".to_owned()
            } else {
                cell(row.metric, row.mosquitto)
            };
            let met = match row.met {
                Some(true) => "met",
                Some(false) if row.metric == Metric::Throughput && lossy(rows, row.scenario) => {
                    "NOT met (loss)"
                }
                Some(false) => "NOT met",
                None => "",
            };
            let expected_mosquitto_runs = if scenario.wren_only() { 0 } else { runs };
            let runs = if row.wren_runs < runs || row.mosquitto_runs < expected_mosquitto_runs {
                format!(" ({}/{} runs ok)", row.wren_runs, row.mosquitto_runs)
            } else {
                String::new()
            };
            writeln!(
                out,
                "| {} | {} | {} | {} | {ratio}{runs} | {} | {met} |",
                row.scenario,
                row.metric.label(),
                cell(row.metric, row.wren),
                mosquitto,
                row.target.as_deref().unwrap_or(""),
            )?;
        }
    }
    writeln!(
        out,
        "\nCPU split (medians; the load generator shares the 2 cores with the broker):\n"
    )?;
    writeln!(
        out,
        "| scenario | broker CPU s (wren / mosq) | loadgen CPU s (wren / mosq) | broker CPU µs per msg or conn (wren / mosq) | wall s (wren / mosq) | TCP timeouts (wren / mosq) |"
    )?;
    writeln!(out, "|---|--:|--:|--:|--:|--:|")?;
    for scenario in scenarios {
        let pair = |metric: Metric| {
            rows.iter()
                .find(|r| r.scenario == scenario.name && r.metric == metric)
                .map_or_else(
                    || "n/a".to_owned(),
                    |r| format!("{} / {}", cell(metric, r.wren), cell(metric, r.mosquitto)),
                )
        };
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            scenario.name,
            pair(Metric::BrokerCpuS),
            pair(Metric::GenCpuS),
            pair(Metric::BrokerCpuUsPerMsg),
            pair(Metric::WallS),
            pair(Metric::TcpTimeouts),
        )?;
    }
    let sn: Vec<&&Scenario> = scenarios.iter().filter(|s| s.listeners().mqttsn).collect();
    if !sn.is_empty() {
        writeln!(
            out,
            "\nMQTT-SN (medians): QoS 1 PUBLISHes sent again for want of a PUBACK, PUBACKs \"congestion\", \
             and datagrams dropped by the kernel for a full UDP receive buffer (whole machine):\n"
        )?;
        writeln!(out, "| scenario | resent | congested | UDP drops |")?;
        writeln!(out, "|---|--:|--:|--:|")?;
        for scenario in sn {
            let wren = |metric: Metric| {
                let row = rows
                    .iter()
                    .find(|r| r.scenario == scenario.name && r.metric == metric);
                cell(metric, row.and_then(|r| r.wren))
            };
            writeln!(
                out,
                "| {} | {} | {} | {} |",
                scenario.name,
                wren(Metric::Resent),
                wren(Metric::Congested),
                wren(Metric::UdpDrops),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario;

    fn sample(broker: BrokerKind, run: usize, throughput: Option<f64>) -> Sample {
        Sample {
            scenario: "fan-in-qos0",
            broker,
            run,
            figures: throughput.map(|t| Figures::from([(Metric::Throughput, t)])),
            error: throughput.is_none().then(|| "broke".to_owned()),
        }
    }

    #[test]
    fn medians_skip_failed_runs_and_targets_use_them() {
        let samples = [
            sample(BrokerKind::Wren, 0, Some(300.0)),
            sample(BrokerKind::Wren, 1, Some(100.0)),
            sample(BrokerKind::Wren, 2, None),
            sample(BrokerKind::Mosquitto, 0, Some(100.0)),
            sample(BrokerKind::Mosquitto, 1, Some(100.0)),
            sample(BrokerKind::Mosquitto, 2, Some(120.0)),
        ];
        let scenarios = [scenario::find("fan-in-qos0").unwrap()];
        let rows = summarise(&scenarios, &samples);
        let row = rows
            .iter()
            .find(|r| r.metric == Metric::Throughput)
            .unwrap();
        assert_eq!(
            (row.wren, row.mosquitto, row.ratio),
            (Some(200.0), Some(100.0), Some(2.0))
        );
        assert_eq!(
            (row.wren_runs, row.mosquitto_runs, row.met),
            (2, 3, Some(true))
        );
        let mut text = Vec::new();
        print_tables(&mut text, &scenarios, &rows, 3).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains(
                "| fan-in-qos0 | msg/s | 200 | 100 | 2.00× (2/3 runs ok) | ≥ 1.5× | met |"
            ),
            "{text}"
        );
        // Every line of each table has as many cells as its header.
        for table in text.split("\n\n").filter(|t| t.starts_with('|')) {
            let cells: Vec<usize> = table.lines().map(|l| l.matches('|').count()).collect();
            assert!(cells.windows(2).all(|w| w[0] == w[1]), "{table}");
        }
    }

    #[test]
    fn a_wren_only_scenario_is_compared_with_its_baseline() {
        let figures = |throughput: f64| Some(Figures::from([(Metric::Throughput, throughput)]));
        let samples = [
            Sample {
                scenario: "fan-in-qos1",
                broker: BrokerKind::Wren,
                run: 0,
                figures: figures(100_000.0),
                error: None,
            },
            Sample {
                scenario: "fan-in-qos1",
                broker: BrokerKind::Mosquitto,
                run: 0,
                figures: figures(30_000.0),
                error: None,
            },
            Sample {
                scenario: "sn-qos1",
                broker: BrokerKind::Wren,
                run: 0,
                figures: figures(40_000.0),
                error: None,
            },
        ];
        let scenarios = [
            scenario::find("fan-in-qos1").unwrap(),
            scenario::find("sn-qos1").unwrap(),
        ];
        let rows = summarise(&scenarios, &samples);
        let row = rows
            .iter()
            .find(|r| r.scenario == "sn-qos1" && r.metric == Metric::Throughput)
            .unwrap();
        assert_eq!(
            (row.ratio, row.met, row.compared_with),
            (Some(0.4), Some(false), "fan-in-qos1")
        );
        let mut text = Vec::new();
        print_tables(&mut text, &scenarios, &rows, 1).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains(
                "| sn-qos1 | msg/s | 40000 | — (wren only) | 0.40× fan-in-qos1 | ≥ 0.5× fan-in-qos1 | NOT met |"
            ),
            "{text}"
        );
        for table in text.split("\n\n").filter(|t| t.starts_with('|')) {
            let cells: Vec<usize> = table.lines().map(|l| l.matches('|').count()).collect();
            assert!(cells.windows(2).all(|w| w[0] == w[1]), "{table}");
        }
    }

    #[test]
    fn throughput_with_loss_does_not_meet_its_target() {
        let mut lossy = sample(BrokerKind::Wren, 0, Some(500.0));
        lossy
            .figures
            .as_mut()
            .unwrap()
            .insert(Metric::LossPct, 40.0);
        let samples = [lossy, sample(BrokerKind::Mosquitto, 0, Some(100.0))];
        let scenarios = [scenario::find("fan-in-qos0").unwrap()];
        let rows = summarise(&scenarios, &samples);
        let row = rows
            .iter()
            .find(|r| r.metric == Metric::Throughput)
            .unwrap();
        assert_eq!((row.ratio, row.met), (Some(5.0), Some(false)));
        let mut text = Vec::new();
        print_tables(&mut text, &scenarios, &rows, 1).unwrap();
        assert!(
            String::from_utf8(text)
                .unwrap()
                .contains("| NOT met (loss) |")
        );
    }
}
