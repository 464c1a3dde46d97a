use std::collections::BTreeMap;

use crate::{Error, render};

fn data() -> BTreeMap<String, Vec<u8>> {
    [
        ("user", b"admin".as_slice()),
        ("pass", b"hunter2"),
        ("tls.crt", b"CERT"),
        ("padded", b"  spaced\n"),
        ("html", b"<a&b>"),
        ("empty", b""),
        ("bin", &[0xff, 0x00, b'a']),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_vec()))
    .collect()
}

fn r(src: &str) -> String {
    String::from_utf8(render(src, &data()).unwrap_or_else(|e| panic!("{src}: {e}"))).unwrap()
}

#[test]
fn field_access_and_text() {
    assert_eq!(
        r("postgres://{{ .user }}:{{ .pass }}@db/app"),
        "postgres://admin:hunter2@db/app"
    );
    assert_eq!(r("no actions"), "no actions");
    assert_eq!(r("{{ $.user }}"), "admin");
}

/// Go's default missingkey: a missing field is an invalid value that prints
/// "<no value>", is false, reaches interface{} parameters as nil and is an error
/// for string parameters. `index` returns the map's zero value instead.
#[test]
fn missing_keys_behave_like_go() {
    assert_eq!(r("[{{ .nope }}]"), "[<no value>]");
    assert_eq!(r("[{{ index . \"nope\" }}]"), "[]");
    assert_eq!(r("{{ .nope | default \"d\" }}"), "d");
    assert_eq!(r("{{ if .nope }}y{{ else }}n{{ end }}"), "n");
    assert_eq!(r("{{ toJson .nope }}"), "null");
    assert_eq!(r("{{ printf \"%s|%v\" .nope .nope }}"), "%!s(<nil>)|<nil>");
    assert!(
        render("{{ .nope | upper }}", &data())
            .unwrap_err()
            .to_string()
            .contains("invalid value; expected string")
    );
}

#[test]
fn work_and_output_are_bounded() {
    let d = data();
    assert!(render("{{ range 9223372036854775807 }}{{ end }}", &d).is_err());
    assert!(render("{{ indent 9223372036854775807 \"x\" }}", &d).is_err());
    assert!(render("{{ range 100000 }}{{ repeat 100 \"x\" }}{{ end }}", &d).is_err());
    assert_eq!(r("{{ printf \"%99999999999999999999s\" \"x\" }}"), "%!(BADWIDTH)x");
    assert_eq!(r("{{ range 3 }}{{ . }}{{ end }}"), "012");
    let deep = format!("{}x{}", "{{ if true }}".repeat(200), "{{ end }}".repeat(200));
    assert!(render(&deep, &d).is_err());
    let parens = format!("{{{{ {}1{} }}}}", "(".repeat(500), ")".repeat(500));
    assert!(render(&parens, &d).is_err());
}

#[test]
fn index_reaches_dotted_keys() {
    assert_eq!(r("{{ index . \"tls.crt\" }}"), "CERT");
}

#[test]
fn trim_markers_remove_surrounding_whitespace() {
    assert_eq!(r("a \n {{- .user -}} \n b"), "aadminb");
    assert_eq!(r("a {{- .user }} b"), "aadmin b");
    // A dash without a space is a negative number, not a trim marker.
    assert_eq!(r("{{-3}}"), "-3");
}

#[test]
fn comments_render_nothing() {
    assert_eq!(r("x{{/* a comment */}}y"), "xy");
    assert_eq!(r("x {{- /* trimmed */ -}} y"), "xy");
}

#[test]
fn pipelines_and_sprig_functions() {
    assert_eq!(r("{{ .user | upper }}"), "ADMIN");
    assert_eq!(r("{{ \"MiXeD\" | lower }}"), "mixed");
    assert_eq!(r("{{ .padded | trim }}"), "spaced");
    assert_eq!(r("{{ .user | b64enc }}"), "YWRtaW4=");
    assert_eq!(r("{{ \"YWRtaW4=\" | b64dec }}"), "admin");
    assert_eq!(r("{{ printf \"%s:%s\" .user .pass | b64enc }}"), "YWRtaW46aHVudGVyMg==");
    assert_eq!(r("{{ .user | quote }}"), "\"admin\"");
    assert_eq!(r("{{ .user | squote }}"), "'admin'");
    assert_eq!(r("{{ toString 42 }}"), "42");
    assert_eq!(r("{{ .empty | default \"fallback\" }}"), "fallback");
    assert_eq!(r("{{ .user | default \"fallback\" }}"), "admin");
    assert_eq!(r("{{ (printf \"%s-%d\" .user 7) | upper }}"), "ADMIN-7");
}

#[test]
fn to_json_escapes_like_go_encoding_json() {
    assert_eq!(r("{{ .user | toJson }}"), "\"admin\"");
    assert_eq!(r("{{ .html | toJson }}"), "\"\\u003ca\\u0026b\\u003e\"");
    assert_eq!(r("{{ \"a\\nb\" | toJson }}"), "\"a\\nb\"");
    assert_eq!(r("{{ \"\\b\\f\" | toJson }}"), "\"\\b\\f\"");
    assert_eq!(r("{{ .bin | toJson }}"), "\"\\ufffd\\u0000a\"");
}

