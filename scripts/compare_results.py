#!/usr/bin/env python3
"""Compares the per-sample datasets of two results files bit for bit, task by task: the proof that a change to the
code (or to how a sweep is laid out) left the numbers as they were.

Tasks are matched by model, kind, samples, and every setting both files record for them (numbers compared as
numbers), so files of schema robustscope-results/1 and /2 compare too, although /2 records fewer settings for
attacks that ignore them. Prints what was compared and every difference; exit 0 when all matched tasks agree.

usage: compare_results.py A.h5 B.h5
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from robustscope.environment import use_debian_python  # noqa: E402

use_debian_python()

from collections import defaultdict  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402


def value(v):
    v = v.decode() if isinstance(v, bytes) else v
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return v
    return float(v) if hasattr(v, "__float__") else v


def tasks(path):
    found = defaultdict(list)
    with h5py.File(path, "r") as handle:
        for task_id in handle["tasks"]:
            group = handle["tasks"][task_id]
            attrs = {k: value(v) for k, v in group.attrs.items()}
            if attrs.get("status") != "completed":
                continue
            settings = {k[len("setting."):]: v for k, v in attrs.items() if k.startswith("setting.") and
                        not k.endswith("seed")}
            data = {}
            group.visititems(lambda name, obj: data.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset)
                             else None)
            where = (attrs["model"], attrs["kind"], int(attrs["first_sample"]), int(attrs["sample_count"]))
            found[where].append((settings, data))
    return found


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = tasks(sys.argv[1]), tasks(sys.argv[2])
    matched = compared = differing = 0
    unmatched = []
    for where, candidates in a.items():
        for settings, data in candidates:
            same = [other for other in b.get(where, []) if
                    all(settings[k] == other[0][k] for k in set(settings) & set(other[0]))]
            if len(same) != 1:
                unmatched.append((where, len(same)))
                continue
            matched += 1
            for name, array in data.items():
                if name not in same[0][1]:
                    continue
                compared += 1
                other = same[0][1][name]
                if array.shape != other.shape or not np.array_equal(array, other, equal_nan=True):
                    differing += 1
                    print(f"differs: {where} {name}")
    print(f"{matched} tasks matched of {sum(map(len, a.values()))} and {sum(map(len, b.values()))}; "
          f"{compared} datasets compared, {differing} differ; {len(unmatched)} tasks unmatched")
    for where, count in unmatched[:10]:
        print(f"unmatched: {where} ({count} candidates)")
    sys.exit(1 if differing or unmatched else 0)


if __name__ == "__main__":
    main()
