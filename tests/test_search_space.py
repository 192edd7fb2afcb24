"""SearchSpace and Architecture: encode/decode, JSON, validation, the --space file format."""

from __future__ import annotations

import json

import pytest

from nas_pattern import CNN_SPACE, RNN_SPACE, Architecture, Decision, SearchSpace


@pytest.mark.parametrize("space", [CNN_SPACE, RNN_SPACE], ids=["cnn", "rnn"])
def test_encode_decode_round_trip_over_the_whole_space(space: SearchSpace) -> None:
    seen = set()
    for architecture in space:
        assert space.decode(space.encode(architecture)) == architecture
        assert Architecture.from_json(json.loads(json.dumps(architecture.to_json()))) == architecture
        seen.add(architecture)
    assert len(seen) == space.size


def test_describe_is_one_readable_line() -> None:
    classic = CNN_SPACE.decode(CNN_SPACE.encode(Architecture.from_json({"layers": [
        {"filters": 32, "kernel_size": 5, "pool_size": 2, "dropout_rate": 0.25},
        {"filters": 64, "kernel_size": 5, "pool_size": 2, "dropout_rate": 0.0},
    ]})))
    assert classic.describe() == "conv 5x32 pool2 drop0.25 | conv 5x64 pool2 drop0.0"
    plain = SearchSpace((Decision("width", (1, 2)),), max_layers=2).decode([0, 1])
    assert plain.describe() == "width=1 | width=2"


def test_space_json_round_trip_and_load(tmp_path) -> None:
    path = tmp_path / "space.json"
    path.write_text(json.dumps(CNN_SPACE.to_json()))
    assert SearchSpace.load(path) == CNN_SPACE
    path.write_text(json.dumps(CNN_SPACE.to_json()), encoding="utf-8-sig")  # a BOM, as some editors save
    assert SearchSpace.load(path) == CNN_SPACE


def test_parse_checks_membership_and_normalises_values() -> None:
    data = {"layers": [{"filters": 8, "kernel_size": 1, "pool_size": 1, "dropout_rate": 0}] * 2}
    architecture = CNN_SPACE.parse(data)
    assert architecture[0]["dropout_rate"] == 0.0
    assert architecture.describe().startswith("conv 1x8")
    with pytest.raises(ValueError, match="filters=7 is not one of"):
        CNN_SPACE.parse({"layers": [{"filters": 7, "kernel_size": 1, "pool_size": 1, "dropout_rate": 0.0}] * 2})


def test_validate_gives_reasons() -> None:
    one_layer = Architecture.from_json({"layers": [{"filters": 8, "kernel_size": 1, "pool_size": 1,
                                                    "dropout_rate": 0.0}]})
    assert CNN_SPACE.validate(one_layer) == ["has 1 layer, the space has 2"]
    wrong_names = Architecture.from_json({"layers": [{"units": 8}, {"units": 8}]})
    assert "layer 1 has decisions ['units']" in CNN_SPACE.validate(wrong_names)[0]
    assert CNN_SPACE.validate(CNN_SPACE.decode([0] * 8)) == []


def test_booleans_are_not_numbers() -> None:
    space = SearchSpace((Decision("flag", (False, True)),), max_layers=1)
    with pytest.raises(ValueError, match="flag=1 is not one of"):
        space.encode(Architecture.from_json({"layers": [{"flag": 1}]}))


def test_decode_rejects_bad_indices() -> None:
    with pytest.raises(ValueError, match="expected 8 choice indices, got 3"):
        CNN_SPACE.decode([0, 0, 0])
    with pytest.raises(ValueError, match="choice index 9 out of range for 'l1_filters'"):
        CNN_SPACE.decode([9] + [0] * 7)


