"""Figures of the whole-path bench (bench/whole_path.py): one step's summary from the simulated customers'
records, the inbox tabs' events and the process samples, and how they are printed."""

from __future__ import annotations

import statistics
from typing import Any

import psutil

from bench.common import percentile
from bench.inbox_watchers import arrivals

TARGET_BEYOND_LLM = 2.0  # seconds, p95
MAX_ERROR_RATE = 0.01
PRODUCT_GROUPS = ("web", "runner", "postgres", "redis")  # what a server runs; the stand-ins and the browser are not


def summarize(chats: int, results: dict[str, Any], views: dict[str, list[Any]], usage: dict[str, dict[str, float]],
              machine: dict[str, float], *, window: float, warmup: float,
              audiences: dict[str, list[int]] | None = None, bot_owners: list[int] | None = None) -> dict[str, Any]:
    """One step's figures from the customers' records, the tabs' events (per kind of tab: "Chromium",
    "socket") and the process samples. With several businesses, `audiences` gives each tab's business (per
    kind, per tab) and `bot_owners` each bot's: a tab is expected to show only its own business's questions."""
    asks = results["asks"]
    strays = results["strays"]
    first = min(a["pushed"] for a in asks)
    measured_from = first + warmup
    measured_to = first + window
    measured = [a for a in asks if a["pushed"] >= measured_from and a["status"] == "ok"]
    e2e = [a["replied"] - a["pushed"] for a in measured]
    beyond = [a["replied"] - a["pushed"] - a["llm_ms"] / 1000 for a in measured]
    pickup = [a["picked_up"] - a["pushed"] for a in measured if a["picked_up"]]
    before_llm = [a["llm_start"] - a["pushed"] for a in measured]
    after_llm = [a["replied"] - a["llm_start"] - a["llm_ms"] / 1000 for a in measured]
    answered_in_window = sum(1 for a in asks if a["status"] == "ok" and measured_from <= a["replied"] <= measured_to)
    statuses: dict[str, int] = {}
    for a in asks:
        statuses[a["status"]] = statuses.get(a["status"], 0) + 1
    duplicates = sum(1 for s in strays if s["kind"] == "duplicate")
    unexpected = sum(1 for s in strays if s["kind"] != "duplicate")
    errors = sum(n for status, n in statuses.items() if status != "ok") + duplicates + unexpected
    samples = [a["detail"] for a in asks if a["status"] in ("not_model", "wrong")][:3]
    out: dict[str, Any] = {
        "chats": chats, "asked": len(asks), "ok": statuses.get("ok", 0), "statuses": statuses,
        "duplicates": duplicates, "unexpected": unexpected, "error_rate": errors / max(1, len(asks)),
        "error_samples": samples,
        "throughput": answered_in_window / max(1e-6, measured_to - measured_from),
        "e2e_p50": _pct(e2e, 50), "e2e_p95": _pct(e2e, 95),
        "beyond_p50": _pct(beyond, 50), "beyond_p95": _pct(beyond, 95), "beyond_p99": _pct(beyond, 99),
        "llm_mean": statistics.fmean([a["llm_ms"] / 1000 for a in measured]) if measured else float("nan"),
        "pickup_p50": _pct(pickup, 50), "pickup_p95": _pct(pickup, 95), "usage": usage,
        "before_p50": _pct(before_llm, 50), "before_p95": _pct(before_llm, 95),
        "after_p50": _pct(after_llm, 50), "after_p95": _pct(after_llm, 95),
    }
    ours = sum(u["cpu_pct"] for u in usage.values())
    out["machine"] = {**machine, "ours_pct": ours, "others_pct": max(0.0, machine["busy_pct"] - ours)}
    runner_cpu = sum(u["cpu_pct"] for label, u in usage.items() if label.startswith("runner"))
    product_cpu = sum(u["cpu_pct"] for label, u in usage.items() if label.startswith(PRODUCT_GROUPS))
    # % of a core / answers per second * 10 = ms of CPU per answer
    out["runner_ms_per_answer"] = 10 * runner_cpu / max(1e-6, out["throughput"])
    out["product_ms_per_answer"] = 10 * product_cpu / max(1e-6, out["throughput"])
    measured_asks = [a for a in asks if a["pushed"] >= measured_from]
    out["live"] = {kind: live_figures(tabs, measured_asks, (audiences or {}).get(kind), bot_owners)
                   for kind, tabs in views.items() if tabs}
    return out


def live_figures(events: list[Any], asks: list[dict[str, Any]], tab_owners: list[int] | None = None,
                 bot_owners: list[int] | None = None) -> dict[str, Any]:
    """Inbox arrivals over the tabs of one kind: share of (question, tab) pairs seen among those the tab should
    show (its business's), delays p50/p95. Per tab too (the worst tab's share seen), so one tab left behind
    does not hide in the mean."""
    def audience(tab: int) -> list[dict[str, Any]]:
        if tab_owners is None or bot_owners is None:
            return asks
        return [a for a in asks if bot_owners[a["bot"]] == tab_owners[tab]]

    expected = [audience(n) for n in range(len(events))]
    tabs = [arrivals(tab, expected[n]) for n, tab in enumerate(events)]
    questions = [d for t in tabs for d in t["question"]]
    server = [d for t in tabs for d in t["question_server"]]
    replies = [d for t in tabs for d in t["reply"]]
    return {"tabs": len(events), "seen": len(questions) / max(1, sum(len(e) for e in expected)),
            "tabs_asked": sum(1 for e in expected if e),  # tabs whose business had questions in the window
            "seen_worst_tab": min((len(t["question"]) / len(expected[n]) for n, t in enumerate(tabs) if expected[n]),
                                  default=float("nan")),
            "live_q_p50": _pct(questions, 50), "live_q_p95": _pct(questions, 95),
            "live_q_server_p50": _pct(server, 50), "live_q_server_p95": _pct(server, 95),
            "live_r_p50": _pct(replies, 50), "live_r_p95": _pct(replies, 95)}


