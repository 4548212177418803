//! AWS schedule expressions, as AWS Backup accepts them in a rule's `ScheduleExpression`:
//! `cron(minutes hours day-of-month month day-of-week year)` or `rate(value unit)`.
//!
//! AWS Backup starts at most one job an hour per rule, so minutes must be one value and a
//! rate at least an hour; anything more frequent would be refused by the API at apply time,
//! which is too late for a GitOps user to learn it.

/// What is wrong with a schedule expression, said for the user at its line.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadSchedule(String);

impl From<&str> for BadSchedule {
    fn from(s: &str) -> Self {
        BadSchedule(s.to_string())
    }
}

/// Checks an expression; the error says which part is wrong.
pub fn check(expr: &str) -> Result<(), BadSchedule> {
    if let Some(body) = expr.strip_prefix("cron(").and_then(|s| s.strip_suffix(')')) {
        check_cron(body)
    } else if let Some(body) = expr.strip_prefix("rate(").and_then(|s| s.strip_suffix(')')) {
        check_rate(body)
    } else {
        Err(BadSchedule("must be an AWS schedule expression: cron(min hour day-of-month month day-of-week year) or rate(N unit)".into()))
    }
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn check_cron(body: &str) -> Result<(), BadSchedule> {
    let fields: Vec<&str> = body.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(BadSchedule(format!(
            "cron() needs 6 fields (minutes hours day-of-month month day-of-week year), got {}",
            fields.len()
        )));
    }
    let [min, hour, dom, month, dow, year] = [
        fields[0], fields[1], fields[2], fields[3], fields[4], fields[5],
    ];
    if min.parse::<u32>().map_or(true, |m| m > 59) {
        return Err(BadSchedule(format!(
            "cron() minutes must be one value 0..59 (got {min}): AWS Backup runs a rule at most once an hour"
        )));
    }
    field(hour, "hours", 0, 23, &[])?;
    field(month, "month", 1, 12, &MONTHS)?;
    field(year, "year", 1970, 2199, &[])?;
    match (dom, dow) {
        ("?", "?") => Err("cron() day-of-month and day-of-week cannot both be ?".into()),
        ("?", _) => day_of_week(dow),
        (_, "?") => day_of_month(dom),
        _ => Err(BadSchedule(format!(
            "cron() needs ? in day-of-month or day-of-week (got {dom} and {dow})"
        ))),
    }
}

fn day_of_month(f: &str) -> Result<(), BadSchedule> {
    if f == "L" {
        return Ok(());
    }
    if let Some(d) = f.strip_suffix('W') {
        return number(d, "day-of-month", 1, 31, &[]).map(|_| ());
    }
    field(f, "day-of-month", 1, 31, &[])
}

fn day_of_week(f: &str) -> Result<(), BadSchedule> {
    if let Some((d, n)) = f.split_once('#') {
        number(d, "day-of-week", 1, 7, &DAYS)?;
        return number(n, "day-of-week occurrence", 1, 5, &[]).map(|_| ());
    }
    if let Some(d) = f.strip_suffix('L')
        && !d.is_empty()
    {
        return number(d, "day-of-week", 1, 7, &DAYS).map(|_| ());
    }
    field(f, "day-of-week", 1, 7, &DAYS)
}

/// A cron field: `*`, or a comma list of values, ranges `a-b` and steps `x/n`.
fn field(f: &str, what: &str, lo: u32, hi: u32, names: &[&str]) -> Result<(), BadSchedule> {
    if f == "*" {
        return Ok(());
    }
    for part in f.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (part, None),
        };
        if let Some(s) = step {
            number(s, what, 1, hi.max(1), &[])?;
        }
        if range == "*" {
            continue;
        }
        match range.split_once('-') {
            Some((a, b)) => {
                let a = number(a, what, lo, hi, names)?;
                let b = number(b, what, lo, hi, names)?;
                if a > b {
                    return Err(BadSchedule(format!(
                        "cron() {what} range {range} runs backwards"
                    )));
                }
            }
            None => {
                number(range, what, lo, hi, names)?;
            }
        }
    }
    Ok(())
}

fn number(s: &str, what: &str, lo: u32, hi: u32, names: &[&str]) -> Result<u32, BadSchedule> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        return Ok(lo + u32::try_from(i).unwrap_or(0));
    }
    match s.parse::<u32>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => Err(BadSchedule(format!(
            "cron() {what} must be within {lo}..{hi} (got {s})"
        ))),
    }
}

fn check_rate(body: &str) -> Result<(), BadSchedule> {
    let mut parts = body.split_whitespace();
    let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err("rate() takes a value and a unit, e.g. rate(12 hours)".into());
    };
    let n: u32 = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        BadSchedule(format!(
            "rate() value must be a positive integer (got {value})"
        ))
    })?;
    let minutes = match (unit, n) {
        ("minute", 1) | ("hour", 1) | ("day", 1) => {
            if unit == "minute" {
                1
            } else if unit == "hour" {
                60
            } else {
                1440
            }
        }
        ("minutes", n) if n > 1 => n,
        ("hours", n) if n > 1 => n * 60,
        ("days", n) if n > 1 => n * 1440,
        _ => {
            return Err(BadSchedule(format!(
                "rate() unit must be minute(s), hour(s) or day(s), singular only for 1 (got {n} {unit})"
            )));
        }
    };
    if minutes < 60 {
        return Err(BadSchedule(format!(
            "rate({n} {unit}) is more often than AWS Backup allows (at most once an hour)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_aws_examples() {
        for ok in [
            "cron(0 2 * * ? *)",
            "cron(0 5 ? * MON-FRI *)",
            "cron(30 1 1 * ? *)",
            "cron(0 0/12 * * ? *)",
            "cron(15 3 L * ? *)",
            "cron(0 4 ? * 6#3 *)",
            "cron(0 1 15W JAN,JUL ? 2026-2030)",
            "rate(1 hour)",
            "rate(12 hours)",
            "rate(90 minutes)",
            "rate(1 day)",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refuses_with_the_reason() {
        for (bad, why) in [
            ("0 2 * * *", "must be an AWS schedule expression"),
            ("cron(0 2 * * *)", "needs 6 fields"),
            (
                "cron(0 2 * * * *)",
                "needs ? in day-of-month or day-of-week",
            ),
            ("cron(0 2 ? * ? *)", "cannot both be ?"),
            ("cron(0 25 * * ? *)", "hours must be within 0..23"),
            ("cron(*/5 2 * * ? *)", "minutes must be one value"),
            ("cron(0 2 32 * ? *)", "day-of-month must be within 1..31"),
            ("cron(0 2 ? * FUNDAY *)", "day-of-week must be within 1..7"),
            ("cron(0 2 * 13 ? *)", "month must be within 1..12"),
            ("cron(0 2 * 5-3 ? *)", "runs backwards"),
            ("rate(5 minutes)", "more often than AWS Backup allows"),
            ("rate(1 hours)", "singular only for 1"),
            ("rate(0 days)", "positive integer"),
            ("rate(day)", "takes a value and a unit"),
        ] {
            let err = check(bad).expect_err(bad);
            assert!(err.to_string().contains(why), "{bad}: {err}");
        }
    }
}