@pytest.mark.parametrize(("data", "message"), [
    ([1, 2], "expected a JSON object"),
    ({"decisions": "filters"}, "'decisions' must be a list"),
    ({"decisions": []}, "decisions must be at least one decision"),
    ({"decisions": [{"name": "filters"}]}, "decisions\\[0\\] must be an object with exactly 'name' and 'choices'"),
    ({"decisions": [{"name": "filters", "choices": []}]}, "decisions\\[0\\].choices \\(filters\\) must be a non-empty"),
    ({"decisions": [{"name": "filters", "choices": 3}]}, "decisions\\[0\\].choices must be a list"),
    ({"decisions": [{"name": "filters", "choices": [1, [2]]}]}, "must be numbers, strings or booleans"),
    ({"decisions": [{"name": "filters", "choices": [1, 1]}]}, "must be distinct values"),
    ({"decisions": [{"name": "my filters", "choices": [1]}]}, "name must be an identifier"),
    ({"decisions": [{"name": "a", "choices": [1]}, {"name": "a", "choices": [2]}]},
     "decisions\\[1\\].name must be a name used once"),  # the second one, not the first
    ({"decisions": [{"name": "a", "choices": [1]}], "max_layers": 0}, "max_layers must be an integer >= 1"),
    ({"decisions": [{"name": "a", "choices": [1]}], "max_layers": "2"}, "max_layers must be an integer"),
    ({"decisions": [{"name": "a", "choices": [1]}], "layers": 2}, "unknown key\\(s\\) \\['layers'\\]"),
    ({"decisions": [{"name": "a", "choices": [1]}], "layer_format": "{b}"}, "does not fit the decisions"),
])
def test_malformed_space_json_gets_one_line_naming_the_problem(data, message) -> None:
    with pytest.raises(ValueError, match=message) as info:
        SearchSpace.from_json(data, source="space.json")
    assert str(info.value).startswith("space.json: ")
    assert "\n" not in str(info.value)


def test_space_file_errors_name_the_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.json does not exist"):
        SearchSpace.load(tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"decisions": [')
    with pytest.raises(ValueError, match=r"broken\.json is not valid JSON"):
        SearchSpace.load(broken)
    folder = tmp_path / "folder.json"  # the OSError a file that cannot be read gives, [Errno 21] here
    folder.mkdir()
    with pytest.raises(ValueError, match=r"^search space file .*folder\.json cannot be read: Is a directory$"):
        SearchSpace.load(folder)


# ---- properties (hypothesis): the loader never crashes, and valid tables round-trip ----

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
choice = st.integers(-5, 300) | st.floats(-1, 1, allow_nan=False) | st.text(min_size=1, max_size=4) | st.booleans()
decision = st.builds(lambda name, choices: {"name": name, "choices": choices},
                     st.from_regex(r"[a-z][a-z_]{0,7}", fullmatch=True),
                     st.lists(choice, min_size=1, max_size=4, unique_by=lambda v: (type(v) is bool, v)))
table = st.builds(lambda rows, layers: {"max_layers": layers, "decisions": rows},
                  st.lists(decision, min_size=1, max_size=4, unique_by=lambda d: d["name"]), st.integers(1, 3))
near_tables = table.flatmap(lambda t: st.sampled_from([
    t, {**t, "max_layers": 0}, {**t, "decisions": t["decisions"] + t["decisions"][:1]},
    {**t, "decisions": [{**t["decisions"][0], "choices": []}]}, {**t, "extra": 1},
    {**t, "decisions": [{"name": t["decisions"][0]["name"]}]},
    {**t, "layer_format": "{" + t["decisions"][0]["name"] + ".real}"},
    {**t, "layer_format": "{" + t["decisions"][0]["name"] + "[0]}"}, {**t, "layer_format": "{"}]))


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, near_tables))
def test_the_space_loader_accepts_or_says_what_is_wrong_in_one_line(data) -> None:
    try:
        space = SearchSpace.from_json(data, source="space.json")
    except ValueError as err:
        assert str(err).startswith("space.json: ") and "\n" not in str(err)
    else:
        assert SearchSpace.from_json(json.loads(json.dumps(space.to_json()))) == space


@settings(max_examples=200, deadline=None)
@given(table, st.data())
def test_architectures_round_trip_through_json(data, draw) -> None:
    space = SearchSpace.from_json(data)
    indices = [draw.draw(st.integers(0, n - 1)) for n in space.num_choices]
    architecture = space.decode(indices)
    text = json.dumps(architecture.to_json())
    assert space.parse(json.loads(text)) == architecture
    assert Architecture.from_json(json.loads(text)) == architecture
    assert space.encode(architecture) == indices


# ---- skip connections and variable depth ----

DEEP = SearchSpace((Decision("width", (1, 2)), Decision("act", ("relu", "tanh"))), max_layers=4, min_layers=2,
                   skip_connections=True, layer_format="{act} {width}")


def test_a_skip_and_depth_space_holds_each_architecture_once() -> None:
    small = SearchSpace((Decision("w", (1, 2)),), max_layers=3, min_layers=1, skip_connections=True)
    seen = list(small)
    # depth 1: 2; depth 2: 2*2 (L2 reads L1); depth 3: 2**3 * 3 (L3 reads L1, L2 or both)
    assert len(seen) == len(set(seen)) == small.size == 2 + 4 + 24
    for architecture in seen:
        assert small.decode(small.encode(architecture)) == architecture
        assert small.parse(json.loads(json.dumps(architecture.to_json()))) == architecture
        for indices in small.encodings(architecture):  # every way of sampling it, whatever the unused steps
            for tail in range(2):
                assert small.decode(indices + [tail] * (len(small.num_choices) - len(indices))) == architecture