def _pct(values: list[float], p: float) -> float:
    return percentile(values, p) if values else float("nan")


def passes(step: dict[str, Any]) -> bool:
    return step["beyond_p95"] < TARGET_BEYOND_LLM and step["error_rate"] <= MAX_ERROR_RATE


def print_step(step: dict[str, Any]) -> None:
    print(f"  N={step['chats']:4d}: {step['throughput']:.1f} answers/s, e2e p50 {step['e2e_p50']:.2f} / p95 "
          f"{step['e2e_p95']:.2f} s, beyond LLM p50 {step['beyond_p50']:.2f} / p95 {step['beyond_p95']:.2f} / p99 "
          f"{step['beyond_p99']:.2f} s (LLM mean {step['llm_mean']:.2f} s), pickup p95 {step['pickup_p95'] * 1000:.0f} "
          f"ms, asked {step['asked']}, ok {step['ok']}, errors {step['error_rate'] * 100:.1f}% {step['statuses']} "
          f"dup {step['duplicates']} unexpected {step['unexpected']}", flush=True)
    print(f"    beyond the LLM, split: update in -> request at the LLM p50 {step['before_p50']:.2f} / p95 "
          f"{step['before_p95']:.2f} s; LLM done -> reply at Telegram p50 {step['after_p50']:.2f} / p95 "
          f"{step['after_p95']:.2f} s", flush=True)
    if step["error_samples"]:
        print(f"    e.g. {step['error_samples']}")
    for kind, live in step["live"].items():
        def ms(key: str, live: dict[str, Any] = live) -> str:
            return f"{live[key] * 1000:.0f}"

        print(f"    {live['tabs']} {kind} inbox tabs ({live['tabs_asked']} with questions of their business): saw "
              f"{live['seen'] * 100:.0f}% of questions (worst tab {live['seen_worst_tab'] * 100:.0f}%); question -> "
              f"tab p50 {ms('live_q_p50')} / p95 {ms('live_q_p95')} ms; reply sent -> tab p50 {ms('live_r_p50')} / "
              f"p95 {ms('live_r_p95')} ms; question -> the WebSocket message carrying it p50 "
              f"{ms('live_q_server_p50')} / p95 {ms('live_q_server_p95')} ms"
              + (" (the rest is the browser applying it)" if kind == "Chromium" else " (no rendering)"), flush=True)
        if "frames_per_tab_s" in live:
            print(f"      each socket tab received {live['frames_per_tab_s']:.1f} frames/s"
                  + (f"; errors {live['errors']}" if live["errors"] else ""), flush=True)
    m = step["machine"]
    print(f"    machine: {m['busy_pct']:.0f}% busy of {psutil.cpu_count() * 100}% (this bench's processes "
          f"{m['ours_pct']:.0f}%, other work {m['others_pct']:.0f}%), load average {m['load1']:.1f}; CPU per answer: "
          f"runners {step['runner_ms_per_answer']:.0f} ms, product (web, runners, postgres, redis) "
          f"{step['product_ms_per_answer']:.0f} ms", flush=True)
    for label, u in step["usage"].items():
        if u["processes"]:
            print(f"    {label:32s} CPU {u['cpu_pct']:5.1f}%  mem mean {u['mem_mb_mean']:6.1f} / max "
                  f"{u['mem_mb_max']:6.1f} MB  ({u['processes']} proc)")



def print_summary(all_results: dict[str, list[dict[str, Any]]]) -> None:
    print("\n| runners x workers | N chats | answers/s | e2e p50 / p95 | beyond LLM p50 / p95 | errors | "
          "inbox: seen, question p95, reply p95 | machine busy (others), load |")
    print("|---|---|---|---|---|---|---|---|")
    for config, steps in all_results.items():
        for s in steps:
            live = "; ".join(f"{v['tabs']} {kind}: {v['seen'] * 100:.0f}%, {v['live_q_p95'] * 1000:.0f} ms, "
                             f"{v['live_r_p95'] * 1000:.0f} ms" for kind, v in s["live"].items()) or "-"
            print(f"| {config} | {s['chats']} | {s['throughput']:.1f} | {s['e2e_p50']:.2f} / {s['e2e_p95']:.2f} s | "
                  f"{s['beyond_p50']:.2f} / {s['beyond_p95']:.2f} s | {s['error_rate'] * 100:.1f}% | {live} | "
                  f"{s['machine']['busy_pct']:.0f}% ({s['machine']['others_pct']:.0f}%), {s['machine']['load1']:.1f} |")
        held = [s["chats"] for s in steps if passes(s)]
        print(f"largest N with p95 beyond the LLM < {TARGET_BEYOND_LLM:.0f} s and errors <= "
              f"{MAX_ERROR_RATE * 100:.0f}% ({config}): {max(held) if held else 'none'}")


