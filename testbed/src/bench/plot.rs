//! The bench plot (SVG, plotters): throughput vs concurrency and p99 latency
//! vs concurrency, one line per (server, method), log-scaled concurrency axis.

use super::{Machine, Point, ServerKind};
use crate::loadgen::MethodArg;
use plotters::prelude::*;
use std::path::Path;

fn series(results: &[Point], server: ServerKind, method: MethodArg) -> Vec<&Point> {
    let mut v: Vec<&Point> = results
        .iter()
        .filter(|p| p.server == server && p.method == method)
        .collect();
    v.sort_by_key(|p| p.concurrency);
    v
}

fn style(server: ServerKind, method: MethodArg) -> ShapeStyle {
    let color = match (server, method) {
        (ServerKind::AaaServer, MethodArg::AkaPrime) => RGBColor(0x1f, 0x77, 0xb4),
        (ServerKind::AaaServer, MethodArg::Aka) => RGBColor(0x6b, 0xae, 0xd6),
        (ServerKind::Hostapd, MethodArg::AkaPrime) => RGBColor(0xd6, 0x27, 0x28),
        (ServerKind::Hostapd, MethodArg::Aka) => RGBColor(0xff, 0x98, 0x96),
        (ServerKind::AaaServer, MethodArg::Sim) => RGBColor(0x2c, 0xa0, 0x2c),
        (ServerKind::Hostapd, MethodArg::Sim) => RGBColor(0x98, 0xdf, 0x8a),
    };
    color.stroke_width(2)
}

type Panel<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// Draws the lines of every (server, method) into `chart`.
macro_rules! draw_lines {
    ($chart:expr, $results:expr, $value:expr, $e:expr) => {{
        for server in [ServerKind::AaaServer, ServerKind::Hostapd] {
            for method in [MethodArg::AkaPrime, MethodArg::Aka, MethodArg::Sim] {
                let pts = series($results, server, method);
                if pts.is_empty() {
                    continue;
                }
                let st = style(server, method);
                let label = format!("{} {}", server.name(), method.name());
                $chart
                    .draw_series(LineSeries::new(
                        pts.iter().map(|p| (p.concurrency as f64, $value(p))),
                        st,
                    ))
                    .map_err(|x| $e(&x))?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], st));
            }
        }
        $chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|x| $e(&x))?;
    }};
}

/// Throughput: linear y.
fn throughput_panel(area: &Panel<'_>, results: &[Point]) -> Result<(), String> {
    let e = |x: &dyn std::fmt::Display| format!("plot: {x}");
    let max_c = results
        .iter()
        .map(|p| p.concurrency)
        .max()
        .unwrap_or(1)
        .max(2) as f64;
    let max_y = results
        .iter()
        .map(|p| p.auths_per_sec)
        .fold(0.0f64, f64::max)
        .max(1e-3)
        * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption("Throughput", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((1f64..max_c).log_scale(), 0f64..max_y)
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_desc("concurrency (authentications in flight)")
        .y_desc("full authentications / s")
        .draw()
        .map_err(|x| e(&x))?;
    draw_lines!(chart, results, |p: &Point| p.auths_per_sec, e);
    Ok(())
}

/// p99 latency: log y (hostapd's seconds and our sub-milliseconds on one plot).
fn latency_panel(area: &Panel<'_>, results: &[Point]) -> Result<(), String> {
    let e = |x: &dyn std::fmt::Display| format!("plot: {x}");
    let max_c = results
        .iter()
        .map(|p| p.concurrency)
        .max()
        .unwrap_or(1)
        .max(2) as f64;
    let p99 = |p: &Point| p.latency.p99_ms.max(0.01);
    let max_y = results.iter().map(p99).fold(0.02f64, f64::max) * 2.0;
    let min_y = results
        .iter()
        .map(p99)
        .fold(f64::MAX, f64::min)
        .min(max_y / 4.0)
        / 2.0;
    let mut chart = ChartBuilder::on(area)
        .caption("p99 latency (log scale)", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((1f64..max_c).log_scale(), (min_y..max_y).log_scale())
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_desc("concurrency (authentications in flight)")
        .y_desc("p99 ms per authentication")
        .draw()
        .map_err(|x| e(&x))?;
    draw_lines!(chart, results, p99, e);
    Ok(())
}

/// Writes the two panels side by side to `path`.
pub fn write_svg(path: &Path, results: &[Point], machine: &Machine) -> Result<(), String> {
    let e = |x: &dyn std::fmt::Display| format!("plot {}: {x}", path.display());
    let root = SVGBackend::new(path, (1200, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let root = root
        .titled(
            &format!(
                "EAP-AKA/AKA' over RADIUS on loopback: aaa-server vs hostapd — {} cores, {}",
                machine.cores, machine.cpu_model
            ),
            ("sans-serif", 16),
        )
        .map_err(|x| e(&x))?;
    let (left, right) = root.split_horizontally(600);
    throughput_panel(&left, results)?;
    latency_panel(&right, results)?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadgen::Latency;

    #[test]
    fn writes_an_svg_with_both_servers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.svg");
        let mk = |server, c, r| Point {
            server,
            method: MethodArg::AkaPrime,
            concurrency: c,
            auths_per_sec: r,
            latency: Latency {
                p50_ms: 1.0,
                p90_ms: 1.5,
                p99_ms: 2.0,
                max_ms: 3.0,
            },
            failures: 0,
            failures_by_reason: Default::default(),
            requests_per_sec: 2.0 * r,
            server_rss_kib: 1,
            server_peak_rss_kib: 1,
            hlr_gw_rss_kib: None,
            loadgen_cpu_percent: 10.0,
            server_cpu_us_per_auth: None,
            hlr_gw_cpu_us_per_auth: None,
        };
        let results = vec![
            mk(ServerKind::AaaServer, 1, 500.0),
            mk(ServerKind::AaaServer, 64, 5000.0),
            mk(ServerKind::Hostapd, 1, 150.0),
            mk(ServerKind::Hostapd, 64, 200.0),
        ];
        let m = super::super::machine(None, Path::new("aaa-server"));
        write_svg(&path, &results, &m).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..100.min(svg.len())]);
        assert!(svg.contains("aaa-server aka-prime") && svg.contains("hostapd aka-prime"));
        assert!(svg.contains("<polyline"));
    }
}
