"""Reading robustscope result files (schema robustscope-results/2, docs/results.md) and landscape files
(robustscope-landscape/2): tasks, the settings they belong to, per-sample columns and headline numbers.

Headlines here are computed from the per-sample datasets; `robustscope inspect --format csv` computes the
same numbers from the tasks' stored headlines, and a test holds the two equal."""
import math
from collections import OrderedDict

import h5py
import numpy as np

from . import schema


def text(value):
    """Attribute text as str (h5py gives str for variable-length UTF-8, bytes for fixed-length)."""
    return value.decode() if isinstance(value, bytes) else value


def attributes(group):
    return {name: text(value) if isinstance(value, (bytes, str)) else value.item() if hasattr(value, "item")
            else value for name, value in group.attrs.items()}


class Task:
    """One task's attributes and per-sample datasets (landscape samples as a list of dicts)."""

    def __init__(self, task_id, group):
        self.id = task_id
        self.attrs = attributes(group)
        self.data = {name: group[name][()] for name in group if isinstance(group[name], h5py.Dataset)}
        self.landscapes = []
        if schema.SAMPLES_GROUP in group:
            quantities = self.attrs.get("quantities", "").split(",")
            for sample_id in group[schema.SAMPLES_GROUP]:
                sample = group[schema.SAMPLES_GROUP][sample_id]
                entry = {name: sample[name][()] for name in sample}
                entry.update(attributes(sample))
                entry["quantities"] = quantities
                entry["epsilon"] = float(self.attrs["setting.epsilon"])
                self.landscapes.append(entry)

    @property
    def completed(self):
        return self.attrs.get(schema.STATUS) == schema.COMPLETED

    @property
    def procedure_key(self):
        """The procedure part of the setting key ("attack(epsilon=0.1,…)")."""
        return self.attrs[schema.SETTING_KEY].split("|")[1]

    @property
    def settings(self):
        prefix = schema.SETTING_PREFIX
        return {name[len(prefix):]: value for name, value in self.attrs.items() if name.startswith(prefix)}


class Setting:
    """One procedure setting of one model: its completed tasks, their per-sample columns in sample order."""

    def __init__(self, model, kind, key, settings):
        self.model, self.kind, self.key, self.settings = model, kind, key, settings
        self._tasks, self._sorted = [], True

    def add(self, task):
        # Sorted once, when first read: sorting on every add made reading a setting of n shards O(n²).
        self._tasks.append(task)
        self._sorted = False

    @property
    def tasks(self):
        """The completed tasks in sample order."""
        if not self._sorted:
            self._tasks.sort(key=lambda t: t.attrs[schema.FIRST_SAMPLE])
            self._sorted = True
        return self._tasks

    @property
    def samples(self):
        return sum(int(t.attrs[schema.SAMPLE_COUNT]) for t in self.tasks)

    def column(self, name):
        """The per-sample dataset `name` over every completed shard, in sample order."""
        parts = [t.data[name] for t in self.tasks if name in t.data]
        return np.concatenate(parts) if parts else np.array([])

    @property
    def landscapes(self):
        return [entry for task in self.tasks for entry in task.landscapes]

    def total(self, attribute):
        return sum(float(t.attrs.get(attribute, 0)) for t in self.tasks)

    def per_sample_scores(self):
        """What ranks models, per sample, higher = more robust: −ψ, or 1 for an unbroken sample."""
        if self.kind == "metric":
            return -self.column(schema.PSI).astype(np.float64)
        if self.kind in ("attack", "ensemble", "transfer"):
            return 1.0 - self.column(schema.BROKEN).astype(np.float64)
        return np.array([])

    def headline(self):
        """The numbers `robustscope inspect` reports for this setting, from the per-sample data."""
        values = {}
        if self.kind == "metric":
            values[schema.PSI_MEAN] = float(self.column(schema.PSI).astype(np.float64).mean())
        if self.kind in ("attack", "ensemble", "transfer"):
            values[schema.ROBUST_ACCURACY] = float(1 - self.column(schema.BROKEN).astype(np.float64).mean())
        if self.kind == "certify":
            values[schema.PSI_UPPER_MEAN] = float(self.column(schema.PSI_UPPER).astype(np.float64).mean())
            values[schema.CERTIFIED_ACCURACY] = float(self.column(schema.CERTIFIED).astype(np.float64).mean())
        if self.kind in ("metric", "attack", "ensemble", "transfer", "certify"):
            values[schema.CLEAN_ACCURACY] = float(self.column(schema.CLEAN_CORRECT).astype(np.float64).mean())
        if self.kind == "landscape":
            distances = [float(d["boundary_adversarial_positive"]) for d in self.landscapes]
            values[schema.BOUNDARY_DISTANCE] = float(np.mean(distances)) if distances else math.nan
        return values


