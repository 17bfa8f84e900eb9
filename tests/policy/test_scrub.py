"""scrub(): no secret, nor an echoed prefix of one 8 characters or longer, survives it."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from mintgate.policy import SCRUB_LIMIT, SCRUB_PREFIX, scrub

SECRET_CHARS = string.ascii_letters + string.digits + "+/="
FILLER = st.text(alphabet=" -,;:()", max_size=20)


@given(
    secret=st.text(alphabet=SECRET_CHARS, min_size=SCRUB_PREFIX, max_size=60),
    cut=st.integers(min_value=SCRUB_PREFIX, max_value=60),
    before=FILLER,
    after=FILLER,
)
def test_a_secret_or_any_long_prefix_of_it_is_redacted(
    secret: str, cut: int, before: str, after: str
) -> None:
    echoed = secret[:cut]
    text = f"{before}{echoed}{after} and again {secret}"
    scrubbed = scrub(text, [secret])
    assert secret[:SCRUB_PREFIX] not in scrubbed
    assert scrubbed.count("[redacted]") == 2 or len(text) > SCRUB_LIMIT


def test_a_short_prefix_and_an_unrelated_text_are_left_alone() -> None:
    secret = "s3cr3t-client-secret"
    assert scrub("s3cr3t- is not long enough", [secret]) == "s3cr3t- is not long enough"
    assert scrub("invalid_client: bad s3cr3t-cli (cut)", [secret]) == (
        "invalid_client: bad [redacted] (cut)"
    )
    assert scrub("short ab", ["ab"]) == "short [redacted]"


def test_the_longest_secret_wins_where_two_overlap() -> None:
    assert scrub("key=abcdefgh12345678", ["abcdefgh", "abcdefgh12345678"]) == "key=[redacted]"
