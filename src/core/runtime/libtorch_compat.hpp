// What differs between the LibTorch versions robustscope builds against (Debian 12's 1.13, Debian
// 13's 2.6, the 2.x zips and wheels of clusters), in one place. Differences are detected from the
// headers themselves, not from version numbers, so a version in between needs no entry here.
//
// c10::Allocator: 1.13 declares `DataPtr allocate(size_t) const`; later 2.x releases declare it
// without const and add a pure virtual `copy_data(void*, const void*, size_t) const`.
// Conv2dOptions::padding(): a c10::variant in 1.13, a std::variant in 2.x (visited through ADL).
// NNPACK: 2.x can switch it off (see turn_off_nnpack); 1.13 has no switch.
#pragma once

#include <ATen/Context.h>
#include <c10/core/Allocator.h>
#include <torch/nn/options/conv.h>

#include <array>
#include <cstring>
#include <mutex>
#include <optional>
#include <type_traits>

namespace robustscope::compat {

template <typename Allocator>
constexpr bool kConstAllocate =
    std::is_same_v<decltype(&Allocator::allocate), c10::DataPtr (Allocator::*)(size_t) const>;

template <typename Allocator, typename = void>
struct HasCopyData : std::false_type {};
template <typename Allocator>
struct HasCopyData<Allocator, std::void_t<decltype(&Allocator::copy_data)>> : std::true_type {};

// Implements copy_data (a plain memcpy, as LibTorch's own CPU allocator) where it is required.
template <typename Base, bool kRequired = HasCopyData<Base>::value>
class WithCopyData : public Base {};
template <typename Base>
class WithCopyData<Base, true> : public Base {
 public:
  void copy_data(void* destination, const void* source, size_t count) const override {
    std::memcpy(destination, source, count);
  }
};

// A c10::Allocator whose allocation is `allocate_block(size_t) const`, whatever the const-ness of
// the LibTorch in use.
template <typename Base = c10::Allocator, bool kConst = kConstAllocate<Base>>
class Allocator : public WithCopyData<Base> {
 public:
  c10::DataPtr allocate(size_t bytes) const override { return allocate_block(bytes); }
  virtual c10::DataPtr allocate_block(size_t bytes) const = 0;
};
template <typename Base>
class Allocator<Base, false> : public WithCopyData<Base> {
 public:
  c10::DataPtr allocate(size_t bytes) override { return allocate_block(bytes); }
  virtual c10::DataPtr allocate_block(size_t bytes) const = 0;
};

// A Conv2d's explicit padding, or nothing for "valid"/"same".
template <typename Options>
std::optional<std::array<int64_t, 2>> conv_padding(const Options& options) {
  std::optional<std::array<int64_t, 2>> padding;
  visit(
      [&padding](const auto& value) {
        if constexpr (std::is_same_v<std::decay_t<decltype(value)>, torch::ExpandingArray<2>>)
          padding = std::array<int64_t, 2>{value->at(0), value->at(1)};
      },
      options.padding());
  return padding;
}

// NNPACK's convolution path in Debian 13's LibTorch 2.6 reads uninitialised memory: the input
// gradient of a small CNN came out NaN whenever freed memory held NaNs (24 of 50 trials in plain
// Python PyTorch 2.6, 0 of 50 with NNPACK off), which failed our landscape tests there. Models turn
// it off before their first pass where LibTorch has the switch.
template <typename Context>
auto disable_nnpack(Context& context, int)
    -> decltype(context.setUserEnabledNNPACK(false), void()) {
  context.setUserEnabledNNPACK(false);
}
template <typename Context>
void disable_nnpack(Context&, long) {}

inline void turn_off_nnpack() {
  static std::once_flag once;
  std::call_once(once, [] { disable_nnpack(at::globalContext(), 0); });
}

}  // namespace robustscope::compat