#[test]
fn quote_uses_go_strconv_quote() {
    assert_eq!(r("{{ quote \"a\\\"b\\n\" }}"), "\"a\\\"b\\n\"");
    assert_eq!(r("{{ .bin | quote }}"), "\"\\xff\\x00a\"");
    assert_eq!(r("{{ quote \"é\" }}"), "\"é\"");
}

#[test]
fn b64dec_returns_go_error_text_like_sprig() {
    assert_eq!(r("{{ b64dec \"abc\" }}"), "illegal base64 data at input byte 0");
    assert_eq!(r("{{ b64dec \"ab=\" }}"), "illegal base64 data at input byte 3");
    assert_eq!(r("{{ b64dec \"a!cd\" }}"), "illegal base64 data at input byte 1");
    assert_eq!(r("{{ b64dec \"YQ==x\" }}"), "illegal base64 data at input byte 4");
}

#[test]
fn urlquery_escapes_like_go() {
    assert_eq!(r("{{ urlquery \"p@ss w/rd&x=1\" }}"), "p%40ss+w%2Frd%26x%3D1");
}

#[test]
fn printf_verbs_and_width() {
    assert_eq!(
        r("{{ printf \"%q|%5s|%-5s|%03d|%x|%%\" .user .user .user 7 .user }}"),
        "\"admin\"|admin|admin|007|61646d696e|%"
    );
    assert_eq!(r("{{ printf \"%s\" }}"), "%!s(MISSING)");
    assert_eq!(r("{{ printf \"x\" .user }}"), "x%!(EXTRA string=admin)");
    assert_eq!(r("{{ printf \"%s %d\" 5 .user }}"), "%!s(int=5) %!d(string=admin)");
    assert_eq!(r("{{ printf \"%x\" -255 }}"), "-ff");
}

#[test]
fn title_follows_go_separators() {
    assert_eq!(r("{{ title \"hello wide-world it's\" }}"), "Hello Wide-World It'S");
}

#[test]
fn control_flow() {
    assert_eq!(r("{{ if .user }}yes{{ else }}no{{ end }}"), "yes");
    assert_eq!(
        r("{{ if .empty }}yes{{ else if .pass }}pass{{ else }}no{{ end }}"),
        "pass"
    );
    assert_eq!(r("{{ with .user }}<{{ . }}>{{ end }}"), "<admin>");
    assert_eq!(r("{{ with .empty }}x{{ else }}none{{ end }}"), "none");
    assert_eq!(r("{{ if and .user (eq .pass \"hunter2\") }}ok{{ end }}"), "ok");
    assert_eq!(r("{{ if or .empty .nope }}x{{ else }}neither{{ end }}"), "neither");
    assert_eq!(r("{{ if not .empty }}not-empty{{ end }}"), "not-empty");
    assert_eq!(r("{{ len .pass }}"), "7");
}

#[test]
fn range_over_the_dot_sorts_keys() {
    let mut d = BTreeMap::new();
    d.insert("b".to_string(), b"2".to_vec());
    d.insert("a".to_string(), b"1".to_vec());
    let out = render("{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}", &d).unwrap();
    assert_eq!(out, b"a=1;b=2;");
    let out = render("{{ range . }}[{{ . }}]{{ end }}", &d).unwrap();
    assert_eq!(out, b"[1][2]");
}

#[test]
fn variables() {
    assert_eq!(r("{{ $u := .user }}{{ $u }}-{{ $u | upper }}"), "admin-ADMIN");
    assert_eq!(r("{{ $u := .user }}{{ $u = \"x\" }}{{ $u }}"), "x");
}

#[test]
fn binary_values_pass_through_unchanged() {
    let out = render("{{ .bin }}", &data()).unwrap();
    assert_eq!(out, vec![0xff, 0x00, b'a']);
}

#[test]
fn disabled_and_unknown_functions_are_named() {
    let d = data();
    assert_eq!(
        render("{{ env \"HOME\" }}", &d),
        Err(Error::DisabledFunction("env".into()))
    );
    assert_eq!(
        render("{{ expandenv \"$HOME\" }}", &d),
        Err(Error::DisabledFunction("expandenv".into()))
    );
    assert_eq!(
        render("{{ getHostByName \"x\" }}", &d),
        Err(Error::DisabledFunction("getHostByName".into()))
    );
    assert_eq!(
        render("{{ .user | sha256sum }}", &d),
        Err(Error::UnsupportedFunction("sha256sum".into()))
    );
    let msg = render("{{ .user | sha256sum }}", &d).unwrap_err().to_string();
    assert!(msg.contains("sha256sum"), "{msg}");
}

