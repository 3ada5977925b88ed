"""The tracker's answers while mail is read: thread lookups from memory agree with the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from followupd.tracker import Tracker


@pytest.fixture
def tracker(tmp_path: Path) -> Tracker:
    tracker = Tracker(tmp_path / "state.sqlite")
    with tracker.transaction() as db:
        app = tracker.create_application(db, "Acme", "Engineer", "work")
        tracker.add_thread_ids(db, app, ["invite.1@acme.example", "apply.1@me.example"])
    return tracker


def test_thread_lookups_see_threads_added_while_mail_is_read(tracker: Tracker) -> None:
    assert tracker.in_tracked_thread(["other@x.example", "apply.1@me.example"])
    with tracker.intake():
        assert tracker.in_tracked_thread(["invite.1@acme.example"])
        assert not tracker.in_tracked_thread(["offer.2@globex.example"])
        assert not tracker.in_tracked_thread([])
        with tracker.transaction() as db:
            app = tracker.create_application(db, "Globex", None, "work")
            tracker.add_thread_ids(db, app, ["offer.2@globex.example", ""])
        assert tracker.in_tracked_thread(["offer.2@globex.example"])
        assert not tracker.in_tracked_thread([""])
    assert tracker.in_tracked_thread(["offer.2@globex.example"])


def test_a_thread_added_by_an_undone_change_is_not_tracked(tracker: Tracker) -> None:
    with tracker.intake():
        with pytest.raises(RuntimeError), tracker.transaction() as db:
            tracker.add_thread_ids(db, 1, ["lost.3@initech.example"])
            raise RuntimeError("the message could not be stored")
        assert not tracker.in_tracked_thread(["lost.3@initech.example"])
        assert tracker.in_tracked_thread(["invite.1@acme.example"])


def test_outside_a_scan_lookups_read_the_file_another_process_wrote(
    tracker: Tracker, tmp_path: Path
) -> None:
    with tracker.intake():
        assert not tracker.in_tracked_thread(["late.4@umbrella.example"])
    other = Tracker(tmp_path / "state.sqlite")
    with other.transaction() as db:
        other.add_thread_ids(db, 1, ["late.4@umbrella.example"])
    other.close()
    assert tracker.in_tracked_thread(["late.4@umbrella.example"])
