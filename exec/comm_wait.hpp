#pragma once
/// Whether this rank's main thread is waiting for other ranks: the step watchdog's evidence of who is late (a rank
/// that is not waiting when a step times out is the one the others wait for).
namespace hpsim::exec {

/// How many blocking communication calls this process is inside now (read by the watchdog thread).
[[nodiscard]] int communication_waits();

/// Marks the scope of one blocking communication call.
class CommunicationWait {
 public:
  CommunicationWait();
  ~CommunicationWait();
  CommunicationWait(const CommunicationWait&) = delete;
  CommunicationWait& operator=(const CommunicationWait&) = delete;
};

}  // namespace hpsim::exec
