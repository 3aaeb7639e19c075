"""Template mining: masking, Drain grouping, de-duplication, surges."""

from __future__ import annotations

import polars as pl

from tests.diag_builders import BASELINE, WINDOW, every, log_rows, logs_frame
from workbench.analysis.templates import (
    Drain,
    mask_expr,
    mine_templates,
    template_counts,
    template_examples,
    template_surges,
    template_table,
)


def _mask(s: str) -> str:
    return pl.select(mask_expr(pl.lit(s))).item()


def test_masks_variable_fields():
    assert _mask("took 12ms for user 7") == "took <*> for user <*>"
    assert _mask("from 10.0.0.12:8080 id 3f2b1c9e-1a2b-4c3d-9e8f-0123456789ab") == "from <*> id <*>"
    assert _mask("read /var/lib/data/file.db at 0x7ffe12") == "read <*> at <*>"
    assert _mask("trace 4bf92f3577b34da6a3ce929d0e0e4736 done") == "trace <*> done"
    assert _mask("block blk_-1608999687919862906 ok") == "block <*> ok"
    assert _mask("plain words stay") == "plain words stay"


def test_drain_merges_a_variable_word_and_keeps_different_events_apart():
    d = Drain()
    a = d.add(["session", "opened", "for", "user", "alice"])
    b = d.add(["session", "opened", "for", "user", "bob"])
    c = d.add(["disk", "full", "on", "node", "<*>"])
    assert a == b != c
    assert d.template(a) == "session opened for user <*>"
    # Drain takes the first tokens as constants: a different first word is another event
    assert d.add(["session", "closed", "for", "user", "bob"]) not in (a, c)


def test_mine_templates_dedupes_and_groups():
    rows = []
    for i in range(3000):
        rows.append(f"GET /api/items/{i} took {i % 97}ms")
        rows.append(f"user u{i % 13}x logged in from 10.0.{i % 200}.{i % 250}")
        rows.append("cache warmed")
    df = pl.DataFrame({"message": rows})
    mined = mine_templates(df)
    assert mined.height == df.height  # nothing lost
    assert mined["template_id"].n_unique() == 3
    t = template_table(mined)
    assert set(t["count"].to_list()) == {3000}
    assert "GET <*> took <*>" in t["template"].to_list()


def test_multiline_messages_are_mined_on_their_first_line():
    df = pl.DataFrame({"message": ["boom 1\n at a.b(C.java:1)", "boom 2\n at x.y(Z.java:9)"]})
    assert mine_templates(df)["template_id"].n_unique() == 1


def _logs():
    base, inc = every(BASELINE, 120), every(WINDOW, 120)
    return logs_frame(
        log_rows("api", "user {i} logged in from host-{j}", base + inc)  # same rate
        + log_rows("api", "payment {i} failed: timeout after {j} ms", every(WINDOW, 30), "error")
        + log_rows("api", "cache miss for key {j}", every(BASELINE, 10) + every(WINDOW, 60))
        + log_rows("api", "disk quota exceeded on volume vol{i}", every(WINDOW, 1), "warn")
    )


def test_surges_find_new_and_risen_templates_but_not_steady_or_one_offs():
    s = template_surges(_logs(), WINDOW, BASELINE)
    by = {r["template"]: r for r in s.iter_rows(named=True)}
    new = by["payment <*> failed: timeout after <*> ms"]
    assert new["surge"] and new["new"] and new["n_baseline"] == 0 and new["n_incident"] == 30
    risen = by["cache miss for key <*>"]
    assert risen["surge"] and not risen["new"] and risen["ratio"] > 4
    steady = by["user <*> logged in from host-<*>"]
    assert not steady["surge"] and abs(steady["z"]) < 1
    # a template seen once is not a surge (tiny counts)
    once = next(r for t, r in by.items() if t.startswith("disk quota"))
    assert not once["surge"]
    assert s["template"][0] == "payment <*> failed: timeout after <*> ms"


