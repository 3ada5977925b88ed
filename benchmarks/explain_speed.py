"""How long `followupd explain` takes per message, in process and as a command.

Three measurements over the sample messages in tests/samples/*.eml:

1. in process: `followupd.explain.explain_message(path, config)` called over every sample,
   the whole set repeated so that there are about 500 calls (mean/median/p95 ms per call;
   the very first call, which pays for the lazy imports and phrase books, is shown apart);
   the same loop is then split into its stages (config + rules load, parse, recognise);
2. the command as a user runs it: `followupd explain --json FILE` as a subprocess for
   about 20 messages (mean wall time per call: interpreter start-up, imports, work, output);
3. `followupd --help` start-up time (mean over 10 runs).

Run: `python benchmarks/explain_speed.py [--calls 500] [--cli-calls 20] [--help-runs 10]`.
Never asserts on time; prints a table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from _common import Busyness, Timings, print_machine

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "tests" / "samples"

CONFIG_YAML = """\
me:
  name: Jane Doe
  email: jane@example.com
  timezone: Europe/Berlin
state_dir: {state}
accounts:
  - name: local
    maildir: {maildir}
"""


def write_config(tmp: Path) -> Path:
    """A minimal config with one Maildir account in tmp; returns its path."""
    maildir = tmp / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    config = tmp / "config.yaml"
    config.write_text(CONFIG_YAML.format(state=tmp / "state", maildir=maildir))
    return config


def followupd_command() -> list[str]:
    """The installed console script next to this interpreter (what `pip install` made).

    Falls back to the first `followupd` on PATH, then to `python -m followupd`.
    """
    beside = Path(sys.executable).parent / "followupd"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("followupd")
    return [found] if found else [sys.executable, "-m", "followupd"]


def main(argv: list[str] | None = None) -> int:
    """Run the three measurements and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="in-process calls (about)")
    parser.add_argument("--cli-calls", type=int, default=20, help="subprocess explain runs")
    parser.add_argument("--help-runs", type=int, default=10, help="`followupd --help` runs")
    args = parser.parse_args(argv)

    samples = sorted(SAMPLES.glob("*.eml"))
    if not samples:
        print(f"no samples in {SAMPLES}", file=sys.stderr)
        return 1
    repeat = max(1, round(args.calls / len(samples)))
    busy = Busyness()

    with tempfile.TemporaryDirectory(prefix="fud-bench-explain-") as tmp_name:
        tmp = Path(tmp_name)
        config = write_config(tmp)
        env = {**os.environ, "FOLLOWUPD_CONFIG": str(config)}

        # -- 1. in process ------------------------------------------------------------
        importing, first = Timings(), Timings()
        explain_message = importing.call(_import_explain)
        first.call(lambda: explain_message(samples[0], config))
        warm = Timings()
        kinds: dict[str, int] = {}
        for _ in range(repeat):
            for path in samples:
                result = warm.call(lambda path=path: explain_message(path, config))
                kinds[result["kind"]] = kinds.get(result["kind"], 0) + 1

        # -- 1b. the same work split into its stages --------------------------------------
        from followupd.parse import parse_message
        from followupd.pipeline import calendar_for
        from followupd.recognise import recognise
        from followupd.setup import load_checked

        cfg, _rules = load_checked(config)
        zone = calendar_for(cfg).zone
        raws = [p.read_bytes() for p in samples]
        loading, parsing, recognising = Timings(), Timings(), Timings()
        for _ in range(repeat):
            loading.call(lambda: load_checked(config))
            for raw in raws:
                msg = parsing.call(lambda raw=raw: parse_message(raw, default_tz=zone))
                recognising.call(
                    lambda msg=msg: recognise(msg, me_addresses=cfg.me.addresses, tz=zone)
                )

        # -- 2. the command ---------------------------------------------------------------
        command = followupd_command()
        cli = Timings()
        for i in range(args.cli_calls):
            path = samples[i % len(samples)]
            cli.command([*command, "explain", "--json", "--config", str(config), str(path)], env)
        # The same with a bytecode cache for followupd's own modules (an editable install
        # under PYTHONDONTWRITEBYTECODE=1 compiles them from source on every start).
        cached_env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached_env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        cached = Timings()
        explain_one = [*command, "explain", "--json", "--config", str(config), str(samples[0])]
        Timings().command(explain_one, cached_env)  # fills the cache
        for i in range(max(1, args.cli_calls // 2)):
            path = samples[i % len(samples)]
            argv_i = [*command, "explain", "--json", "--config", str(config), str(path)]
            cached.command(argv_i, cached_env)

        # -- 3. start-up ------------------------------------------------------------------
        helps, bare = Timings(), Timings()
        for _ in range(args.help_runs):
            helps.command([*command, "--help"], env)
            bare.command([sys.executable, "-c", "pass"], env)

    print_machine(busy)
    print(f"samples: {len(samples)} files in {SAMPLES.relative_to(REPO)}, repeated {repeat}x")
    print(
        f"command: {' '.join(command)}"
        f"  (PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r})"
    )
    print()
    header = (
        f"{'ms per call':<46} {'n':>4} {'mean':>8} {'median':>8} {'p95':>8} {'max':>8} {'cpu':>8}"
    )
    print(header)
    print("-" * len(header))
    print(warm.row("explain_message(), in process, warm"))
    print(loading.row("  load_checked() (config + rules + templates)"))
    print(parsing.row("  parse_message()"))
    print(recognising.row("  recognise()"))
    print(importing.row("cold: import followupd.explain"))
    print(first.row("cold: first explain_message() call"))
    print(cli.row("`followupd explain --json FILE`"))
    print(cached.row("  the same with a bytecode cache"))
    print(helps.row("`followupd --help`"))
    print(bare.row("`python -c pass`"))
    print()
    print(f"in-process throughput (warm): {1000 / statistics.fmean(warm.wall):.1f} messages/s")
    print(
        "kinds per pass over the samples: "
        + ", ".join(f"{k}={v // repeat}" for k, v in sorted(kinds.items()))
    )
    return 0


def _import_explain() -> Callable[[Path, Path | None], dict[str, object]]:
    """Import followupd.explain (timed as part of the cold start)."""
    from followupd.explain import explain_message

    return explain_message


if __name__ == "__main__":
    sys.exit(main())
