// Procedures: settings, keys, costs and the dispatch over the procedure types.
#include "engine/procedures/procedures.hpp"

#include <torch/types.h>

#include "core/error.hpp"
#include "engine/records/schema.hpp"

namespace robustscope {
namespace {

template <typename... Types>
struct TypeList {};

template <typename Variant>
struct AlternativesOf;
template <typename... Types>
struct AlternativesOf<std::variant<Types...>> {
  using List = TypeList<Types...>;
};

// Calls `visit(Type{})` for every procedure type, in the variant's order.
template <typename Visit, typename... Types>
void for_each_type(TypeList<Types...>, Visit&& visit) {
  (visit(Types{}), ...);
}

template <typename Visit>
void for_each_procedure_type(Visit&& visit) {
  for_each_type(typename AlternativesOf<ProcedureSettings>::List{}, visit);
}

}  // namespace

const char* Procedure::kind() const {
  return std::visit([](const auto& procedure) { return std::decay_t<decltype(procedure)>::kKind; },
                    settings);
}

SettingEntries Procedure::entries() const {
  SettingEntries entries =
      std::visit([](const auto& procedure) { return procedure.entries(); }, settings);
  if (seed) entries["seed"] = static_cast<int64_t>(*seed);
  return entries;
}

std::string Procedure::key() const {
  std::string text;
  for (const auto& [name, value] : entries())
    text += (text.empty() ? "" : ",") + name + "=" + setting_text(value);
  return std::string(kind()) + "(" + text + ")";
}

PassCount Procedure::cost_per_sample() const {
  return std::visit([](const auto& procedure) { return procedure.cost(); }, settings);
}

int64_t Procedure::sample_count(int64_t selected) const {
  if (const auto* landscape = std::get_if<LandscapeProcedure>(&settings))
    return landscape->sample_limit > 0 ? std::min(selected, landscape->sample_limit) : selected;
  return selected;
}

bool Procedure::needs_model() const { return !std::holds_alternative<NoopProcedure>(settings); }

void Procedure::run(TaskContext& context, Record& record) const {
  std::visit([&](const auto& procedure) { procedure.run(context, record); }, settings);
}

Headline Procedure::headline(const Record& record) const {
  return std::visit(
      [&](const auto& procedure) { return std::decay_t<decltype(procedure)>::headline(record); },
      settings);
}

std::vector<std::string> Procedure::headline_names() const {
  return std::visit(
      [](const auto& procedure) { return std::decay_t<decltype(procedure)>::headline_names(); },
      settings);
}

std::string Procedure::label() const {
  return std::visit([](const auto& procedure) { return procedure.label(); }, settings);
}

std::string Procedure::family() const {
  return std::visit([](const auto& procedure) { return procedure.family(); }, settings);
}

std::vector<AttackConfig> Procedure::data_checks() const {
  return std::visit([](const auto& procedure) { return procedure.data_checks(); }, settings);
}

std::vector<std::string> procedure_kinds() {
  std::vector<std::string> kinds;
  for_each_procedure_type(
      [&](const auto& type) { kinds.push_back(std::decay_t<decltype(type)>::kKind); });
  return kinds;
}

AttackConfig ball_check(Norm norm, double epsilon) {
  AttackConfig ball = make_attack_config("pgd");
  ball.norm = norm;
  ball.epsilon = epsilon;
  return ball;
}

std::string epsilon_text(Norm norm, double epsilon) {
  return (norm == Norm::kLinf ? "" : norm_names().name(norm) + " ") + "ε=" + format_number(epsilon);
}

double mean_of(const torch::Tensor& values) {
  return values.numel() == 0 ? 0.0 : values.to(torch::kFloat64).mean().item<double>();
}

}  // namespace robustscope