def test_new_variable_value_is_not_a_new_template():
    logs = logs_frame(
        log_rows("api", "connected to replica alpha in {i} ms", every(BASELINE, 50))
        + log_rows("api", "connected to replica beta in {i} ms", every(WINDOW, 50))
    )
    s = template_surges(logs, WINDOW, BASELINE)
    assert s.height == 1 and not s["new"][0]


def test_counts_over_time_and_examples():
    mined = mine_templates(_logs())
    counts = template_counts(mined, every="30m")
    assert counts["count"].sum() == mined.height
    tid = mined.filter(pl.col("level") == "error")["template_id"][0]
    ex = template_examples(mined, tid, n=3)
    assert ex.height == 3 and ex["message"][0].startswith("payment 0 failed")


def test_factorize_is_exact_even_when_hashes_collide():
    from workbench.analysis.templates import _factorize

    values = pl.Series(["b", "a", "b", "cc", "a", "dd", "cc"])
    first, codes, distinct = _factorize(values)
    assert first.to_list() == [0, 1, 3, 5]
    assert codes.to_list() == [0, 1, 0, 2, 1, 3, 2]
    assert distinct.to_list() == ["b", "a", "cc", "dd"]
    # a "hash" that collides ("cc" and "dd" share one; "a" and "b" share another):
    # the row-by-row check catches it and the exact grouping gives the same answer
    weak = values.str.len_bytes().cast(pl.UInt64)
    first_w, codes_w, distinct_w = _factorize(values, hashes=weak)
    assert first_w.to_list() == first.to_list()
    assert codes_w.to_list() == codes.to_list()
    assert distinct_w.to_list() == distinct.to_list()
    # all distinct: the identity
    first_u, codes_u, _ = _factorize(pl.Series(["x", "y", "z"]))
    assert first_u.to_list() == codes_u.to_list() == [0, 1, 2]
    assert codes_u.dtype == codes.dtype == pl.UInt32


def test_zero_digits_keeps_everything_but_ascii_digits():
    from workbench.analysis.templates import _zero_digits

    values = pl.Series(["took 12ms", "", "café ٣ 907", "x" * 40 + "123", "no digits"])
    want = values.str.replace_all("[0-9]", "0")
    assert _zero_digits(values).to_list() == want.to_list()
    # a slice (non-zero offset) and a frame built from several chunks
    assert _zero_digits(values.slice(2, 2)).to_list() == want.slice(2, 2).to_list()
    chunked = pl.concat([values, values], rechunk=False)
    assert _zero_digits(chunked).to_list() == want.to_list() * 2
    assert _zero_digits(pl.Series(["", ""])).to_list() == ["", ""]


def test_counts_and_ids_survive_the_three_deduplications():
    # exact repeats, lines equal up to digits, and lines equal only after masking,
    # interleaved: ids follow the first appearance, counts add up across the levels
    rows = [
        "job 17 took 5ms",  # template A
        "cache warmed",  # template B
        "job 17 took 5ms",  # exact repeat of row 0
        "job 99 took 7ms",  # same digits pattern as row 0
        "job 12345 took 88ms",  # same only after masking
        None,  # empty message: its own (empty) template
        "cache warmed",
    ]
    mined = mine_templates(pl.DataFrame({"message": rows}, schema={"message": pl.String}))
    assert mined["template_id"].to_list() == [0, 1, 0, 0, 0, 2, 1]
    assert mined["template"].to_list()[:2] == ["job <*> took <*>", "cache warmed"]
    assert mined["template"][5] == ""
    assert template_table(mined).sort("template_id")["count"].to_list() == [4, 2, 1]


