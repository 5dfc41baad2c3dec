//! `advise`: every pipeline measured, and its SVG plot well formed.

#[allow(unused_imports)]
use super::*;

#[test]
fn advise_prints_every_pipeline_and_plots_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = dir.path().join("sample.json");
    let rows: Vec<Value> = (0..200)
        .map(|i| json!({"id": i, "email": format!("user{i}@example.com"), "active": i % 3 == 0, "score": f64::from(i) / 7.0}))
        .collect();
    std::fs::write(&sample, serde_json::to_vec_pretty(&rows).expect("json")).expect("write");
    let svg_path = dir.path().join("plot.svg");
    let sample = sample.to_str().expect("utf-8");
    let svg_arg = svg_path.to_str().expect("utf-8");

    let out = ok(&satchel(
        &["advise", sample, "--runs", "1", "--plot", svg_arg],
        b"",
    ));
    let mut expected = Vec::new();
    for format in FORMATS {
        for compression in ["", "+zstd", "+lz4", "+gzip", "+zlib", "+zstd:19", "+gzip:9"] {
            expected.push(format!("{format}{compression}"));
        }
    }
    let table_names: Vec<&str> = out
        .lines()
        .skip(2)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().next().expect("name"))
        .collect();
    for name in &expected {
        assert!(
            table_names.contains(&name.as_str()),
            "{name} missing from:\n{out}"
        );
    }
    for pick in ["smallest: ", "fastest:  ", "balanced: "] {
        let line = out.lines().find(|l| l.starts_with(pick)).expect(pick);
        let name = line[pick.len()..].split_whitespace().next().expect("name");
        assert!(table_names.contains(&name), "{line}");
    }

    let svg = std::fs::read_to_string(&svg_path).expect("svg written");
    check_well_formed(&svg);
    assert!(
        svg.trim_start()
            .starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"")
    );
    assert_eq!(
        svg.matches("<circle").count(),
        table_names.len(),
        "one point per pipeline"
    );
    for name in &table_names {
        assert!(svg.contains(&format!(">{name}</text>")), "{name} labelled");
    }

    let report: Value = serde_json::from_str(&ok(&satchel(
        &["advise", "--json", "--runs", "1", sample],
        b"",
    )))
    .expect("json");
    assert_eq!(
        report["pipelines"].as_array().expect("list").len(),
        table_names.len()
    );
}

/// Every tag closes in order, attributes are quoted, text has no stray `<` or `&`.
fn check_well_formed(svg: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = svg;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        assert!(!text.contains('>'), "stray `>` in {text:?}");
        assert!(
            text.split('&')
                .skip(1)
                .all(|t| ["amp;", "lt;", "gt;", "quot;", "#"]
                    .iter()
                    .any(|e| t.starts_with(e))),
            "bad entity in {text:?}"
        );
        let close = rest[open..].find('>').expect("tag closes") + open;
        let tag = &rest[open + 1..close];
        assert_eq!(tag.matches('"').count() % 2, 0, "quotes balance in <{tag}>");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "closing </{name}>"
            );
        } else if !tag.ends_with('/') && !tag.starts_with('?') && !tag.starts_with('!') {
            let name = tag.split_whitespace().next().expect("tag name");
            stack.push(name.to_string());
        }
        rest = &rest[close + 1..];
    }
    assert!(rest.trim().is_empty(), "text after the root: {rest:?}");
    assert!(stack.is_empty(), "unclosed: {stack:?}");
}
