--------------------------- MODULE RaftElection ---------------------------
(***************************************************************************)
(* Raft leader election, bounded: the TLA+ twin of docs/model.md and of *)
(* spec/raft_election.py.  It exists so that TLC can be run on exactly the *)
(* same state space as electkit's checker (benchmarks/tlc.py does that).   *)
(*                                                                         *)
(* Parameters (docs/model.md names in brackets):                                *)
(*   Server          the server ids [1..N]; N == Cardinality(Server).      *)
(*                   A set rather than a number because TLC's symmetry     *)
(*                   reduction only permutes model values: a cfg assigns   *)
(*                   {s1, s2, s3} with SYMMETRY Symmetry, or {1, 2, 3}     *)
(*                   without.  Both give the same distinct-state count.    *)
(*   T               no server starts an election past term T [max_term]   *)
(*   RestartEnabled  whether the Restart action is enabled [restart]       *)
(*   Nil             a model value outside Server: "voted for nobody"      *)
(*                                                                         *)
(* Every action below is one atomic event handler of a real node.  An      *)
(* action whose next state equals the current state is still a transition *)
(* (a self-loop); TLC counts it in "states generated", never in "distinct".*)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, TLC

CONSTANTS Server, T, RestartEnabled, Nil

ASSUME /\ IsFiniteSet(Server) /\ Server # {}
       /\ T \in Nat
       /\ RestartEnabled \in BOOLEAN
       /\ Nil \notin Server

N == Cardinality(Server)

VARIABLES
    term,      \* term[s]: current term, starts at 0.                 Durable.
    votedFor,  \* votedFor[s]: whom s voted for in term[s], or Nil.    Durable.
    role,      \* role[s]: "follower" | "candidate" | "leader".       Volatile.
    votes,     \* votes[s]: servers that granted s a vote in term[s].  Volatile.
    net,       \* every message ever sent; delivery never removes one.
    elected    \* history: the pairs <<t, s>> such that s became leader in t.

vars == <<term, votedFor, role, votes, net, elected>>

-----------------------------------------------------------------------------
(* Messages.  RequestVote and Heartbeat carry no "granted" field; a record  *)
(* is identified by its type, term, src, dst (and granted for a Vote).    *)

RequestVoteMsg(t, src, dst) ==
    [type |-> "RequestVote", term |-> t, src |-> src, dst |-> dst]
VoteMsg(t, src, dst, granted) ==
    [type |-> "Vote", term |-> t, src |-> src, dst |-> dst, granted |-> granted]
HeartbeatMsg(t, src, dst) ==
    [type |-> "Heartbeat", term |-> t, src |-> src, dst |-> dst]

Message ==
         [type : {"RequestVote", "Heartbeat"}, term : 1..T, src : Server, dst : Server]
    \cup [type : {"Vote"}, term : 1..T, src : Server, dst : Server, granted : BOOLEAN]

\* broadcast(kind, t, s): one message kind(t, s, d) for every d # s.
BroadcastRequestVote(t, s) == {RequestVoteMsg(t, s, d) : d \in Server \ {s}}
BroadcastHeartbeat(t, s)   == {HeartbeatMsg(t, s, d) : d \in Server \ {s}}

IsQuorum(Q) == 2 * Cardinality(Q) > N

-----------------------------------------------------------------------------
Init ==
    /\ term = [s \in Server |-> 0]
    /\ votedFor = [s \in Server |-> Nil]
    /\ role = [s \in Server |-> "follower"]
    /\ votes = [s \in Server |-> {}]
    /\ net = {}
    /\ elected = {}

(* 1. Timeout(s): the election timer of s fires.  With N = 1 the single   *)
(* self-vote is a quorum and s becomes leader in the same step.            *)
Timeout(s) ==
    /\ role[s] # "leader"
    /\ term[s] < T
    /\ LET t      == term[s] + 1
           winner == IsQuorum({s})
       IN  /\ term' = [term EXCEPT ![s] = t]
           /\ votedFor' = [votedFor EXCEPT ![s] = s]
           /\ votes' = [votes EXCEPT ![s] = {s}]
           /\ role' = [role EXCEPT ![s] = IF winner THEN "leader" ELSE "candidate"]
           /\ net' = net \cup BroadcastRequestVote(t, s)
                         \cup (IF winner THEN BroadcastHeartbeat(t, s) ELSE {})
           /\ elected' = IF winner THEN elected \cup {<<t, s>>} ELSE elected

(* 2. Heartbeat(s): the heartbeat timer of a leader fires. *)
Heartbeat(s) ==
    /\ role[s] = "leader"
    /\ net' = net \cup BroadcastHeartbeat(term[s], s)
    /\ UNCHANGED <<term, votedFor, role, votes, elected>>

(* 3. Restart(s): s crashes and recovers from its durable state. *)
Restart(s) ==
    /\ RestartEnabled
    /\ role' = [role EXCEPT ![s] = "follower"]
    /\ votes' = [votes EXCEPT ![s] = {}]
    /\ UNCHANGED <<term, votedFor, net, elected>>

(* 4. Receive(m): deliver m \in net to d = m.dst.  First the term rule     *)
(* (a higher term makes d adopt it as a follower with no vote), computed   *)
(* as t1, vf1, r1, v1; then the handler of m's type on top of that.        *)
Receive(m) ==
    LET d      == m.dst
        higher == m.term > term[d]
        t1     == IF higher THEN m.term ELSE term[d]
        vf1    == IF higher THEN Nil ELSE votedFor[d]
        r1     == IF higher THEN "follower" ELSE role[d]
        v1     == IF higher THEN {} ELSE votes[d]
    IN
    /\ term' = [term EXCEPT ![d] = t1]
    /\ CASE m.type = "RequestVote" ->
              LET grant == m.term = t1 /\ vf1 \in {Nil, m.src}
              IN  /\ votedFor' = [votedFor EXCEPT ![d] = IF grant THEN m.src ELSE vf1]
                  /\ role' = [role EXCEPT ![d] = r1]
                  /\ votes' = [votes EXCEPT ![d] = v1]
                  /\ net' = net \cup {VoteMsg(t1, d, m.src, grant)}
                  /\ UNCHANGED elected
         [] m.type = "Vote" ->
              /\ votedFor' = [votedFor EXCEPT ![d] = vf1]
              /\ IF m.term = t1 /\ r1 = "candidate" /\ m.granted
                    THEN LET v2 == v1 \cup {m.src}
                         IN  /\ votes' = [votes EXCEPT ![d] = v2]
                             /\ IF IsQuorum(v2)
                                   THEN \* become_leader(d)
                                        /\ role' = [role EXCEPT ![d] = "leader"]
                                        /\ elected' = elected \cup {<<t1, d>>}
                                        /\ net' = net \cup BroadcastHeartbeat(t1, d)
                                   ELSE /\ role' = [role EXCEPT ![d] = r1]
                                        /\ UNCHANGED <<elected, net>>
                    ELSE /\ role' = [role EXCEPT ![d] = r1]
                         /\ votes' = [votes EXCEPT ![d] = v1]
                         /\ UNCHANGED <<elected, net>>
         [] m.type = "Heartbeat" ->
              /\ votedFor' = [votedFor EXCEPT ![d] = vf1]
              /\ IF m.term = t1 /\ r1 = "candidate"
                    THEN /\ role' = [role EXCEPT ![d] = "follower"]
                         /\ votes' = [votes EXCEPT ![d] = {}]
                    ELSE /\ role' = [role EXCEPT ![d] = r1]
                         /\ votes' = [votes EXCEPT ![d] = v1]
              /\ UNCHANGED <<elected, net>>

Next ==
    \/ \E s \in Server : Timeout(s) \/ Heartbeat(s) \/ Restart(s)
    \/ \E m \in net : Receive(m)

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(* Symmetry: server ids are interchangeable.  Only usable when Server is a *)
(* set of model values (TLC permutes model values, nothing else).  TLC     *)
(* keeps the least of the N! permuted copies of a state, so it stores one  *)
(* state per orbit (up to fingerprint collisions).                         *)
Symmetry == Permutations(Server)

-----------------------------------------------------------------------------
(* Properties *)

TypeOK ==
    /\ term \in [Server -> 0..T]
    /\ votedFor \in [Server -> Server \cup {Nil}]
    /\ role \in [Server -> {"follower", "candidate", "leader"}]
    /\ votes \in [Server -> SUBSET Server]
    /\ net \subseteq Message
    /\ elected \subseteq (1..T) \X Server

\* The headline: over P = elected \cup {current leaders}, no two pairs share a
\* term with different servers.
ElectionSafety ==
    LET P == elected \cup {<<term[s], s>> : s \in {x \in Server : role[x] = "leader"}}
    IN  \A p, q \in P : p[1] = q[1] => p[2] = q[2]

LeaderWasElected ==
    \A s \in Server : role[s] = "leader" => <<term[s], s>> \in elected

CandidateVotedForSelf ==
    \A s \in Server : role[s] \in {"candidate", "leader"} => votedFor[s] = s

LeaderHasQuorum ==
    \A s \in Server : role[s] = "leader" => IsQuorum(votes[s])

FollowerHoldsNoVotes ==
    \A s \in Server : role[s] = "follower" => votes[s] = {}

VotesAreRecorded ==
    \A c \in Server : role[c] \in {"candidate", "leader"} =>
        \A v \in votes[c] :
            \/ term[v] > term[c]
            \/ term[v] = term[c] /\ votedFor[v] = c

GrantsAreRecorded ==
    \A m \in net : (m.type = "Vote" /\ m.granted) =>
        \/ term[m.src] > m.term
        \/ term[m.src] = m.term /\ votedFor[m.src] = m.dst

MessageTermBound ==
    \A m \in net : m.term <= term[m.src]

ElectedTermBound ==
    \A e \in elected :
        /\ e[1] <= term[e[2]]
        /\ e[1] = term[e[2]] => votedFor[e[2]] = e[2]

\* Not an invariant to hold: check it as an INVARIANT to see TLC find a
\* state with a leader (the run must then report it violated), so a pass of
\* ElectionSafety is known not to be vacuous.
NoLeaderEver == elected = {}

=============================================================================
