// One task: the core's evaluations on a shard of samples, packed into a Record.
#include "engine/run/task_runner.hpp"

#include <torch/torch.h>

#include <chrono>

#include "core/error.hpp"
#include "core/eval/dataset_evaluation.hpp"
#include "core/landscape/landscape.hpp"
#include "core/models/architectures.hpp"
#include "core/models/model_source.hpp"
#include "engine/store/landscape_store.hpp"

namespace robustscope {

void add_task_attributes(Record& record, const ExperimentSpec& spec, const Task& task) {
  const ModelSpec& model = spec.models[task.model];
  const Procedure& procedure = spec.procedures[task.procedure];
  record.set("key", task.key);
  record.set("setting_key", task.setting_key);
  record.set("id", task.id);
  record.set("kind", procedure.kind);
  record.set("model", model.name);
  record.set("model_path", model.source.path);
  for (const auto& [key, value] : model.reparameterization.to_entries())
    record.set("model_reparameterization." + key, value);
  record.set("dataset", model.dataset);
  record.set("split", spec.samples.split);
  record.set("shard", task.shard);
  record.set("first_sample", task.first_sample);
  record.set("sample_count", task.sample_count);
  record.set("seed", static_cast<int64_t>(task.seed));
  for (const auto& [key, value] : procedure.entries()) record.set("setting." + key, value);
}

TaskRunner::TaskRunner(const ExperimentSpec& spec, torch::Device device)
    : spec_(spec), device_(device) {}

Classifier& TaskRunner::model(size_t index) {
  if (index != model_index_) {
    model_.reset();  // one model in memory at a time
    const ModelSpec& spec = spec_.models[index];
    model_ = load_classifier(spec.source, dataset_info(spec.dataset), device_);
    if (!spec.reparameterization.is_identity()) {
      auto* builtin = dynamic_cast<BuiltinClassifier*>(model_.get());
      if (!builtin) throw Error(spec.location, "reparameterize needs a built-in model");
      reparameterize(*builtin, spec.reparameterization);
    }
    model_index_ = index;
    ++models_loaded_;
  }
  return *model_;
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
    record = compute(task);
    record.set("status", std::string("completed"));
    record.set("message", std::string());
  } catch (const std::exception& error) {
    record = Record();
    record.set("status", std::string("failed"));
    record.set("message", std::string(error.what()));
  }
  add_task_attributes(record, spec_, task);
  record.set("seconds",
             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return record;
}

Record TaskRunner::compute(const Task& task) {
  const Procedure& procedure = spec_.procedures[task.procedure];
  Record record;
  record.datasets["sample_ids"] =
      torch::arange(task.first_sample, task.first_sample + task.sample_count, torch::kInt64);
  int64_t forward = 0, forward_backward = 0;
  if (procedure.kind != "noop") {
    const ModelSpec& model_spec = spec_.models[task.model];
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
    record.set("model_description", model.description());
    record.datasets["labels"] = data.labels;
    const int64_t batch = spec_.samples.batch_size;
    if (procedure.kind == "metric") {
      MetricConfig config = procedure.metric;
      config.seed = task.seed;
      const MetricEvaluation result = evaluate_metric(model, data, config, batch, device_);
      record.datasets["psi"] = result.value;
      record.datasets["clean_class"] = result.clean_class;
      record.datasets["worst_class"] = result.worst_class;
      record.datasets["best_step"] = result.best_step;
      forward = result.forward_passes;
      forward_backward = result.forward_backward_passes;
    } else if (procedure.kind == "attack" || procedure.kind == "ensemble") {
      std::vector<AttackConfig> attacks = procedure.attacks;
      for (AttackConfig& attack : attacks) attack.seed = task.seed;
      const AttackEvaluation result = evaluate_attacks(model, data, attacks, batch, device_);
      record.datasets["broken"] = result.broken;
      record.datasets["perturbation_norm"] = result.perturbation_norm;
      record.datasets["margin"] = result.margin;
      if (procedure.kind == "ensemble") record.datasets["broken_by"] = result.broken_by;
      forward = result.forward_passes;
      forward_backward = result.forward_backward_passes;
    } else if (procedure.kind == "landscape") {
      LandscapeConfig config = procedure.landscape;
      config.seed = task.seed;
      config.pgd.seed = task.seed;
      config.metric.seed = task.seed;
      add_landscape_settings(record, config);
      for (int64_t i = 0; i < data.size(); ++i) {
        const int64_t sample_id = data.first_sample + i;
        const torch::Tensor x0 = data.images[i].unsqueeze(0).to(device_);
        const int64_t label = data.labels[i].item<int64_t>();
        int64_t clean_class = 0;
        {
          torch::NoGradGuard no_grad;
          clean_class = model.forward(x0).argmax(1).item<int64_t>();
        }
        const LandscapeResult result = compute_landscape(model, x0, label, sample_id, config);
        add_landscape_sample(record, sample_id, label, clean_class, result);
        forward += result.forward_passes + 1;
        forward_backward += result.forward_backward_passes;
      }
    }
  }
  record.set("forward_passes", forward);
  record.set("forward_backward_passes", forward_backward);
  return record;
}

}  // namespace robustscope
