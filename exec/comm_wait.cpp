#include "exec/comm_wait.hpp"

#include <atomic>

namespace hpsim::exec {

namespace {
std::atomic<int> g_waits{0};
}  // namespace

int communication_waits() { return g_waits.load(std::memory_order_relaxed); }
CommunicationWait::CommunicationWait() { g_waits.fetch_add(1, std::memory_order_relaxed); }
CommunicationWait::~CommunicationWait() { g_waits.fetch_sub(1, std::memory_order_relaxed); }

}  // namespace hpsim::exec
