#!/usr/bin/env python3
"""Times whole processes in alternation, for paired comparisons on a noisy
machine: each round runs every command once (the order reversed every
other round), so a change of machine speed hits all of them alike.

usage: bench/alternate.py ROUNDS 'COMMAND A' ['COMMAND B' ...]

Prints the mean, median and minimum wall time of each command (spawn to
exit, output to /dev/null), and for two commands the mean and median of
the per-round differences (first minus second). Commands are split like a
shell would split them, but run without a shell; the first word must be a
path.
"""
import os
import shlex
import statistics as st
import sys
import time


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds = int(sys.argv[1])
    cmds = [shlex.split(c) for c in sys.argv[2:]]
    null = os.open(os.devnull, os.O_WRONLY)
    actions = [(os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)]

    def run(argv: list[str]) -> float:
        start = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
        _, status = os.waitpid(pid, 0)
        took = (time.perf_counter_ns() - start) / 1e6
        if os.waitstatus_to_exitcode(status) not in (0, 1):
            sys.exit(f"{shlex.join(argv)}: exit status {os.waitstatus_to_exitcode(status)}")
        return took

    for c in cmds:  # warm-up: page cache, binaries
        for _ in range(5):
            run(c)
    times: list[list[float]] = [[] for _ in cmds]
    for r in range(rounds):
        order = range(len(cmds)) if r % 2 == 0 else reversed(range(len(cmds)))
        for k in order:
            times[k].append(run(cmds[k]))
    for c, t in zip(sys.argv[2:], times):
        print(f"mean {st.mean(t):6.2f}  median {st.median(t):6.2f}  min {min(t):6.2f} ms  {c}")
    if len(cmds) == 2:
        d = [a - b for a, b in zip(*times)]
        print(f"paired (first - second): mean {st.mean(d):+.2f} ms, median {st.median(d):+.2f} ms")


if __name__ == "__main__":
    main()