def test_staged_masking_equals_mask_expr():
    from workbench.analysis.templates import _mask_distinct

    # enough strings to re-de-duplicate between passes (hex ids collapse at the hex pass)
    rows = [f"session {i:012x} user_{i % 7} from 10.0.{i % 9}.1 took {i}ms" for i in range(3000)]
    rows += [f"GET /api/v1/items/{i}?x=1 ok" for i in range(3000)] + ["  plain  ", "plain"]
    values = pl.Series(rows)
    masked, codes = _mask_distinct(values)
    want = values.to_frame("m").select(mask_expr("m")).to_series()
    assert masked.gather(codes).to_list() == want.to_list()
    assert masked.len() < 10  # collapsed on the way (not only at the end)


# rules that generalise across systems (hand-made lines in the shapes real logs have) ------
def _groups(lines: list[str]) -> list[int]:
    return mine_templates(pl.DataFrame({"message": lines}))["template_id"].to_list()


def test_a_size_restated_in_parentheses_and_a_bound_are_one_value():
    # "(1.16 KB)" restates the byte count and "<1 sec" is one duration: with or without
    # them, a connection summary is one event (it was eight groups by token count)
    lines = [
        f"{host}:5070 close, {s} sent, {r} received, lifetime {life}"
        for host in ("proxy.example.edu", "mail.example.org")
        for s in ("0 bytes", "1190 bytes (1.16 KB)", "7344 bytes (7.17 MB)")
        for r in ("451 bytes", "1671 bytes (1.63 KB)")
        for life in ("<1 sec", "00:02", "02:13:05")
    ]
    assert len(set(_groups(lines))) == 1
    assert _mask("lifetime <1 sec, took >= 25 ms") == "lifetime <*>, took <*>"
    assert _mask("sent 1190 bytes (1.16 KB)") == "sent <*> bytes"
    assert _mask("heap 93.0 B of 1.5GiB") == "heap <*> of <*>"


def test_protocol_words_next_to_a_variable_keep_events_apart():
    lines = [
        f"{h}:{p} open through proxy {q}:5070 {proto}"
        for h in ("a.example.com", "b.example.net", "c.example.org")
        for p in (443, 80)
        for q in ("proxy.example.edu", "p2.example.edu")
        for proto in ("HTTPS", "SOCKS5")
    ]
    ids = _groups(lines)
    by_proto = {
        proto: {i for i, s in zip(ids, lines, strict=False) if s.endswith(proto)}
        for proto in ("HTTPS", "SOCKS5")
    }
    assert len(by_proto["HTTPS"]) == 1 and len(by_proto["SOCKS5"]) == 1
    assert by_proto["HTTPS"] != by_proto["SOCKS5"]
    # and a plain lower-case word in the same place is still a variable
    d = Drain()
    assert d.add(["client", "<*>", "GET", "<*>"]) != d.add(["client", "<*>", "POST", "<*>"])
    assert d.add(["user", "<*>", "logged", "in", "from", "alice"]) == d.add(
        ["user", "<*>", "logged", "in", "from", "bob"]
    )


def test_values_of_keys_booleans_and_nulls_are_variables():
    assert _mask("auth failure; tty=NODEVssh ruser= rhost=example") == (
        "auth failure; tty=<*> ruser= rhost=<*>"
    )
    assert (
        _mask("updateClipping isOverlap:false, ws=null") == "updateClipping isOverlap:<*>, ws=<*>"
    )
    assert len(set(_groups(["shouldBlock ret:false", "shouldBlock ret:true"]))) == 1


def test_a_restated_or_empty_host_in_parentheses_belongs_to_the_address():
    lines = [
        "connection from 24.54.76.216 (24-54-76-216.example.net) at Fri Jun 17 07:07:00 2005",
        "connection from 222.33.90.199 () at Mon Jun 20 03:40:59 2005",
        "connection from 203.101.45.59 (dsl-static-059.45.101.203.example.net) at Sun Jul 3 10:05:25 2005",
    ]
    assert len(set(_groups(lines))) == 1


