// robustscope eval: a model's clean accuracy, robust accuracy under attacks (each, their worst-case
// ensemble, their transfer from a substitute) and the divergence metric; a table on stdout and one
// CSV row per sample.
#include <torch/utils.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>

#include "cli/command_options.hpp"
#include "core/certify/certify.hpp"
#include "core/error.hpp"
#include "core/eval/dataset_evaluation.hpp"
#include "core/models/checkpoint.hpp"
#include "core/models/model_source.hpp"
#include "core/runtime/files.hpp"

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

// "pgd:steps=40,step_size=0.01" → AttackConfig, starting from the attack's defaults and the
// shared --epsilon, --norm and --seed where the attack reads them. A key given twice, or one the
// attack does not read, is an error.
AttackConfig parse_attack(const std::string& text, double epsilon, Norm norm, uint64_t seed) {
  const size_t colon = text.find(':');
  const std::string name = text.substr(0, colon);
  AttackConfig config;
  try {
    config = make_attack_config(name);
  } catch (const Error& error) {
    throw Error("--attack " + text, error.message());
  }
  config.epsilon = epsilon;
  if (attack_reads(name, "seed")) config.seed = seed;
  // The shared norm applies where the attack supports it (cw-l2 stays L2).
  const auto& norms = find_attack(name).norms;
  if (std::find(norms.begin(), norms.end(), norm) != norms.end()) config.norm = norm;
  if (colon != std::string::npos) {
    std::vector<std::string> items;
    std::stringstream settings(text.substr(colon + 1));
    std::string item;
    while (std::getline(settings, item, ',')) items.push_back(item);
    try {
      for (const auto& [key, value] : parse_pairs(items, "--attack " + text))
        set_attack_setting(config, key, value);
    } catch (const Error& error) {
      throw Error("--attack " + text, error.what());
    }
  }
  try {
    validate_attack(config);
  } catch (const Error& error) {
    throw Error("--attack " + text, error.what());
  }
  return config;
}

struct Column {
  std::string name;
  torch::Tensor values;
};

// RFC 4180: a field with a comma, a quote or a newline is quoted, its quotes doubled.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

void write_csv(const std::string& path, const std::vector<Column>& columns) {
  atomic_replace(path, [&columns](const std::string& partial) {
    std::ofstream out(partial);
    if (!out) throw Error(partial, "cannot open for writing");
    out.precision(9);
    for (size_t c = 0; c < columns.size(); ++c) out << (c ? "," : "") << csv_field(columns[c].name);
    out << "\n";
    std::vector<torch::Tensor> values;
    for (const Column& column : columns) values.push_back(column.values.cpu().contiguous());
    const int64_t rows = columns.front().values.size(0);
    for (int64_t row = 0; row < rows; ++row) {
      for (size_t c = 0; c < values.size(); ++c) {
        out << (c ? "," : "");
        if (values[c].is_floating_point())
          out << values[c][row].item<double>();
        else
          out << values[c][row].item<int64_t>();
      }
      out << "\n";
    }
    out.flush();
    if (!out) throw Error(partial, "write failed");
  });
}

// Elapsed time and an estimate of what remains, from the passes each step is expected to take.
class EvalProgress {
 public:
  explicit EvalProgress(double total_cost) : total_(total_cost) {}
  void done(const std::string& what, double cost) {
    done_ += cost;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    char line[160];
    std::snprintf(line, sizeof(line), "  ... %s done: %.1f s elapsed", what.c_str(), elapsed);
    std::string text = line;
    if (done_ > 0 && done_ < total_) {
      std::snprintf(line, sizeof(line), ", ~%.0f s left", elapsed / done_ * (total_ - done_));
      text += line;
    }
    say(text);
  }

 private:
  double total_, done_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// A pass budget as one number: a forward and backward pass costs about three forward passes.
double cost_of(const PassCount& passes) { return passes.forward + 3 * passes.forward_backward; }

}  // namespace

