//! Tables of accepted and rejected artifact paths, and properties of the parser.

use proptest::prelude::*;

use super::*;

/// (input as the router hands it over, i.e. already decoded once; stored form).
const ACCEPTED: &[(&str, &str)] = &[
    ("a", "a"),
    ("a/b/c.txt", "a/b/c.txt"),
    ("1/0123abcd/artifacts/model/MLmodel", "1/0123abcd/artifacts/model/MLmodel"),
    ("dir/", "dir"),
    ("50%.txt", "50%.txt"),
    ("100%", "100%"),
    ("a%20b.txt", "a%20b.txt"),
    ("a b/c d", "a b/c d"),
    ("...", "..."),
    (".hidden", ".hidden"),
    ("a..b", "a..b"),
    ("..a/b..", "..a/b.."),
    ("x/2024-01-01T00:00:00.json", "x/2024-01-01T00:00:00.json"),
    ("ünïcødé/日本", "ünïcødé/日本"),
    ("a%2Fb", "a%2Fb"),
    ("a%2F", "a%2F"),
    ("a+b", "a+b"),
    ("~", "~"),
];

/// (input, why it must be refused). Includes every example of MLFLOW-API.md §5.4.
const REJECTED: &[(&str, &str)] = &[
    ("", "empty"),
    ("/", "root as a file"),
    ("../../../../etc/passwd", "traversal"),
    ("1/../../../etc/passwd", "traversal after a segment"),
    ("..", "bare dot-dot"),
    ("a/..", "trailing dot-dot"),
    ("a/../b", "middle dot-dot"),
    ("%2e%2e%2f%2e%2e%2fetc%2fpasswd", "encoded traversal"),
    ("%2E%2E/x", "upper-case encoded dot-dot"),
    ("1/..%2f..%2f..%2fetc%2fpasswd", "mixed encoded traversal"),
    ("1/%252e%252e%252f%252e%252e%252fetc%252fpasswd", "double-encoded traversal"),
    ("%25252e%25252e/x", "triple-encoded dot-dot"),
    ("%2e%2e%2f", "encoded dot-dot slash"),
    ("%252e%252e%252f", "double-encoded dot-dot slash"),
    ("//etc/passwd", "network-path reference"),
    ("%2Fetc%2Fpasswd", "encoded absolute"),
    ("/etc", "absolute"),
    ("/x", "absolute"),
    ("C:\\x", "windows drive and backslash"),
    ("C:", "bare drive letter"),
    ("c:/windows", "drive letter with slash"),
    ("\\\\server\\share", "UNC path"),
    ("a\\b", "backslash"),
    ("..%5c..%5c", "encoded backslash traversal"),
    ("a%5cb", "encoded backslash"),
    ("file:///etc/passwd", "file URI"),
    ("file:/etc", "file URI, one slash"),
    ("s3:bucket/key", "scheme prefix"),
    ("mlflow-artifacts:/x", "scheme prefix"),
    ("%66ile:/etc", "encoded scheme"),
    ("a%23b", "encoded hash"),
    ("a#b", "hash"),
    ("a%00b", "encoded NUL"),
    ("a\0b", "NUL"),
    ("a\nb", "newline"),
    ("a%0d%0ab", "encoded CRLF"),
    ("a\u{7f}b", "DEL"),
    ("a\u{85}b", "C1 control"),
    ("a;b", "semicolon"),
    ("a%3bb", "encoded semicolon"),
    ("a?b", "question mark"),
    ("a%3fx=../..", "encoded query"),
    ("a//b", "empty middle segment"),
    ("a%2f%2fb", "encoded empty middle segment"),
    ("a//", "two trailing slashes"),
    ("a/%2F", "encoded extra trailing slash"),
    ("./a", "dot segment"),
    ("a/./b", "middle dot segment"),
    ("a/.", "trailing dot segment"),
    ("%2e/a", "encoded dot segment"),
    ("%c0%ae%c0%ae/x", "overlong UTF-8 dot"),
    ("%ff", "non-UTF-8 escape"),
    ("%25252525252525252525252541", "encoded too many times"),
];

#[test]
fn accepted_paths_parse_to_their_stored_form() {
    for (input, stored) in ACCEPTED {
        let parsed = ArtifactPath::parse(input).unwrap_or_else(|e| panic!("{input:?} should be accepted, got {e}"));
        assert_eq!(parsed.as_str(), *stored, "stored form of {input:?}");
    }
}

#[test]
fn rejected_paths_are_refused_as_invalid_paths() {
    for (input, why) in REJECTED {
        match ArtifactPath::parse(input) {
            Err(ArtifactError::InvalidPath(_)) => {}
            other => panic!("{input:?} ({why}) should be an InvalidPath, got {other:?}"),
        }
    }
}

