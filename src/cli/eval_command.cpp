// robustscope eval: a model's clean accuracy, robust accuracy under attacks (each, their worst-case
// ensemble, their transfer from a substitute) and the divergence metric; a table on stdout and one
// CSV row per sample.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/command_options.hpp"
#include "core/error.hpp"
#include "core/eval/dataset_evaluation.hpp"
#include "core/models/checkpoint.hpp"
#include "core/models/model_source.hpp"

namespace robustscope::cli {
namespace {

ModelSource model_source(const std::string& path) {
  // TorchScript archives and checkpoints are both zip files: the checkpoint's metadata tells them
  // apart.
  try {
    read_checkpoint_metadata(path);
    return {"checkpoint", path};
  } catch (const Error&) {
    return {"torchscript", path};
  }
}

// "pgd:steps=40,step_size=0.01" → AttackConfig, starting from the shared defaults.
AttackConfig parse_attack(const std::string& text, const AttackConfig& defaults) {
  AttackConfig config = defaults;
  const size_t colon = text.find(':');
  config.name = text.substr(0, colon);
  if (config.name == "cw-l2" && defaults.norm == Norm::kLinf) config.norm = Norm::kL2;
  if (colon != std::string::npos) {
    std::stringstream settings(text.substr(colon + 1));
    std::string item;
    while (std::getline(settings, item, ',')) {
      const size_t equals = item.find('=');
      if (equals == std::string::npos) {
        throw Error("--attack " + text, "\"" + item + "\" is not key=value");
      }
      config.set(item.substr(0, equals), item.substr(equals + 1));
    }
  }
  config.validate();
  return config;
}

struct Column {
  std::string name;
  torch::Tensor values;
};

void write_csv(const std::string& path, const std::vector<Column>& columns) {
  std::ofstream out(path);
  if (!out) throw Error(path, "cannot open for writing");
  for (size_t c = 0; c < columns.size(); ++c) out << (c ? "," : "") << columns[c].name;
  out << "\n";
  const int64_t rows = columns.front().values.size(0);
  for (int64_t row = 0; row < rows; ++row) {
    for (size_t c = 0; c < columns.size(); ++c) {
      const torch::Tensor value = columns[c].values[row];
      out << (c ? "," : "");
      if (value.is_floating_point())
        out << value.item<double>();
      else
        out << value.item<int64_t>();
    }
    out << "\n";
  }
  if (!out) throw Error(path, "write failed");
}

}  // namespace

int eval_command(const Arguments& arguments) {
  std::string model_path, torchscript, substitute_path, dataset_name,
      data_dir = "data", split = "test", output, norm = "linf";
  std::vector<std::string> attack_texts, metric_settings;
  int64_t limit = 0, batch_size = 256;
  double epsilon = 0.3;
  uint64_t seed = 0;
  bool ensemble = false, with_metric = false;
  RuntimeOptions runtime;
  po::options_description options("eval options");
  options.add_options()("model", po::value(&model_path), "robustscope checkpoint")(
      "torchscript", po::value(&torchscript), "TorchScript model (inputs in [0,1], logits out)")(
      "dataset", po::value(&dataset_name),
      "mnist | cifar10 (default: the checkpoint's; required with --torchscript)")(
      "data-dir", po::value(&data_dir)->default_value(data_dir), "folder holding <dataset>/")(
      "split", po::value(&split)->default_value(split), "train | test")(
      "limit", po::value(&limit)->default_value(limit), "first N samples only (0: all)")(
      "batch-size", po::value(&batch_size)->default_value(batch_size), "batch size")(
      "attack", po::value(&attack_texts)->composing(),
      "NAME[:key=value,...] (repeatable): fgsm, bim, pgd, apgd-ce, apgd-dlr, apgd-t, cw-l2; keys: "
      "epsilon, norm, steps, step_size, restarts, loss, random_start, seed, target_classes, rho, "
      "confidence, binary_search_steps, initial_const, learning_rate")(
      "epsilon", po::value(&epsilon)->default_value(epsilon),
      "ε for attacks and metric that set none")("norm", po::value(&norm)->default_value(norm),
                                                "linf | l2, likewise")(
      "seed", po::value(&seed)->default_value(seed), "random-start seed, likewise")(
      "ensemble", po::bool_switch(&ensemble),
      "also report the per-sample worst case over the attacks")(
      "substitute", po::value(&substitute_path),
      "model to craft transfer attacks on: every attack is also run as a transfer attack")(
      "metric", po::bool_switch(&with_metric), "compute the divergence metric ψ")(
      "metric-arg", po::value(&metric_settings)->composing(),
      "metric setting key=value (repeatable): divergence, normalization, tau, steps, step_size, "
      "restarts, random_start, start_scale, epsilon, norm, seed")(
      "output", po::value(&output), "CSV file with one row per sample");
  add_runtime_options(options, runtime);
  if (!parse_command("eval", "Evaluates clean accuracy, attacks and the robustness metric.",
                     options, arguments)) {
    return 0;
  }
  const ModelChoice choice = choose_model("eval", model_path, torchscript, dataset_name);
  const ModelSource& source = choice.source;
  dataset_name = choice.dataset;
  // Settings are checked before any data or model is read.
  AttackConfig defaults;
  defaults.epsilon = epsilon;
  defaults.norm = parse_norm(norm);
  defaults.seed = seed;
  std::vector<AttackConfig> attacks;
  for (const auto& text : attack_texts) attacks.push_back(parse_attack(text, defaults));
  MetricConfig metric;
  metric.epsilon = epsilon;
  metric.norm = defaults.norm;
  metric.seed = seed;
  for (const auto& [key, value] : parse_pairs(metric_settings, "--metric-arg"))
    metric.set(key, value);
  metric.validate();
  if (batch_size <= 0) throw Error("--batch-size", "must be positive");

  const torch::Device device = apply_runtime_options(runtime);
  Dataset data = load_dataset(dataset_name, data_dir, split);
  if (limit > 0) data = data.slice(0, limit);
  auto model = load_classifier(source, data.info, device);
  std::unique_ptr<Classifier> substitute;
  if (!substitute_path.empty()) {
    substitute = load_classifier(model_source(substitute_path), data.info, device);
  }
  std::printf("model %s\ndataset %s/%s, %ld samples\n", model->description().c_str(),
              dataset_name.c_str(), split.c_str(), data.size());

  std::vector<Column> columns = {{"sample", torch::arange(data.size()) + data.first_sample},
                                 {"label", data.labels}};
  std::printf("\n%-10s %-70s %9s %10s %10s %8s\n", "key", "setting", "accuracy", "F/sample",
              "F+B/sample", "seconds");
  const double samples = static_cast<double>(data.size());
  const double accuracy = clean_accuracy(*model, data, batch_size, device);
  std::printf("%-10s %-70s %9.4f %10.1f %10.1f %8s\n", "clean", "clean", accuracy, 1.0, 0.0, "-");
  // CSV columns are named by short keys (attack1, transfer1, ensemble); the table gives the
  // settings.
  auto report = [&](const std::string& key, const std::string& label,
                    const AttackEvaluation& result) {
    std::printf("%-10s %-70s %9.4f %10.1f %10.1f %8.1f\n", key.c_str(), label.c_str(),
                result.robust_accuracy(), result.forward_passes / samples,
                result.forward_backward_passes / samples, result.seconds);
    columns.push_back({key + ".broken", result.broken.to(torch::kInt64)});
    columns.push_back({key + ".norm", result.perturbation_norm});
    columns.push_back({key + ".margin", result.margin});
  };
  for (size_t a = 0; a < attacks.size(); ++a) {
    const std::string number = std::to_string(a + 1);
    report("attack" + number, attacks[a].label(),
           evaluate_attacks(*model, data, {attacks[a]}, batch_size, device));
    if (substitute) {
      report("transfer" + number,
             "transfer from " + substitute->description() + ": " + attacks[a].label(),
             evaluate_attacks(*model, data, {attacks[a]}, batch_size, device, substitute.get()));
    }
  }
  if (ensemble && attacks.size() > 1) {
    const AttackEvaluation worst = evaluate_attacks(*model, data, attacks, batch_size, device);
    report("ensemble", "worst case over attack1..attack" + std::to_string(attacks.size()), worst);
    columns.push_back({"ensemble.broken_by", worst.broken_by});
  }
  if (with_metric) {
    const MetricEvaluation result = evaluate_metric(*model, data, metric, batch_size, device);
    const MetricSummary summary = summarize_metric(result.value, 1000, 0.95, metric.seed);
    std::string label = "metric(";
    for (const auto& [key, value] : metric.to_entries()) label += key + "=" + value + ",";
    label.back() = ')';
    std::printf(
        "\n%s\n  psi mean %.5f [%.5f, %.5f] (95%% bootstrap CI), median %.5f, q05 %.5f, "
        "q95 %.5f\n  prediction changed at the maximiser: %.4f; %.1f F+B and %.1f F per "
        "sample, %.1f s\n",
        label.c_str(), summary.mean, summary.ci_low, summary.ci_high, summary.median,
        summary.quantiles.at(0.05), summary.quantiles.at(0.95),
        result.worst_class.ne(result.clean_class).to(torch::kFloat64).mean().item<double>(),
        result.forward_backward_passes / samples, result.forward_passes / samples, result.seconds);
    columns.push_back({"metric.psi", result.value});
    columns.push_back({"metric.clean_class", result.clean_class});
    columns.push_back({"metric.worst_class", result.worst_class});
    columns.push_back({"metric.best_step", result.best_step});
  }
  if (!output.empty()) {
    write_csv(output, columns);
    std::printf("\nper-sample results: %s\n", output.c_str());
  }
  return 0;
}

}  // namespace robustscope::cli
