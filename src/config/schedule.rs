//! Converting a job's EventBridge schedule (`cron(...)`, `rate(...)`, UTC) into the 5-field
//! cron of a Kubernetes CronJob (run with `timeZone: Etc/UTC`). Pure. What a 5-field cron
//! cannot say is an error with the reason; the syntax itself is `validate::check_schedule`'s.

/// The CronJob schedule of an EventBridge expression that `validate::check_schedule` accepts.
pub fn to_kubernetes(schedule: &str) -> Result<String, String> {
    if let Some(inner) = schedule.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        return rate(inner);
    }
    let Some(inner) = schedule.strip_prefix("cron(").and_then(|r| r.strip_suffix(')')) else {
        return Err("a schedule is `cron(...)` or `rate(...)`".into());
    };
    let fields: Vec<&str> = inner.split_whitespace().collect();
    let [min, hour, dom, month, dow, year] = fields[..] else {
        return Err(format!("a cron expression has 6 fields, found {}", fields.len()));
    };
    if year != "*" {
        return Err(format!("the year field `{year}` has no equivalent: a Kubernetes cron has no year (use `*`)"));
    }
    // `L`, `W` (day of month) and `L`, `#` (weekday) have no cron equivalent; month and
    // weekday names (`JUL`, `WED`) are not those letters.
    let dow_numbers = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
        .iter()
        .fold(dow.to_ascii_uppercase(), |rest, day| rest.replace(day, "1"));
    for (name, f, rest) in [("day-of-month", dom, dom.to_ascii_uppercase()), ("day-of-week", dow, dow_numbers)] {
        if let Some(c) = rest.chars().find(|c| matches!(c, 'L' | 'W' | '#')) {
            return Err(format!("`{c}` in the {name} field (`{f}`) has no equivalent in a Kubernetes cron"));
        }
    }
    let any = |f: &str| if f == "?" { "*".to_string() } else { f.to_string() };
    Ok(format!("{} {} {} {} {}", any(min), any(hour), any(dom), any(month), weekdays(dow)?))
}

/// EventBridge numbers weekdays 1 (SUN) to 7 (SAT), cron 0 (SUN) to 6 (SAT); names pass as
/// they are, step sizes are not weekdays.
fn weekdays(field: &str) -> Result<String, String> {
    if field == "?" || field == "*" {
        return Ok("*".into());
    }
    let mut out = Vec::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        let shifted: Vec<String> = range
            .split('-')
            .map(|v| match v.parse::<u32>() {
                Ok(n) if (1..=7).contains(&n) => Ok((n - 1).to_string()),
                Ok(n) => Err(format!("weekday {n} is out of range (1-7)")),
                Err(_) => Ok(v.to_string()),
            })
            .collect::<Result<_, _>>()?;
        let mut s = shifted.join("-");
        if let Some(step) = step {
            s = format!("{s}/{step}");
        }
        out.push(s);
    }
    Ok(out.join(","))
}

/// `rate(N unit)` as the cron that fires at the same times: only rates that divide their
/// next larger unit evenly do (`*/7` minutes would restart at every full hour).
fn rate(inner: &str) -> Result<String, String> {
    let mut parts = inner.split_whitespace();
    let (Some(n), Some(unit)) = (parts.next(), parts.next()) else {
        return Err("a rate is `rate(VALUE UNIT)`".into());
    };
    let n: u32 = n.parse().map_err(|_| format!("`{n}` is not a positive whole number"))?;
    match (unit.trim_end_matches('s'), n) {
        ("minute", 1) => Ok("* * * * *".into()),
        ("minute", n) if 60 % n == 0 => Ok(format!("*/{n} * * * *")),
        ("minute", n) => Err(format!(
            "every {n} minutes does not divide an hour, so a cron cannot say it; use a divisor of 60 (e.g. 5, 10, 15, 20, 30)"
        )),
        ("hour", 1) => Ok("0 * * * *".into()),
        ("hour", n) if 24 % n == 0 => Ok(format!("0 */{n} * * *")),
        ("hour", n) => Err(format!(
            "every {n} hours does not divide a day, so a cron cannot say it; use a divisor of 24 (e.g. 2, 3, 4, 6, 8, 12)"
        )),
        ("day", 1) => Ok("0 0 * * *".into()),
        ("day", n) => Err(format!(
            "every {n} days cannot be said by a cron (months have different lengths); use `rate(1 day)` or a `cron(...)` with weekdays"
        )),
        (u, _) => Err(format!("unknown unit `{u}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::to_kubernetes;

    #[test]
    fn cron_expressions_drop_the_year_and_question_marks() {
        for (aws, kube) in [
            ("cron(0 3 * * ? *)", "0 3 * * *"),
            ("cron(15 10 ? * MON-FRI *)", "15 10 * * MON-FRI"),
            ("cron(0/15 * * * ? *)", "0/15 * * * *"),
            ("cron(0 8 1 JAN,JUL ? *)", "0 8 1 JAN,JUL *"),
            ("cron(0 9 ? * WED *)", "0 9 * * WED"),
        ] {
            assert_eq!(to_kubernetes(aws).as_deref(), Ok(kube), "{aws}");
        }
    }

    #[test]
    fn weekday_numbers_shift_from_sunday_one_to_sunday_zero() {
        assert_eq!(to_kubernetes("cron(0 12 ? * 1 *)").as_deref(), Ok("0 12 * * 0"));
        assert_eq!(to_kubernetes("cron(0 12 ? * 2-6 *)").as_deref(), Ok("0 12 * * 1-5"));
        assert_eq!(to_kubernetes("cron(0 12 ? * 1,7 *)").as_deref(), Ok("0 12 * * 0,6"));
        assert_eq!(to_kubernetes("cron(0 12 ? * 2/2 *)").as_deref(), Ok("0 12 * * 1/2"), "a step is not a weekday");
    }

    #[test]
    fn rates_become_crons_when_they_divide_the_next_unit() {
        for (aws, kube) in [
            ("rate(1 minute)", "* * * * *"),
            ("rate(15 minutes)", "*/15 * * * *"),
            ("rate(1 hour)", "0 * * * *"),
            ("rate(6 hours)", "0 */6 * * *"),
            ("rate(1 day)", "0 0 * * *"),
        ] {
            assert_eq!(to_kubernetes(aws).as_deref(), Ok(kube), "{aws}");
        }
    }

    #[test]
    fn what_a_five_field_cron_cannot_say_is_refused_with_the_reason() {
        for (aws, why) in [
            ("rate(7 minutes)", "does not divide an hour"),
            ("rate(5 hours)", "does not divide a day"),
            ("rate(2 days)", "cannot be said by a cron"),
            ("cron(0 3 * * ? 2027)", "has no year"),
            ("cron(0 3 L * ? *)", "`L` in the day-of-month field"),
            ("cron(0 3 ? * 6#3 *)", "`#` in the day-of-week field"),
            ("cron(0 3 ? * 6L *)", "`L` in the day-of-week field"),
            ("cron(0 3 15W * ? *)", "`W` in the day-of-month field"),
        ] {
            let err = to_kubernetes(aws).expect_err(aws);
            assert!(err.contains(why), "{aws}: {err}");
        }
    }
}