#[test]
fn limits_are_enforced() {
    let long_segment = "a".repeat(MAX_SEGMENT_BYTES + 1);
    let too_long = vec!["abcdefg"; MAX_PATH_BYTES / 8 + 1].join("/");
    let too_deep = vec!["a"; MAX_SEGMENTS + 1].join("/");
    let deepest = vec!["a"; MAX_SEGMENTS].join("/");
    let table: &[(&str, bool)] =
        &[(&long_segment, false), (&long_segment[1..], true), (&too_long, false), (&too_deep, false), (&deepest, true)];
    for (input, ok) in table {
        assert_eq!(ArtifactPath::parse(input).is_ok(), *ok, "{} bytes", input.len());
    }
}

#[test]
fn only_directory_arguments_may_name_the_root() {
    assert!(ArtifactPath::parse("").is_err());
    let root = ArtifactPath::parse_dir("").unwrap();
    assert!(root.is_root());
    assert_eq!(root, ArtifactPath::root());
    assert_eq!(root.segments().count(), 0);
    assert!(ArtifactPath::parse_dir("/").is_err());
}

#[test]
fn methods() {
    let p = |s: &str| ArtifactPath::parse_dir(s).unwrap();
    let abc = p("a/b/c.txt");
    assert_eq!(abc.segments().collect::<Vec<_>>(), ["a", "b", "c.txt"]);
    assert_eq!(abc.file_name(), Some("c.txt"));
    assert_eq!(abc.parent(), Some(p("a/b")));
    assert_eq!(p("a").parent(), Some(ArtifactPath::root()));
    assert_eq!(ArtifactPath::root().parent(), None);
    assert_eq!(ArtifactPath::root().file_name(), None);
    assert_eq!(p("a/b").join(&p("c.txt")).unwrap(), abc);
    assert_eq!(ArtifactPath::root().join(&abc).unwrap(), abc);
    assert_eq!(abc.join(&ArtifactPath::root()).unwrap(), abc);
    assert_eq!(p("a/b").child("c.txt").unwrap(), abc);
    assert!(p("a").child("..").is_err());
    assert!(p("a").child("x/y").is_err());
    assert!(p("a").child("").is_err());
    let deep = ArtifactPath::parse(&vec!["a"; MAX_SEGMENTS].join("/")).unwrap();
    assert!(deep.join(&p("b")).is_err(), "join keeps the depth limit");

    let table: &[(&str, &str, bool)] = &[
        ("a/b/c", "a/b", true),
        ("a/b/c", "a/b/c", true),
        ("a/b/c", "", true),
        ("a/bc", "a/b", false),
        ("a/b", "a/b/c", false),
        ("", "a", false),
    ];
    for (path, prefix, expected) in table {
        assert_eq!(p(path).starts_with(&p(prefix)), *expected, "{path:?} starts with {prefix:?}");
    }
}

/// Characters that matter to the parser, so generated strings hit the interesting cases often.
fn tricky_string() -> impl Strategy<Value = String> {
    let atoms = prop_oneof![
        Just("/".to_owned()),
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just("%".to_owned()),
        Just("%2e".to_owned()),
        Just("%2E".to_owned()),
        Just("%2f".to_owned()),
        Just("%25".to_owned()),
        Just("%5c".to_owned()),
        Just("%00".to_owned()),
        Just("\\".to_owned()),
        Just(":".to_owned()),
        Just("#".to_owned()),
        Just(";".to_owned()),
        Just("?".to_owned()),
        Just("\0".to_owned()),
        Just("C".to_owned()),
        "[a-z0-9 _-]{1,3}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(atoms, 0..24).prop_map(|v| v.concat())
}

fn assert_safe(path: &ArtifactPath) {
    for segment in path.segments() {
        assert!(!segment.is_empty());
        assert_ne!(segment, "..");
        assert_ne!(segment, ".");
        assert!(!segment.contains(['/', '\\', '#', ';', '?']), "{segment:?}");
        assert!(!segment.chars().any(char::is_control), "{segment:?}");
        // Whatever a later layer decodes, it still finds no way out.
        let decoded = fully_decode(segment).expect("accepted segments decode");
        assert!(!decoded.split('/').any(|s| s == ".." || s == "."), "{segment:?}");
        assert!(!decoded.contains('\\'), "{segment:?}");
    }
}

fn roundtrips(path: &ArtifactPath) {
    let again = ArtifactPath::parse_dir(path.as_str()).expect("a parsed path re-parses");
    assert_eq!(&again, path);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn tricky_strings_are_refused_or_safe(raw in tricky_string()) {
        if let Ok(path) = ArtifactPath::parse_dir(&raw) {
            assert_safe(&path);
            roundtrips(&path);
            if let Some(parent) = path.parent() {
                roundtrips(&parent);
            }
        }
    }

    #[test]
    fn arbitrary_strings_are_refused_or_safe(raw in any::<String>()) {
        if let Ok(path) = ArtifactPath::parse_dir(&raw) {
            assert_safe(&path);
            roundtrips(&path);
        }
    }

    #[test]
    fn join_keeps_the_invariant(a in tricky_string(), b in tricky_string()) {
        if let (Ok(a), Ok(b)) = (ArtifactPath::parse_dir(&a), ArtifactPath::parse_dir(&b))
            && let Ok(joined) = a.join(&b)
        {
            assert_safe(&joined);
            roundtrips(&joined);
            prop_assert!(joined.starts_with(&a));
        }
    }
}
