"""Loading replay stores: both file forms, naming, and one clear error per malformed case."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ttsc.errors import StoreError
from ttsc.runtime.store import Branch, Question, Store, load_store, load_stores


def question(**override: Any) -> dict[str, Any]:
    q = {
        "question": "1+1?",
        "gold_answer": "2",
        "probe_freq": 500,
        "each_branch": [[["3", "2"], 1200, "2"], [[], 80, "ERR"]],
        "final_answers_trace": ["2", "ERR"],
    }
    q.update(override)
    return q


def write(tmp_path: Path, data: Any, name: str = "store.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_list_form(tmp_path: Path) -> None:
    store = load_store(write(tmp_path, [question(), question(gold_answer="7")]))
    assert store == Store(
        name=f"{tmp_path.name}/store",
        path=str(tmp_path / "store.json"),
        questions=(
            Question("1+1?", "2", 500, (Branch(("3", "2"), 1200, "2"), Branch((), 80, "ERR"))),
            Question("1+1?", "7", 500, (Branch(("3", "2"), 1200, "2"), Branch((), 80, "ERR"))),
        ),
        meta={},
    )


def test_object_form_keeps_meta(tmp_path: Path) -> None:
    meta = {"synthetic": True, "seed": 3}
    store = load_store(write(tmp_path, {"meta": meta, "questions": [question()]}), name="x")
    assert store.meta == meta and store.name == "x" and len(store.questions) == 1


def test_object_form_meta_is_optional(tmp_path: Path) -> None:
    assert load_store(write(tmp_path, {"questions": [question()]})).meta == {}


BAD_QUESTIONS = [
    # (override of one question, the index it sits at, fragments the message must hold)
    ({"probe_freq": 0}, "key 'probe_freq' must be a positive integer, got 0"),
    ({"probe_freq": -500}, "key 'probe_freq' must be a positive integer, got -500"),
    ({"probe_freq": True}, "key 'probe_freq' must be a positive integer, got True"),
    ({"probe_freq": 500.0}, "key 'probe_freq' must be a positive integer, got 500.0"),
    ({"probe_freq": "500"}, "key 'probe_freq' must be a positive integer, got '500'"),
    ({"gold_answer": 2}, "key 'gold_answer' must be a string"),
    ({"gold_answer": None}, "key 'gold_answer' must be a string"),
    ({"question": ["x"]}, "key 'question' must be a string"),
    ({"each_branch": []}, "key 'each_branch' holds no branches"),
    ({"each_branch": {"a": 1}}, "key 'each_branch' must be a list"),
    ({"each_branch": [[["1"], 600]]}, "key 'each_branch': branch 0: must be a list of 3 items [probes, total_tokens, final_answer], got a list of 2"),
    ({"each_branch": [[["1"], 600, "1", "x"]]}, "branch 0: must be a list of 3 items [probes, total_tokens, final_answer], got a list of 4"),
    ({"each_branch": [[["1"], 600, "1"], "branch"]}, "key 'each_branch': branch 1: must be a list"),
    ({"each_branch": [[["1", 2], 600, "1"]]}, "branch 0: probes must be a list of strings, got an integer 2 at probe 1"),
    ({"each_branch": [["1", 600, "1"]]}, "branch 0: probes must be a list of strings, got a string"),
    ({"each_branch": [[["1"], -1, "1"]]}, "branch 0: total_tokens must be a non-negative integer, got -1"),
    ({"each_branch": [[["1"], 600.5, "1"]]}, "branch 0: total_tokens must be a non-negative integer, got 600.5"),
    ({"each_branch": [[["1"], False, "1"]]}, "branch 0: total_tokens must be a non-negative integer, got False"),
    ({"each_branch": [[["1"], 600, 1]]}, "branch 0: final_answer must be a string, got an integer 1"),
    ({"each_branch": [[["1"], 600, None]]}, "branch 0: final_answer must be a string, got null"),
]


@pytest.mark.parametrize(("override", "message"), BAD_QUESTIONS)
def test_malformed_question_names_file_question_and_key(tmp_path: Path, override: dict, message: str) -> None:
    path = write(tmp_path, [question(), question(), question(), question(**override)])
    with pytest.raises(StoreError) as err:
        load_store(path)
    assert str(err.value).startswith(f"{path}: question 3: ")
    assert message in str(err.value)


@pytest.mark.parametrize("key", ["question", "gold_answer", "probe_freq", "each_branch"])
def test_missing_key(tmp_path: Path, key: str) -> None:
    q = question()
    del q[key]
    path = write(tmp_path, [question(), q])
    with pytest.raises(StoreError, match=rf"^{re.escape(str(path))}: question 1: missing key '{key}'$"):
        load_store(path)


def test_error_in_object_form_names_question(tmp_path: Path) -> None:
    path = write(tmp_path, {"meta": {}, "questions": [question(), question(probe_freq=0)]})
    with pytest.raises(StoreError, match=r"question 1: key 'probe_freq'"):
        load_store(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("", "not valid JSON"),
        ('{"a": 1}', "a store object must have keys 'questions'"),
        ('{"questions": [], "extra": 1}', "got unexpected ['extra']"),
        ('{"meta": [], "questions": []}', "key 'meta' must be an object"),
        ('"questions"', "must be a JSON list of questions"),
        ("[]", "store has no questions"),
        ('{"questions": {}}', "must be a JSON list of questions"),
        ("[1]", "question 0: must be an object, got an integer 1"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("null", "(or an object with 'questions'), got null"),
        ('{"questions": [1], "meta": null}', "key 'meta' must be an object, got null"),
        # more digits than Python's int() takes: json.loads raises a plain ValueError
        ('[{"question": "q",\n  "total_tokens": 1' + "0" * 5000 + "}]", "a number with too many digits at line 2 column 19"),
        ('{"questions": [], "questions": [1]}', "duplicate key 'questions' in the object at line 1 column 1"),
        ('[{"question": "q",\n  "gold_answer": "1", "gold_answer": "2"}]',
         "duplicate key 'gold_answer' in the object at line 1 column 2"),
    ],
)
def test_malformed_file(tmp_path: Path, content: str, message: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(StoreError) as err:
        load_store(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)
    assert "None" not in str(err.value)  # JSON's null, never Python's None


def test_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    path.write_bytes(b'[{"question": "\xff"}]')
    with pytest.raises(StoreError, match="not valid UTF-8"):
        load_store(path)


def test_unreadable_paths(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot read store"):
        load_store(tmp_path / "missing.json")
    with pytest.raises(StoreError, match="no such file or directory"):
        load_stores([tmp_path / "missing.json"])


def test_directory_naming_and_order(tmp_path: Path) -> None:
    for rel in ["b/z.json", "a/y.json", "a/x.json", "top.json", "a/notes.txt"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        write(tmp_path, [question()], rel)
    single = write(tmp_path / "b", [question()], "single.json")
    stores = load_stores([tmp_path / "a", str(single)])
    assert [s.name for s in stores] == ["x", "y", "b/single"]
    assert [s.name for s in load_stores([tmp_path])] == ["a/x", "a/y", "b/single", "b/z", "top"]


def test_directory_without_stores(tmp_path: Path) -> None:
    (tmp_path / "empty" / "deeper").mkdir(parents=True)
    with pytest.raises(StoreError, match="holds no \\*.json store"):
        load_stores([tmp_path / "empty"])


def test_directory_error_names_the_file(tmp_path: Path) -> None:
    write(tmp_path, [question()], "good.json")
    bad = write(tmp_path, [question(each_branch=[])], "bad.json")
    with pytest.raises(StoreError, match=rf"^{re.escape(str(bad))}: question 0: key 'each_branch'"):
        load_stores([tmp_path])


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, [question()])
    with pytest.raises(StoreError, match="store name .* is also used by"):
        load_stores([path, path])


def test_published_stores_load(shared: Path) -> None:
    # How long this takes is measured by `python -m benchmarks.timings`, not asserted here.
    stores = load_stores([shared / "replay" / "autotts"])
    assert len(stores) == 12 and "Qwen3-8B/aime25" in [s.name for s in stores]
    assert all(len(s.questions) == 30 and all(len(q.branches) == 128 for q in s.questions) for s in stores)


def test_fast_and_careful_validation_build_the_same_branches() -> None:
    """Valid branches skip the per-branch checks; what they build is what the careful path builds."""
    from ttsc.runtime import store as store_mod

    raw = json.loads(store_mod.default_store_path().read_text(encoding="utf-8"))
    questions = raw["questions"] if isinstance(raw, dict) else raw
    for i, q in enumerate(questions):
        fast = store_mod._well_formed(q["each_branch"], q["probe_freq"])
        careful = tuple(store_mod._branch(b, q["probe_freq"], f"question {i}") for b in q["each_branch"])
        assert fast == careful
    # Anything the careful path would refuse falls back to it, whatever branch it sits in.
    for bad in ([[["1", 2], 5, "1"]], [[["1"], 5, "1"], [["1"], 5]], [[["1"], True, "1"]], [[["1"], 10**13, "1"]],
                [[["1"] * 3, 5, "1"]]):
        assert store_mod._well_formed(bad, 10**12 // 2) is None


def test_several_directories_name_stores_by_their_folder(tmp_path) -> None:
    from ttsc.runtime.store import load_stores
    from ttsc.runtime.synth import dumps_store, generate_store
    for model in ("m1", "m2"):
        (tmp_path / model).mkdir()
        (tmp_path / model / "bench.json").write_text(dumps_store(generate_store(questions=2, branches=3)))
    assert [s.name for s in load_stores([tmp_path / "m1"])] == ["bench"]
    assert [s.name for s in load_stores([tmp_path / "m1", tmp_path / "m2"])] == ["m1/bench", "m2/bench"]


@pytest.mark.parametrize("content,place", [
    ('[{"question":"q","gold_answer":"\\ud800","probe_freq":10,"each_branch":[[[],5,"a"]]}]',
     "question 0: key 'gold_answer': a string"),
    ('[{"question":"q","gold_answer":"a","probe_freq":10,"each_branch":[[["x","\\udfff"],5,"a"]]}]',
     "question 0: key 'each_branch': item 0: item 0: item 1: a string"),
    ('{"meta":{"non_answers":["\\udc00"]},"questions":[{"question":"q","gold_answer":"a","probe_freq":10,'
     '"each_branch":[[[],5,"a"]]}]}', "key 'meta': key 'non_answers': item 0: a string"),
    ('{"questions":[{"question":"q","gold_answer":"a","probe_freq":10,"\\ud800":1,"each_branch":[[[],5,"a"]]}]}',
     "key 'questions': question 0: key '\\ud800': a key"),
])
def test_a_lone_surrogate_is_refused_where_it_is(tmp_path: Path, content: str, place: str) -> None:
    """Half of a UTF-16 pair escaped on its own is valid JSON but no text: traces could not write it."""
    path = tmp_path / "s.json"
    path.write_text(content)
    with pytest.raises(StoreError) as info:
        load_store(path)
    assert str(info.value).startswith(f"{path}: {place} holds a lone surrogate"), str(info.value)


def test_a_surrogate_pair_and_an_escaped_backslash_are_text(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('[{"question":"q","gold_answer":"\\ud83d\\ude00","probe_freq":10,"each_branch":[[[],5,"\\\\ud800"]]}]')
    q = load_store(path).questions[0]
    assert q.gold == "\U0001F600" and q.branches[0].final_answer == "\\ud800"


def test_a_leading_byte_order_mark_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps([{"question": "q", "gold_answer": "a", "probe_freq": 10,
                                                    "each_branch": [[[], 5, "a"]]}]).encode())
    assert load_store(path).questions[0].gold == "a"