def test_the_controller_steps_of_a_skip_and_depth_space() -> None:
    assert DEEP.step_names == [
        "depth", "l1_width", "l1_act", "l2_width", "l2_act", "l2_from_l1", "l3_width", "l3_act", "l3_from_l1",
        "l3_from_l2", "l4_width", "l4_act", "l4_from_l1", "l4_from_l2", "l4_from_l3"]
    assert DEEP.num_choices == [3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]
    two = DEEP.decode([0, 1, 0, 0, 1, 0] + [1] * 9)  # depth 2: the layers after it are sampled, then dropped
    assert len(two) == 2 and two.inputs == ((0,), (1,))  # L2 selected nothing: it reads L1
    assert two.describe() == "L1: relu 2 | L2 <- L1: tanh 1 | classifier <- L2"
    assert DEEP.used_steps(DEEP.encode(two)) == 6


def test_describe_shows_the_connections_and_what_feeds_the_classifier() -> None:
    architecture = DEEP.parse({"layers": [{"width": 1, "act": "relu"}] * 3, "inputs": [[0], [1], [1, 2]]})
    assert architecture.describe() == "L1: relu 1 | L2 <- L1: relu 1 | L3 <- L1,L2: relu 1 | classifier <- L3"
    branching = DEEP.parse({"layers": [{"width": 1, "act": "relu"}] * 3, "inputs": [[0], [1], [1]]})
    assert branching.outputs == (2, 3)
    assert branching.describe().endswith("| L3 <- L1: relu 1 | classifier <- L2,L3")


@pytest.mark.parametrize(("data", "reason"), [
    ({"layers": [{"width": 1, "act": "relu"}], "inputs": [[0]]}, "has 1 layer, the space has 2 to 4"),
    ({"layers": [{"width": 1, "act": "relu"}] * 2, "inputs": [[0], [2]]}, "layer 2 reads [2]; it must read"),
    ({"layers": [{"width": 1, "act": "relu"}] * 2, "inputs": [[0], []]}, "layer 2 reads []; it must read"),
    ({"layers": [{"width": 1, "act": "relu"}] * 2}, "the space has skip connections, so every layer lists"),
    ({"layers": [{"width": 1, "act": "relu"}] * 2, "inputs": [[0], "1"]}, "'inputs' must be a list of lists"),
    ({"layers": [{"width": 1, "act": "relu"}] * 2, "edges": []}, "unknown key(s) ['edges']"),
])
def test_architectures_outside_a_skip_and_depth_space_are_refused_with_a_reason(data, reason: str) -> None:
    with pytest.raises(ValueError) as error:
        DEEP.parse(data)
    assert reason in str(error.value)


def test_skip_connections_are_refused_by_a_space_without_them() -> None:
    with pytest.raises(ValueError, match="has skip connections \\('inputs'\\); the space has none"):
        CNN_SPACE.parse({"layers": [{"filters": 8, "kernel_size": 1, "pool_size": 1, "dropout_rate": 0}] * 2,
                         "inputs": [[0], [1]]})


def test_a_skip_and_depth_space_file_round_trips_and_plain_files_keep_their_form(tmp_path) -> None:
    path = tmp_path / "space.json"
    path.write_text(json.dumps(DEEP.to_json()))
    assert SearchSpace.load(path) == DEEP
    assert set(CNN_SPACE.to_json()) == {"max_layers", "layer_format", "decisions"}  # no new keys for old spaces
    assert SearchSpace(CNN_SPACE.decisions, 2, min_layers=2) == SearchSpace(CNN_SPACE.decisions, 2)


@pytest.mark.parametrize(("data", "message"), [
    ({"max_layers": 2, "min_layers": 3, "decisions": [{"name": "w", "choices": [1]}]},
     "min_layers must be an integer in 1..max_layers (2), got 3"),
    ({"skip_connections": "yes", "decisions": [{"name": "w", "choices": [1]}]},
     "skip_connections must be true or false, got 'yes'"),
    ({"skip_connections": True, "decisions": [{"name": "from_l1", "choices": [1]}]},
     "must be a name not starting with 'from_l'"),
])
def test_bad_depth_and_skip_settings_are_named(data, message: str) -> None:
    with pytest.raises(ValueError) as error:
        SearchSpace.from_json(data, source="space.json")
    assert str(error.value).startswith("space.json: ") and message in str(error.value)
