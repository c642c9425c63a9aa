//! What the devnet measures and reports: members' CPU time, latency quantiles, the SVG plot.

use super::Tally;

/// CPU time (user + system, seconds) the processes have used so far, from /proc: the measure of
/// cost per transaction that stays meaningful on a loaded machine, where throughput does not.
/// 0 where /proc is unavailable.
pub(super) fn cpu_seconds(pids: &[u32]) -> f64 {
    // /proc reports in USER_HZ ticks, 100 per second on every Linux ABI we build for
    const TICKS_PER_S: f64 = 100.0;
    pids.iter()
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // fields after the parenthesised command name (which may contain spaces)
            let rest = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the name
            Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
        })
        .sum::<f64>()
        / TICKS_PER_S
}

/// p50 and p99 of the last `window` latencies.
pub(super) fn recent_quantiles(t: &Tally, window: usize) -> [f64; 2] {
    let v: Vec<f64> = {
        let l = t.latencies.lock().unwrap();
        l[l.len().saturating_sub(window)..]
            .iter()
            .map(|(_, x)| *x)
            .collect()
    };
    quantiles(v, [0.5, 0.99])
}

/// Nearest-rank quantiles (one sort); 0 for no samples.
pub(super) fn quantiles<const N: usize>(mut v: Vec<f64>, ps: [f64; N]) -> [f64; N] {
    v.sort_by(f64::total_cmp);
    ps.map(|p| {
        if v.is_empty() {
            return 0.0;
        }
        v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
    })
}

/// Latency (ms) of every release against the time it happened: an SVG scatter plot.
pub(super) fn plot(points: &[(f64, f64)]) -> String {
    let (w, h, m) = (900.0, 400.0, 50.0);
    let tmax = points.iter().map(|p| p.0).fold(1.0, f64::max);
    let lmax = points.iter().map(|p| p.1).fold(1.0, f64::max);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="20" text-anchor="middle">curtain devnet: submit → release latency</text>
<line x1="{m}" y1="{}" x2="{}" y2="{}" stroke="black"/><line x1="{m}" y1="{m}" x2="{m}" y2="{}" stroke="black"/>
<text x="{}" y="{}" text-anchor="middle">time (s), 0 – {tmax:.0}</text>
<text x="15" y="{}" transform="rotate(-90 15 {})" text-anchor="middle">latency (ms), 0 – {lmax:.0}</text>
"#,
        w / 2.0,
        h - m,
        w - m,
        h - m,
        h - m,
        w / 2.0,
        h - 15.0,
        h / 2.0,
        h / 2.0
    );
    // at most ~20k points keep the file small
    let step = (points.len() / 20_000).max(1);
    for p in points.iter().step_by(step) {
        let x = m + p.0 / tmax * (w - 2.0 * m);
        let y = h - m - p.1 / lmax * (h - 2.0 * m);
        s.push_str(&format!(
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="1" fill="steelblue"/>"#
        ));
    }
    s.push_str("</svg>\n");
    s
}
