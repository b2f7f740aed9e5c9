//! The benchmark's plot: each run's time as a multiple of its floor, export and restore side by side,
//! with the 1.15 target marked. Plain SVG, so it renders on GitHub and needs no plotting library.

/// One bar group: a label (e.g. "local cloud, 10,000 users, uuid4") and the two ratios.
pub struct Row {
    pub label: String,
    pub export_ratio: f64,
    pub restore_ratio: f64,
}

pub const TARGET_RATIO: f64 = 1.15;
/// The axis stops here, so ratios near the target stay readable; a longer bar is cut at the edge and its
/// label still gives its value (the local cloud's first export of 100,000 users, bound by its DynamoDB).
pub const AXIS_MAX: f64 = 2.0;

pub fn ratio_chart(rows: &[Row]) -> String {
    let (left, top, bar_h, gap, width) = (330.0, 50.0, 14.0, 14.0, 420.0);
    let max = rows.iter().flat_map(|r| [r.export_ratio, r.restore_ratio]).fold(1.5_f64, f64::max).ceil().min(AXIS_MAX);
    let x = |v: f64| left + width * v.min(max) / max;
    // After the bar; inside a cut bar's end, where there is no room after it.
    let label_at = |v: f64| {
        if v > max {
            format!(r##"x="{:.1}" text-anchor="end" fill="#fff""##, x(v) - 4.0)
        } else {
            format!(r#"x="{:.1}""#, x(v) + 4.0)
        }
    };
    let height = top + rows.len() as f64 * (2.0 * bar_h + gap) + 50.0;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="22" font-size="15" font-weight="bold">Time as a multiple of the floor (1.0 = every call at its budget)</text>
"##,
        w = left + width + 30.0
    );
    for (i, r) in rows.iter().enumerate() {
        let y = top + i as f64 * (2.0 * bar_h + gap);
        svg.push_str(&format!(
            r##"<text x="10" y="{ty}">{label}</text>
<rect x="{left}" y="{y}" width="{ew:.1}" height="{bar_h}" fill="#4c78a8"/><text {ex} y="{ey}">export {e:.3}</text>
<rect x="{left}" y="{y2}" width="{rw:.1}" height="{bar_h}" fill="#f58518"/><text {rx} y="{ry}">restore {r:.3}</text>
"##,
            ty = y + bar_h + 3.0,
            label = xml_escape(&r.label),
            ew = x(r.export_ratio) - left,
            ex = label_at(r.export_ratio),
            ey = y + bar_h - 3.0,
            e = r.export_ratio,
            y2 = y + bar_h,
            rw = x(r.restore_ratio) - left,
            rx = label_at(r.restore_ratio),
            ry = y + 2.0 * bar_h - 3.0,
            r = r.restore_ratio,
        ));
    }
    let axis_y = height - 35.0;
    for tick in 0..=(max as u32 * 4) {
        let v = f64::from(tick) / 4.0;
        svg.push_str(&format!(
            r##"<line x1="{px:.1}" y1="{top}" x2="{px:.1}" y2="{axis_y}" stroke="#ddd"/><text x="{px:.1}" y="{ly}" text-anchor="middle">{v}</text>
"##,
            px = x(v),
            ly = axis_y + 15.0
        ));
    }
    svg.push_str(&format!(
        r##"<line x1="{px:.1}" y1="{top}" x2="{px:.1}" y2="{axis_y}" stroke="#d62728" stroke-dasharray="4 3"/><text x="{px:.1}" y="{ty}" fill="#d62728" text-anchor="middle">target {TARGET_RATIO}</text>
</svg>
"##,
        px = x(TARGET_RATIO),
        ty = top - 8.0
    ));
    svg
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_is_well_formed_and_shows_every_row() {
        let rows = [
            Row { label: "local cloud, 10,000 users <uuid4>".into(), export_ratio: 1.02, restore_ratio: 1.08 },
            Row { label: "simulation, 1,000,000 users".into(), export_ratio: 1.004, restore_ratio: 1.048 },
        ];
        let svg = ratio_chart(&rows);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("export 1.020") && svg.contains("restore 1.048") && svg.contains("&lt;uuid4&gt;"));
        assert_eq!(svg.matches("<rect").count(), 1 + 2 * rows.len());
    }

    #[test]
    fn a_ratio_beyond_the_axis_is_cut_at_its_edge_and_labelled_with_its_value() {
        let rows = [Row { label: "local cloud".into(), export_ratio: 8.54, restore_ratio: 1.165 }];
        let svg = ratio_chart(&rows);
        assert!(svg.contains("export 8.540"));
        assert!(svg.contains(">2</text>") && !svg.contains(">2.25</text>"), "the axis ends at {AXIS_MAX}");
        assert!(svg.contains(r#"width="420.0""#), "the long bar spans the whole axis");
    }
}
