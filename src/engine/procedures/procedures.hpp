// The procedures a spec can name, each a type that owns its facts: its spec kind, settings, cost,
// how a task of it runs, its headline numbers and their names, its human label, its family (what
// kind of evidence it gives) and the attacks whose ball is checked against the data. A Procedure
// holds one of them; the engine switches on the type (std::visit), never on text. Adding a kind is
// its type here, its file and its line in ProcedureSettings (and the spec parser's table).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/attack/attack.hpp"
#include "core/certify/certify.hpp"
#include "core/data/dataset.hpp"
#include "core/landscape/landscape.hpp"
#include "core/metric/robustness_metric.hpp"
#include "core/models/classifier.hpp"
#include "engine/records/record.hpp"

namespace robustscope {

// What a task of any procedure works with.
struct TaskContext {
  Classifier& model;
  const Dataset& data;  // the task's samples (sample ids from data.first_sample)
  torch::Device device;
  int64_t batch_size = 0;
  uint64_t seed = 0;  // the task seed (or the procedure's explicit seed)
  // Loads another model of the spec by name (transfer substitutes).
  std::function<Classifier&(const std::string& model_name)> model_named;
  int64_t forward_passes = 0;
  int64_t forward_backward_passes = 0;
};

// Headline numbers of one task or one setting: name → value (e.g. robust_accuracy), averaged over
// samples when shards are combined.
using Headline = std::map<std::string, double>;

// Every type below declares, beside its settings:
//   static constexpr const char* kKind;                 its spec key
//   SettingEntries entries() const;                     every setting, typed
//   PassCount cost() const;                             passes per sample
//   void run(TaskContext&, Record&) const;              a task
//   static Headline headline(const Record&);            the task's headline numbers …
//   static std::vector<std::string> headline_names();   … and their names, in display order
//   std::string label() const;                          "PGD-20 ε=0.1", "ψ raw ε=0.1 K=20"
//   std::string family() const;                         attack families (AttackFamily's names),
//                                                       "ensemble", or the kind for the others
//   std::vector<AttackConfig> data_checks() const;      balls validated against the data set

struct MetricProcedure {
  static constexpr const char* kKind = "metric";
  MetricConfig config;

  SettingEntries entries() const;
  PassCount cost() const;
  void run(TaskContext& context, Record& record) const;
  static Headline headline(const Record& record);
  static std::vector<std::string> headline_names();
  std::string label() const;
  std::string family() const;
  std::vector<AttackConfig> data_checks() const;
};

struct AttackProcedure {
  static constexpr const char* kKind = "attack";
  AttackConfig config;

  SettingEntries entries() const;
  PassCount cost() const;
  void run(TaskContext& context, Record& record) const;
  static Headline headline(const Record& record);
  static std::vector<std::string> headline_names();
  std::string label() const;
  std::string family() const;
  std::vector<AttackConfig> data_checks() const;
};

// The per-sample worst case over members, each run on what is still unbroken (AutoAttack).
struct EnsembleProcedure {
  static constexpr const char* kKind = "ensemble";
  std::vector<AttackConfig> members;

  SettingEntries entries() const;  // members prefixed "1.", "2.", …
  PassCount cost() const;          // an upper bound: every member on every sample
  void run(TaskContext& context, Record& record) const;
  static Headline headline(const Record& record);
  static std::vector<std::string> headline_names();
  std::string label() const;
  std::string family() const;
  std::vector<AttackConfig> data_checks() const;
};

// Examples crafted on `substitute` (another model of the spec) by `crafting`, evaluated on the
// task's model (Papernot et al. 2017).
struct TransferProcedure {
  static constexpr const char* kKind = "transfer";
  std::string substitute;
  AttackConfig crafting;

  SettingEntries entries() const;
  PassCount cost() const;
  void run(TaskContext& context, Record& record) const;
  static Headline headline(const Record& record);
  static std::vector<std::string> headline_names();
  std::string label() const;
  std::string family() const;
  std::vector<AttackConfig> data_checks() const;
};

// A certified upper bound on ψ and certified robust accuracy (core/certify): the bracket's other
// side.
struct CertifyProcedure {
  static constexpr const char* kKind = "certify";
  CertifyConfig config;

  SettingEntries entries() const;
  PassCount cost() const;  // forward-pass equivalents of bound propagation
  void run(TaskContext& context, Record& record) const;
  static Headline headline(const Record& record);
  static std::vector<std::string> headline_names();
  std::string label() const;
  std::string family() const;
  std::vector<AttackConfig> data_checks() const;
};

struct LandscapeProcedure {
  static constexpr const char* kKind = "landscape";
  LandscapeConfig config;
  int64_t sample_limit = 0;  // its first N samples of the selection (0: all)

  SettingEntries entries() const;
  PassCount cost() const;
  void run(TaskContext& context, Record& record) const;
  static Headline headline(const Record& record);
  static std::vector<std::string> headline_names();
  std::string label() const;
  std::string family() const;
  std::vector<AttackConfig> data_checks() const;
};

// Tasks that only return their sample ids: the coordinator's overhead, measured.
struct NoopProcedure {
  static constexpr const char* kKind = "noop";

  SettingEntries entries() const { return {}; }
  PassCount cost() const { return {}; }
  void run(TaskContext&, Record&) const {}
  static Headline headline(const Record&) { return {}; }
  static std::vector<std::string> headline_names() { return {}; }
  std::string label() const { return "no-op"; }
  std::string family() const { return kKind; }
  std::vector<AttackConfig> data_checks() const { return {}; }
};

using ProcedureSettings =
    std::variant<MetricProcedure, AttackProcedure, EnsembleProcedure, TransferProcedure,
                 CertifyProcedure, LandscapeProcedure, NoopProcedure>;

struct Procedure {
  ProcedureSettings settings;
  std::optional<uint64_t> seed;  // a seed written in the spec replaces the task's derived one
  std::string location;          // file:line:column of its spec entry

  const char* kind() const;
  // Every setting, typed; the explicit seed when given.
  SettingEntries entries() const;
  // "attack(epsilon=0.1,name=pgd,…)": unique per setting, independent of how the spec was written.
  std::string key() const;
  PassCount cost_per_sample() const;
  // How many of `selected` samples a task set of this procedure covers (landscapes: their limit).
  int64_t sample_count(int64_t selected) const;
  bool needs_model() const;
  // Runs a task on `context` into `record`; the procedure's seed is context.seed.
  void run(TaskContext& context, Record& record) const;
  Headline headline(const Record& record) const;
  std::vector<std::string> headline_names() const;
  std::string label() const;
  std::string family() const;
  std::vector<AttackConfig> data_checks() const;
};

// Every procedure kind, in the spec's order.
std::vector<std::string> procedure_kinds();

// A ball as the data check sees it (validate_attack_for_data): PGD's settings at `norm` and
// `epsilon`.
AttackConfig ball_check(Norm norm, double epsilon);
// "ε=0.1" for L∞, "l2 ε=1.5" otherwise: the ball in labels.
std::string epsilon_text(Norm norm, double epsilon);
// Per-sample datasets of a task set as a clean-accuracy fraction: [N] bool → mean.
double mean_of(const torch::Tensor& values);

}  // namespace robustscope