def test_similarity_ignores_positions_variable_in_both():
    # 3 constants equal of 4 informative positions (0.75) would not join at 0.8 ...
    d = Drain(similarity=0.8)
    a = d.add(["synchronized", "to", "<*>,", "stratum", "<*>"])
    # ... but "LOCAL(<*>)," facing "<*>," is variable in both: 3 of 3 constants agree
    assert d.add(["synchronized", "to", "LOCAL(<*>),", "stratum", "<*>"]) == a
    # a constant that differs still counts against: 3 of 4 < 0.8
    assert d.add(["synchronized", "from", "<*>,", "stratum", "<*>"]) != a


def test_routing_uses_two_leading_tokens_so_a_third_variable_word_joins():
    lines = [
        f"Invalid user {u} from 10.0.0.{i} port {22 + i}"
        for i, u in enumerate(["admin", "bob", "guest", "oracle"])
    ]
    assert len(set(_groups(lines))) == 1
    # three routing tokens would put every user name in its own branch
    assert len(set(mine_templates(pl.DataFrame({"message": lines}), depth=5)["template_id"])) == 4


def test_a_templates_level_is_its_most_common_and_of_equals_the_most_severe() -> None:
    """Half its lines at warn, half at info: the surge is a warn one, whatever order the
    lines come in (polars' ``mode`` returns ties in no fixed order, and a warn weighs more
    than an info in the ranking: the same logs once scored differently run to run)."""
    t = every(WINDOW, 40)
    rows = log_rows("api", "retrying call {i} to ledger", t[::2], "warn") + log_rows(
        "api", "retrying call {i} to ledger", t[1::2], "info"
    )
    rows += log_rows("db", "slow query {i} on orders", t[:30], "debug")
    rows += log_rows("db", "slow query {i} on orders", t[30:], "error")
    logs = logs_frame(rows)
    levels = set()
    for seed in range(12):
        s = template_surges(logs.sample(fraction=1.0, shuffle=True, seed=seed), WINDOW, BASELINE)
        levels.add(tuple(s.sort("service").select("service", "level").rows()))
    assert levels == {(("api", "warn"), ("db", "debug"))}


def test_a_surge_is_placed_where_its_rate_rose_not_at_its_first_line():
    """A template common in the baseline (one line a minute) keeps that rate for the
    window's first 40 minutes, then logs 12 a minute: the timeline must place the surge
    at the rise (minute 40), not at its first line in the window (minute 0), which would
    read as trouble 40 minutes before it began. A template new in the window rose at its
    first line."""
    from datetime import timedelta

    from workbench.analysis.focus import surges_as_timeline
    from workbench.timewindow import Window

    rise = WINDOW.start + timedelta(minutes=40)
    before = Window(WINDOW.start, rise)
    after = Window(rise, WINDOW.end)
    logs = logs_frame(
        log_rows("api", "upstream db returned {i} after {j} ms", every(BASELINE, 60))
        + log_rows("api", "upstream db returned {i} after {j} ms", every(before, 40))
        + log_rows("api", "upstream db returned {i} after {j} ms", every(after, 240))
        + log_rows("db", "lock wait timeout on table t{j}", every(after, 30), "error")
    )
    s = template_surges(logs, WINDOW, BASELINE)
    by = {r["template"]: r for r in s.iter_rows(named=True)}
    risen = by["upstream db returned <*> after <*> ms"]
    assert risen["surge"] and not risen["new"]
    assert risen["first_in_window"] == WINDOW.start
    assert abs((risen["rose_at"] - rise).total_seconds()) <= 60
    new = by["lock wait timeout on table <*>"]
    assert new["new"] and new["rose_at"] == new["first_in_window"] == rise
    tl = surges_as_timeline(s)
    assert tl["ts"].min() >= rise - timedelta(seconds=60)
    # rows that are not surges have no rise
    assert s.filter(~pl.col("surge"))["rose_at"].null_count() == s.filter(~pl.col("surge")).height
