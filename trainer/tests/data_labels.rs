//! Behaviour labels CSV: lookups by time and by window, every malformed file a typed error,
//! arbitrary bytes never a panic, valid files round-trip.

use std::path::Path;

use neuroloop_trainer::data::labels::{parse_csv, read_csv, Interval, Labels};
use neuroloop_trainer::data::DataError;
use proptest::prelude::*;

fn parse(text: &str) -> Result<Labels, DataError> {
    parse_csv(text.as_bytes(), Path::new("labels.csv"))
}

#[test]
fn lookups_by_time_and_window() {
    // Out of order on purpose; classes follow the file's order of first appearance.
    let l = parse(
        "start_s,end_s,label\n10,20,run\r\n0,5,rest\n5,10,rest\n\n20,25,\"rest\"\n30,40,run\n",
    )
    .unwrap();
    assert_eq!(l.classes, vec!["run", "rest"]);
    assert_eq!(l.intervals.len(), 5);
    assert_eq!(l.intervals[0].start_s, 0.0);
    let (run, rest) = (Some(0), Some(1));
    assert_eq!(l.label_at(0.0), rest);
    assert_eq!(l.label_at(4.999), rest);
    assert_eq!(l.label_at(10.0), run);
    assert_eq!(l.label_at(25.0), None);
    assert_eq!(l.label_at(27.0), None);
    assert_eq!(l.label_at(-1.0), None);
    assert_eq!(l.label_at(40.0), None);
    assert_eq!(l.label_at(f64::NAN), None);
    // A window inside one interval, across touching intervals of one label, across labels.
    assert_eq!(l.label_span(11.0, 19.0), run);
    assert_eq!(l.label_span(10.0, 20.0), run);
    assert_eq!(l.label_span(1.0, 9.0), rest);
    assert_eq!(l.label_span(15.0, 22.0), None);
    assert_eq!(l.label_span(22.0, 26.0), None);
    assert_eq!(l.label_span(24.0, 31.0), None);
    assert_eq!(l.label_span(9.0, 8.0), None);
}

#[test]
fn extra_columns_and_any_column_order() {
    let l = parse("label,note,end_s,start_s\nstill,x,2.5,1\n").unwrap();
    assert_eq!(
        l.intervals,
        vec![Interval {
            start_s: 1.0,
            end_s: 2.5,
            label: "still".into()
        }]
    );
}

#[test]
fn errors_name_file_line_and_problem() {
    let cases: &[(&str, &str)] = &[
        ("", "empty"),
        ("start_s,end_s\n1,2\n", "no 'label' column"),
        ("start_s,end_s,label\n", "no interval"),
        ("start_s,end_s,label\n1,2\n", "line 2"),
        ("start_s,end_s,label\n1,x,run\n", "'x' is not a number"),
        ("start_s,end_s,label\n1,NaN,run\n", "not finite"),
        ("start_s,end_s,label\n-1,2,run\n", "negative"),
        ("start_s,end_s,label\n2,2,run\n", "not after start_s"),
        ("start_s,end_s,label\n3,2,run\n", "not after start_s"),
        ("start_s,end_s,label\n1,2, \n", "empty label"),
        ("start_s,end_s,label\n0,5,a\n4,6,b\n", "overlap"),
        ("start_s,end_s,label\n4,6,b\n0,5,a\n", "lines 3 and 2"),
        ("start_s,end_s,label\n1,2,\"run\n", "unterminated quote"),
    ];
    for (text, needle) in cases {
        let e = parse(text).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("labels.csv: "), "{msg}");
        assert!(msg.contains(needle), "{text:?}: {msg}");
    }
    assert!(matches!(
        parse("start_s,end_s,label\n0,5,a\n4,6,b\n"),
        Err(DataError::Invalid { .. })
    ));
    assert!(matches!(
        parse_csv(b"start_s,end_s,label\n0,1,\xff\n", Path::new("l.csv")),
        Err(DataError::Malformed { .. })
    ));
    assert!(matches!(
        read_csv(Path::new("/nonexistent/labels.csv")),
        Err(DataError::Io { .. })
    ));
}

fn labels_strategy() -> impl Strategy<Value = Vec<(f64, f64, String)>> {
    proptest::collection::vec(
        (
            0.0f64..100.0,
            0.001f64..50.0,
            0.0f64..10.0,
            "[a-z][a-z ,\"]{0,8}[a-z]",
        ),
        1..30,
    )
    .prop_map(|raw| {
        // Lay intervals end to end with gaps so that none overlap.
        let mut t = 0.0;
        raw.into_iter()
            .map(|(gap, len, _, label)| {
                let start = t + gap;
                let end = start + len;
                t = end;
                (start, end, label)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_csv(&bytes, Path::new("x.csv"));
    }

    #[test]
    fn arbitrary_rows_after_a_valid_header_never_panic(rows in "[0-9.,\"a-z\\-eE\r\n ]{0,300}") {
        let _ = parse(&format!("start_s,end_s,label\n{rows}"));
    }

    #[test]
    fn round_trip_and_lookups(intervals in labels_strategy()) {
        let mut classes: Vec<String> = Vec::new();
        for (_, _, l) in &intervals {
            if !classes.contains(l) {
                classes.push(l.clone());
            }
        }
        let labels = Labels {
            intervals: intervals
                .iter()
                .map(|(s, e, l)| Interval { start_s: *s, end_s: *e, label: l.clone() })
                .collect(),
            classes,
        };
        let back = parse(&labels.to_csv()).unwrap();
        prop_assert_eq!(&back, &labels);
        for (s, e, l) in &intervals {
            let class = labels.class_index(l);
            prop_assert_eq!(back.label_at(*s), class);
            prop_assert_eq!(back.label_at((s + e) / 2.0), class);
            prop_assert_eq!(back.label_span(*s, *e), class);
        }
    }
}
