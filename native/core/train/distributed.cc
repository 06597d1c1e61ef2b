#include "distributed.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <thread>

#if defined(RESNET_CIFAR_GLOO) || defined(RESNET_CIFAR_NCCL)
#define RESNET_CIFAR_C10D 1
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#ifdef RESNET_CIFAR_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef RESNET_CIFAR_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "../base/errors.h"

namespace resnet_cifar {

std::vector<std::string> DistributedBackends() {
  std::vector<std::string> out;
#ifdef RESNET_CIFAR_GLOO
  out.push_back("gloo");
#endif
#ifdef RESNET_CIFAR_NCCL
  out.push_back("nccl");
#endif
  return out;
}

#ifndef RESNET_CIFAR_C10D

std::unique_ptr<Communicator> Connect(const DistributedOptions&) {
  throw std::runtime_error(
      "this build of resnet-cifar has no distributed backend: it was compiled without c10d's "
      "Gloo headers (install libgloo-dev and rebuild: npm run build:native)");
}

#else

namespace {

constexpr int64_t kBucketBytes = 25 << 20;

std::string Short(const c10::Error& e) {
  const std::string m = TorchMessage(e);
  return m.substr(0, m.find('\n'));
}

// Collectives on one c10d backend (Gloo or NCCL). Tensors elsewhere than `device` (the CPU for Gloo, this rank's GPU
// for NCCL) travel there and back, so callers hand over whatever they hold.
class C10dCommunicator : public Communicator {
 public:
  C10dCommunicator(const DistributedOptions& o, c10::intrusive_ptr<c10d::Store> store,
                   c10::intrusive_ptr<c10d::Backend> pg, c10::Device device)
      : o_(o), store_(std::move(store)), pg_(std::move(pg)), device_(device) {}

  int64_t rank() const override { return o_.rank; }
  int64_t world_size() const override { return o_.world_size; }

  void Broadcast(std::vector<at::Tensor>& tensors) override {
    for (auto& t : tensors) {
      auto c = t.to(device_).contiguous();
      std::vector<at::Tensor> one{c};
      Collective("broadcast", [&] { return pg_->broadcast(one); });
      if (!c.is_same(t)) t.copy_(c);
    }
  }

  void AllReduceSum(std::vector<at::Tensor>& tensors) override {
    size_t i = 0;
    while (i < tensors.size()) {
      // One bucket: tensors of one dtype, up to kBucketBytes, on the backend's device.
      const auto dtype = tensors[i].scalar_type();
      size_t j = i;
      int64_t bytes = 0;
      std::vector<at::Tensor> flat;
      while (j < tensors.size() && tensors[j].scalar_type() == dtype &&
             (j == i || bytes + tensors[j].numel() * tensors[j].element_size() <= kBucketBytes)) {
        bytes += tensors[j].numel() * tensors[j].element_size();
        flat.push_back(tensors[j].reshape(-1).to(device_));
        ++j;
      }
      std::vector<at::Tensor> bucket{at::cat(flat)};
      Collective("all-reduce", [&] { return pg_->allreduce(bucket); });
      int64_t off = 0;
      for (size_t k = i; k < j; ++k) {
        const int64_t n = tensors[k].numel();
        tensors[k].copy_(bucket[0].narrow(0, off, n).view(tensors[k].sizes()));
        off += n;
      }
      i = j;
    }
  }

  void CheckSame(const std::string& what, const std::string& fingerprint) override {
    try {
      store_->set("settings/" + what + "/" + std::to_string(o_.rank),
                  std::vector<uint8_t>(fingerprint.begin(), fingerprint.end()));
      for (int64_t r = 0; r < o_.world_size; ++r) {
        const auto v = store_->get("settings/" + what + "/" + std::to_string(r));
        const std::string theirs(v.begin(), v.end());
        if (theirs != fingerprint) {
          throw std::runtime_error("rank " + std::to_string(o_.rank) + " and rank " + std::to_string(r) +
                                   " were started with different " + what + ": " + fingerprint + " here, " + theirs +
                                   " there (every rank must train the same way)");
        }
      }
    } catch (const c10::Error& e) {
      throw std::runtime_error("rank " + std::to_string(o_.rank) +
                               ": cannot compare settings with the other ranks: " + Short(e));
    }
  }

  void Heartbeat(int64_t iteration) override {
    try {
      const std::string v = std::to_string(iteration);
      store_->set("heartbeat/" + std::to_string(o_.rank), std::vector<uint8_t>(v.begin(), v.end()));
    } catch (const c10::Error&) {
      // The store is rank 0's: when it is gone the next collective says so.
    }
  }

