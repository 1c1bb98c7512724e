// graftd vizor: "what am I looking at" — plain words for the common events, each linked to the
// part of the Raft paper (or Diego Ongaro's thesis, for what the paper leaves out) that explains
// it. No DOM here: the page renders what explain() returns.

export const PAPER = 'https://raft.github.io/raft.pdf';
export const THESIS = 'https://web.stanford.edu/~ouster/cgi-bin/papers/OngaroPhD.pdf';

/** The sections the guide links to. */
export const SECTIONS = {
  election: { label: 'paper §5.2 Leader election', href: PAPER },
  replication: { label: 'paper §5.3 Log replication', href: PAPER },
  safety: { label: 'paper §5.4 Safety (election restriction, commitment)', href: PAPER },
  membership: { label: 'paper §6 Cluster membership changes', href: PAPER },
  compaction: { label: 'paper §7 Log compaction (InstallSnapshot)', href: PAPER },
  client: { label: 'paper §8 Client interaction (read-only queries)', href: PAPER },
  prevote: { label: 'thesis §9.6 Preventing disruptions (PreVote)', href: THESIS },
  transfer: { label: 'thesis §3.10 Leadership transfer (TimeoutNow)', href: THESIS },
  basics: { label: 'paper §5.1 Raft basics (terms, roles)', href: PAPER },
};

/**
 * A plain-words account of event `e` ({ kind, node, rpc, resp, from, to, term, index, … }), or
 * null for events not worth a sentence (heartbeats and their answers).
 */
export function explain(e) {
  const n = e.node;
  switch (e.kind) {
    case 'role':
      if (e.role === 'preCandidate')
        return say(
          'election',
          `${n} heard from no leader for an election timeout and asks the others whether it could win (pre-vote) before starting a real election for term ${e.term + 1}.`,
          'prevote',
        );
      if (e.role === 'candidate')
        return say(
          'election',
          `${n} started an election: it raised its term to ${e.term}, voted for itself and asks every other node for its vote.`,
          'election',
        );
      if (e.role === 'leader')
        return say(
          'election',
          `${n} won the election for term ${e.term}: a majority voted for it. It now sends heartbeats so nobody else times out.`,
          'election',
        );
      if (e.role === 'follower')
        return say(
          'basics',
          `${n} is a follower in term ${e.term}${e.leader ? ` and accepts ${e.leader} as its leader` : ' (no leader known yet)'}${e.detail ? ` — ${e.detail}` : ''}.`,
          'basics',
        );
      return say('basics', `${n} is now ${e.role} (term ${e.term}).`, 'basics');
    case 'vote':
      if (e.success)
        return say(
          'election',
          `${n} granted its ${e.rpc === 'PreVote' ? 'pre-vote' : 'vote'} to ${e.to} for term ${e.term}: the candidate's log is at least as up to date as its own, and it has not voted for anybody else in that term.`,
          e.rpc === 'PreVote' ? 'prevote' : 'safety',
        );
      return say(
        'election',
        `${n} refused its ${e.rpc === 'PreVote' ? 'pre-vote' : 'vote'} to ${e.to} for term ${e.term}${e.detail ? `: ${e.detail}` : ''}.`,
        e.rpc === 'PreVote' ? 'prevote' : 'safety',
      );
    case 'commit':
      return say(
        'commit',
        `${n} learned that entries up to ${e.index} are committed: stored on a majority, they can never be lost or changed.`,
        'safety',
      );
    case 'apply':
      return say(
        'commit',
        `${n} applied ${e.entries} committed entr${e.entries === 1 ? 'y' : 'ies'} up to ${e.index} to its key-value store.`,
        'replication',
      );
    case 'snapshot':
      return say(
        'snapshot',
        `${n}: snapshot ${e.detail} at index ${e.index} — the log before it is replaced by a copy of the state.`,
        'compaction',
      );
    case 'membership':
      return say('membership', `${n} applied a membership change (${e.detail}) at index ${e.index}.`, 'membership');
    case 'process':
      return say('fault', `${n} ${e.detail}.`, 'basics');
    case 'fault':
      return say('fault', `fault: ${e.detail}.`, 'basics');
    case 'lab':
      return say('fault', `lab: ${e.detail}.`, 'basics');
    case 'client':
      return say('client', `a client's ${e.detail} (via ${n}).`, 'client');
    case 'send':
    case 'recv':
      return explainRpc(e);
    default:
      return null;
  }
}

function explainRpc(e) {
  const dir = e.kind === 'send' ? `${e.node} sent` : `${e.node} received`;
  const peer = e.kind === 'send' ? `to ${e.to}` : `from ${e.from}`;
  switch (e.rpc) {
    case 'AppendEntries':
      if (e.resp)
        return say(
          'replication',
          `${dir} an AppendEntries answer ${peer}: ${e.success ? `its log now matches up to ${e.index}` : `its log does not match at ${e.index}; the leader will back up and retry`}.`,
          'replication',
        );
      return say(
        'replication',
        `${dir} AppendEntries ${peer}: ${e.entries ? `${e.entries} new entr${e.entries === 1 ? 'y' : 'ies'}` : 'no entries (a probe)'} after index ${e.index}, with the leader's commit index ${e.commit}.`,
        'replication',
      );
    case 'RequestVote':
      if (e.resp) return say('election', `${dir} a vote ${peer}: ${e.success ? 'granted' : 'refused'} (term ${e.term}).`, 'election');
      return say('election', `${dir} a vote request ${peer} for term ${e.term}.`, 'election');
    case 'PreVote':
      if (e.resp) return say('election', `${dir} a pre-vote answer ${peer}: ${e.success ? 'would vote' : 'would not vote'}.`, 'prevote');
      return say(
        'election',
        `${dir} a pre-vote request ${peer}: "could you vote for me in term ${e.term}?" — nobody's term changes yet.`,
        'prevote',
      );
    case 'InstallSnapshot':
      return say(
        'snapshot',
        `${dir} a snapshot ${peer} (index ${e.index}): the follower was too far behind for the log the leader still keeps.`,
        'compaction',
      );
    case 'TimeoutNow':
      return say(
        'election',
        `${dir} TimeoutNow ${peer}: the leader hands over, and the receiver starts an election at once instead of waiting for its timer.`,
        'transfer',
      );
    case 'ReadIndex':
      if (e.resp) return null;
      return say('read', `${dir} a heartbeat round ${peer} that confirms leadership before answering a linearizable read.`, 'client');
    default:
      return null;
  }
}

function say(topic, text, section) {
  return { topic, text, section: SECTIONS[section] };
}
