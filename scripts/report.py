#!/usr/bin/env python3
"""The study's report from a results file (schema robustscope-results/2, docs/results.md, docs/study.md).

Writes into OUT_DIR (default: <results folder>/report): report.md and report.html (the same text, with the
figures), figures/*.png, and tables/*.csv. Verdicts come first, then the evidence:
  1. Does the divergence metric rank models consistently across test settings where adversarial accuracy does
     not?  Rankings per setting (ties shown), Kendall tau and Spearman rho between every pair of settings, the
     group means with bootstrap intervals over test images.
  2. Is it invariant to reparameterisation?  Models of the spec with `reparameterize:` against their base, each
     change with its interval.
  3. How cheaply can a setting rank the models as the strongest attack (the ensemble) does?  Kendall tau with
     the ensemble's ranking against passes and wall time per sample.
plus the certified brackets, the gradient-masking alarms merge stored, the metric against robust accuracy, landscape
panels, and checks of the defended models (by their training recipe) against a natural model of the same
architecture. Reading (robustscope/results.py), statistics (stats.py), the study's arrangement (study.py),
rendering (render.py) and each section (consistency.py, invariance.py, cost.py, brackets.py, findings.py,
landscapes.py) are apart; this file runs them in order. Uses Debian's numpy, h5py and matplotlib only.

usage: report.py RESULTS.h5 [RESULTS.h5 …] [--out OUT_DIR] [--replicates 1000] [--seed 2019]
With several results files (e.g. the demo's MNIST study and the Fashion-MNIST study): one report per study in
OUT_DIR/<study name>/ and OUT_DIR/report.md with every study's verdicts side by side.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from robustscope.environment import use_debian_python  # noqa: E402

use_debian_python()

import argparse  # noqa: E402

from robustscope.brackets import brackets  # noqa: E402
from robustscope.consistency import consistency, metric_against_accuracy  # noqa: E402
from robustscope.convergence import convergence  # noqa: E402
from robustscope.cost import cost  # noqa: E402
from robustscope.findings import alarms, checks, headline_table, model_table, provenance  # noqa: E402
from robustscope.invariance import invariance  # noqa: E402
from robustscope.landscapes import landscapes  # noqa: E402
from robustscope import schema  # noqa: E402
from robustscope.render import Report  # noqa: E402
from robustscope.results import Results  # noqa: E402
from robustscope.study import Study  # noqa: E402


def read_results(path):
    if not os.path.exists(path):
        if os.path.isdir(path + ".d"):
            sys.exit(f"{path}: not merged yet (the run stopped before its merge); "
                     f"`robustscope merge {path}` writes it from {path}.d, then report again")
        sys.exit(f"{path}: no such results file")
    try:
        results = Results(path)
    except OSError as error:
        sys.exit(f"{path}: not a readable HDF5 results file ({error})")
    if not results.settings:
        sys.exit(f"{path}: no completed tasks")
    return results


def write_report(study, path, out_dir):
    report = Report(out_dir)
    provenance(report, study, path)
    verdict_place = report.placeholder()
    model_table(report, study)
    verdicts = []
    if study.scored_keys:
        verdicts.append(consistency(report, study))
        metric_against_accuracy(report, study)
        invariance_lines = invariance(report, study)
        if invariance_lines:
            verdicts.append("2. Invariance to reparameterisation: " + "; ".join(invariance_lines) + ".")
        verdicts.append(cost(report, study))
    verdicts.append(brackets(report, study))
    verdicts.append(alarms(report, study))
    verdicts.append(checks(report, study))
    verdicts.append(convergence(report, study))
    if study.scored_keys:
        headline_table(report, study)
    landscapes(report, study)
    report.fill(verdict_place, "<!-- verdicts -->\n## Verdicts\n\n" +
                "\n".join(f"- {line}" for line in verdicts if line) + "\n")
    report.write()
    return [line for line in verdicts if line]


def write_comparison(names, reports, verdicts, out_dir):
    """One page with every study's verdicts side by side, question by question, each linked to its report."""
    report = Report(out_dir)
    report.add("# robustscope: " + ", ".join(names) + "\n")
    report.add("Each study's verdicts, question by question; the evidence is in each study's own report (" +
               ", ".join(f"`{os.path.relpath(sub, out_dir)}/report.html`" for sub in reports) + ").\n")
    by_question = {}
    for column, lines in enumerate(verdicts):
        for line in lines:
            number, _, text = line.partition(". ")
            by_question.setdefault(number, [""] * len(names))[column] = text
    rows = [[number] + cells for number, cells in sorted(by_question.items())]
    report.table("verdicts", ["question"] + names, rows)
    report.write()


def main():
    parser = argparse.ArgumentParser(description="Write the study report of a results file.")
    parser.add_argument("results", nargs="+", help="one results file, or several: one report each and a page "
                        "with their verdicts side by side")
    parser.add_argument("--out", default=None, help="report folder (default: report/ beside the results file; with "
                        "several, studies-report/ beside the first, one subfolder per study)")
    parser.add_argument("--replicates", type=int, default=1000, help="bootstrap replicates (default 1000)")
    parser.add_argument("--seed", type=int, default=2019, help="seed of the bootstrap's resampling")
    args = parser.parse_args()
    if args.replicates < 10:
        sys.exit(f"--replicates {args.replicates}: at least 10 are needed for an interval")
    if len(args.results) == 1:
        out_dir = args.out or os.path.join(os.path.dirname(os.path.abspath(args.results[0])), "report")
        write_report(Study(read_results(args.results[0]), args.replicates, args.seed), args.results[0], out_dir)
        print(f"report: {os.path.join(out_dir, 'report.html')} and report.md")
        return
    out_dir = args.out or os.path.join(os.path.dirname(os.path.abspath(args.results[0])), "studies-report")
    names, reports, verdicts = [], [], []
    for path in args.results:
        study = Study(read_results(path), args.replicates, args.seed)
        name = str(study.results.root.get(schema.NAME, os.path.basename(path)))
        if name in names:
            sys.exit(f"{path}: a second study named {name!r}; give each study its own name")
        names.append(name)
        reports.append(os.path.join(out_dir, name))
        verdicts.append(write_report(study, path, reports[-1]))
    write_comparison(names, reports, verdicts, out_dir)
    print(f"report: {os.path.join(out_dir, 'report.html')} (the studies side by side) and one folder per study")


if __name__ == "__main__":
    main()
