"""Scaling-law data: CSV headers are recognised by their common names, numbers in their common
spellings, and every problem is refused naming its column or row (the row is the file's line)."""
import numpy as np
import pytest

from lab import config
from lab.errors import LabError
from lab.kinds.scaling import EXAMPLE_CSV
from lab.scaling.data import frontier_points, parse_number, points_from_records, points_to_csv, read_points_csv, read_points_file


@pytest.mark.parametrize("header, role", [
    ("N", "N"), ("params", "N"), ("Model Size", "N"), ("model_size", "N"), (" Parameters ", "N"),
    ("D", "D"), ("tokens", "D"), ("Training Tokens", "D"),
    ("C", "C"), ("flops", "C"), ("Training FLOP", "C"), ("Training FLOPs", "C"), ("compute", "C"),
    ("loss", "loss"), ("Final Loss", "loss"), ("val_loss", "loss"), ("name", "label"),
])
def test_common_header_names_are_recognised(header, role):
    text = f"{header},other\n1,2\n"
    with pytest.raises(LabError) as info:  # "other" is unknown: the error proves the first column was accepted
        read_points_csv(text)
    assert info.value.key == "scaling_unknown_header" and info.value.params == {"column": "other", "position": 2}


def test_points_with_tokens_get_their_compute():
    points = read_points_csv("Model Size,Training Tokens,loss\n1e8,2e9,3.1\n4e8,8e9,2.7\n")
    assert list(points.columns) == ["N", "D", "C", "loss", "label", "row"]
    assert points["C"].tolist() == [6 * 1e8 * 2e9, 6 * 4e8 * 8e9] and points["row"].tolist() == [2, 3]


def test_points_with_compute_only_get_tokens_from_c_over_6n():
    points = read_points_csv("params\tTraining FLOP\tloss\n1e8\t1.2e18\t3.0\n2e8\t1.2e18\t2.9\n")
    assert np.allclose(points["D"], [1.2e18 / 6e8, 1.2e18 / 12e8])


def test_semicolons_suffixes_quoted_thousands_labels_blank_lines_and_a_bom():
    text = "\ufeffname;N;tokens;loss\nsmall;70M;1.4B;3.2\n\nbig;1,000,000,000;20e9;2.5\n"
    points = read_points_csv(text)
    assert points["N"].tolist() == [70e6, 1e9] and points["D"].tolist() == [1.4e9, 20e9]
    assert points["label"].tolist() == ["small", "big"] and points["row"].tolist() == [2, 4]
    quoted = read_points_csv('N,D,loss\n"1,500",2000,3\n')
    assert quoted["N"].tolist() == [1500.0]


@pytest.mark.parametrize("text, expected", [("1.4e9", 1.4e9), ("70M", 70e6), ("1.4B", 1.4e9), ("2k", 2000.0),
                                            ("10T", 1e13), (" 3 ", 3.0), ("1_000", 1000.0), ("abc", None),
                                            ("", None), ("nan", None), ("inf", None), ("1.2.3", None), ("MB", None)])
def test_parse_number(text, expected):
    assert parse_number(text) == expected


@pytest.mark.parametrize("text, key, params", [
    ("", "scaling_csv_empty", {}),
    ("N,D,loss\n", "scaling_csv_no_rows", {"row": 1}),
    ("N,D,accuracy\n1,2,3\n", "scaling_unknown_header", {"column": "accuracy", "position": 3}),
    ("N,D\n1,2\n", "scaling_missing_column", {"role": "loss"}),
    ("D,loss\n1,2\n", "scaling_missing_column", {"role": "N"}),
    ("N,loss\n1,2\n", "scaling_missing_tokens", {}),
    ("N,params,D,loss\n1,1,2,3\n", "scaling_duplicate_column", {"column": "params", "other": "N"}),
    ("N,D,loss\n1e8,2e9,3.1\n2e8,four,2.9\n", "scaling_not_a_number", {"column": "D", "row": 3, "value": "four"}),
    ("params,tokens,loss\n1e8,2e9,3.1\n\n2e8,4e9,0\n", "scaling_not_positive", {"column": "loss", "row": 4, "value": "0"}),
    ("params,tokens,loss\n-1e8,2e9,3.1\n", "scaling_not_positive", {"column": "params", "row": 2}),
    ("N,D,loss\n1e8,2e9\n", "scaling_ragged_row", {"row": 2, "cells": 2, "expected": 3}),
])
def test_bad_csv_is_refused_naming_the_column_or_row(text, key, params):
    with pytest.raises(LabError) as info:
        read_points_csv(text)
    assert info.value.key == key
    for name, value in params.items():
        assert info.value.params[name] == value
    for lang in ("en", "zh"):
        message = info.value.message(lang)
        assert message and "{" not in message
    if "column" in params:
        assert f"'{params['column']}'" in info.value.message("en")


def test_missing_file_is_a_lab_error(tmp_path):
    with pytest.raises(LabError) as info:
        read_points_file(tmp_path / "absent.csv")
    assert info.value.key == "cannot_read_file"


def test_the_shipped_example_is_synthetic_chinchilla_like_data():
    points = read_points_file(config.REPO / EXAMPLE_CSV)
    assert len(points) == 56 and points["label"].str.startswith("synthetic-").all()
    assert np.allclose(points["C"], 6 * points["N"] * points["D"], rtol=1e-3)
    assert points["N"].nunique() > 10 and points["loss"].between(1.9, 4.5).all()
    assert "synthetic" in (config.REPO / "assets/data/scaling/README.md").read_text()


def test_csv_round_trip_and_sweep_records():
    records = [{"N": 1e4, "D": 5e4, "loss": 3.0, "label": "a"}, {"N": 2e4, "D": 5e4, "loss": 2.8, "label": "b"},
               {"step": 3}]
    points = points_from_records(records)
    assert len(points) == 2 and points["C"].tolist() == [3e9, 6e9]
    again = read_points_csv(points_to_csv(points))
    assert np.allclose(again[["N", "D", "C", "loss"]], points[["N", "D", "C", "loss"]])
    assert again["label"].tolist() == ["a", "b"]


def test_frontier_points_pick_what_each_kaplan_law_describes():
    points = read_points_csv("N,D,loss\n1,10,5\n1,20,4\n2,10,4.5\n2,20,3\n4,10,4.4\n")
    assert frontier_points(points, "N")[["N", "D"]].values.tolist() == [[1, 20], [2, 20], [4, 10]]
    assert frontier_points(points, "D")[["N", "D"]].values.tolist() == [[4, 10], [2, 20]]
    # compute 60, 120, 120, 240, 240: the frontier keeps runs no cheaper run beats
    assert frontier_points(points, "C")["loss"].tolist() == [5, 4, 3]
