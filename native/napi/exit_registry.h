// Work that runs on its own thread (a fit) and must be stopped before the process exits: exit() destroys libtorch's
// static objects (oneDNN's primitive tables among them) while such a thread may still use them. lib/ calls
// stopAllFits from process.on('exit'), before exit() begins; an atexit registration is the fallback for exits that
// bypass Node's 'exit' event. Each registered job is stopped (a fit writes its checkpoint) and its thread joined.
#pragma once

#include <memory>

namespace resnet_cifar {

class StoppableJob {
 public:
  virtual ~StoppableJob() = default;
  virtual void StopAndJoin() = 0;  // stop, and wait for the job's thread
};

void StopAtExit(const std::shared_ptr<StoppableJob>& job);  // held weakly: a finished job is forgotten
void StopAllJobs();

}  // namespace resnet_cifar