  // The survivors of a failed collective each check in; whoever does not within a few seconds (dead or hung) is
  // named, with the last iteration its heartbeat reported.
  std::string Suspects() override {
    try {
      const std::string me = std::to_string(o_.rank);
      store_->set("survivor/" + me, std::vector<uint8_t>{1});
      std::vector<int64_t> missing;
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(std::min<int64_t>(o_.timeout_ms, 3000));
      do {
        missing.clear();
        for (int64_t r = 0; r < o_.world_size; ++r) {
          if (r != o_.rank && !store_->check({"survivor/" + std::to_string(r)})) missing.push_back(r);
        }
        if (missing.empty()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      } while (std::chrono::steady_clock::now() < deadline);
      if (missing.empty()) return "none found: every rank is alive";
      std::string out;
      for (int64_t r : missing) {
        std::string last = "?";
        const std::string key = "heartbeat/" + std::to_string(r);
        if (store_->check({key})) {
          const auto v = store_->get(key);
          last = std::string(v.begin(), v.end());
        }
        out += (out.empty() ? "rank " : ", rank ") + std::to_string(r) + " (last at iteration " + last + ")";
      }
      return out;
    } catch (...) {
      return o_.rank == 0 ? "unknown" : "rank 0 (its store is gone)";
    }
  }

 private:
  // Starts a collective and waits for it; a failure (gloo's own exceptions are not c10::Error) becomes an error
  // naming this rank and the ranks that stopped advancing.
  template <class Start>
  void Collective(const char* what, Start start) {
    std::string reason;
    try {
      start()->wait(std::chrono::milliseconds(o_.timeout_ms));
      return;
    } catch (const c10::Error& e) {
      reason = Short(e);
    } catch (const std::exception& e) {
      reason = e.what();
      reason = reason.substr(0, reason.find(". This is typically"));
    }
    throw std::runtime_error("rank " + std::to_string(o_.rank) + ": the " + what + " with the other ranks failed" +
                             " (suspect: " + Suspects() + "; a rank that died or stalled for more than " +
                             std::to_string(o_.timeout_ms / 1000) + " s): " + reason);
  }

  DistributedOptions o_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::Backend> pg_;
  c10::Device device_;
};

#ifdef RESNET_CIFAR_GLOO
c10::intrusive_ptr<c10d::Backend> GlooGroup(const DistributedOptions& o, const c10::intrusive_ptr<c10d::Store>& store) {
  auto opts = c10d::ProcessGroupGloo::Options::create(std::chrono::milliseconds(o.timeout_ms));
  // On loopback every rank is on this machine; across machines gloo picks this host's interface (GLOO_SOCKET_IFNAME
  // names one).
  const bool loopback = o.master_addr == "localhost" || o.master_addr.rfind("127.", 0) == 0;
  opts->devices.push_back(loopback ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                   : c10d::ProcessGroupGloo::createDefaultDevice());
  opts->threads = 1;
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, static_cast<int>(o.rank), static_cast<int>(o.world_size),
                                                     opts);
}
#endif

#ifdef RESNET_CIFAR_NCCL
c10::intrusive_ptr<c10d::Backend> NcclGroup(const DistributedOptions& o, const c10::intrusive_ptr<c10d::Store>& store) {
  auto opts = c10d::ProcessGroupNCCL::Options::create();
  opts->timeout = std::chrono::milliseconds(o.timeout_ms);
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, static_cast<int>(o.rank), static_cast<int>(o.world_size),
                                                     opts);
}
#endif

// Every rank must count the same world: one started with another world size would make the process group wait for
// a rank that never comes (or leave one out) and fail only at the timeout, naming a store key. Rank 0 posts its
// world size and hears from each rank of its world; each other rank reads rank 0's before it answers, so that rank
// 0, which hosts the store and may exit on a mismatch, has been heard by then.
void CheckWorldSize(c10d::Store& store, const DistributedOptions& o, const std::string& who) {
  const auto key = [](int64_t r) { return "world_size/" + std::to_string(r); };
  const std::string mine = std::to_string(o.world_size);
  const auto compare = [&](int64_t r) {
    const auto v = store.get(key(r));
    const std::string theirs(v.begin(), v.end());
    return theirs == mine ? std::string()
                          : who + " was started with world size " + mine + ", but rank " + std::to_string(r) +
                                " with " + theirs + " (every rank needs the same world size)";
  };
  std::string wrong;
  if (o.rank != 0) wrong = compare(0);
  store.set(key(o.rank), std::vector<uint8_t>(mine.begin(), mine.end()));
  for (int64_t r = 1; o.rank == 0 && r < o.world_size && wrong.empty(); ++r) wrong = compare(r);
  if (!wrong.empty()) throw std::runtime_error(wrong);
}

}  // namespace

std::unique_ptr<Communicator> Connect(const DistributedOptions& o) {
  const std::string where = o.master_addr + ":" + std::to_string(o.master_port);
  const std::string who = "rank " + std::to_string(o.rank) + " of " + std::to_string(o.world_size);
  c10::intrusive_ptr<c10d::Store> store;
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(o.master_port);
    so.isServer = o.rank == 0 && !o.agent_store;
    so.numWorkers = static_cast<size_t>(o.world_size);
    so.waitWorkers = true;
    so.timeout = std::chrono::milliseconds(o.timeout_ms);
    store = c10::make_intrusive<c10d::TCPStore>(o.master_addr, so);
    CheckWorldSize(*store, o, who);
  } catch (const c10::Error& e) {
    const std::string m = Short(e);
    if (o.rank == 0 && (m.find("in use") != std::string::npos || m.find("EADDRINUSE") != std::string::npos)) {
      throw std::runtime_error(who + " cannot listen on " + where +
                               ": the port is in use (choose another master port)");
    }
    throw std::runtime_error(who + ": no rendezvous at " + where + " within " + std::to_string(o.timeout_ms / 1000) +
                             " s (are all " + std::to_string(o.world_size) +
                             " ranks started, with the same world size "
                             "and master address?): " +
                             m);
  }
  try {
    // NCCL between GPUs where the build has it; otherwise Gloo, over the CPU.
#ifdef RESNET_CIFAR_NCCL
    if (o.device.is_cuda()) return std::make_unique<C10dCommunicator>(o, store, NcclGroup(o, store), o.device);
#endif
#ifdef RESNET_CIFAR_GLOO
    return std::make_unique<C10dCommunicator>(o, store, GlooGroup(o, store), c10::Device(c10::kCPU));
#else
    throw std::runtime_error(
        who + ": this build has NCCL only (no Gloo headers at build time), and this rank's model is on " +
        o.device.str() + ", not a CUDA device");
#endif
  } catch (const c10::Error& e) {
    throw std::runtime_error(who + ": cannot form the process group at " + where + ": " + Short(e));
  }
}

#endif

}  // namespace resnet_cifar
