"""Run the benchmarks one after another, each in its own process (each sets up its own database).

    .venv/bin/python -m bench                          # the issue benchmarks: quality, answer precision, latency,
                                                       # ingest, bots, inbox, ingest fairness, crash duplicates,
                                                       # admin users, follow-ups, structured answers, sign-in flood,
                                                       # parse fairness, inbox tools
    .venv/bin/python -m bench search_latency bots_scale  # some of them
    .venv/bin/python -m bench embedder_comparison       # opt-in (~10 min): other local embedders
    .venv/bin/python -m bench whole_path                # opt-in (~3 min; --step-up ~30 min): the whole path under load
    .venv/bin/python -m bench runner_failover           # opt-in (~2 min): seconds until a killed runner's bots move
    .venv/bin/python -m bench db_roles                  # opt-in (~10 s): the app's role against the owner
    .venv/bin/python -m bench admin_money               # opt-in (~2-4 min): admin money queries, 100k vs 1M rows
    .venv/bin/python -m bench app_start                 # opt-in (~1 min): seconds to serve, build vs reuse
    .venv/bin/python -m bench owner_terms               # opt-in (~2 s): times and money in the owner's terms, per row
    .venv/bin/python -m bench widget_load               # opt-in (~2 min): 500 idle + 50 asking widget visitors
    .venv/bin/python -m bench stream_pacing             # opt-in (~10 s): pacing of streamed text, before/after
    .venv/bin/python -m bench telegram_drafts           # opt-in (~2 min): first visible text with drafts vs without
    .venv/bin/python -m bench live_fanout               # opt-in (~3 min): live inbox pushes vs open tabs
    .venv/bin/python -m bench team_access               # opt-in (~1 min): the access check per event, assigned filters
    .venv/bin/python -m bench business_chat             # opt-in (~1 min): business chat vs the bot's chat
    .venv/bin/python -m bench bots_10k                  # opt-in (~15 min): 10,000 bots, webhook and polling, paging
"""

from __future__ import annotations

import subprocess
import sys

DEFAULT = ["retrieval_quality", "answer_precision", "search_latency", "ingest_throughput", "bots_scale",
           "inbox_queries", "ingest_fairness", "crash_duplicates", "admin_users", "followup_quality",
           "structured_answer", "signin_flood", "parse_fairness", "resume_claim", "inbox_tools"]
OPT_IN = ["embedder_comparison", "whole_path", "runner_failover", "db_roles", "admin_money", "app_start",
          "operator_chat", "owner_terms", "widget_load", "telegram_drafts", "live_fanout",
          "business_chat", "bots_10k", "team_access", "stream_pacing"]


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in DEFAULT + OPT_IN]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(DEFAULT + OPT_IN)}")
        return 2
    failed = []
    for name in names or DEFAULT:
        print(f"\n=== bench.{name} ===", flush=True)
        if subprocess.call([sys.executable, "-m", f"bench.{name}"]) != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