int eval_command(const Arguments& arguments) {
  std::string model_path, torchscript, substitute_path, dataset_name,
      data_dir = default_data_dir(), split = "test", output, norm = "linf", seed_text = "0",
      certify_method;
  std::vector<std::string> attack_texts, metric_settings;
  int64_t limit = 0, batch_size = 256;
  double epsilon = 0.3;
  bool ensemble = false, with_metric = false, force = false, list_attacks = false;
  RuntimeOptions runtime;
  po::options_description options("eval options");
  options.add_options()("model", po::value(&model_path), "robustscope checkpoint")(
      "torchscript", po::value(&torchscript),
      "TorchScript model (inputs in [0,1], logits out; TorchScript is code: load only files you "
      "trust)")("dataset", po::value(&dataset_name),
                "mnist | fmnist | cifar10 (default: the checkpoint's; required with "
                "--torchscript)")("data-dir", value_with_default(&data_dir),
                                  "folder holding <dataset>/ (default: $ROBUSTSCOPE_DATA_DIR or "
                                  "data)")("split", value_with_default(&split), "train | test")(
      "limit", value_with_default(&limit), "first N samples only (0: all)")(
      "batch-size", value_with_default(&batch_size), "batch size")(
      "attack", po::value(&attack_texts)->composing(),
      ("NAME[:key=value,...] (repeatable), NAME one of: " + join(known_attacks()) +
       "; robustscope eval --list-attacks gives each one's keys")
          .c_str())("epsilon", value_with_default(&epsilon),
                    "ε for attacks and metric that set none")("norm", value_with_default(&norm),
                                                              "linf | l2, likewise")(
      "seed", value_with_default(&seed_text), "random-start seed (0 .. 2^63 - 1), likewise")(
      "ensemble", po::bool_switch(&ensemble),
      "also report the per-sample worst case over the attacks")(
      "substitute", po::value(&substitute_path),
      "model to craft transfer attacks on: every attack is also run as a transfer attack")(
      "metric", po::bool_switch(&with_metric), "compute the divergence metric ψ")(
      "metric-arg", po::value(&metric_settings)->composing(),
      "metric setting key=value (repeatable, with --metric): divergence, normalization, tau, "
      "steps, step_size, restarts, random_start, start_scale, epsilon, norm, seed")(
      "certify", po::value(&certify_method),
      "ibp | crown: certified robust accuracy and a certified upper bound on psi over the "
      "metric's ball (its epsilon, norm and normalization; with --metric, the bracket "
      "[psi found, psi certified] per sample)")("output", po::value(&output),
                                                "CSV file with one row per sample")(
      "force", po::bool_switch(&force), "overwrite an existing --output")(
      "list-attacks", po::bool_switch(&list_attacks), "print the attacks, their keys and defaults");
  add_runtime_options(options, runtime);
  if (!parse_command("eval", "Evaluates clean accuracy, attacks and the robustness metric.",
                     options, arguments)) {
    return 0;
  }
  if (list_attacks) {
    std::cout << attack_registry_markdown();
    return 0;
  }
  // Everything that can be checked without the data or the model is checked first.
  // --certify bounds the metric's divergence: it reads --metric-arg too (docs/metric.md).
  if (!metric_settings.empty() && !with_metric && certify_method.empty())
    throw Error("--metric-arg", "has no effect without --metric or --certify");
  if (ensemble && attack_texts.size() < 2) throw Error("--ensemble", "needs at least two --attack");
  if (!substitute_path.empty() && attack_texts.empty())
    throw Error("--substitute", "needs at least one --attack to craft on it");
  if (batch_size <= 0 || batch_size > (1 << 24))
    throw Error("--batch-size", "must be in 1..16777216");
  if (limit < 0) throw Error("--limit", "must be >= 0");
  if (!output.empty()) check_output_path(output, force, "--output");
  const uint64_t seed = parse_seed("--seed", seed_text);
  const ModelChoice choice = choose_model(model_path, torchscript, dataset_name);
  dataset_name = choice.dataset;
  const DatasetInfo info = dataset_info(dataset_name);
  const Norm shared_norm = norm_names().parse("--norm", norm);
  std::vector<AttackConfig> attacks;
  for (const auto& text : attack_texts) {
    attacks.push_back(parse_attack(text, epsilon, shared_norm, seed));
    try {
      validate_attack_for_data(attacks.back(), info.shape.elements(), info.num_classes);
    } catch (const Error& error) {
      throw Error("--attack " + text, error.what());
    }
  }
  MetricConfig metric;
  metric.epsilon = epsilon;
  metric.norm = shared_norm;
  metric.seed = seed;
  for (const auto& [key, value] : parse_pairs(metric_settings, "--metric-arg")) {
    try {
      metric.set(key, value);
    } catch (const Error& error) {
      throw Error("--metric-arg", error.what());
    }
  }
  if (with_metric) {
    metric.validate();
    check_epsilon(metric.norm, metric.epsilon, info.shape.elements(), "--epsilon");
  }
  // The certified bound covers the metric's ball, so that [psi found, psi certified] bracket
  // the same maximum.
  std::optional<CertifyConfig> certify_config;
  if (!certify_method.empty()) {
    CertifyConfig config;
    try {
      config.set("method", certify_method);
      config.epsilon = metric.epsilon;
      config.norm = metric.norm;
      config.divergence = metric.divergence;
      config.normalization = metric.normalization;
      config.validate();
    } catch (const Error& error) {
      throw Error("--certify", error.what());
    }
    check_epsilon(config.norm, config.epsilon, info.shape.elements(), "--epsilon");
    certify_config = config;
  }

  const torch::Device device = apply_runtime_options(runtime);
  Dataset data = load_dataset(dataset_name, data_dir, split);
  if (limit > 0) data = data.slice(0, limit);
  auto model = load_classifier(choice.source, data.info, device);
  if (certify_config) {
    std::string why;
    const InputShape& shape = data.info.shape;
    if (!can_bound(*model, {shape.channels, shape.height, shape.width}, why))
      throw Error("--certify", "cannot bound this model: " + why);
  }
  std::unique_ptr<Classifier> substitute;
  if (!substitute_path.empty())
    substitute = load_classifier(model_source(substitute_path), data.info, device);
  say("model " + model->description() + "\ndataset " + dataset_name + "/" + split + ", " +
      std::to_string(data.size()) + " samples");

  double total_cost = 1;
  for (const AttackConfig& attack : attacks)
    total_cost += cost_of(attack_cost(attack)) * (substitute ? 2 : 1) * (ensemble ? 2 : 1);
  if (with_metric) total_cost += 1 + metric.restarts + 3 * metric.restarts * metric.steps;
  if (certify_config) total_cost += certify_cost(*certify_config, data.info.num_classes);
  EvalProgress progress(total_cost);

  std::vector<Column> columns = {{"sample", torch::arange(data.size()) + data.first_sample},
                                 {"label", data.labels}};
  const double samples = static_cast<double>(data.size());
  const double accuracy = clean_accuracy(*model, data, batch_size, device);
  {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> correct;
    const Batches batches(data, batch_size, device);
    for (int64_t b = 0; b < batches.count(); ++b) {
      const Batch batch = batches[b];
      correct.push_back(model->forward(batch.images).argmax(1).eq(batch.labels).cpu());
    }
    columns.push_back({"clean_correct", torch::cat(correct).to(torch::kInt64)});
  }
  std::vector<std::string> table;
  char row[512];
  std::snprintf(row, sizeof(row), "%-9s %10s %10s %8s  %s", "accuracy", "F/sample", "F+B/sample",
                "seconds", "setting");
  table.push_back(row);
  std::snprintf(row, sizeof(row), "%9.4f %10.1f %10.1f %8s  %s", accuracy, 1.0, 0.0, "-", "clean");
  table.push_back(row);
  // CSV columns are named after the settings: "<label>.broken", "<label>.norm", "<label>.margin".
  auto report = [&](const std::string& label, const AttackEvaluation& result, double cost) {
    std::snprintf(row, sizeof(row), "%9.4f %10.1f %10.1f %8.1f  ", result.robust_accuracy(),
                  result.forward_passes / samples, result.forward_backward_passes / samples,
                  result.seconds);
    table.push_back(row + label);
    columns.push_back({label + ".broken", result.broken.to(torch::kInt64)});
    columns.push_back({label + ".norm", result.perturbation_norm});
    columns.push_back({label + ".margin", result.margin});
    progress.done(label, cost);
  };
  for (const AttackConfig& attack : attacks) {
    const double cost = cost_of(attack_cost(attack));
    report(attack_label(attack), evaluate_attacks(*model, data, {attack}, batch_size, device),
           cost);
    if (substitute) {
      report("transfer from " + substitute_path + ": " + attack_label(attack),
             evaluate_attacks(*model, data, {attack}, batch_size, device, substitute.get()), cost);
    }
  }
  if (ensemble) {
    std::vector<std::string> labels;
    double cost = 0;
    for (const AttackConfig& attack : attacks) {
      labels.push_back(attack_label(attack));
      cost += cost_of(attack_cost(attack));
    }
    const std::string label = "worst case of " + join(labels, " + ");
    const AttackEvaluation worst = evaluate_attacks(*model, data, attacks, batch_size, device);
    report(label, worst, cost);
    columns.push_back({label + ".broken_by", worst.broken_by});
  }
  std::string metric_text;
  torch::Tensor metric_psi;
  if (with_metric) {
    const MetricEvaluation result = evaluate_metric(*model, data, metric, batch_size, device);
    const MetricSummary summary = summarize_metric(result.value, 1000, 0.95, metric.seed);
    std::vector<std::string> settings;
    for (const auto& [key, value] : metric.entries())
      settings.push_back(key + "=" + setting_text(value));
    const std::string label = "metric(" + join(settings, " ") + ")";
    char text[512];
    std::snprintf(
        text, sizeof(text),
        "\n%s\n  psi mean %.5f [%.5f, %.5f] (95%% bootstrap CI), median %.5f, q05 %.5f, q95 "
        "%.5f\n  prediction changed at the maximiser: %.4f; %.1f F+B and %.1f F per sample, "
        "%.1f s",
        label.c_str(), summary.mean, summary.ci_low, summary.ci_high, summary.median,
        summary.quantiles.at(0.05), summary.quantiles.at(0.95),
        result.worst_class.ne(result.clean_class).to(torch::kFloat64).mean().item<double>(),
        result.forward_backward_passes / samples, result.forward_passes / samples, result.seconds);
    metric_text = text;
    metric_psi = result.value;
    columns.push_back({label + ".psi", result.value});
    columns.push_back({label + ".clean_class", result.clean_class});
    columns.push_back({label + ".worst_class", result.worst_class});
    columns.push_back({label + ".best_step", result.best_step});
    progress.done("metric", 1 + metric.restarts + 3 * metric.restarts * metric.steps);
  }
  std::string certify_text;
  if (certify_config) {
    const auto started = std::chrono::steady_clock::now();
    std::vector<torch::Tensor> psi_upper, certified;
    const Batches batches(data, batch_size, device);
    for (int64_t b = 0; b < batches.count(); ++b) {
      const Batch batch = batches[b];
      const CertifyResult result = certify(*model, batch.images, batch.labels, *certify_config);
      psi_upper.push_back(result.psi_upper);
      certified.push_back(result.certified);
    }
    const torch::Tensor upper = torch::cat(psi_upper), is_certified = torch::cat(certified);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const std::string label = "certify(method=" + certify_method + ")";
    const torch::Tensor finite = upper.isfinite();
    const double finite_share = finite.to(torch::kFloat64).mean().item<double>();
    const double upper_mean =
        finite_share > 0 ? upper.masked_select(finite).to(torch::kFloat64).mean().item<double>()
                         : std::nan("");
    char text[512];
    std::snprintf(text, sizeof(text),
                  "\n%s\n  certified accuracy %.4f; certified psi upper bound: mean %.5f over "
                  "the %.4f of samples where it is finite; %.1f s",
                  label.c_str(), is_certified.to(torch::kFloat64).mean().item<double>(), upper_mean,
                  finite_share, seconds);
    certify_text = text;
    if (with_metric && finite_share > 0) {
      const torch::Tensor gap = upper.to(torch::kFloat64) - metric_psi.to(torch::kFloat64);
      std::snprintf(text, sizeof(text),
                    "\n  bracket [psi found, psi certified]: mean gap %.5f, median gap %.5f "
                    "(finite brackets only)",
                    gap.masked_select(finite).mean().item<double>(),
                    gap.masked_select(finite).median().item<double>());
      certify_text += text;
    }
    columns.push_back({label + ".psi_upper", upper});
    columns.push_back({label + ".certified", is_certified.to(torch::kInt64)});
    progress.done("certify", certify_cost(*certify_config, data.info.num_classes));
  }
  say("");
  for (const std::string& line : table) say(line);
  if (!metric_text.empty()) say(metric_text);
  if (!certify_text.empty()) say(certify_text);
  if (!output.empty()) {
    write_csv(output, columns);
    say("\nper-sample results: " + output);
  }
  return 0;
}

}  // namespace robustscope::cli
