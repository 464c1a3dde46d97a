//! Kubernetes name rules the sealing path checks before it encrypts anything.

/// A DNS-1123 subdomain (Secret and SealedSecret names): at most 253 characters of
/// lowercase alphanumerics, `-` and `.`, starting and ending alphanumeric.
pub fn check_subdomain(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 253 {
        return Err(format!("{name:?} must be 1 to 253 characters"));
    }
    for label in name.split('.') {
        check_label_chars(name, label)?;
    }
    Ok(())
}

/// A DNS-1123 label (namespaces): at most 63 lowercase alphanumerics or `-`,
/// starting and ending alphanumeric.
pub fn check_label(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 63 {
        return Err(format!("{name:?} must be 1 to 63 characters"));
    }
    check_label_chars(name, name)
}

fn check_label_chars(whole: &str, label: &str) -> Result<(), String> {
    let ok_char = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-';
    let b = label.as_bytes();
    let alnum = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if b.is_empty() || !b.iter().all(|c| ok_char(*c)) || !alnum(b.first()) || !alnum(b.last()) {
        return Err(format!(
            "{whole:?} is not a valid DNS-1123 name: lowercase letters, digits and '-' only, starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// A Secret data key: `[-._a-zA-Z0-9]+`, at most 253 characters, not `.` or `..`.
pub fn check_data_key(key: &str) -> Result<(), String> {
    let ok = !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{key:?} is not a valid Secret data key: use letters, digits, '-', '_' or '.'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains() {
        assert!(check_subdomain("db-credentials").is_ok());
        assert!(check_subdomain("a.b-c.d").is_ok());
        assert!(check_subdomain("Upper").is_err());
        assert!(check_subdomain("-lead").is_err());
        assert!(check_subdomain("a..b").is_err());
        assert!(check_subdomain(&"a".repeat(254)).is_err());
        assert!(check_subdomain("").is_err());
    }

    #[test]
    fn labels() {
        assert!(check_label("team-a").is_ok());
        assert!(check_label("team.a").is_err());
        assert!(check_label(&"a".repeat(64)).is_err());
    }

    #[test]
    fn data_keys() {
        assert!(check_data_key(".dockerconfigjson").is_ok());
        assert!(check_data_key("tls.crt").is_ok());
        assert!(check_data_key("a/b").is_err());
        assert!(check_data_key("..").is_err());
    }
}
