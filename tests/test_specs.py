"""Spec building: defaults, validation that names the bad value, strict types and fields, hashing."""
import json

import pytest

from lab.errors import LabError
from lab.specs import KINDS, example_spec, spec_from_dict, spec_from_json


def test_every_kind_has_a_complete_example_that_round_trips():
    for kind, entry in KINDS.entries().items():
        spec = example_spec(kind)
        data = json.loads(spec.to_json())
        assert data["kind"] == kind
        assert spec_from_dict(data) == spec
        for name in data:
            if name != "kind":
                assert entry.spec_class.help(name, "en"), f"{kind}.{name} has no English help"
                assert entry.spec_class.help(name, "zh"), f"{kind}.{name} has no Chinese help"


@pytest.mark.parametrize("data, key, fragment", [
    ({"kind": "nope"}, "unknown_kind", "Unknown job kind 'nope'"),
    ({"steps": 3}, "missing_kind", "no \"kind\""),
    ({"kind": "demo", "stepz": 3}, "unknown_field", "Unknown field 'stepz'"),
    ({"kind": "demo", "steps": "ten"}, "bad_type", "steps must be of type int, not str"),
    ({"kind": "demo", "steps": True}, "bad_type", "steps must be of type int, not bool"),
    ({"kind": "demo", "steps": 0}, "too_small", "steps (0) must be at least 1"),
    ({"kind": "demo", "step_seconds": 99}, "too_large", "step_seconds (99.0) must be at most 60"),
    ({"kind": "demo", "steps": 3, "fail_at_step": 5}, "field_greater", "fail_at_step (5) must not be greater than steps (3)"),
])
def test_bad_specs_raise_one_line_messages_naming_the_value(data, key, fragment):
    with pytest.raises(LabError) as info:
        spec_from_dict(data)
    assert info.value.key == key
    message = str(info.value)
    assert fragment in message and "\n" not in message
    assert info.value.message("zh") != message  # the same error exists in Chinese


def test_integral_floats_are_accepted_as_ints_and_ints_as_floats():
    spec = spec_from_dict({"kind": "demo", "steps": 4.0, "step_seconds": 1})
    assert spec.steps == 4 and isinstance(spec.steps, int)
    assert spec.step_seconds == 1.0 and isinstance(spec.step_seconds, float)


def test_bad_json_and_non_object():
    with pytest.raises(LabError, match="not valid JSON"):
        spec_from_json('{"kind": "demo",')
    with pytest.raises(LabError, match="JSON object, not a list"):
        spec_from_json("[1, 2]")


def test_spec_hash_ignores_the_name_but_not_settings():
    a = spec_from_dict({"kind": "demo", "name": "a"})
    b = spec_from_dict({"kind": "demo", "name": "b"})
    c = spec_from_dict({"kind": "demo", "steps": 11})
    assert a.spec_hash() == b.spec_hash() != c.spec_hash()