class Results:
    """A merged results file: provenance, models, settings (by (model, procedure key)), failed tasks, runs."""

    def __init__(self, path):
        self.path = path
        with h5py.File(path, "r") as handle:
            found = text(handle.attrs.get(schema.SCHEMA, ""))
            if found != schema.RESULTS:
                raise SystemExit(f"{path}: schema {found or 'none'!r}; this script reads {schema.RESULTS} "
                                 "(rerun the spec with this version of robustscope)")
            self.root = attributes(handle)
            # "model setting" lines of the settings whose tasks are not all computed (a partial run).
            self.pending = [line for line in text(self.root.get(schema.PENDING_SETTINGS, "")).split("\n") if line]
            self.models = OrderedDict()
            for name in handle.get(schema.MODELS_GROUP, {}):
                self.models[name] = attributes(handle[schema.MODELS_GROUP][name])
            self.settings = OrderedDict()
            self.failed = []
            for task_id in handle.get(schema.TASKS_GROUP, {}):
                task = Task(task_id, handle[schema.TASKS_GROUP][task_id])
                if not task.completed:
                    self.failed.append(task)
                    continue
                key = (task.attrs[schema.MODEL], task.procedure_key)
                if key not in self.settings:
                    self.settings[key] = Setting(key[0], task.attrs[schema.KIND], key[1], task.settings)
                self.settings[key].add(task)
            self.runs = [attributes(handle[schema.RUNS_GROUP][name]) for name in handle.get(schema.RUNS_GROUP, {})]
            # The gradient-masking alarms merge stored (docs/alarms.md), in their stored order.
            alarms = handle.get(schema.ALARMS_GROUP, {})
            self.alarms = [attributes(alarms[name]) for name in sorted(alarms, key=int)]
        # Models in the spec's order (the models group is written in that order; HDF5 lists by name).
        spec_text = self.root.get(schema.SPEC_TEXT, "")
        self.model_order = sorted(self.models, key=lambda m: (spec_text.find(f"name: {m}") % (len(spec_text) + 1), m))

    def reparameterization(self, model):
        prefix = schema.REPARAMETERIZATION_PREFIX
        return {name[len(prefix):]: float(value) for name, value in self.models[model].items()
                if name.startswith(prefix)}

    def is_base(self, model):
        return all(value == 1 for value in self.reparameterization(model).values())

    def recipe(self, model):
        return self.models[model].get(schema.MODEL_RECIPE, "")

    def description(self, model):
        """The architecture as the tasks recorded it ("small-cnn(channels=16, hidden=256)")."""
        for (name, _), setting in self.settings.items():
            if name == model and setting.tasks:
                return setting.tasks[0].attrs.get(schema.MODEL_DESCRIPTION, "")
        return ""


def cut_coordinates(entry, cut):
    """The sampling points of a landscape's cut ("adversarial" or "random"): the cut's own when it was
    sampled adaptively, else the uniform coordinates_1d."""
    return entry.get("coordinates_" + cut, entry["coordinates_1d"])


def landscape_samples(path, model=None):
    """Landscape samples from a `robustscope landscape` file, or from a results file (then those of
    `model`, or of the first model with landscapes): a list of dicts with the cuts, grid, directions and
    derived numbers, plus "model", "epsilon" and "index" (quantity name → row)."""
    with h5py.File(path, "r") as handle:
        found = text(handle.attrs.get(schema.SCHEMA, ""))
    if found == schema.LANDSCAPE:
        with h5py.File(path, "r") as handle:
            quantities = text(handle.attrs["quantities"]).split(",")
            epsilon = float(handle.attrs["landscape.epsilon"])
            name = text(handle.attrs.get("model", path))
            samples = []
            for sample_id in handle[schema.SAMPLES_GROUP]:
                group = handle[schema.SAMPLES_GROUP][sample_id]
                entry = {key: group[key][()] for key in group}
                entry.update(attributes(group))
                samples.append(entry)
    elif found == schema.RESULTS:
        results = Results(path)
        settings = [s for s in results.settings.values() if s.kind == "landscape" and (model is None or s.model == model)]
        if not settings:
            raise SystemExit(f"{path}: holds no landscapes" + (f" of model {model!r}" if model else "") +
                             f" (models with landscapes: {sorted({s.model for s in results.settings.values() if s.kind == 'landscape'})})")
        setting = settings[0]
        samples = setting.landscapes
        quantities = samples[0]["quantities"] if samples else []
        epsilon = float(setting.settings["epsilon"])
        name = setting.model
    else:
        raise SystemExit(f"{path}: not a robustscope landscape or results file (schema {found or 'none'!r})")
    for entry in samples:
        entry["model"] = name
        entry["epsilon"] = epsilon
        entry["index"] = {quantity: i for i, quantity in enumerate(quantities)}
    return sorted(samples, key=lambda entry: int(entry["sample_id"]))
