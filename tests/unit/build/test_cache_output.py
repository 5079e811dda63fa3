"""The build cache's entries on disk, and the ordering of parallel stages' output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dockyard.build.cache import BuildCache, Entry, step_key
from dockyard.build.output import Output, Quiet, StageOutputs, error_message, short_id
from dockyard.images.assemble import LayerBlob
from dockyard.oci.digest import Digest

LAYER = LayerBlob(Digest.of(b"blob"), 4, "none", Digest.of(b"blob"))


def test_keys_depend_on_every_part() -> None:
    base = step_key("sha256:p", "COPY a /b", args=["A=1"], sources="file:x", extra="e")
    assert base == step_key("sha256:p", "COPY a /b", args=["A=1"], sources="file:x", extra="e")
    others = {step_key("sha256:q", "COPY a /b", args=["A=1"], sources="file:x", extra="e"),
              step_key("sha256:p", "COPY a /c", args=["A=1"], sources="file:x", extra="e"),
              step_key("sha256:p", "COPY a /b", args=["A=2"], sources="file:x", extra="e"),
              step_key("sha256:p", "COPY a /b", args=["A=1"], sources="file:y", extra="e"),
              step_key("sha256:p", "COPY a /b", args=["A=1"], sources="file:x", extra="f")}
    assert base not in others and len(others) == 5


def test_entries_survive_a_new_cache_object(tmp_path: Path) -> None:
    clock = iter(range(100, 200)).__next__
    cache = BuildCache(tmp_path / "cache", clock=lambda: float(clock()))
    put = cache.put("k1", "", "COPY a /b", b'{"x":1}', layers=[LAYER], size=4)
    assert put == Entry("k1", "", "COPY a /b", b'{"x":1}', (LAYER,), 4, 100.0, 100.0, 1)
    again = BuildCache(tmp_path / "cache", clock=lambda: 500.0)
    hit = again.get("k1")
    assert hit is not None and (hit.usage_count, hit.last_used) == (2, 500.0)
    assert hit.image_id == Digest.of(b'{"x":1}')
    assert again.get("nope") is None
    assert again.roots().content == frozenset({LAYER.digest})
    assert again.roots().snapshots == frozenset({str(LAYER.diff_id)})
    assert again.get("k1", valid=lambda entry: False) is None
    assert again.entries() == []


def test_unreadable_entries_are_dropped(tmp_path: Path) -> None:
    cache = BuildCache(tmp_path / "cache")
    (tmp_path / "cache" / "bad.json").write_text("{nope")
    assert cache.get("bad") is None
    assert not (tmp_path / "cache" / "bad.json").exists()


def test_messages() -> None:
    got: list[dict[str, Any]] = []
    out = Output(got.append)
    out.step(1, 2, "FROM x")
    out.image("")
    out.image(Digest.of(b"c"))
    out.stderr(b"oops\n")
    assert got == [{"stream": "Step 1/2 : FROM x"}, {"stream": "\n"}, {"stream": " ---> \n"},
                   {"stream": f" ---> {short_id(Digest.of(b'c'))}\n"},
                   {"stream": "\x1b[91moops\n\x1b[0m"}]
    assert error_message("boom", 3) == {"errorDetail": {"code": 3, "message": "boom"},
                                        "error": "boom"}
    assert error_message("boom") == {"errorDetail": {"message": "boom"}, "error": "boom"}


def test_quiet_keeps_everything_until_the_end() -> None:
    got: list[dict[str, Any]] = []
    quiet = Quiet(got.append)
    quiet({"stream": "Step 1/1 : FROM x"})
    quiet.finish(Digest.of(b"i"))
    assert got == [{"stream": f"{Digest.of(b'i')}\n"}]
    quiet.fail()
    assert got[-1] == {"stream": "Step 1/1 : FROM x"}


def test_parallel_stages_show_in_dockerfile_order() -> None:
    got: list[str] = []
    outputs = StageOutputs(lambda m: got.append(m["stream"]), [0, 2, 5])
    later, first, last = outputs.output(2), outputs.output(0), outputs.output(5)
    later.text("b1")
    last.text("c1")
    first.text("a1")
    outputs.finish(2)  # done early: held until stage 0 is
    last.text("c2")
    assert got == ["a1"]
    outputs.finish(0)
    assert got == ["a1", "b1", "c1", "c2"]
    last.text("c3")
    assert got[-1] == "c3"


def _uses(cache: BuildCache) -> list[tuple[str, int, float]]:
    return [(e.key, e.usage_count, e.last_used) for e in cache.entries()]


def test_hits_go_to_a_journal_folded_when_all_entries_are_read(tmp_path: Path) -> None:
    clock = iter([100.0, 110.0, 200.0, 300.0, 400.0]).__next__
    cache = BuildCache(tmp_path / "cache", clock=clock)
    cache.put("k1", "", "COPY a /b", b"{}", layers=[], size=0)
    cache.put("k2", "k1", "ENV A=1", b"{}", layers=[], size=0)
    entry_file = (tmp_path / "cache" / "k1.json").read_bytes()
    hit = cache.get("k1")
    assert hit is not None and (hit.usage_count, hit.last_used) == (2, 200.0)
    assert cache.get("k1") is not None
    assert (tmp_path / "cache" / "k1.json").read_bytes() == entry_file  # not rewritten
    assert (tmp_path / "cache" / "uses").read_text() == "k1 200.0\nk1 300.0\n"
    assert _uses(cache) == [("k1", 3, 300.0), ("k2", 1, 110.0)]
    assert not (tmp_path / "cache" / "uses").exists()
    assert _uses(BuildCache(tmp_path / "cache")) == [("k1", 3, 300.0), ("k2", 1, 110.0)]
    assert cache.get("k2") is not None
    assert _uses(cache) == [("k1", 3, 300.0), ("k2", 2, 400.0)]  # once the entries are loaded


def test_a_fold_cut_short_counts_no_use_twice(tmp_path: Path) -> None:
    times = iter([100.0, 200.0, 300.0, 400.0]).__next__
    cache = BuildCache(tmp_path / "cache", clock=times)
    cache.put("k1", "", "COPY a /b", b"{}", layers=[], size=0)
    cache.put("gone", "", "COPY c /d", b"{}", layers=[], size=0)
    cache.get("k1")
    cache.get("gone")
    journal = tmp_path / "cache" / "uses"
    folded_before_the_crash = journal.read_bytes()
    assert _uses(cache) == [("k1", 2, 300.0), ("gone", 2, 400.0)]
    journal.write_bytes(folded_before_the_crash + b"k1 500.0\nk1")  # the crash: not unlinked
    (tmp_path / "cache" / "gone.json").unlink()
    again = BuildCache(tmp_path / "cache")
    again.recover()
    assert not journal.exists()
    assert _uses(again) == [("k1", 3, 500.0)]


def test_a_long_journal_is_folded_by_a_hit(tmp_path: Path) -> None:
    cache = BuildCache(tmp_path / "cache", clock=iter(range(100, 200)).__next__,
                       journal_limit=10)
    cache.put("k1", "", "COPY a /b", b"{}", layers=[], size=0)
    cache.get("k1")
    assert (tmp_path / "cache" / "uses").exists()
    cache.get("k1")
    assert not (tmp_path / "cache" / "uses").exists()
    assert _uses(BuildCache(tmp_path / "cache")) == [("k1", 3, 102)]
