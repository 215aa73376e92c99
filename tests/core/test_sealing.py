"""core.sealing: what opens, and every way a sealed value refuses to open."""

from __future__ import annotations

import base64

import pytest

from shipyard.core.sealing import Keyring, SealError, generate_key_line, key_id_of

WHERE = "monitor/prod/API_KEY"


def _ring() -> Keyring:
    return Keyring.parse(generate_key_line())


def test_a_value_opens_where_it_was_sealed_and_names_its_key() -> None:
    ring = _ring()
    sealed = ring.seal("hunter2-abc", WHERE)
    assert sealed.startswith(f"v1:{ring.current}:") and "hunter2" not in sealed
    assert Keyring.key_id_in(sealed) == ring.current
    assert ring.open(sealed, WHERE) == "hunter2-abc"
    # A fresh nonce every time: the same value never seals the same twice.
    assert ring.seal("hunter2-abc", WHERE) != sealed


def test_a_tampered_ciphertext_does_not_open() -> None:
    ring = _ring()
    sealed = ring.seal("hunter2-abc", WHERE)
    prefix, key_id, body = sealed.split(":")
    raw = bytearray(base64.b64decode(body))
    raw[-1] ^= 0x01  # one bit of the tag
    flipped = f"{prefix}:{key_id}:{base64.b64encode(bytes(raw)).decode()}"
    with pytest.raises(SealError) as caught:
        ring.open(flipped, WHERE)
    assert caught.value.key_id == ring.current
    assert f"does not open with key {ring.current}" in caught.value.reason
    for broken in (f"{prefix}:{key_id}:not base64!", f"{prefix}:{key_id}:", "v9:x:y", "plain"):
        with pytest.raises(SealError):
            ring.open(broken, WHERE)


def test_a_key_that_is_not_in_the_keyring() -> None:
    sealed = _ring().seal("hunter2-abc", WHERE)
    other = _ring()
    with pytest.raises(SealError) as caught:
        other.open(sealed, WHERE)
    assert caught.value.key_id == Keyring.key_id_in(sealed)
    assert "is not in the key file" in caught.value.reason
    # Relabelled with the id of a key the ring holds, it still does not open.
    _, _, body = sealed.split(":")
    with pytest.raises(SealError, match="does not open"):
        other.open(f"v1:{other.current}:{body}", WHERE)


def test_a_value_copied_to_another_variable_or_environment_does_not_open() -> None:
    ring = _ring()
    sealed = ring.seal("hunter2-abc", WHERE)
    for elsewhere in ("monitor/stage/API_KEY", "monitor/prod/OTHER", "other/prod/API_KEY"):
        with pytest.raises(SealError, match="does not open"):
            ring.open(sealed, elsewhere)


def test_an_older_key_still_opens_after_a_new_one_comes_in_front() -> None:
    old = _ring()
    sealed = old.seal("hunter2-abc", WHERE)
    ring = old.with_new_key()
    assert ring.current != old.current and set(ring.keys) == {ring.current, old.current}
    assert ring.open(sealed, WHERE) == "hunter2-abc"
    resealed = ring.seal(ring.open(sealed, WHERE), WHERE)
    assert ring.only_current().open(resealed, WHERE) == "hunter2-abc"
    with pytest.raises(SealError):
        ring.only_current().open(sealed, WHERE)
    # The key file round-trips, the current key first.
    again = Keyring.parse("# keys\n\n" + "\n".join(ring.lines()) + "\n")
    assert again == ring and key_id_of(again.keys[again.current]) == ring.current


@pytest.mark.parametrize("text", ["", "# only a comment\n", "not-a-key\n", "QUJD\n"])
def test_a_bad_key_file_is_refused_without_naming_a_key(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        Keyring.parse(text)
    assert str(caught.value) in (
        "no key in it",
        "a key is 32 bytes in URL-safe base64, one per line",
    )
