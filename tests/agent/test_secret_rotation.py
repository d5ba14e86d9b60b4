"""Secret rotation in the wire schema (agent/protocol.py): older agents are never told."""

from __future__ import annotations

import msgspec
import pytest

from agent.protocol import EventAck, ack_for, features_of


class AckOfVersion1Agents(msgspec.Struct, forbid_unknown_fields=True):
    """EventAck as agents released before secret rotation decode it (strictly)."""

    acked_seq: int
    stored: int = 0
    duplicates: int = 0


ASKING = EventAck(acked_seq=7, stored=1, rotate_secret=True)


def test_an_older_agent_would_refuse_the_flag_so_it_never_gets_it() -> None:
    with pytest.raises(msgspec.ValidationError, match="rotate_secret"):
        msgspec.json.decode(msgspec.json.encode(ASKING), type=AckOfVersion1Agents)

    told = msgspec.json.encode(ack_for(ASKING, features_of(None)))

    assert msgspec.json.decode(told, type=AckOfVersion1Agents) == AckOfVersion1Agents(7, 1)


def test_an_agent_that_reads_it_is_told_over_either_channel() -> None:
    over_http = features_of("rotate_secret, something_later")
    over_socketio = features_of(["rotate_secret"])

    assert ack_for(ASKING, over_http).rotate_secret
    assert ack_for(ASKING, over_socketio).rotate_secret
    assert features_of({"rotate_secret": True}) == frozenset()  # not a list: nothing
