"""FolderWatch: adds and removals are seen at once, edits in place within a sweep; cost bounded."""
import os

from qa.corpus.watch import FolderWatch


def test_adding_and_removing_a_file_is_seen_at_once(tmp_path):
    (tmp_path / "a.txt").write_text("甲", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    watch = FolderWatch(tmp_path, sweep_factor=1e9)  # never sweep on time: only folder changes count
    first = watch.signature()
    assert [p.rsplit("/", 1)[1] for p, _, _ in first] == ["a.txt"]
    (tmp_path / "sub" / "b.md").write_text("乙", encoding="utf-8")
    assert len(watch.signature()) == 2
    (tmp_path / "a.txt").rename(tmp_path / ".hidden.txt")  # hidden files (and .removed/) are skipped
    assert [p.rsplit("/", 1)[1] for p, _, _ in watch.signature()] == ["b.md"]


def test_an_edit_in_place_is_seen_by_the_next_sweep(tmp_path):
    doc = tmp_path / "a.txt"
    doc.write_text("甲", encoding="utf-8")
    watch = FolderWatch(tmp_path, sweep_factor=1e9)
    before = watch.signature()
    doc.write_text("甲乙丙", encoding="utf-8")
    os.utime(tmp_path, ns=(watch._dir_stamps[0], watch._dir_stamps[0]))  # folder unchanged
    assert watch.signature() == before  # between sweeps: the folder did not change
    watch.sweep_factor = 0.0  # sweep now
    assert watch.signature() != before