#[test]
fn malformed_templates_are_errors_not_panics() {
    let d = data();
    for src in [
        "{{",
        "{{ .user",
        "{{ if .user }}x",
        "{{ end }}",
        "{{ else }}",
        "{{ \"unterminated }}",
        "{{ ( .user }}",
        "{{ .user ) }}",
        "{{ 1.5 }}",
        "{{ define \"x\" }}{{ end }}",
        "{{ template \"x\" }}",
        "{{ $nope }}",
        "{{ .user.sub }}",
        "{{ | upper }}",
        "{{}}",
        "{{ printf \"%z\" 1 }}",
        "{{ @ }}",
        "{{ `raw }}",
    ] {
        assert!(render(src, &d).is_err(), "expected an error for {src:?}");
    }
}

#[test]
fn repeat_is_bounded() {
    assert!(render("{{ repeat 100000000 \"abcdefgh\" }}", &data()).is_err());
    assert_eq!(r("{{ repeat 3 \"ab\" }}"), "ababab");
}

/// Divergences from Go found by tests/go_differential.rs, pinned here so they stay
/// fixed on machines without Go.
#[test]
fn regressions_found_by_the_go_differential_test() {
    let d = data();
    // Comments must start and end at the delimiters.
    assert!(render("{{ /* c */ }}", &d).is_err());
    assert_eq!(r("a{{- /* c */ -}} b"), "ab");
    // A nil result prints "<no value>"; inside fmt it is "<nil>".
    assert_eq!(r("{{ coalesce .empty .nope }}|{{ print .nope }}"), "<no value>|<nil>");
    assert_eq!(r("{{ urlquery .nope }}"), "%3Cno+value%3E");
    assert_eq!(r("{{ printf \"x\" .nope }}"), "x%!(EXTRA <nil>)");
    // The 0 flag pads whatever the operand, also inside %!verb(...).
    assert_eq!(r("{{ printf \"%03d|%-4d|\" \"x\" 7 }}"), "%!d(string=00x)|7   |");
    assert!(
        render("{{ printf \"%d\" . }}", &d)
            .unwrap()
            .starts_with(b"map[%!d(string=bin):%!d(string=\xff\x00a)")
    );
    // index on a string yields a uint8.
    assert_eq!(
        r("{{ index \"abc\" 1 | printf \"%s|%d|%q\" }}"),
        "%!s(uint8=98)|%!d(MISSING)|%!q(MISSING)"
    );
    assert_eq!(r("{{ printf \"%q\" 65 }}"), "'A'");
    // Sprig's nospace works on bytes, and returns its input when nothing is removed.
    assert_eq!(r("{{ nospace \"é✓\" }}"), "é✓");
    assert_eq!(r("{{ nospace \"é ✓\" }}"), "Ã©â\u{9c}\u{93}");
    // String functions reject other types, as Sprig's typed signatures do.
    assert!(render("{{ indent 2 7 }}", &d).is_err());
    assert!(render("{{ b64dec 5 }}", &d).is_err());
    assert!(render("{{ indent -1 \"x\" }}", &d).is_err());
    // eq/ne compare nil without a type error.
    assert_eq!(r("{{ ne .nope \"x\" }}|{{ eq .nope .nope }}"), "true|true");
    // Invalid UTF-8 is kept byte for byte by trimAll and replace.
    assert_eq!(render("{{ .bin | trimAll \"a\" }}", &d).unwrap(), vec![0xff, 0x00]);
    assert_eq!(
        render("{{ .bin | replace \"\" \"-\" }}", &d).unwrap(),
        b"-\xff-\x00-a-".to_vec()
    );
}

/// Templates render even without the matching key, so they must not be able to
/// exhaust memory or CPU.
#[test]
fn amplification_is_refused_before_allocating() {
    let d = data();
    let started = std::time::Instant::now();
    for src in [
        "{{ replace \"\" (repeat 1000000 \"a\") (repeat 1000000 \"a\") }}",
        "{{ indent 1000000 (repeat 1000000 \"\\n\") }}",
        "{{ printf \"%999999s%999999s%999999s\" \"a\" \"b\" \"c\" }}",
        "{{ $x := repeat 1000000 \"a\" }}{{ cat $x $x $x $x $x $x $x $x }}",
        "{{ $x := repeat 1000000 \"a\" }}{{ range 10000 }}{{ if contains $x $x }}{{ end }}{{ end }}",
        "{{ $x := repeat 1000000 \"a\" }}{{ range 10000 }}{{ trimAll $x $x }}{{ end }}",
        "{{ range 1000000 }}{{ $.user }}{{ end }}",
    ] {
        let err = render(src, &d).expect_err(src).to_string();
        assert!(
            err.contains("exceed") || err.contains("work") || err.contains("steps"),
            "{src}: {err}"
        );
    }
    assert!(
        started.elapsed().as_secs() < 20,
        "bounded time: {:?}",
        started.elapsed()
    );
    assert_eq!(
        r("{{ \"aaa\" | replace \"aa\" \"b\" }}"),
        "ba",
        "non-overlapping, left to right"
    );
}
