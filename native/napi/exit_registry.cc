#include "exit_registry.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <vector>

namespace resnet_cifar {

namespace {

std::mutex g_jobs_mu;
std::vector<std::weak_ptr<StoppableJob>> g_jobs;

}  // namespace

void StopAllJobs() {
  std::vector<std::shared_ptr<StoppableJob>> jobs;
  {
    std::lock_guard<std::mutex> l(g_jobs_mu);
    for (auto& w : g_jobs) {
      if (auto j = w.lock()) jobs.push_back(j);
    }
  }
  for (auto& j : jobs) j->StopAndJoin();
}

void StopAtExit(const std::shared_ptr<StoppableJob>& job) {
  static std::once_flag once;
  std::call_once(once, [] { std::atexit(StopAllJobs); });
  std::lock_guard<std::mutex> l(g_jobs_mu);
  g_jobs.erase(
      std::remove_if(g_jobs.begin(), g_jobs.end(), [](const std::weak_ptr<StoppableJob>& w) { return w.expired(); }),
      g_jobs.end());
  g_jobs.push_back(job);
}

}  // namespace resnet_cifar
