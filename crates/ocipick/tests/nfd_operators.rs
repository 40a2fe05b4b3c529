//! NFD's match operators, row by row, from node-feature-discovery's own
//! test vectors: `pkg/apis/nfd/nodefeaturerule/expression_test.go`
//! (kubernetes-sigs/node-feature-discovery, TestEvaluateMatchExpression,
//! TestEvaluateMatchExpressionKeys and TestEvaluateMatchExpressionValues;
//! the row names are NFD's), and the operator semantics of NFD's API
//! reference (docs/reference/generated-nfd-api-reference.md, "MatchOp").
//! Rule-level rows run the example of NFD's image compatibility
//! documentation (docs/usage/image-compatibility.md), kept in
//! testdata/nfd/docs-example.yaml.
//!
//! `T` and `F` are NFD's answers; `E` is where NFD returns an error, which
//! ocipick reports (an `Err` here, `unknown` in a report).

use std::collections::{BTreeMap, BTreeSet};

use ocipick::nfd::{eval_op, evaluate, parse_spec, Expression, Features, Outcome};

#[derive(Debug, Clone, Copy, PartialEq)]
enum R {
    T,
    F,
    E,
}
use R::*;

fn expr(op: &str, values: &[&str], version: bool) -> Expression {
    Expression {
        op: op.to_owned(),
        value: values.iter().map(|s| (*s).to_owned()).collect(),
        value_type: version.then(|| "version".to_owned()),
    }
}

fn got(r: Result<bool, String>) -> R {
    match r {
        Ok(true) => T,
        Ok(false) => F,
        Err(_) => E,
    }
}

