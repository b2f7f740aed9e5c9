//! What a command prints: text for people, or JSON with `--json` (stdout either way; progress and
//! prompts go to stderr).

use crate::context::Context;

pub fn emit(ctx: &Context, text: &str, json: &serde_json::Value) {
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(json).unwrap_or_default());
    } else {
        print!("{text}");
    }
}

/// A duration for people: "3 h 12 min", "45 s".
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86400, (s % 86400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_naturally() {
        assert_eq!(super::duration(45.2), "45 s");
        assert_eq!(super::duration(3725.0), "1 h 2 min");
        assert_eq!(super::duration(200_000.0), "2 d 7 h");
    }
}
