"""Packet loss as TCP shows it: a lost segment is sent again after the retransmission
timeout (200 ms, doubled per further loss); the caller waits, or gives up (a timeout).
No connection resets, and a server whose replies are lost does not see it in its own
durations (the kernel retransmits after the server's timer stopped)."""

from __future__ import annotations

import random

import numpy as np
import polars as pl

from workbench import frames
from workbench.evaluation.labcase import lab_case
from workbench.lab.sim import retransmits
from workbench.lab.traces import retransmit_wait


def test_a_healthy_link_waits_nothing_and_draws_once():
    r, ref = random.Random(7), random.Random(7)
    assert retransmit_wait(r, 0.0, 2.0) == 0.0
    ref.random()
    assert r.random() == ref.random()  # healthy cases draw as before: same data


def test_the_sampled_and_the_mean_field_model_agree():
    r = random.Random(3)
    waits = [retransmit_wait(r, 0.35, 2.0) for _ in range(40000)]
    mean, gone = retransmits(np.array([0.35]), 2.0)
    through = [w for w in waits if w <= 2.0]
    assert abs(sum(through) / len(through) - mean[0]) < 0.01
    assert abs((len(waits) - len(through)) / len(waits) - gone[0]) < 0.003
    assert round(float(gone[0]), 4) == round(0.35**4, 4)  # 0.2 + 0.4 + 0.8 < 2 s < +1.6
    assert set(np.round(sorted(set(through)), 3)) == {0.0, 0.2, 0.6, 1.4}


def test_packet_loss_times_calls_out_and_never_resets_them(lab_scenario_dir):
    case = lab_case(lab_scenario_dir("packet-loss", 1))
    spans = case.frames()["spans"].with_columns(err=frames.attr("attributes", "error.type"))
    root = case.truth
    calls = spans.filter(
        (pl.col("kind") == "client") & (frames.attr("attributes", "server.address") == root)
    )
    assert calls.height > 0
    kinds = set(calls["err"].drop_nulls())
    assert "connection_reset" not in set(spans["err"].drop_nulls())
    assert kinds <= {"timeout", "500", "503", "504"}
