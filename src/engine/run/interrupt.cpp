// Interrupt handling.
#include "engine/run/interrupt.hpp"

#include <csignal>

namespace robustscope {
namespace {

std::atomic<bool> interrupt_requested{false};
std::atomic<int> interrupt_signal{0};
struct sigaction previous_int, previous_term;

void on_signal(int number) {
  interrupt_signal.store(number);
  interrupt_requested.store(true);
}

}  // namespace

InterruptWatch::InterruptWatch() {
  interrupt_requested.store(false);
  interrupt_signal.store(0);
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &previous_int);
  sigaction(SIGTERM, &action, &previous_term);
}

InterruptWatch::~InterruptWatch() {
  sigaction(SIGINT, &previous_int, nullptr);
  sigaction(SIGTERM, &previous_term, nullptr);
}

const std::atomic<bool>& InterruptWatch::requested() const { return interrupt_requested; }

int InterruptWatch::signal() const { return interrupt_signal.load(); }

}  // namespace robustscope
