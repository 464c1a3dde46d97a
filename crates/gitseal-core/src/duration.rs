//! Go's `time.ParseDuration` syntax, which both binaries' flags use (`87600h`, `1h30m`, `0`).

/// Parses a Go duration such as `87600h`, `90m`, `1h30m` or `0`.
pub fn parse_go_duration(s: &str) -> Result<time::Duration, String> {
    let bad = || format!("invalid duration {s:?}: use Go syntax like 87600h or 1h30m");
    if s == "0" {
        return Ok(time::Duration::ZERO);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        if num_len == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return Err(bad()),
        };
        total += n * secs;
        rest = &rest[unit_len..];
    }
    // Certificates can't be valid past year 9999 anyway.
    if !total.is_finite() || total > 8000.0 * 365.0 * 86400.0 {
        return Err(format!("duration {s:?} is too long"));
    }
    Ok(time::Duration::seconds_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("87600h").unwrap(), time::Duration::hours(87600));
        assert_eq!(parse_go_duration("1h30m").unwrap(), time::Duration::minutes(90));
        assert_eq!(parse_go_duration("0").unwrap(), time::Duration::ZERO);
        assert_eq!(parse_go_duration("0s").unwrap(), time::Duration::ZERO);
        assert_eq!(parse_go_duration("1.5s").unwrap(), time::Duration::milliseconds(1500));
        assert!(parse_go_duration("10d").is_err());
        assert!(parse_go_duration("h").is_err());
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration(&format!("{}h", "9".repeat(400))).is_err());
        assert!(parse_go_duration("200000000h").is_err());
    }
}
