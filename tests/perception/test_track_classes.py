"""A tracked obstacle's class by its track's evidence (``perception.track_classes``)."""

import numpy as np

from common.vocab import CYCLIST_CLASS, PEDESTRIAN_CLASS, TRAFFIC_CONE_CLASS
from perception.track_classes import CLASS_MEMORY_S, VRU_TRUST_SCORE, TrackClasses
from perception.types import LIGHT_CLASSES, Detections

MOTORCYCLE = 3
RED, GREEN = min(LIGHT_CLASSES), max(LIGHT_CLASSES)


def _dets(*rows) -> Detections:
    """rows: (class id, score, track id)"""
    n = len(rows)
    return Detections(np.zeros((n, 4), np.float32), np.array([r[1] for r in rows], np.float32),
                      np.array([r[0] for r in rows], np.int64), np.array([r[2] for r in rows], np.int64),
                      np.full(n, np.nan, np.float32), np.full((n, 2), np.nan, np.float32), np.full((n, 2), np.nan, np.float32))


def test_a_cone_read_as_a_motorcycle_or_a_cyclist_for_a_few_frames_stays_a_cone():
    """What det-cones16 did near a closure: a cone at 0.94 for a second, then 0.64 motorcycle and 0.17 cyclist."""
    vote = TrackClasses()
    for k in range(20):
        assert vote(_dets((TRAFFIC_CONE_CLASS, 0.94, 7)), 0.05 * k).class_id[0] == TRAFFIC_CONE_CLASS
    t = 1.0
    for k, (c, s) in enumerate([(MOTORCYCLE, 0.64), (CYCLIST_CLASS, 0.17), (MOTORCYCLE, 0.64), (MOTORCYCLE, 0.6)]):
        out = vote(_dets((c, s, 7), (MOTORCYCLE, 0.7, 8)), t + 0.05 * k)
        assert out.class_id.tolist() == [TRAFFIC_CONE_CLASS, MOTORCYCLE]  # track 8 has only ever been a motorcycle
        assert out.score.tolist() == _dets((c, s, 7), (MOTORCYCLE, 0.7, 8)).score.tolist()  # scores untouched


def test_the_vote_follows_a_class_that_persists():
    vote = TrackClasses()
    for k in range(20):
        vote(_dets((TRAFFIC_CONE_CLASS, 0.9, 1)), 0.05 * k)
    classes = [int(vote(_dets((MOTORCYCLE, 0.9, 1)), 1.0 + 0.05 * k).class_id[0]) for k in range(60)]
    first = classes.index(MOTORCYCLE)
    assert 0 < first * 0.05 < 2 * CLASS_MEMORY_S and set(classes[first:]) == {MOTORCYCLE}


def test_a_sure_walker_or_cyclist_is_never_voted_away_and_lights_untracked_boxes_are_left_alone():
    vote = TrackClasses()
    for k in range(20):
        vote(_dets((TRAFFIC_CONE_CLASS, 0.95, 3)), 0.05 * k)
    # the tracker hands the cone's id to a child stepping out beside it
    assert vote(_dets((PEDESTRIAN_CLASS, VRU_TRUST_SCORE, 3)), 1.0).class_id[0] == PEDESTRIAN_CLASS
    assert vote(_dets((PEDESTRIAN_CLASS, 0.2, 3)), 1.05).class_id[0] == TRAFFIC_CONE_CLASS  # unsure: the track's
    for k in range(10):
        vote(_dets((RED, 0.9, 5)), 0.05 * k)
    assert vote(_dets((GREEN, 0.6, 5)), 0.5).class_id[0] == GREEN  # a light's class is its state
    assert vote(_dets((MOTORCYCLE, 0.6, -1)), 0.55).class_id[0] == MOTORCYCLE  # untracked: nothing to vote with


def test_a_track_unseen_for_a_while_starts_afresh():
    vote = TrackClasses()
    for k in range(20):
        vote(_dets((TRAFFIC_CONE_CLASS, 0.9, 4)), 0.05 * k)
    assert vote(_dets((MOTORCYCLE, 0.5, 4)), 10.0).class_id[0] == MOTORCYCLE
    vote.reset()
    assert vote(_dets((CYCLIST_CLASS, 0.3, 4)), 10.05).class_id[0] == CYCLIST_CLASS
