use flotilla_core::ErrorKind;

use super::*;

#[test]
fn queries_parse_strictly() {
    let q = downstream_query("dataset=sales&digest=d1&of=runs&aliased=true&max_results=5&page_token=x").unwrap();
    assert_eq!((q.name.as_str(), q.digest.as_str(), q.of, q.aliased_only), ("sales", "d1", DownstreamOf::Runs, true));
    assert_eq!((q.page.max_results, q.page.page_token.as_deref()), (Some(5), Some("x")));
    let bad = [
        "digest=d1",
        "dataset=sales",
        "dataset=sales&digest=d1&of=models",
        "dataset=sales&digest=d1&aliased=maybe",
        "dataset=sales&digest=d1&max_results=ten",
        "dataset=sales&digest=d1&colour=red",
    ];
    for raw in bad {
        assert_eq!(downstream_query(raw).unwrap_err().kind, ErrorKind::InvalidParameter, "{raw}");
    }
}

#[test]
fn upstream_targets() {
    let v = VersionNumber::new(3).unwrap();
    let table: &[(&str, Option<UpstreamTarget>)] = &[
        ("model=m&version=3", Some(UpstreamTarget::Version { model: "m".into(), version: v })),
        ("model=m&alias=champion", Some(UpstreamTarget::Alias { model: "m".into(), alias: "champion".into() })),
        (
            "family=demand&partition=region%3Dwest%2Fstore%3D7",
            Some(UpstreamTarget::Partition {
                family: "demand".into(),
                partition: flotilla_core::fleet::parse_path("region=west/store=7").unwrap(),
                alias: "champion".into(),
            }),
        ),
        ("model=m", None),
        ("model=m&version=0", None),
        ("model=m&version=x", None),
        ("model=m&version=1&alias=a", None),
        ("model=m&family=f", None),
        ("family=f&version=1", None),
        ("family=f&partition=nokey", None),
        ("", None),
        ("model=m&version=1&extra=1", None),
    ];
    for (raw, want) in table {
        match want {
            Some(t) => assert_eq!(&upstream_target(raw).unwrap(), t, "{raw}"),
            None => assert_eq!(upstream_target(raw).unwrap_err().kind, ErrorKind::InvalidParameter, "{raw}"),
        }
    }
}

#[test]
fn stale_defaults_to_training() {
    assert_eq!(stale_query("").unwrap().context.as_deref(), Some("training"));
    assert_eq!(stale_query("context=*").unwrap().context, None);
    assert!(stale_query("alias=").is_err());
    assert!(datasets_query("prefix=a&name=b&max_results=3").is_ok());
    assert!(datasets_query("sort=x").is_err());
}
