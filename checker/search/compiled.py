"""The compiled kernel: an actor model turned into tables over packed integers.

A state of an :class:`~spec.actor.ActorModel` is packed into one Python int, exactly (no
fingerprint, so no collision is possible): bit ``i`` says whether message ``i`` is in the
network, the next bits hold the history items, and the top bits hold each server's local
state as an index into the universe of local states. Because every action is one event at
one server, its effect depends only on that server's local state (and the message), so it is
computed once per (server, local state, message) from the model's own handlers and stored as
a table entry; a successor is then ``(state & keep[s]) | entry``. The readable model stays the
single source of truth: the tables are built by calling it, never written by hand
(tests/test_kernel.py checks every table against the generic kernel).

Over 400 lines: the universe, the tables, the packing and the symmetry tables are one
optimisation whose parts share their layout of bits; split, each would need the others'.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from spec.actor import ActorModel, ActorState, message_kind

CHUNK_BITS = 12  # permutation tables over 12-bit chunks of the network bits: 4,096 entries each
NARROW_FROM = 4  # ties among this many renamings are first narrowed by message signatures
NARROW_CACHE_LIMIT = 1 << 20


@dataclass
class Universe:
    """Every local state, message and history item the handlers can produce, indexed."""

    locals: list[Hashable] = field(default_factory=list)
    messages: list[Hashable] = field(default_factory=list)
    history: list[Hashable] = field(default_factory=list)
    local_index: dict[Hashable, int] = field(default_factory=dict)
    message_index: dict[Hashable, int] = field(default_factory=dict)
    history_index: dict[Hashable, int] = field(default_factory=dict)


def close_universe(model: ActorModel, symmetric: bool) -> Universe:
    """The fixpoint of the handlers from the initial local states (and, with symmetry, of the
    renamings): an over-approximation of what is reachable, in a deterministic order."""
    uni = Universe()
    new_locals: deque[Hashable] = deque()
    new_messages: deque[Hashable] = deque()
    perms = model.permutations()[1:] if symmetric else []

    def adder(items: list, index: dict, fresh: deque | None, rename) -> Callable:
        """Append an item not seen before (and, under symmetry, every renaming of it)."""

        def add(item: Hashable) -> None:
            if item not in index:
                index[item] = len(items)
                items.append(item)
                if fresh is not None:
                    fresh.append(item)
                for perm in perms:
                    add(rename(item, perm))

        return add

    add_local = adder(uni.locals, uni.local_index, new_locals, model.permute_local)
    add_message = adder(uni.messages, uni.message_index, new_messages, model.permute_message)
    add_history = adder(uni.history, uni.history_index, None, model.permute_history)

    def add_outcome(outcome) -> None:
        add_local(outcome.local)
        for m in sorted(outcome.sends, key=model.message_key):
            add_message(m)
        for item in sorted(outcome.history, key=repr):
            add_history(item)

    for s in model.server_ids():
        add_local(model.init_local(s))
    while new_locals or new_messages:
        if new_locals:
            local = new_locals.popleft()
            for s in model.server_ids():
                for _, handler in model.local_actions():
                    outcome = handler(s, local)
                    if outcome is not None:
                        add_outcome(outcome)
            for m in list(uni.messages):
                add_outcome(model.receive(local, m))
        else:
            m = new_messages.popleft()
            for local in list(uni.locals):
                add_outcome(model.receive(local, m))
    return uni


class CompiledKernel:
    """Successors, properties and canonical forms of packed states, by table lookup."""

    exact = True  # states are stored whole: no fingerprint collisions

    def __init__(
        self, model: ActorModel, symmetric: bool = False, only: frozenset[str] | None = None
    ) -> None:
        self.model = model
        self.symmetric = symmetric
        self.uni = uni = close_universe(model, symmetric)
        self.n_servers = n = model.servers
        self.net_bits = len(uni.messages)
        self.low_bits = self.net_bits + len(uni.history)
        self.local_bits = max(1, (len(uni.locals) - 1).bit_length())
        self.net_mask = (1 << self.net_bits) - 1
        self.local_mask = (1 << self.local_bits) - 1
        self.offsets = [self.low_bits + i * self.local_bits for i in range(n)]

        local_names = [name for name, _ in model.local_actions()]
        kinds = sorted({message_kind(m) for m in uni.messages})
        self.action_labels = local_names + [f"Receive({kind})" for kind in kinds]
        self.receive_ids = {kind: len(local_names) + i for i, kind in enumerate(kinds)}
        self.kind_masks = [
            sum(1 << i for i, m in enumerate(uni.messages) if message_kind(m) == kind)
            for kind in kinds
        ]
        self._build_transition_tables()
        self._property_cache: dict[int, int] = {}
        self.witnessed: set[str] = set()
        self._always, self._sometimes = _split_state_properties(model, only)
        self._message_props = [
            (name, holds) for name, holds in model.message_properties() if _wanted(name, only)
        ]
        # Properties a subclass adds through properties() in neither structured shape are
        # evaluated on the decoded state: slower, but any predicate works.
        structured = {name for name, _, _ in model.state_properties()}
        structured |= {name for name, _ in self._message_props}
        self._general = [
            (p.name, p.holds)
            for p in model.properties()
            if p.kind == "always" and p.name not in structured and _wanted(p.name, only)
        ]
        if symmetric:
            self._build_symmetry_tables()
        self.init = [self.encode(state) for state in model.init_states()]
        self.expand = self._make_expand()

    # --- encoding --------------------------------------------------------------------------
    def encode(self, state: ActorState) -> int:
        """The packed int of a readable state."""
        uni = self.uni
        packed = 0
        for s, local in enumerate(state.locals):
            packed |= uni.local_index[local] << self.offsets[s]
        for m in state.net:
            packed |= 1 << uni.message_index[m]
        for item in state.history:
            packed |= 1 << (self.net_bits + uni.history_index[item])
        return packed

    def decode(self, packed: int) -> ActorState:
        """The readable state of a packed int."""
        uni = self.uni
        locals_ = tuple(uni.locals[(packed >> off) & self.local_mask] for off in self.offsets)
        net = frozenset(m for i, m in enumerate(uni.messages) if packed >> i & 1)
        history = frozenset(
            h for j, h in enumerate(uni.history) if packed >> (self.net_bits + j) & 1
        )
        return ActorState(locals_, net, history)

    # --- transitions -------------------------------------------------------------------------
    def _build_transition_tables(self) -> None:
        model, uni = self.model, self.uni
        self.servers_tables = []
        self.enabled_local: list[list[tuple[int, ...]]] = []
        for s in model.server_ids():
            off = self.offsets[s - 1]
            keep = ~(self.local_mask << off)
            local_tab, recv_tab, enabled = [], [], []
            to_s = [(i, m) for i, m in enumerate(uni.messages) if m.dst == s]
            for local in uni.locals:
                entries, ids = [], []
                for aid, (_, handler) in enumerate(model.local_actions()):
                    outcome = handler(s, local)
                    if outcome is None:
                        continue
                    ids.append(aid)
                    if not _is_pure_self_loop(outcome, local):
                        entries.append((aid, self._entry(off, outcome)))
                local_tab.append(tuple(entries))
                enabled.append(tuple(ids))
                receives = []
                for i, m in to_s:
                    outcome = model.receive(local, m)
                    if not _is_pure_self_loop(outcome, local):
                        aid = self.receive_ids[message_kind(m)]
                        receives.append((1 << i, aid, self._entry(off, outcome)))
                recv_tab.append(tuple(receives))
            self.servers_tables.append((off, keep, tuple(local_tab), tuple(recv_tab)))
            self.enabled_local.append(enabled)

    def _entry(self, off: int, outcome) -> int:
        uni = self.uni
        entry = uni.local_index[outcome.local] << off
        for m in outcome.sends:
            entry |= 1 << uni.message_index[m]
        for item in outcome.history:
            entry |= 1 << (self.net_bits + uni.history_index[item])
        return entry

    def _make_expand(self) -> Callable[[int], list[tuple[int, int]]]:
        """``expand(state)``: the (action id, next state) of every transition that changes the
        state. Self-loops are skipped (they never add a state) but still tallied, so that
        ``generated`` and the action coverage count every enabled action."""
        local_mask = self.local_mask
        tables = self.servers_tables
        histograms = self.local_histograms = [[0] * len(self.uni.locals) for _ in tables]
        kind_masks = self.kind_masks
        self.receive_fired = fired = [0] * len(kind_masks)
        per_server = list(zip(tables, histograms, strict=True))

        def expand(st: int) -> list[tuple[int, int]]:
            out = []
            for k, mask in enumerate(kind_masks):
                fired[k] += (st & mask).bit_count()
            for (off, keep, local_tab, recv_tab), hist in per_server:
                li = (st >> off) & local_mask
                hist[li] += 1
                base = st & keep
                for aid, entry in local_tab[li]:
                    nxt = base | entry
                    if nxt != st:
                        out.append((aid, nxt))
                for bit, aid, entry in recv_tab[li]:
                    if st & bit:
                        nxt = base | entry
                        if nxt != st:
                            out.append((aid, nxt))
            return out

        return expand

    def fired_counts(self) -> list[int]:
        """How many times each action was enabled in an expanded state (self-loops included)."""
        counts = [0] * len(self.action_labels)
        for enabled, hist in zip(self.enabled_local, self.local_histograms, strict=True):
            for li, times in enumerate(hist):
                if times:
                    for aid in enabled[li]:
                        counts[aid] += times
        for k, n in enumerate(self.receive_fired):
            counts[len(counts) - len(self.receive_fired) + k] += n
        return counts

    # --- properties ----------------------------------------------------------------------------
    def violates(self, st: int) -> bool:
        """Whether some ``always`` property fails in ``st``; records ``sometimes`` witnesses.

        Evaluated once per distinct (local states, history): state properties directly, and
        message properties as the mask of messages whose presence would break one.
        """
        proj = st >> self.net_bits
        bad = self._property_cache.get(proj)
        if bad is None:
            bad = self._evaluate_projection(st)
        if bad and (bad < 0 or st & bad):
            return True
        if self._general:
            state = self.decode(st)
            return not all(holds(state) for _, holds in self._general)
        return False

    def _evaluate_projection(self, st: int) -> int:
        state = self.decode(st & ~self.net_mask)
        locals_, history = state.locals, state.history
        for name, holds in self._sometimes:
            if name not in self.witnessed and holds(locals_, history):
                self.witnessed.add(name)
        if not all(holds(locals_, history) for _, holds in self._always):
            bad = -1
        else:
            bad = 0
            for i, m in enumerate(self.uni.messages):
                if not all(holds(locals_, history, m) for _, holds in self._message_props):
                    bad |= 1 << i
        self._property_cache[st >> self.net_bits] = bad
        return bad

    # --- symmetry ------------------------------------------------------------------------------
    def _build_symmetry_tables(self) -> None:
        model, uni = self.model, self.uni
        self._perm_locals = []
        self._perm_low = []
        for perm in model.permutations():
            self._perm_locals.append(
                (
                    perm,
                    [uni.local_index[model.permute_local(local, perm)] for local in uni.locals],
                )
            )
            targets = [1 << uni.message_index[model.permute_message(m, perm)] for m in uni.messages]
            targets += [
                1 << (self.net_bits + uni.history_index[model.permute_history(h, perm)])
                for h in uni.history
            ]
            chunks = []
            for start in range(0, self.low_bits, CHUNK_BITS):
                bits = targets[start : start + CHUNK_BITS]
                table = [0] * (1 << len(bits))
                for value in range(1, len(table)):
                    low = value & -value
                    table[value] = table[value ^ low] | bits[low.bit_length() - 1]
                chunks.append(table)
            self._perm_low.append(chunks)
        self._canon_cache: dict[int, tuple[int, tuple[int, ...]]] = {}
        # Per server: how many messages it has sent, and received (flattened, server by server).
        self._signature_masks = [
            sum(1 << i for i, m in enumerate(uni.messages) if getattr(m, end) == s)
            for s in model.server_ids()
            for end in ("src", "dst")
        ]
        self._narrow_cache: dict[tuple, tuple[int, ...]] = {}

    def _best_perms(self, hi: int) -> tuple[int, tuple[int, ...]]:
        """The smallest renaming of the local-state part, and which permutations reach it."""
        n, bits, mask = self.n_servers, self.local_bits, self.local_mask
        locals_ = [(hi >> (i * bits)) & mask for i in range(n)]
        best, which = None, []
        for p, (perm, local_map) in enumerate(self._perm_locals):
            renamed = 0
            for s0, li in enumerate(locals_):
                renamed |= local_map[li] << ((perm[s0 + 1] - 1) * bits)
            if best is None or renamed < best:
                best, which = renamed, [p]
            elif renamed == best:
                which.append(p)
        return best, tuple(which)

    def canonical(self, st: int) -> int:
        """The representative of the orbit of ``st`` under renaming of the servers.

        The least renaming in the order (local states, message signatures, network): the
        local-state part decides alone for most states; where several renamings tie on it
        (servers in the same local state), each server's message signature (how many
        messages of each kind it has sent and received: a renaming moves a signature with its
        server) narrows them down before the network bits are renamed. Every key is a
        function of the renamed state, so the least one is the same for every member of the
        orbit: the reduction is exact.
        """
        low_bits = self.low_bits
        hi = st >> low_bits
        cached = self._canon_cache.get(hi)
        if cached is None:
            cached = self._canon_cache[hi] = self._best_perms(hi)
        best_hi, which = cached
        if len(which) >= NARROW_FROM:
            which = self._narrow_by_signature(st, hi, which)
        low = st & ((1 << low_bits) - 1)
        best_low = None
        for p in which:
            renamed, x = 0, low
            for table in self._perm_low[p]:
                renamed |= table[x & 0xFFF]
                x >>= CHUNK_BITS
            if best_low is None or renamed < best_low:
                best_low = renamed
        return (best_hi << low_bits) | best_low

    def _narrow_by_signature(self, st: int, hi: int, which: tuple[int, ...]) -> tuple[int, ...]:
        signature = tuple((st & mask).bit_count() for mask in self._signature_masks)
        key = (hi, signature)
        kept = self._narrow_cache.get(key)
        if kept is None:
            if len(self._narrow_cache) >= NARROW_CACHE_LIMIT:
                self._narrow_cache.clear()  # a bounded cache: memory stays flat on long runs
            kept = self._narrow_cache[key] = self._least_signatures(signature, which)
        return kept

    def _least_signatures(self, signature: tuple[int, ...], which) -> tuple[int, ...]:
        """The permutations of ``which`` whose renamed signature is least."""
        width = len(signature) // self.n_servers
        per_server = [signature[i * width : (i + 1) * width] for i in range(self.n_servers)]
        best, kept = None, []
        for p in which:
            perm = self._perm_locals[p][0]
            renamed = [()] * self.n_servers
            for s0, sig in enumerate(per_server):
                renamed[perm[s0 + 1] - 1] = sig
            if best is None or renamed < best:
                best, kept = renamed, [p]
            elif renamed == best:
                kept.append(p)
        return tuple(kept)


def compile_actor_model(
    model: ActorModel, symmetric: bool = False, only: frozenset[str] | None = None
) -> CompiledKernel:
    """Compile ``model`` into table-driven successor, property and symmetry functions;
    ``only`` limits the ``always`` properties checked to those names."""
    return CompiledKernel(model, symmetric, only)


def _is_pure_self_loop(outcome, local: Hashable) -> bool:
    return outcome.local == local and not outcome.sends and not outcome.history


def _wanted(name: str, only: frozenset[str] | None) -> bool:
    return only is None or name in only


def _split_state_properties(model: ActorModel, only: frozenset[str] | None):
    always, sometimes = [], []
    for name, kind, holds in model.state_properties():
        if kind == "sometimes":
            sometimes.append((name, holds))
        elif _wanted(name, only):
            always.append((name, holds))
    return always, sometimes
