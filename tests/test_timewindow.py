def test_duration_literal_reads_back_as_the_same_duration() -> None:
    from datetime import timedelta

    from workbench.timewindow import duration_literal, parse_duration

    for d, text in (
        (timedelta(hours=8), "8h"),
        (timedelta(hours=4, minutes=16), "4h16m"),
        (timedelta(days=1, hours=2), "1d2h"),
        (timedelta(seconds=90), "1m30s"),
    ):
        assert duration_literal(d) == text and parse_duration(text) == d
