"""The ring example as a protocol bundle: everything electkit needs to check, sample, view,
replay, mutate and gate it. Name it on the command line as
``--spec examples/ring/ring_bundle.py:BUNDLE``."""

from __future__ import annotations

from pathlib import Path

from ring_adapter import adapter
from ring_model import RingElection

from checker.protocols.bundle import Bundle, Corpus, Gate, Mutation, Param, VariantCase

HERE = Path(__file__).resolve().parent


def build_corpus(out: Path) -> list[Path]:
    """The corpus: the planted bug's counterexample, and walks that elect a leader."""
    from checker.traces import write_trace
    from checker.traces.corpus import covering_walks, variant_trace

    written = [
        write_trace(
            variant_trace(BUNDLE, "forward_smaller", servers=3), out / "forward_smaller-N3.itf.json"
        )
    ]
    for index, walk in enumerate(covering_walks(BUNDLE, seed=1), start=1):
        n = walk.model.parameters["servers"]
        written.append(write_trace(walk, out / f"walk-{index:02d}-N{n}.itf.json"))
    return written


BUNDLE = Bundle(
    name="ring_election",
    summary="Chang and Roberts' ring election (the tutorial's example)",
    model=RingElection,
    params=(
        Param("servers", int, 3, "servers on the ring, ids 1..N", low=1, high=8, search_high=5),
        Param(
            "variant",
            str,
            None,
            "forward_smaller: a planted bug",
            optional=True,
            choices=("forward_smaller",),
        ),
    ),
    variants={"forward_smaller": "forward ids smaller than one's own instead of swallowing them"},
    gate=Gate(
        parameters={"servers": 3},
        headline="OneLeader",
        variants=(VariantCase("forward_smaller", {"servers": 3}, "violation"),),
        corpus=HERE / "traces",
    ),
    adapter=adapter,
    corpus=Corpus(
        build=build_corpus,
        required=frozenset(
            {
                "action Start",
                "action Receive(Elect)",
                "action Receive(Elected)",
                "send Elect",
                "send Elected",
            }
        ),
        walk_choices={"servers": (3, 4)},
    ),
    mutation=Mutation("ring_node", "RingNode", ("start", "deliver"), option="node_class"),
)