/// TestEvaluateMatchExpression: (name, op, values, input, valid, result).
/// An input of `None` is NFD's nil; numbers and booleans are as Go's `%v`
/// prints them.
#[test]
fn evaluate_match_expression() {
    type Row<'a> = (&'a str, &'a str, &'a [&'a str], Option<&'a str>, bool, R);
    #[rustfmt::skip]
    let rows: &[Row] = &[
        ("MatchAny-1", "Any", &[], None, false, T),
        ("MatchAny-2", "Any", &[], Some("2"), false, T),
        ("MatchIn-1", "In", &["1"], Some("2"), false, F),
        ("MatchIn-2", "In", &["1"], Some("2"), true, F),
        ("MatchIn-3", "In", &["1", "2", "3"], Some("2"), false, F),
        ("MatchIn-4", "In", &["1", "2", "3"], Some("2"), true, T),
        ("MatchNotIn-1", "NotIn", &["2"], Some("2"), false, F),
        ("MatchNotIn-2", "NotIn", &["1"], Some("2"), true, T),
        ("MatchNotIn-3", "NotIn", &["1", "2", "3"], Some("2"), false, F),
        ("MatchNotIn-4", "NotIn", &["1", "2", "3"], Some("2"), true, F),
        ("MatchInRegexp-1", "InRegexp", &["val-[0-9]$"], Some("val-1"), false, F),
        ("MatchInRegexp-2", "InRegexp", &["val-[0-9]$"], Some("val-1"), true, T),
        ("MatchInRegexp-3", "InRegexp", &["val-[0-9]$"], Some("val-12"), true, F),
        ("MatchInRegexp-4", "InRegexp", &["val-[0-9]$", "al-[1-9]"], Some("val-12"), true, T),
        ("MatchExists-1", "Exists", &[], None, false, F),
        ("MatchExists-2", "Exists", &[], None, true, T),
        ("MatchDoesNotExist-1", "DoesNotExist", &[], Some("false"), false, T),
        ("MatchDoesNotExist-2", "DoesNotExist", &[], Some("false"), true, F),
        ("MatchGt-1", "Gt", &["2"], Some("3"), false, F),
        ("MatchGt-2", "Gt", &["2"], Some("2"), true, F),
        ("MatchGt-3", "Gt", &["2"], Some("3"), true, T),
        ("MatchGt-4", "Gt", &["-10"], Some("-3"), true, T),
        ("MatchLt-1", "Lt", &["2"], Some("1"), false, F),
        ("MatchLt-2", "Lt", &["2"], Some("2"), true, F),
        ("MatchLt-3", "Lt", &["-10"], Some("-3"), true, F),
        ("MatchLt-4", "Lt", &["2"], Some("1"), true, T),
        ("MatchGtLt-1", "GtLt", &["1", "10"], Some("1"), false, F),
        ("MatchGtLt-2", "GtLt", &["1", "10"], Some("1"), true, F),
        ("MatchGtLt-3", "GtLt", &["1", "10"], Some("10"), true, F),
        ("MatchGtLt-4", "GtLt", &["1", "10"], Some("2"), true, T),
        ("MatchIsTrue-1", "IsTrue", &[], Some("true"), false, F),
        ("MatchIsTrue-2", "IsTrue", &[], Some("true"), true, T),
        ("MatchIsTrue-3", "IsTrue", &[], Some("false"), true, F),
        ("MatchIsFalse-1", "IsFalse", &[], Some("false"), false, F),
        ("MatchIsFalse-2", "IsFalse", &[], Some("false"), true, T),
        ("MatchIsFalse-3", "IsFalse", &[], Some("true"), true, F),
        // Error cases (NFD evaluates them with valid = true).
        ("MatchAny-err-1", "Any", &["1"], Some("val"), true, E),
        ("MatchIn-err-1", "In", &[], Some("val"), true, E),
        ("MatchNotIn-err-1", "NotIn", &[], Some("val"), true, E),
        ("MatchInRegexp-err-1", "InRegexp", &[], Some("val"), true, E),
        ("MatchInRegexp-err-2", "InRegexp", &["("], Some("val"), true, E),
        ("MatchExists-err-1", "Exists", &["1"], None, true, E),
        ("MatchDoesNotExist-err-1", "DoesNotExist", &["1"], None, true, E),
        ("MatchGt-err-1", "Gt", &[], Some("1"), true, E),
        ("MatchGt-err-2", "Gt", &["1", "2"], Some("1"), true, E),
        ("MatchGt-err-3", "Gt", &[""], Some("1"), true, E),
        ("MatchGt-err-4", "Gt", &["2"], Some("3a"), true, E),
        ("MatchLt-err-1", "Lt", &[], Some("1"), true, E),
        ("MatchLt-err-2", "Lt", &["1", "2", "3"], Some("1"), true, E),
        ("MatchLt-err-3", "Lt", &["a"], Some("1"), true, E),
        ("MatchLt-err-4", "Lt", &["2"], Some("1.0"), true, E),
        ("MatchGtLt-err-1", "GtLt", &[], Some("1"), true, E),
        ("MatchGtLt-err-2", "GtLt", &["1"], Some("1"), true, E),
        ("MatchGtLt-err-3", "GtLt", &["2", "1"], Some("1"), true, E),
        ("MatchGtLt-err-4", "GtLt", &["1", "2", "3"], Some("1"), true, E),
        ("MatchGtLt-err-5", "GtLt", &["a", "2"], Some("1"), true, E),
        ("MatchGtLt-err-6", "GtLt", &["1", "10"], Some("1.0"), true, E),
        ("MatchIsTrue-err-1", "IsTrue", &["1"], Some("true"), true, E),
        ("MatchIsFalse-err-1", "IsFalse", &["1", "2"], Some("false"), true, E),
        ("invalid-op-err", "non-existent-op", &["1"], Some("1"), true, E),
    ];
    let mut wrong = Vec::new();
    for &(name, op, values, input, valid, want) in rows {
        let r = got(eval_op(&expr(op, values, false), valid, input));
        if r != want {
            wrong.push(format!("{name}: got {r:?}, NFD says {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(rows.len(), 60);
}

/// TestEvaluateMatchExpressionKeys: flag features, whose elements have no
/// value: (name, op, values, key, present keys or None for nil, result).
#[test]
fn evaluate_match_expression_keys() {
    type Row<'a> = (
        &'a str,
        &'a str,
        &'a [&'a str],
        &'a str,
        Option<&'a [&'a str]>,
        R,
    );
    #[rustfmt::skip]
    let rows: &[Row] = &[
        ("1", "Any", &[], "", None, T),
        ("2", "Exists", &[], "foo", None, F),
        ("3", "Exists", &[], "foo", Some(&["bar"]), F),
        ("4", "Exists", &[], "foo", Some(&["bar", "foo"]), T),
        ("5", "DoesNotExist", &[], "foo", None, T),
        ("6", "DoesNotExist", &[], "foo", Some(&[]), T),
        ("7", "DoesNotExist", &[], "foo", Some(&["bar"]), T),
        ("8", "DoesNotExist", &[], "foo", Some(&["bar", "foo"]), F),
        // "All other ops should be nop (and return false) for key features"
        ("9", "In", &["foo"], "foo", None, F),
        ("10", "NotIn", &["foo"], "foo", None, F),
        ("11", "InRegexp", &["foo"], "foo", None, F),
        ("12", "Gt", &["1"], "foo", None, F),
        ("13", "Lt", &["1"], "foo", None, F),
        ("14", "GtLt", &["1", "10"], "foo", None, F),
        ("15", "IsTrue", &[], "foo", None, F),
        ("16", "IsFalse", &[], "foo", None, F),
    ];
    let mut wrong = Vec::new();
    for &(name, op, values, key, input, want) in rows {
        let keys: BTreeSet<&str> = input.unwrap_or(&[]).iter().copied().collect();
        let r = got(eval_op(&expr(op, values, false), keys.contains(key), None));
        if r != want {
            wrong.push(format!("keys {name}: got {r:?}, NFD says {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// TestEvaluateMatchExpressionValues: attribute features: (name, op,
/// values, type version?, key, attributes, result).
#[test]
fn evaluate_match_expression_values() {
    type Row<'a> = (
        &'a str,
        &'a str,
        &'a [&'a str],
        bool,
        &'a str,
        &'a [(&'a str, &'a str)],
        R,
    );
    #[rustfmt::skip]
    let rows: &[Row] = &[
        ("1", "Any", &[], false, "", &[], T),
        ("2", "In", &["1", "2"], false, "foo", &[("bar", "2")], F),
        ("3", "In", &["1", "2"], false, "foo", &[("foo", "3")], F),
        ("4", "In", &["1", "2"], false, "foo", &[("foo", "2")], T),
        ("5", "NotIn", &["1", "2"], false, "foo", &[("bar", "2")], F),
        ("6", "NotIn", &["1", "2"], false, "foo", &[("foo", "3")], T),
        ("7", "NotIn", &["1", "2"], false, "foo", &[("foo", "2")], F),
        ("8", "InRegexp", &["1", "2"], false, "foo", &[("bar", "2")], F),
        ("9", "InRegexp", &["1", "[0-8]"], false, "foo", &[("foo", "9")], F),
        ("10", "InRegexp", &["1", "[0-8]"], false, "foo", &[("foo", "2")], T),
        ("11", "Exists", &[], false, "foo", &[("bar", "1")], F),
        ("12", "Exists", &[], false, "foo", &[("foo", "1")], T),
        ("13", "DoesNotExist", &[], false, "foo", &[], T),
        ("14", "DoesNotExist", &[], false, "foo", &[("foo", "1")], F),
        ("15", "Gt", &["2"], false, "foo", &[("bar", "3")], F),
        ("16", "Gt", &["2"], false, "foo", &[("bar", "3"), ("foo", "2")], F),
        ("17", "Gt", &["2"], false, "foo", &[("bar", "3"), ("foo", "3")], T),
        ("18", "Gt", &["2"], false, "foo", &[("bar", "str"), ("foo", "str")], E),
        ("19", "Gt", &["2.0"], false, "foo", &[("bar", "str"), ("foo", "3")], E),
        ("20", "Gt", &["2"], true, "foo", &[("bar", "3")], F),
        ("21", "Gt", &["2"], true, "foo", &[("bar", "3"), ("foo", "2")], F),
        ("22", "Gt", &["2"], true, "foo", &[("bar", "3"), ("foo", "3")], T),
        ("23", "Gt", &["2.0"], true, "foo", &[("bar", "3"), ("foo", "2.0")], F),
        ("24", "Gt", &["2.0"], true, "foo", &[("bar", "3"), ("foo", "2.1")], T),
        ("25", "Gt", &["2.0.1"], true, "foo", &[("bar", "3"), ("foo", "2.0.1")], F),
        ("26", "Gt", &["2.0.1"], true, "foo", &[("bar", "3"), ("foo", "2.0.2")], T),
        ("27", "Gt", &["2.0.1"], true, "foo", &[("bar", "str"), ("foo", "str")], E),
        ("28", "Ge", &["2"], false, "foo", &[("bar", "3")], F),
        ("29", "Ge", &["2"], false, "foo", &[("bar", "3"), ("foo", "2")], T),
        ("30", "Ge", &["2"], false, "foo", &[("bar", "3"), ("foo", "3")], T),
        ("31", "Ge", &["2"], false, "foo", &[("bar", "str"), ("foo", "str")], E),
        ("32", "Ge", &["2.0"], false, "foo", &[("bar", "3"), ("foo", "3")], E),
        ("33", "Ge", &["2"], true, "foo", &[("bar", "3")], F),
        ("34", "Ge", &["2"], true, "foo", &[("bar", "3"), ("foo", "2")], T),
        ("35", "Ge", &["2"], true, "foo", &[("bar", "3"), ("foo", "3")], T),
        ("36", "Ge", &["2"], true, "foo", &[("bar", "3"), ("foo", "1")], F),
        ("37", "Ge", &["2.0"], true, "foo", &[("bar", "3")], F),
        ("38", "Ge", &["2.0"], true, "foo", &[("bar", "3"), ("foo", "2.0")], T),
        ("39", "Ge", &["2.0"], true, "foo", &[("bar", "3"), ("foo", "2.1")], T),
        ("40", "Ge", &["2.0"], true, "foo", &[("bar", "3"), ("foo", "1.9")], F),
        ("41", "Ge", &["2.0.1"], true, "foo", &[("bar", "3")], F),
        ("42", "Ge", &["2.0.1"], true, "foo", &[("bar", "3"), ("foo", "2.0.1")], T),
        ("43", "Ge", &["2.0.1"], true, "foo", &[("bar", "3"), ("foo", "2.0.2")], T),
        ("44", "Ge", &["2.0.1"], true, "foo", &[("bar", "3"), ("foo", "2.0.0")], F),
        ("45", "Ge", &["2.0.1"], true, "foo", &[("bar", "str"), ("foo", "str")], E),
        ("46", "Lt", &["2"], false, "foo", &[("bar", "1")], F),
        ("47", "Lt", &["2"], false, "foo", &[("bar", "1"), ("foo", "2")], F),
        ("48", "Lt", &["2"], false, "foo", &[("bar", "1"), ("foo", "1")], T),
        ("49", "Lt", &["2"], false, "foo", &[("bar", "str"), ("foo", "str")], E),
        ("50", "Lt", &["2.0"], false, "foo", &[("bar", "str"), ("foo", "1")], E),
        ("51", "Lt", &["2"], true, "foo", &[("bar", "1")], F),
        ("52", "Lt", &["2"], true, "foo", &[("bar", "1"), ("foo", "2")], F),
        ("53", "Lt", &["2"], true, "foo", &[("bar", "1"), ("foo", "1")], T),
        ("54", "Lt", &["2.0"], true, "foo", &[("bar", "1")], F),
        ("55", "Lt", &["2.0"], true, "foo", &[("bar", "1"), ("foo", "2.0")], F),
        ("56", "Lt", &["2.0"], true, "foo", &[("bar", "1"), ("foo", "1.9")], T),
        ("57", "Lt", &["2.0.1"], true, "foo", &[("bar", "1")], F),
        ("58", "Lt", &["2.0.1"], true, "foo", &[("bar", "1"), ("foo", "2.0.1")], F),
        ("59", "Lt", &["2.0.1"], true, "foo", &[("bar", "1"), ("foo", "2.0.0")], T),
        ("49b", "Lt", &["2.0.1"], true, "foo", &[("bar", "str"), ("foo", "str")], E),
        ("60", "Le", &["2"], false, "foo", &[("bar", "1")], F),
        ("61", "Le", &["2"], false, "foo", &[("bar", "1"), ("foo", "2")], T),
        ("62", "Le", &["2"], false, "foo", &[("bar", "1"), ("foo", "1")], T),
        ("63", "Le", &["2"], false, "foo", &[("bar", "str"), ("foo", "str")], E),
        ("64", "Le", &["2"], false, "foo", &[("bar", "1"), ("foo", "1.0")], E),
        ("65", "Le", &["2"], true, "foo", &[("bar", "1")], F),
        ("66", "Le", &["2"], true, "foo", &[("bar", "1"), ("foo", "2")], T),
        ("67", "Le", &["2"], true, "foo", &[("bar", "1"), ("foo", "1")], T),
        ("68", "Le", &["2"], true, "foo", &[("bar", "1"), ("foo", "3")], F),
        ("69", "Le", &["2.0"], true, "foo", &[("bar", "1.0")], F),
        ("70", "Le", &["2.0"], true, "foo", &[("bar", "1"), ("foo", "2.0")], T),
        ("71", "Le", &["2.0"], true, "foo", &[("bar", "1"), ("foo", "1.0")], T),
        ("72", "Le", &["2.0"], true, "foo", &[("bar", "1"), ("foo", "2.1")], F),
        ("73", "Le", &["2.0.1"], true, "foo", &[("bar", "1.0")], F),
        ("74", "Le", &["2.0.1"], true, "foo", &[("bar", "1"), ("foo", "2.0.1")], T),
        ("75", "Le", &["2.0.1"], true, "foo", &[("bar", "1"), ("foo", "2.0.0")], T),
        ("76", "Le", &["2.0.1"], true, "foo", &[("bar", "1"), ("foo", "2.0.2")], F),
        ("77", "Le", &["2.0.1"], true, "foo", &[("bar", "str"), ("foo", "str")], E),
        ("78", "GtLt", &["-10", "10"], false, "foo", &[("bar", "1")], F),
        ("79", "GtLt", &["-10", "10"], false, "foo", &[("bar", "1"), ("foo", "11")], F),
        ("80", "GtLt", &["-10", "10"], false, "foo", &[("bar", "1"), ("foo", "-11")], F),
        ("81", "GtLt", &["-10", "10"], false, "foo", &[("bar", "1"), ("foo", "1")], T),
        ("82", "GtLt", &["-10", "10"], false, "foo", &[("bar", "str"), ("foo", "str")], E),
        ("83", "GtLt", &["-10", "10"], false, "foo", &[("bar", "str"), ("foo", "5.0")], E),
        ("84", "GtLt", &["1", "10"], true, "foo", &[("bar", "1")], F),
        ("85", "GtLt", &["1", "10"], true, "foo", &[("bar", "1"), ("foo", "11")], F),
        ("86", "GtLt", &["1", "10"], true, "foo", &[("bar", "1"), ("foo", "1")], F),
        ("87", "GtLt", &["1", "10"], true, "foo", &[("bar", "1"), ("foo", "2")], T),
        ("88", "GtLt", &["1", "10"], true, "foo", &[("bar", "1"), ("foo", "0")], F),
        ("89", "GtLt", &["1.0", "10.0"], true, "foo", &[("bar", "1.1")], F),
        ("90", "GtLt", &["1.0", "10.0"], true, "foo", &[("bar", "1"), ("foo", "10.1")], F),
        ("91", "GtLt", &["1.0", "10.0"], true, "foo", &[("bar", "1"), ("foo", "1.0")], F),
        ("92", "GtLt", &["1.0", "10.0"], true, "foo", &[("bar", "1"), ("foo", "1.1")], T),
        ("93", "GtLt", &["1.0", "10.0"], true, "foo", &[("bar", "1"), ("foo", "0.9")], F),
        ("94", "GtLt", &["1.0.1", "10.0.1"], true, "foo", &[("bar", "1.1")], F),
        ("95", "GtLt", &["1.0.1", "10.0.1"], true, "foo", &[("bar", "1"), ("foo", "10.0.1")], F),
        ("96", "GtLt", &["1.0.1", "10.0.1"], true, "foo", &[("bar", "1"), ("foo", "1.0.1")], F),
        ("97", "GtLt", &["1.0.1", "10.0.1"], true, "foo", &[("bar", "1"), ("foo", "1.0.2")], T),
        ("98", "GtLt", &["1.0.1", "10.0.1"], true, "foo", &[("bar", "1"), ("foo", "0.0.9")], F),
        ("99", "GtLt", &["1.0.1", "10.0.1"], false, "foo", &[("bar", "str"), ("foo", "str")], E),
        ("100", "GeLe", &["-10", "10"], false, "foo", &[("bar", "1")], F),
        ("101", "GeLe", &["-10", "10"], false, "foo", &[("bar", "-10"), ("foo", "10")], T),
        ("102", "GeLe", &["-10", "10"], false, "foo", &[("bar", "1"), ("foo", "-11")], F),
        ("103", "GeLe", &["-10", "10"], false, "foo", &[("bar", "1"), ("foo", "1")], T),
        ("104", "GeLe", &["-10", "10"], false, "foo", &[("bar", "str"), ("foo", "str")], E),
        ("105", "GeLe", &["-10", "10"], false, "foo", &[("bar", "1"), ("foo", "1.0")], E),
        ("106", "GeLe", &["1", "10"], true, "foo", &[("bar", "1")], F),
        ("107", "GeLe", &["1", "10"], true, "foo", &[("bar", "-10"), ("foo", "10")], T),
        // Row 108 (GeLe version 1..10, foo = "-11") is NFD's `false`;
        // "-11" is no version to ocipick, which reports it (see below).
        ("109", "GeLe", &["1", "10"], true, "foo", &[("bar", "1"), ("foo", "1")], T),
        ("110", "GeLe", &["1", "10"], true, "foo", &[("bar", "1"), ("foo", "0")], F),
        ("111", "GeLe", &["1.0", "10.0"], true, "foo", &[("bar", "1")], F),
        ("112", "GeLe", &["1.0", "10.0"], true, "foo", &[("bar", "-10"), ("foo", "10.0")], T),
        ("113", "GeLe", &["1.0", "10.0"], true, "foo", &[("bar", "1"), ("foo", "10.1")], F),
        ("114", "GeLe", &["1.0", "10.0"], true, "foo", &[("bar", "1"), ("foo", "1.1")], T),
        ("115", "GeLe", &["1.0", "10.0"], true, "foo", &[("bar", "1"), ("foo", "0.9")], F),
        ("116", "GeLe", &["1.0.1", "10.0.1"], true, "foo", &[("bar", "1")], F),
        ("117", "GeLe", &["1.0.1", "10.0.1"], true, "foo", &[("bar", "-10"), ("foo", "10.0.1")], T),
        ("118", "GeLe", &["1.0.1", "10.0.1"], true, "foo", &[("bar", "1"), ("foo", "10.0.2")], F),
        ("119", "GeLe", &["1.0.1", "10.0.1"], true, "foo", &[("bar", "1"), ("foo", "1.0.2")], T),
        ("120", "GeLe", &["1.0.1", "10.0.1"], true, "foo", &[("bar", "1"), ("foo", "0.0.9")], F),
        ("121", "GeLe", &["1.0.1", "10.0.1"], true, "foo", &[("bar", "str"), ("foo", "str")], E),
        ("122", "IsTrue", &[], false, "foo", &[], F),
        ("123", "IsTrue", &[], false, "foo", &[("foo", "1")], F),
        ("124", "IsTrue", &[], false, "foo", &[("foo", "true")], T),
        ("125", "IsFalse", &[], false, "foo", &[("foo", "true")], F),
        ("126", "IsFalse", &[], false, "foo", &[("foo", "false")], T),
    ];
    let mut wrong = Vec::new();
    for &(name, op, values, version, key, input, want) in rows {
        let attrs: BTreeMap<&str, &str> = input.iter().copied().collect();
        let r = got(eval_op(
            &expr(op, values, version),
            attrs.contains_key(key),
            attrs.get(key).copied(),
        ));
        if r != want {
            wrong.push(format!("values {name}: got {r:?}, NFD says {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(rows.len(), 126);
}

/// NFD's row 108 answers `false`; ocipick does not read "-11" as a version
/// and says so rather than guess: reported, never silently true.
#[test]
fn a_negative_version_is_reported_not_guessed() {
    let r = eval_op(&expr("GeLe", &["1", "10"], true), true, Some("-11"));
    assert!(r.unwrap_err().contains("not a version"));
}

// ---- Rules: the example of NFD's image compatibility documentation. ----

fn docs_spec() -> ocipick::nfd::Spec {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/nfd/docs-example.yaml"
    ))
    .unwrap();
    parse_spec(&bytes).unwrap()
}

fn node(vendor: &str, modules: &[&str], nics: &[(&str, &str)]) -> Features {
    let mut f = Features::default();
    f.flags.insert(
        "kernel.loadedmodule".into(),
        modules.iter().map(|s| (*s).to_owned()).collect(),
    );
    f.attributes.insert(
        "cpu.model".into(),
        [("vendor_id".to_owned(), vendor.to_owned())].into(),
    );
    f.instances.insert(
        "pci.device".into(),
        nics.iter()
            .map(|(v, c)| {
                [
                    ("vendor".to_owned(), (*v).to_owned()),
                    ("class".to_owned(), (*c).to_owned()),
                ]
                .into()
            })
            .collect(),
    );
    f
}

#[test]
fn the_documented_example_passes_on_a_node_with_everything() {
    let spec = docs_spec();
    let r = evaluate(
        &spec,
        &node(
            "Intel",
            &["vfio-pci"],
            &[("8086", "0300"), ("0fff", "0200")],
        ),
        &[],
    );
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].weight, Some(10));
    assert_eq!(r[0].outcome, Outcome::Pass);
    let nics = &r[0].rules[1];
    assert_eq!(nics.match_any[0].outcome, Outcome::Fail);
    assert_eq!(nics.match_any[1].outcome, Outcome::Pass);
}

#[test]
fn the_documented_example_fails_each_rule_for_its_own_reason() {
    let spec = docs_spec();
    // An ARM vendor, no vfio-pci, and the NIC vendor right but not its class.
    let r = evaluate(&spec, &node("ARM", &["nvme"], &[("0eee", "0300")]), &[]);
    assert_eq!(r[0].outcome, Outcome::Fail);
    let cpu = r[0].rules[0].match_features.as_ref().unwrap();
    let by: Vec<(&str, Outcome)> = cpu
        .expressions
        .iter()
        .map(|e| (e.feature.as_str(), e.outcome))
        .collect();
    assert_eq!(
        by,
        [
            ("kernel.loadedmodule", Outcome::Fail),
            ("cpu.model", Outcome::Fail)
        ]
    );
    // One instance must satisfy both expressions: vendor 0eee passes on
    // its own, class 0200 on none, and the element fails.
    let any0 = &r[0].rules[1].match_any[0];
    assert_eq!(any0.outcome, Outcome::Fail);
    let shown: BTreeMap<&str, Outcome> = any0
        .expressions
        .iter()
        .map(|e| (e.name.as_deref().unwrap(), e.outcome))
        .collect();
    assert_eq!(shown["vendor"], Outcome::Pass);
    assert_eq!(shown["class"], Outcome::Fail);
}

#[test]
fn one_instance_must_satisfy_all_expressions() {
    let spec = docs_spec();
    // 0eee is there and a 0200 is there, but not on the same device.
    let r = evaluate(
        &spec,
        &node("AMD", &["vfio-pci"], &[("0eee", "0300"), ("1234", "0200")]),
        &[],
    );
    assert_eq!(r[0].rules[0].outcome, Outcome::Pass);
    assert_eq!(r[0].rules[1].outcome, Outcome::Fail);
}

#[test]
fn tags_limit_the_sets_as_nfds_tags_flag_does() {
    let spec = docs_spec();
    let n = node("Intel", &["vfio-pci"], &[]);
    assert_eq!(evaluate(&spec, &n, &["nics".into()]).len(), 1);
    assert!(evaluate(&spec, &n, &["other".into()]).is_empty());
}

#[test]
fn a_missing_feature_fails_the_term_even_for_does_not_exist() {
    let spec = parse_spec(
        br#"
version: v1alpha1
compatibilities:
- rules:
  - name: r
    matchFeatures:
    - feature: usb.device
      matchExpressions:
        vendor: {op: DoesNotExist}
"#,
    )
    .unwrap();
    let r = evaluate(&spec, &Features::default(), &[]);
    assert_eq!(r[0].outcome, Outcome::Fail);
}

#[test]
fn match_name_and_rule_matched_vars() {
    let spec = parse_spec(
        br#"
version: v1alpha1
compatibilities:
- rules:
  - name: avx512
    vars: {avx512: "true"}
    matchFeatures:
    - feature: cpu.cpuid
      matchName: {op: InRegexp, value: ["^AVX512"]}
  - name: uses the var
    matchFeatures:
    - feature: rule.matched
      matchExpressions:
        avx512: {op: IsTrue}
"#,
    )
    .unwrap();
    let mut f = Features::default();
    f.flags
        .insert("cpu.cpuid".into(), ["AVX2".to_owned()].into());
    let r = evaluate(&spec, &f, &[]);
    assert_eq!(r[0].rules[0].outcome, Outcome::Fail);
    assert_eq!(r[0].rules[1].outcome, Outcome::Fail);
    f.flags
        .get_mut("cpu.cpuid")
        .unwrap()
        .insert("AVX512VNNI".into());
    let r = evaluate(&spec, &f, &[]);
    assert_eq!(r[0].rules[0].outcome, Outcome::Pass);
    assert_eq!(r[0].rules[1].outcome, Outcome::Pass);
}

#[test]
fn what_ocipick_cannot_evaluate_is_unknown_never_pass() {
    let spec = parse_spec(
        br#"
version: v1alpha1
compatibilities:
- rules:
  - name: bad number
    matchFeatures:
    - feature: kernel.version
      matchExpressions:
        full: {op: Gt, value: ["5"]}
  - name: templated
    varsTemplate: "{{ range .cpu.cpuid }}{{ .Name }}=true\n{{ end }}"
    matchFeatures:
    - feature: kernel.version
      matchExpressions:
        major: {op: Exists}
  - name: after the template
    matchFeatures:
    - feature: rule.matched
      matchExpressions:
        AVX2: {op: IsTrue}
"#,
    )
    .unwrap();
    let mut f = Features::default();
    f.attributes.insert(
        "kernel.version".into(),
        [
            ("full".to_owned(), "6.1.0-18-amd64".to_owned()),
            ("major".to_owned(), "6".to_owned()),
        ]
        .into(),
    );
    let r = evaluate(&spec, &f, &[]);
    let rules = &r[0].rules;
    assert_eq!(rules[0].outcome, Outcome::Unknown);
    let e = &rules[0].match_features.as_ref().unwrap().expressions[0];
    assert!(e.problem.as_deref().unwrap().contains("not a number"));
    assert_eq!(rules[1].outcome, Outcome::Pass);
    assert!(!rules[1].notes.is_empty());
    assert_eq!(rules[2].outcome, Outcome::Unknown);
    assert_eq!(r[0].outcome, Outcome::Unknown);
}

#[test]
fn the_older_rules_object_is_read_too() {
    // NFD v0.17 documented `rules` as a NodeFeatureRule spec object.
    let spec = parse_spec(
        br#"
version: v1alpha1
compatibilities:
- rules:
    rules:
    - name: r
      labels: {x: y}
      matchFeatures:
      - feature: kernel.loadedmodule
        matchExpressions:
          vfio-pci: {op: Exists}
"#,
    )
    .unwrap();
    assert_eq!(spec.compatibilities[0].rules.len(), 1);
}

#[test]
fn bad_specifications_are_errors() {
    for (yaml, why) in [
        (&b"version: v1\ncompatibilities: []\n"[..], "version"),
        (b"version: v1alpha1\n", "compatibilities"),
        (
            b"version: v1alpha1\ncompatibilities:\n- rules:\n  - name: r\n    matchFeature: []\n",
            "rules",
        ),
        (b"[1, 2", ""),
    ] {
        let e = parse_spec(yaml).unwrap_err().to_string();
        assert!(e.contains(why), "{e}");
    }
    let big = vec![b' '; ocipick::nfd::MAX_SPEC_BYTES + 1];
    assert!(parse_spec(&big)
        .unwrap_err()
        .to_string()
        .contains("more than"));
}

#[test]
fn rule_matched_exists_only_after_a_first_rule() {
    // As NFD's validator: the feature is added after each rule (empty when
    // the rule failed), so a first rule on it fails even for DoesNotExist,
    // and a later one sees it.
    let spec = parse_spec(
        br#"
version: v1alpha1
compatibilities:
- rules:
  - name: first
    matchFeatures:
    - feature: rule.matched
      matchExpressions:
        x: {op: DoesNotExist}
  - name: second
    matchFeatures:
    - feature: rule.matched
      matchExpressions:
        x: {op: DoesNotExist}
"#,
    )
    .unwrap();
    let r = evaluate(&spec, &Features::default(), &[]);
    assert_eq!(r[0].rules[0].outcome, Outcome::Fail);
    assert_eq!(r[0].rules[1].outcome, Outcome::Pass);
}

#[test]
fn an_unknown_rule_with_vars_makes_later_uses_unknown() {
    let spec = parse_spec(
        br#"
version: v1alpha1
compatibilities:
- rules:
  - name: unknown
    vars: {ok: "true"}
    matchFeatures:
    - feature: kernel.version
      matchExpressions:
        full: {op: Gt, value: ["5"]}
  - name: uses it
    matchFeatures:
    - feature: rule.matched
      matchExpressions:
        ok: {op: IsTrue}
"#,
    )
    .unwrap();
    let mut f = Features::default();
    f.attributes.insert(
        "kernel.version".into(),
        [("full".to_owned(), "6.1.0-18-amd64".to_owned())].into(),
    );
    let r = evaluate(&spec, &f, &[]);
    assert_eq!(r[0].rules[0].outcome, Outcome::Unknown);
    assert_eq!(r[0].rules[1].outcome, Outcome::Unknown);
}
