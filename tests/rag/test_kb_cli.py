import json
import os
import subprocess
import sys
from pathlib import Path

from chatai.rag.confidence import threshold_for

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "chatai", *args], cwd=ROOT, env=os.environ.copy(),
                          capture_output=True, text=True, timeout=120)


async def test_cli_ingest_search_ask(tenant, tmp_path):
    good = tmp_path / "hours.md"
    good.write_text("# Opening hours\n\nThe shop is open Monday to Friday from 9 am to 6 pm.\n\n"
                    "# Delivery\n\nCouriers deliver parcels within two days.\n")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 this is not a real pdf")
    faq = tmp_path / "faq.csv"
    faq.write_text("question,answer\nDo you sell gift cards?,Yes we do.\n")
    aid = str(tenant.assistant_id)

    run = _cli("kb", "ingest", "--assistant", aid, str(good), str(broken), str(faq), str(tmp_path / "missing.txt"))
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if line.startswith(str(tmp_path))]
    assert len(errors) == 2
    assert any("broken.pdf: The PDF is damaged" in e for e in errors)
    assert any("missing.txt: cannot read the file" in e for e in errors)
    assert "hours.md: indexed, 2 chunks" in run.stdout and "faq.csv: imported as Q&A pairs" in run.stdout

    # Re-running with only good (already indexed) files: duplicates are failures too, so exit 1 ...
    assert _cli("kb", "ingest", "--assistant", aid, str(good)).returncode == 1
    # ... while a new good file alone exits 0.
    new = tmp_path / "new.txt"
    new.write_text("Parking is free for customers behind the building.")
    ok = _cli("kb", "ingest", "--assistant", aid, str(new))
    assert ok.returncode == 0, ok.stderr

    run = _cli("kb", "search", "--assistant", aid, "--top-k", "2", "--json", "when is the shop open", "parking")
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [obj["query"] for obj in lines] == ["when is the shop open", "parking"]
    first = lines[0]["results"]
    assert 1 <= len(first) <= 2 and first[0]["document"] == "hours.md" and "9 am" in first[0]["text"]
    assert isinstance(first[0]["score"], float)
    # The confidence of answering with the top result, on the decision's scale (rag/confidence.py).
    assert 0 < lines[0]["confidence"] <= 1 and isinstance(lines[1]["confidence"], float)
    assert lines[1]["results"][0]["document"] == "new.txt"

    run = _cli("ask", "--assistant", aid, "--json", "When", "is", "the", "shop", "open?")
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert answer["answered_by"] == "extractive" and "9 am to 6 pm" in answer["text"]
    assert answer["sources"][0]["document"] == "hours.md"
    assert answer["outcome"] == "answer" and answer["confidence"] >= threshold_for("balanced")
    assert "evidence" not in answer and "hits" not in answer

    run = _cli("ask", "--assistant", aid, "--json", "Do", "you", "repair", "espresso", "machines?")
    assert run.returncode == 0, run.stderr
    unsure = json.loads(run.stdout)
    assert (unsure["outcome"], unsure["answered_by"], unsure["needs_handoff"]) == ("dont_know", "fallback", True)
    assert unsure["sources"] == [] and unsure["confidence"] < threshold_for("balanced")

    run = _cli("ask", "--assistant", aid, "Do you sell gift cards?")
    # A short answer carries the question it answers.
    assert run.returncode == 0 and run.stdout.startswith("Do you sell gift cards?\nYes we do.") and "Q&A" in run.stdout

    assert _cli("kb", "search", "--assistant", "not-a-uuid", "x").returncode == 1
