// One task: a procedure on a shard of samples, packed into a Record.
#include "engine/run/task_runner.hpp"

#include <torch/types.h>

#include <algorithm>
#include <chrono>

#include "core/error.hpp"
#include "core/models/architectures.hpp"
#include "core/models/batch_memory.hpp"
#include "core/models/model_source.hpp"
#include "engine/records/schema.hpp"

namespace robustscope {

void add_task_attributes(Record& record, const ExperimentSpec& spec, const Task& task) {
  const ModelSpec& model = spec.models[task.model];
  const Procedure& procedure = spec.procedures[task.procedure];
  record.set(schema::kKey, task.key);
  record.set(schema::kSettingKey, task.setting_key);
  record.set(schema::kId, task.id);
  record.set(schema::kKind, std::string(procedure.kind()));
  record.set(schema::kModel, model.name);
  record.set(schema::kModelFile, model.source.path);
  record.set(schema::kModelFileHash, model.content_hash);
  for (const auto& [key, value] : model.reparameterization.to_entries())
    record.set(schema::kReparameterizationPrefix + key, value);
  record.set(schema::kDataset, model.dataset);
  record.set(schema::kSplit, spec.samples.split);
  record.set(schema::kShard, task.shard);
  record.set(schema::kFirstSample, task.first_sample);
  record.set(schema::kSampleCount, task.sample_count);
  record.set(schema::kBatchSize, model.batch_size);
  record.set(schema::kSeed, static_cast<int64_t>(task.seed));
  for (const auto& [key, value] : procedure.entries())
    record.set(schema::kSettingPrefix + key, value);
}

std::unique_ptr<Classifier> load_spec_model(const ModelSpec& spec, torch::Device device) {
  // Every load checks the bytes it reads against the hash the tasks were planned with: a file
  // replaced mid-run fails its tasks instead of being recorded under the old hash.
  const bool hashed = !spec.content_hash.empty() && spec.content_hash != "missing";
  std::unique_ptr<Classifier> model = load_classifier(spec.source, dataset_info(spec.dataset),
                                                      device, hashed ? spec.content_hash : "");
  if (!spec.reparameterization.is_identity()) {
    auto* builtin = dynamic_cast<BuiltinClassifier*>(model.get());
    if (!builtin) throw Error(spec.location, "reparameterize needs a built-in model");
    reparameterize(*builtin, spec.reparameterization);
  }
  return model;
}

void resolve_batch_sizes(ExperimentSpec& spec, const Record& recorded,
                         const std::function<void(const std::string&)>& log) {
  if (!spec.samples.batch_auto) return;
  const int64_t budget = spec.samples.batch_memory_mib << 20;
  for (ModelSpec& model : spec.models) {
    if (recorded.has(schema::kModelBatchSize, model.name) &&
        recorded.has(schema::kModelHash, model.name) &&
        recorded.text(schema::kModelHash, model.name) == model.content_hash) {
      model.batch_size = recorded.integer(schema::kModelBatchSize, model.name);
      continue;
    }
    if (model.content_hash == "missing") continue;
    const std::unique_ptr<Classifier> classifier = load_spec_model(model, torch::kCPU);
    const BatchMemory memory =
        measure_batch_memory(*classifier, dataset_info(model.dataset).shape, budget);
    model.batch_size = largest_batch_within(memory, budget, spec.samples.shard_size,
                                            spec.path + ": batch_size: auto, model " + model.name);
    log("model " + model.name + ": batch_size " + std::to_string(model.batch_size) + " (" +
        std::to_string(memory.bytes_per_sample >> 10) + " KiB per sample, " +
        std::to_string(memory.fixed_bytes >> 20) + " MiB fixed, budget " +
        std::to_string(spec.samples.batch_memory_mib) + " MiB)");
  }
}

TaskRunner::TaskRunner(const ExperimentSpec& spec, torch::Device device)
    : spec_(spec), device_(device) {}

Classifier& TaskRunner::model(size_t index) {
  model_use_order_.erase(std::remove(model_use_order_.begin(), model_use_order_.end(), index),
                         model_use_order_.end());
  model_use_order_.push_back(index);
  auto found = models_.find(index);
  if (found == models_.end()) {
    // Memory holds two models at most: the least recently used one goes first.
    while (models_.size() >= 2) {
      models_.erase(model_use_order_.front());
      model_use_order_.erase(model_use_order_.begin());
    }
    found = models_.emplace(index, load_spec_model(spec_.models[index], device_)).first;
    ++models_loaded_;
  }
  return *found->second;
}

const Dataset& TaskRunner::dataset(const std::string& name) {
  auto found = datasets_.find(name);
  if (found == datasets_.end())
    found = datasets_.emplace(name, load_dataset(name, spec_.data_dir, spec_.samples.split)).first;
  return found->second;
}

Record TaskRunner::run(const Task& task) {
  const auto start = std::chrono::steady_clock::now();
  Record record;
  try {
    compute(task, record);
    record.set(schema::kStatus, schema::task_status_names().name(schema::TaskStatus::kCompleted));
    record.set(schema::kMessage, std::string());
  } catch (const std::exception& error) {
    record = Record();
    record.set(schema::kStatus, schema::task_status_names().name(schema::TaskStatus::kFailed));
    record.set(schema::kMessage, std::string(error.what()));
  }
  add_task_attributes(record, spec_, task);
  record.set(schema::kSeconds,
             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return record;
}

void TaskRunner::compute(const Task& task, Record& record) {
  const Procedure& procedure = spec_.procedures[task.procedure];
  record.datasets[schema::kSampleIds] =
      torch::arange(task.first_sample, task.first_sample + task.sample_count, torch::kInt64);
  int64_t forward = 0, forward_backward = 0;
  if (procedure.needs_model()) {
    const ModelSpec& model_spec = spec_.models[task.model];
    if (model_spec.batch_size <= 0)
      throw Error(spec_.path, "model " + model_spec.name + " has no resolved batch size");
    const Dataset& all = dataset(model_spec.dataset);
    if (task.first_sample + task.sample_count > all.size()) {
      throw Error(spec_.path + ": samples",
                  "samples " + std::to_string(task.first_sample) + ".." +
                      std::to_string(task.first_sample + task.sample_count - 1) +
                      " are beyond the " + std::to_string(all.size()) + " samples of " +
                      model_spec.dataset + "/" + spec_.samples.split);
    }
    const Dataset data = all.slice(task.first_sample, task.sample_count);
    Classifier& model = this->model(task.model);
    record.set(schema::kModelDescription, model.description());
    record.datasets[schema::kLabels] = data.labels;
    TaskContext context{model,
                        data,
                        device_,
                        model_spec.batch_size,
                        task.seed,
                        [this](const std::string& name) -> Classifier& {
                          for (size_t m = 0; m < spec_.models.size(); ++m)
                            if (spec_.models[m].name == name) return this->model(m);
                          throw Error("model", "\"" + name + "\" is not a model of the spec");
                        }};
    procedure.run(context, record);
    forward = context.forward_passes;
    forward_backward = context.forward_backward_passes;
    for (const auto& [name, value] : procedure.headline(record))
      record.set(schema::kHeadlinePrefix + name, value);
  }
  record.set(schema::kForwardPasses, forward);
  record.set(schema::kForwardBackwardPasses, forward_backward);
}

}  // namespace robustscope
