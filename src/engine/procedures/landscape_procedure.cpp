// The landscape procedure: cuts, grids and derived numbers per sample (core/landscape).
#include <torch/types.h>
#include <torch/utils.h>

#include <cmath>

#include "core/error.hpp"

#include "engine/procedures/procedures.hpp"
#include "engine/records/landscape_store.hpp"
#include "engine/records/schema.hpp"

namespace robustscope {

SettingEntries LandscapeProcedure::entries() const {
  SettingEntries entries = config.entries();
  for (const char* seed : {"seed", "pgd.seed", "metric.seed"}) entries.erase(seed);
  entries["samples"] = sample_limit;
  return entries;
}

PassCount LandscapeProcedure::cost() const {
  PassCount cost;
  cost.forward = 2.0 + 2.0 * static_cast<double>(config.resolution_1d) +
                 static_cast<double>(config.resolution_2d * config.resolution_2d);
  switch (config.adversarial_direction) {
    case AdversarialDirection::kPgd:
      cost.forward_backward = static_cast<double>(config.pgd.restarts * config.pgd.steps);
      break;
    case AdversarialDirection::kMetric:
      cost.forward_backward = static_cast<double>(config.metric.restarts * config.metric.steps);
      break;
    default:
      cost.forward_backward = 1;
  }
  return cost;
}

void LandscapeProcedure::run(TaskContext& context, Record& record) const {
  LandscapeConfig seeded = config;
  seeded.seed = context.seed;
  seeded.pgd.seed = context.seed;
  seeded.metric.seed = context.seed;
  add_landscape_settings(record, seeded);
  const Dataset& data = context.data;
  const torch::Tensor clean_correct = torch::zeros({data.size()}, torch::kBool);
  std::vector<double> distances;
  for (int64_t i = 0; i < data.size(); ++i) {
    const int64_t sample_id = data.first_sample + i;
    const torch::Tensor x0 = data.images[i].unsqueeze(0).to(context.device);
    const int64_t label = data.labels[i].item<int64_t>();
    int64_t clean_class = 0;
    {
      torch::NoGradGuard no_grad;
      clean_class = context.model.forward(x0).argmax(1).item<int64_t>();
    }
    clean_correct[i] = clean_class == label;
    const LandscapeResult result = compute_landscape(context.model, x0, label, sample_id, seeded);
    add_landscape_sample(record, sample_id, label, clean_class, result);
    context.forward_passes += result.forward_passes + 1;
    context.forward_backward_passes += result.forward_backward_passes;
  }
  record.datasets[schema::kCleanCorrect] = clean_correct;
}

Headline LandscapeProcedure::headline(const Record& record) {
  double sum = 0;
  int64_t count = 0;
  for (const auto& [path, values] : record.attributes) {
    const auto distance = values.find(schema::kBoundaryAdversarialPositive);
    if (distance == values.end()) continue;
    const auto* value = std::get_if<double>(&distance->second);
    if (!value) throw Error("landscape record", "boundary_adversarial_positive is not a number");
    sum += *value;
    ++count;
  }
  return {{schema::kBoundaryDistance, count > 0 ? sum / static_cast<double>(count) : std::nan("")}};
}

std::vector<std::string> LandscapeProcedure::headline_names() {
  return {schema::kBoundaryDistance};
}

std::string LandscapeProcedure::label() const {
  return "landscape " + epsilon_text(config.pgd.norm, config.epsilon) + " along " +
         adversarial_direction_names().name(config.adversarial_direction) + " (" +
         loss_names().name(config.direction_loss) + ")";
}

std::string LandscapeProcedure::family() const { return kKind; }

std::vector<AttackConfig> LandscapeProcedure::data_checks() const {
  AttackConfig ball = config.pgd;
  ball.epsilon = config.epsilon;
  return {ball};
}

}  // namespace robustscope
