"""The PNG plots: recall vs latency over the ef_search sweep, filtered completeness and recall by
selectivity, ingest rows/s by method, client RSS during the streamed upsert."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

LABELS = {"ours": "vecs-sqlgen", "sql": "vecs.query (SQL)", "raw": "raw SQL", "raw_exact": "raw exact", "vecs": "vecs 0.4.5"}
COLORS = {"ours": "tab:blue", "sql": "tab:cyan", "raw": "tab:gray", "raw_exact": "tab:olive", "vecs": "tab:red"}


def write_all(r: dict, out: Path) -> None:
    recall_latency(r, out / "recall_latency.png")
    filtered(r, out / "filtered.png")
    ingest(r, out / "ingest.png")
    memory(r, out / "memory.png")


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def recall_latency(r: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method in ("ours", "raw", "vecs"):
        pts = sorted((int(x["setting"]), x["p50"], x["recall"]) for x in r["sweep"] if x["method"] == method)
        ax.plot([p[1] for p in pts], [p[2] for p in pts], "o-", label=LABELS[method], color=COLORS[method])
        if method == "ours":
            for ef, lat, rec in pts:
                ax.annotate(str(ef), (lat, rec), textcoords="offset points", xytext=(4, -10), fontsize=8)
    ax.axhline(0.97, ls=":", color="k", lw=0.8)
    ax.set_xlabel("p50 latency (ms, client)")
    ax.set_ylabel("recall@10")
    ax.set_title(f"Unfiltered k-NN, ef_search sweep ({r['data']['rows']:,} × {r['data']['dimension']}, {r['data']['source']})")
    ax.legend()
    ax.grid(alpha=0.3)
    _save(fig, path)


def filtered(r: dict, path: Path) -> None:
    cases = r["filtered"]
    labels = [f"{c['label'].replace(' (', chr(10) + '(')}\n{c['share']:.1%}" for c in cases]
    methods = ("ours", "raw", "raw_exact", "vecs")
    x = np.arange(len(cases))
    width = 0.2
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for panel, (key, title) in zip(axes, (("complete", "share of complete results"), ("recall", "recall@10"), ("p50", "p50 ms"))):
        for j, method in enumerate(methods):
            values = [next(row[key] for row in c["rows"] if row["method"] == method) for c in cases]
            panel.bar(x + (j - 1.5) * width, values, width, label=LABELS[method], color=COLORS[method])
        panel.set_xticks(x, labels, fontsize=8)
        panel.set_title(title)
        panel.grid(axis="y", alpha=0.3)
    axes[0].axhline(1.0, ls=":", color="k", lw=0.8)
    axes[1].axhline(0.95, ls=":", color="k", lw=0.8)
    axes[0].legend(fontsize=8)
    fig.suptitle("Filtered search by selectivity (section filters)")
    _save(fig, path)


def ingest(r: dict, path: Path) -> None:
    entries = r["ingest"]
    labels = [f"{e['scenario']}: {e['method']}" for e in entries]
    colors = ["tab:blue" if "ours" in e["method"] else "tab:red" if "vecs" in e["method"] else "tab:gray" for e in entries]
    fig, ax = plt.subplots(figsize=(9, 5))
    y = np.arange(len(entries))[::-1]
    ax.barh(y, [e["rows_per_s"] for e in entries], color=colors)
    for yi, e in zip(y, entries):
        ax.annotate(f"{e['rows_per_s']:,.0f}", (e["rows_per_s"], yi), xytext=(3, -3), textcoords="offset points", fontsize=7)
    ax.set_xscale("log")
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel("rows/s (log scale)")
    ax.set_title("Ingest throughput by method (384 dimensions)")
    ax.grid(axis="x", alpha=0.3)
    _save(fig, path)


def memory(r: dict, path: Path) -> None:
    m = r["memory"]
    curve = m["curve"]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([c[0] for c in curve], [c[1] for c in curve], color="tab:blue")
    ax.axhline(m["rss_before_mb"], ls=":", color="k", lw=0.8, label="before")
    ax.plot([m["rows"]], [m["rss_after_mb"]], "o", color="tab:green", label="after the merge")
    ax.set_ylim(0, max(m["rss_peak_mb"] * 1.3, 1))
    ax.set_xlabel("records streamed")
    ax.set_ylabel("client RSS (MB)")
    ax.set_title(f"Client RSS during a streamed upsert ({m['rows']:,} × {m['dimension']})")
    ax.legend()
    ax.grid(alpha=0.3)
    _save(fig, path)
