//! The figures of one run, printed again at its end as a Markdown table
//! (the README's benchmark table is made of these).

use std::sync::Mutex;

struct Row {
    what: String,
    ratio: f64,
    goal: String,
    verdict: &'static str,
}

static ROWS: Mutex<Vec<Row>> = Mutex::new(Vec::new());

/// Keeps one figure for the table.
pub fn record(what: &str, ratio: f64, goal: &str, verdict: &'static str) {
    let row = Row {
        what: what.to_string(),
        ratio,
        goal: goal.to_string(),
        verdict,
    };
    ROWS.lock().unwrap_or_else(|e| e.into_inner()).push(row);
}

/// A ratio with three significant digits (small ones too: 1/1000).
pub fn shown(x: f64) -> String {
    if x != 0.0 && x.abs() < 0.1 {
        format!("{x:.2e}")
    } else {
        format!("{x:.3}")
    }
}

/// Prints every figure kept, as a Markdown table.
pub fn print(sessions: usize) {
    let rows = ROWS.lock().unwrap_or_else(|e| e.into_inner());
    let misses = rows.iter().filter(|r| r.verdict == "MISS").count();
    println!("\n## Summary ({sessions} sessions): {misses} MISS\n");
    println!("| figure | measured | target | |");
    println!("| --- | --- | --- | --- |");
    for r in rows.iter() {
        let measured = if r.ratio.is_nan() {
            "—".to_string()
        } else {
            shown(r.ratio)
        };
        println!("| {} | {measured} | {} | {} |", r.what, r.goal, r.verdict);
    }
}
