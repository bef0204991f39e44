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
    def settings(self):
        prefix = schema.SETTING_PREFIX
        return {name[len(prefix):]: value for name, value in self.attrs.items() if name.startswith(prefix)}


# Each headline number from the per-sample data it summarises (robustscope inspect computes the same from
# the tasks' stored headlines).
HEADLINE_FROM_COLUMNS = {
    schema.PSI_MEAN: lambda s: float(s.column(schema.PSI).astype(np.float64).mean()),
    schema.ROBUST_ACCURACY: lambda s: float(1 - s.column(schema.BROKEN).astype(np.float64).mean()),
    schema.PSI_UPPER_MEAN: lambda s: float(s.column(schema.PSI_UPPER).astype(np.float64).mean()),
    schema.CERTIFIED_ACCURACY: lambda s: float(s.column(schema.CERTIFIED).astype(np.float64).mean()),
    schema.CLEAN_ACCURACY: lambda s: float(s.column(schema.CLEAN_CORRECT).astype(np.float64).mean()),
    schema.BOUNDARY_DISTANCE: lambda s: (
        float(np.mean([float(d[schema.BOUNDARY_ADVERSARIAL_POSITIVE]) for d in s.landscapes]))
        if s.landscapes else math.nan),
}


class Setting:
    """One procedure setting of one model: what the results file says of it (kind, label, family, headline
    names: written by the procedure's own type), and its completed tasks' per-sample columns in sample order."""

    def __init__(self, facts):
        self.model, self.kind, self.key = facts[schema.MODEL], facts[schema.KIND], facts[schema.KEY]
        self.setting_key, self.label, self.family = facts[schema.SETTING_KEY], facts[schema.LABEL], facts[schema.FAMILY]
        self.headline_names = [n for n in facts[schema.HEADLINE_NAMES].split(",") if n]
        self.settings = {}
        self._tasks, self._sorted = [], True

    @property
    def is_metric(self):
        """Scored by ψ (lower is more robust)."""
        return schema.PSI_MEAN in self.headline_names

    @property
    def is_attack(self):
        """Scored by robust accuracy: attacks, transfers, ensembles."""
        return schema.ROBUST_ACCURACY in self.headline_names

    def add(self, task):
        # Sorted once, when first read: sorting on every add made reading a setting of n shards O(n²).
        if not self._tasks:
            self.settings = task.settings
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
        if self.is_metric:
            return -self.column(schema.PSI).astype(np.float64)
        if self.is_attack:
            return 1.0 - self.column(schema.BROKEN).astype(np.float64)
        return np.array([])

    def headline(self):
        """The numbers `robustscope inspect` reports for this setting, from the per-sample data."""
        return {name: HEADLINE_FROM_COLUMNS[name](self) for name in self.headline_names}


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
            models = {name: attributes(group) for name, group in handle.get(schema.MODELS_GROUP, {}).items()}
            # The models in the spec's order (HDF5 lists groups by name).
            self.models = OrderedDict(sorted(models.items(), key=lambda item: int(item[1][schema.MODEL_INDEX])))
            self.model_order = list(self.models)
            if schema.SETTINGS_GROUP not in handle:
                raise SystemExit(f"{path}: has no settings table (merged by an older robustscope); "
                                 f"`robustscope merge {path}` rewrites it")
            table = handle[schema.SETTINGS_GROUP]
            by_setting_key = OrderedDict()
            for index in sorted(table, key=int):
                setting = Setting(attributes(table[index]))
                by_setting_key[setting.setting_key] = setting
            self.settings = OrderedDict()  # (model, procedure key) → Setting, with completed tasks only
            self.failed = []
            for task_id in handle.get(schema.TASKS_GROUP, {}):
                task = Task(task_id, handle[schema.TASKS_GROUP][task_id])
                if not task.completed:
                    self.failed.append(task)
                    continue
                by_setting_key[task.attrs[schema.SETTING_KEY]].add(task)
            for setting in by_setting_key.values():
                if setting.tasks:
                    self.settings[(setting.model, setting.key)] = setting
            self.runs = [attributes(handle[schema.RUNS_GROUP][name]) for name in handle.get(schema.RUNS_GROUP, {})]
            # The gradient-masking alarms merge stored (docs/alarms.md), in their stored order.
            alarms = handle.get(schema.ALARMS_GROUP, {})
            self.alarms = [attributes(alarms[name]) for name in sorted(alarms, key=int)]

    def reparameterization(self, model):
        prefix = schema.REPARAMETERIZATION_PREFIX
        return {name[len(prefix):]: float(value) for name, value in self.models[model].items()
                if name.startswith(prefix)}

    def is_base(self, model):
        """Not a reparameterised copy (`reparameterize:`) of another model."""
        return all(value == 1 for value in self.reparameterization(model).values())

    def base_of(self, model):
        """The model a reparameterised copy was made from ("" when it is none's copy, or its base is not in
        the spec): as the spec resolved it."""
        return self.models[model].get(schema.MODEL_BASE, "")

    def is_defended(self, model):
        """Trained against an attack (its checkpoint's recipe: fgsm, pgd, trades, alp)."""
        return bool(self.models[model].get(schema.MODEL_DEFENDED, 0))

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
        with_landscapes = [s for s in results.settings.values() if s.landscapes]
        settings = [s for s in with_landscapes if model is None or s.model == model]
        if not settings:
            raise SystemExit(f"{path}: holds no landscapes" + (f" of model {model!r}" if model else "") +
                             f" (models with landscapes: {sorted({s.model for s in with_landscapes})})")
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
